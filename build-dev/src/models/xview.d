build-dev/src/models/xview.o: src/models/xview.c src/models/context.h \
 src/models/models.h src/formats/safetensors.h src/core/core.h \
 include/xt.h src/models/seq.h src/nn/nn.h src/models/xview.h
src/models/context.h:
src/models/models.h:
src/formats/safetensors.h:
src/core/core.h:
include/xt.h:
src/models/seq.h:
src/nn/nn.h:
src/models/xview.h:
