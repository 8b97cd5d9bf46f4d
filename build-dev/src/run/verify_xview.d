build-dev/src/run/verify_xview.o: src/run/verify_xview.c \
 src/models/xview.h src/models/models.h src/formats/safetensors.h \
 src/core/core.h include/xt.h src/run/verify.h
src/models/xview.h:
src/models/models.h:
src/formats/safetensors.h:
src/core/core.h:
include/xt.h:
src/run/verify.h:
