build-dev/src/formats/synth.o: src/formats/synth.c src/core/core.h \
 include/xt.h src/formats/raster.h
src/core/core.h:
include/xt.h:
src/formats/raster.h:
