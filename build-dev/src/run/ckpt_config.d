build-dev/src/run/ckpt_config.o: src/run/ckpt_config.c src/run/convert.h \
 src/formats/ckpt.h src/formats/safetensors.h src/core/core.h \
 include/xt.h src/models/models.h
src/run/convert.h:
src/formats/ckpt.h:
src/formats/safetensors.h:
src/core/core.h:
include/xt.h:
src/models/models.h:
