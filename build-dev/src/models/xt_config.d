build-dev/src/models/xt_config.o: src/models/xt_config.c \
 src/models/models.h src/formats/safetensors.h src/core/core.h \
 include/xt.h
src/models/models.h:
src/formats/safetensors.h:
src/core/core.h:
include/xt.h:
