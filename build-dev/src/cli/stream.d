build-dev/src/cli/stream.o: src/cli/stream.c src/cli/cli.h \
 src/cli/stream.h src/run/stream.h src/formats/raster.h \
 src/models/models.h src/formats/safetensors.h src/core/core.h \
 include/xt.h src/run/ctx.h src/run/token_store.h
src/cli/cli.h:
src/cli/stream.h:
src/run/stream.h:
src/formats/raster.h:
src/models/models.h:
src/formats/safetensors.h:
src/core/core.h:
include/xt.h:
src/run/ctx.h:
src/run/token_store.h:
