build-dev/src/cli/cmd_info.o: src/cli/cmd_info.c src/cli/cli.h \
 src/formats/raster.h src/models/models.h src/formats/safetensors.h \
 src/core/core.h include/xt.h
src/cli/cli.h:
src/formats/raster.h:
src/models/models.h:
src/formats/safetensors.h:
src/core/core.h:
include/xt.h:
