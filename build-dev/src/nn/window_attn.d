build-dev/src/nn/window_attn.o: src/nn/window_attn.c src/nn/fastmath.h \
 src/nn/nn.h src/core/core.h include/xt.h
src/nn/fastmath.h:
src/nn/nn.h:
src/core/core.h:
include/xt.h:
