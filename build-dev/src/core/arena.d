build-dev/src/core/arena.o: src/core/arena.c src/core/core.h include/xt.h
src/core/core.h:
include/xt.h:
