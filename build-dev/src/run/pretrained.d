build-dev/src/run/pretrained.o: src/run/pretrained.c src/run/convert.h \
 src/formats/ckpt.h src/formats/safetensors.h src/core/core.h \
 include/xt.h
src/run/convert.h:
src/formats/ckpt.h:
src/formats/safetensors.h:
src/core/core.h:
include/xt.h:
