build-dev/src/run/xview_metric.o: src/run/xview_metric.c \
 src/formats/npy.h src/run/xview.h src/formats/csv.h src/models/xview.h \
 src/models/models.h src/formats/safetensors.h src/core/core.h \
 include/xt.h
src/formats/npy.h:
src/run/xview.h:
src/formats/csv.h:
src/models/xview.h:
src/models/models.h:
src/formats/safetensors.h:
src/core/core.h:
include/xt.h:
