build-dev/src/models/mamba.o: src/models/mamba.c src/models/seq.h \
 src/formats/safetensors.h src/core/core.h include/xt.h src/nn/nn.h
src/models/seq.h:
src/formats/safetensors.h:
src/core/core.h:
include/xt.h:
src/nn/nn.h:
