build-dev/src/models/hiera.o: src/models/hiera.c src/models/backbones.h \
 src/models/models.h src/formats/safetensors.h src/core/core.h \
 include/xt.h src/nn/nn.h src/models/trainable.h src/nn/params.h
src/models/backbones.h:
src/models/models.h:
src/formats/safetensors.h:
src/core/core.h:
include/xt.h:
src/nn/nn.h:
src/models/trainable.h:
src/nn/params.h:
