build-dev/src/core/json.o: src/core/json.c src/core/core.h include/xt.h
src/core/core.h:
include/xt.h:
