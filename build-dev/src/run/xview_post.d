build-dev/src/run/xview_post.o: src/run/xview_post.c \
 src/formats/safetensors.h src/core/core.h include/xt.h src/run/xview.h \
 src/formats/csv.h src/models/xview.h src/models/models.h
src/formats/safetensors.h:
src/core/core.h:
include/xt.h:
src/run/xview.h:
src/formats/csv.h:
src/models/xview.h:
src/models/models.h:
