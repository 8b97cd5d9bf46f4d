build-dev/src/run/xview_detect.o: src/run/xview_detect.c \
 src/formats/raster.h src/run/xview.h src/formats/csv.h \
 src/models/xview.h src/models/models.h src/formats/safetensors.h \
 src/core/core.h include/xt.h src/run/xview_detect.h
src/formats/raster.h:
src/run/xview.h:
src/formats/csv.h:
src/models/xview.h:
src/models/models.h:
src/formats/safetensors.h:
src/core/core.h:
include/xt.h:
src/run/xview_detect.h:
