build-dev/src/run/verify_xt.o: src/run/verify_xt.c src/run/ctx.h \
 src/models/models.h src/formats/safetensors.h src/core/core.h \
 include/xt.h src/run/token_store.h src/run/verify.h
src/run/ctx.h:
src/models/models.h:
src/formats/safetensors.h:
src/core/core.h:
include/xt.h:
src/run/token_store.h:
src/run/verify.h:
