build-dev/src/nn/basic.o: src/nn/basic.c src/nn/fastmath.h src/nn/nn.h \
 src/core/core.h include/xt.h
src/nn/fastmath.h:
src/nn/nn.h:
src/core/core.h:
include/xt.h:
