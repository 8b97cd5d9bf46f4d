build-dev/src/formats/npy.o: src/formats/npy.c src/formats/ckpt.h \
 src/formats/safetensors.h src/core/core.h include/xt.h src/formats/npy.h
src/formats/ckpt.h:
src/formats/safetensors.h:
src/core/core.h:
include/xt.h:
src/formats/npy.h:
