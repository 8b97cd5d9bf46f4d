build-dev/src/run/ctx.o: src/run/ctx.c src/models/xt_model.h \
 src/models/context.h src/models/models.h src/formats/safetensors.h \
 src/core/core.h include/xt.h src/models/seq.h src/nn/nn.h src/run/ctx.h \
 src/run/token_store.h
src/models/xt_model.h:
src/models/context.h:
src/models/models.h:
src/formats/safetensors.h:
src/core/core.h:
include/xt.h:
src/models/seq.h:
src/nn/nn.h:
src/run/ctx.h:
src/run/token_store.h:
