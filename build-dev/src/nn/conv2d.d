build-dev/src/nn/conv2d.o: src/nn/conv2d.c src/nn/nn.h src/core/core.h \
 include/xt.h
src/nn/nn.h:
src/core/core.h:
include/xt.h:
