build-dev/src/models/encoders.o: src/models/encoders.c \
 src/models/backbones.h src/models/models.h src/formats/safetensors.h \
 src/core/core.h include/xt.h src/models/trainable.h src/nn/params.h
src/models/backbones.h:
src/models/models.h:
src/formats/safetensors.h:
src/core/core.h:
include/xt.h:
src/models/trainable.h:
src/nn/params.h:
