build-dev/src/models/xt.o: src/models/xt.c src/models/xt_model.h \
 src/models/context.h src/models/models.h src/formats/safetensors.h \
 src/core/core.h include/xt.h src/models/seq.h src/nn/nn.h
src/models/xt_model.h:
src/models/context.h:
src/models/models.h:
src/formats/safetensors.h:
src/core/core.h:
include/xt.h:
src/models/seq.h:
src/nn/nn.h:
