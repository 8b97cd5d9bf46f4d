build-dev/src/formats/tiff_write.o: src/formats/tiff_write.c \
 src/core/core.h include/xt.h src/formats/raster.h
src/core/core.h:
include/xt.h:
src/formats/raster.h:
