build-dev/src/core/threads.o: src/core/threads.c src/core/core.h \
 include/xt.h
src/core/core.h:
include/xt.h:
