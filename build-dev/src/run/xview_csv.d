build-dev/src/run/xview_csv.o: src/run/xview_csv.c \
 src/formats/safetensors.h src/core/core.h include/xt.h src/run/xview.h \
 src/formats/csv.h src/models/xview.h src/models/models.h
src/formats/safetensors.h:
src/core/core.h:
include/xt.h:
src/run/xview.h:
src/formats/csv.h:
src/models/xview.h:
src/models/models.h:
