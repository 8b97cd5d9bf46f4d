build-dev/src/api/api.o: src/api/api.c include/xt.h src/core/core.h \
 src/run/stream.h src/formats/raster.h src/models/models.h \
 src/formats/safetensors.h src/run/ctx.h src/run/token_store.h \
 src/nn/nn.h
include/xt.h:
src/core/core.h:
src/run/stream.h:
src/formats/raster.h:
src/models/models.h:
src/formats/safetensors.h:
src/run/ctx.h:
src/run/token_store.h:
src/nn/nn.h:
