build-dev/src/cli/cmd_convert.o: src/cli/cmd_convert.c src/cli/cli.h \
 src/run/convert.h src/formats/ckpt.h src/formats/safetensors.h \
 src/core/core.h include/xt.h src/models/models.h
src/cli/cli.h:
src/run/convert.h:
src/formats/ckpt.h:
src/formats/safetensors.h:
src/core/core.h:
include/xt.h:
src/models/models.h:
