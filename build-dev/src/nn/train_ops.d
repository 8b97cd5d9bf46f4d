build-dev/src/nn/train_ops.o: src/nn/train_ops.c src/nn/nn.h \
 src/core/core.h include/xt.h
src/nn/nn.h:
src/core/core.h:
include/xt.h:
