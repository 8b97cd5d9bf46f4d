build-dev/src/nn/conv1d.o: src/nn/conv1d.c src/nn/nn.h src/core/core.h \
 include/xt.h
src/nn/nn.h:
src/core/core.h:
include/xt.h:
