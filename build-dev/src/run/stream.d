build-dev/src/run/stream.o: src/run/stream.c src/run/stream.h \
 src/formats/raster.h src/models/models.h src/formats/safetensors.h \
 src/core/core.h include/xt.h src/run/ctx.h src/run/token_store.h
src/run/stream.h:
src/formats/raster.h:
src/models/models.h:
src/formats/safetensors.h:
src/core/core.h:
include/xt.h:
src/run/ctx.h:
src/run/token_store.h:
