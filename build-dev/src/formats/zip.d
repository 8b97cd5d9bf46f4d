build-dev/src/formats/zip.o: src/formats/zip.c src/formats/ckpt.h \
 src/formats/safetensors.h src/core/core.h include/xt.h
src/formats/ckpt.h:
src/formats/safetensors.h:
src/core/core.h:
include/xt.h:
