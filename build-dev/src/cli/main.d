build-dev/src/cli/main.o: src/cli/main.c src/cli/cli.h src/core/core.h \
 include/xt.h
src/cli/cli.h:
src/core/core.h:
include/xt.h:
