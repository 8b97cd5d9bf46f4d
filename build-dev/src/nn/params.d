build-dev/src/nn/params.o: src/nn/params.c src/nn/params.h \
 src/formats/safetensors.h src/core/core.h include/xt.h
src/nn/params.h:
src/formats/safetensors.h:
src/core/core.h:
include/xt.h:
