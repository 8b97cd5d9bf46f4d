build-dev/src/formats/yaml.o: src/formats/yaml.c src/formats/ckpt.h \
 src/formats/safetensors.h src/core/core.h include/xt.h
src/formats/ckpt.h:
src/formats/safetensors.h:
src/core/core.h:
include/xt.h:
