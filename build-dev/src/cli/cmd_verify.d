build-dev/src/cli/cmd_verify.o: src/cli/cmd_verify.c src/cli/cli.h \
 src/run/verify.h src/models/models.h src/formats/safetensors.h \
 src/core/core.h include/xt.h
src/cli/cli.h:
src/run/verify.h:
src/models/models.h:
src/formats/safetensors.h:
src/core/core.h:
include/xt.h:
