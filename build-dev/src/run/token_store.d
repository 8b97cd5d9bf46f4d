build-dev/src/run/token_store.o: src/run/token_store.c src/core/core.h \
 include/xt.h src/run/token_store.h
src/core/core.h:
include/xt.h:
src/run/token_store.h:
