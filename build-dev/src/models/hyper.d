build-dev/src/models/hyper.o: src/models/hyper.c src/models/seq.h \
 src/formats/safetensors.h src/core/core.h include/xt.h src/nn/nn.h
src/models/seq.h:
src/formats/safetensors.h:
src/core/core.h:
include/xt.h:
src/nn/nn.h:
