build-dev/src/models/mamba_bwd.o: src/models/mamba_bwd.c src/nn/nn.h \
 src/core/core.h include/xt.h src/models/trainable.h src/models/models.h \
 src/formats/safetensors.h src/nn/params.h
src/nn/nn.h:
src/core/core.h:
include/xt.h:
src/models/trainable.h:
src/models/models.h:
src/formats/safetensors.h:
src/nn/params.h:
