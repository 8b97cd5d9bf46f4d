build-dev/src/cli/cmd_image.o: src/cli/cmd_image.c src/cli/cli.h \
 src/formats/safetensors.h src/core/core.h include/xt.h \
 src/formats/raster.h
src/cli/cli.h:
src/formats/safetensors.h:
src/core/core.h:
include/xt.h:
src/formats/raster.h:
