build-dev/src/models/backbones.o: src/models/backbones.c \
 src/models/backbones.h src/models/models.h src/formats/safetensors.h \
 src/core/core.h include/xt.h
src/models/backbones.h:
src/models/models.h:
src/formats/safetensors.h:
src/core/core.h:
include/xt.h:
