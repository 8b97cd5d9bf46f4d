build-dev/src/formats/geo.o: src/formats/geo.c src/core/core.h \
 include/xt.h src/formats/raster.h
src/core/core.h:
include/xt.h:
src/formats/raster.h:
