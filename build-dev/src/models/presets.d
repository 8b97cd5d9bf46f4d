build-dev/src/models/presets.o: src/models/presets.c src/models/models.h \
 src/formats/safetensors.h src/core/core.h include/xt.h
src/models/models.h:
src/formats/safetensors.h:
src/core/core.h:
include/xt.h:
