build-dev/src/models/swinv2_cfg.o: src/models/swinv2_cfg.c \
 src/models/models.h src/formats/safetensors.h src/core/core.h \
 include/xt.h
src/models/models.h:
src/formats/safetensors.h:
src/core/core.h:
include/xt.h:
