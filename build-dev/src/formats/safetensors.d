build-dev/src/formats/safetensors.o: src/formats/safetensors.c \
 src/formats/safetensors.h src/core/core.h include/xt.h
src/formats/safetensors.h:
src/core/core.h:
include/xt.h:
