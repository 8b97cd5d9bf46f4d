build-dev/src/cli/args.o: src/cli/args.c src/cli/cli.h src/core/core.h \
 include/xt.h
src/cli/cli.h:
src/core/core.h:
include/xt.h:
