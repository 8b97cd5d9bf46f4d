build-dev/src/models/xt_bwd.o: src/models/xt_bwd.c src/models/models.h \
 src/formats/safetensors.h src/core/core.h include/xt.h src/nn/nn.h \
 src/models/trainable.h src/nn/params.h
src/models/models.h:
src/formats/safetensors.h:
src/core/core.h:
include/xt.h:
src/nn/nn.h:
src/models/trainable.h:
src/nn/params.h:
