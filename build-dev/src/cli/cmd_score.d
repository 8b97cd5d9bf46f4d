build-dev/src/cli/cmd_score.o: src/cli/cmd_score.c src/cli/cli.h \
 src/run/xview.h src/formats/csv.h src/models/xview.h src/models/models.h \
 src/formats/safetensors.h src/core/core.h include/xt.h
src/cli/cli.h:
src/run/xview.h:
src/formats/csv.h:
src/models/xview.h:
src/models/models.h:
src/formats/safetensors.h:
src/core/core.h:
include/xt.h:
