build-dev/src/formats/csv.o: src/formats/csv.c src/core/core.h \
 include/xt.h src/formats/csv.h
src/core/core.h:
include/xt.h:
src/formats/csv.h:
