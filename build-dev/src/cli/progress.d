build-dev/src/cli/progress.o: src/cli/progress.c src/cli/cli.h \
 src/core/core.h include/xt.h
src/cli/cli.h:
src/core/core.h:
include/xt.h:
