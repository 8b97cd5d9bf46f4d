build-dev/src/formats/raster.o: src/formats/raster.c src/core/core.h \
 include/xt.h src/formats/raster.h
src/core/core.h:
include/xt.h:
src/formats/raster.h:
