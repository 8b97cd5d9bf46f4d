build-dev/src/formats/pickle.o: src/formats/pickle.c src/formats/ckpt.h \
 src/formats/safetensors.h src/core/core.h include/xt.h
src/formats/ckpt.h:
src/formats/safetensors.h:
src/core/core.h:
include/xt.h:
