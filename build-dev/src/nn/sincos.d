build-dev/src/nn/sincos.o: src/nn/sincos.c src/nn/nn.h src/core/core.h \
 include/xt.h
src/nn/nn.h:
src/core/core.h:
include/xt.h:
