build-dev/src/run/verify.o: src/run/verify.c src/run/verify.h \
 src/models/models.h src/formats/safetensors.h src/core/core.h \
 include/xt.h
src/run/verify.h:
src/models/models.h:
src/formats/safetensors.h:
src/core/core.h:
include/xt.h:
