build-dev/src/nn/attention.o: src/nn/attention.c src/nn/nn.h \
 src/core/core.h include/xt.h
src/nn/nn.h:
src/core/core.h:
include/xt.h:
