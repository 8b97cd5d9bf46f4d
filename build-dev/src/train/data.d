build-dev/src/train/data.o: src/train/data.c src/formats/raster.h \
 src/train/train.h src/models/trainable.h src/models/models.h \
 src/formats/safetensors.h src/core/core.h include/xt.h src/nn/params.h
src/formats/raster.h:
src/train/train.h:
src/models/trainable.h:
src/models/models.h:
src/formats/safetensors.h:
src/core/core.h:
include/xt.h:
src/nn/params.h:
