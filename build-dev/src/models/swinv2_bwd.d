build-dev/src/models/swinv2_bwd.o: src/models/swinv2_bwd.c \
 src/models/models.h src/formats/safetensors.h src/core/core.h \
 include/xt.h src/nn/nn.h src/models/trainable.h src/nn/params.h
src/models/models.h:
src/formats/safetensors.h:
src/core/core.h:
include/xt.h:
src/nn/nn.h:
src/models/trainable.h:
src/nn/params.h:
