build-dev/src/models/context.o: src/models/context.c src/models/context.h \
 src/models/models.h src/formats/safetensors.h src/core/core.h \
 include/xt.h src/models/seq.h src/nn/nn.h
src/models/context.h:
src/models/models.h:
src/formats/safetensors.h:
src/core/core.h:
include/xt.h:
src/models/seq.h:
src/nn/nn.h:
