build-dev/src/formats/ckpt.o: src/formats/ckpt.c src/formats/ckpt.h \
 src/formats/safetensors.h src/core/core.h include/xt.h
src/formats/ckpt.h:
src/formats/safetensors.h:
src/core/core.h:
include/xt.h:
