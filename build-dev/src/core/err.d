build-dev/src/core/err.o: src/core/err.c src/core/core.h include/xt.h
src/core/core.h:
include/xt.h:
