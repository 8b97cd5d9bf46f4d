build-dev/src/run/verify_grad.o: src/run/verify_grad.c \
 src/models/models.h src/formats/safetensors.h src/core/core.h \
 include/xt.h src/nn/nn.h src/run/verify.h src/train/train.h \
 src/models/trainable.h src/nn/params.h
src/models/models.h:
src/formats/safetensors.h:
src/core/core.h:
include/xt.h:
src/nn/nn.h:
src/run/verify.h:
src/train/train.h:
src/models/trainable.h:
src/nn/params.h:
