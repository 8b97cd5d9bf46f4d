build-dev/src/core/file.o: src/core/file.c src/core/core.h include/xt.h
src/core/core.h:
include/xt.h:
