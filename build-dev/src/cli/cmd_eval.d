build-dev/src/cli/cmd_eval.o: src/cli/cmd_eval.c src/cli/cli.h \
 src/train/train.h src/models/trainable.h src/models/models.h \
 src/formats/safetensors.h src/core/core.h include/xt.h src/nn/params.h
src/cli/cli.h:
src/train/train.h:
src/models/trainable.h:
src/models/models.h:
src/formats/safetensors.h:
src/core/core.h:
include/xt.h:
src/nn/params.h:
