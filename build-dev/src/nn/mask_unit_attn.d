build-dev/src/nn/mask_unit_attn.o: src/nn/mask_unit_attn.c src/nn/nn.h \
 src/core/core.h include/xt.h
src/nn/nn.h:
src/core/core.h:
include/xt.h:
