build-dev/src/nn/matmul_bf16.o: src/nn/matmul_bf16.c src/nn/nn.h \
 src/core/core.h include/xt.h
src/nn/nn.h:
src/core/core.h:
include/xt.h:
