build-dev/src/train/checkpoint.o: src/train/checkpoint.c \
 src/train/train.h src/models/trainable.h src/models/models.h \
 src/formats/safetensors.h src/core/core.h include/xt.h src/nn/params.h
src/train/train.h:
src/models/trainable.h:
src/models/models.h:
src/formats/safetensors.h:
src/core/core.h:
include/xt.h:
src/nn/params.h:
