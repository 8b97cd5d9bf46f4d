build-dev/src/nn/scan.o: src/nn/scan.c src/nn/nn.h src/core/core.h \
 include/xt.h
src/nn/nn.h:
src/core/core.h:
include/xt.h:
