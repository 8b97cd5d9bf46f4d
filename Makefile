# xt — build the library, the CLI, tests and benchmarks.
#   make            libxt.a and ./xt          make test    all tests (stops at first failure)
#   make asan       tests under ASan+UBSan    make bench   benchmark programs
#   make install    PREFIX=/usr/local DESTDIR=: xt, libxt.a, libxt.so, xt.h, xt.pc (pkg-config)
#   CFLAGS=... / WERROR=1 / OPENMP=0 / SAN=-fsanitize=...
CC      ?= cc
CFLAGS  ?= -O2 -g -march=native
OPENMP  ?= 1
SAN     ?=
WERROR  ?=
BUILD   ?= build
XTBIN   ?= xt
PREFIX  ?= /usr/local
DESTDIR ?=
SOVER    = 0

# -fPIC: the same objects make libxt.a and libxt.so
XT_CFLAGS  = -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wno-unused-parameter -fPIC -Iinclude -Isrc $(SAN)
# oneDNN (OpenMP build) for every matrix product: it runs single-threaded inside our parallel
# regions (no oversubscription).
XT_LDLIBS  = -ldnnl -ltiff -lgeotiff -lpng -ljpeg -lz -lm -lpthread -ldl
ifeq ($(OPENMP),1)
XT_CFLAGS += -fopenmp
endif
ifneq ($(WERROR),)
XT_CFLAGS += -Werror
endif
# MPI (src/core/dist.c only): Open MPI when installed (pkg-config ompi-c, else mpicc), else a
# singleton stub. MPI=0 forces the stub.
MPI ?= $(shell pkg-config --exists ompi-c 2>/dev/null || command -v mpicc >/dev/null 2>&1 && echo 1 || echo 0)
ifeq ($(MPI),1)
MPI_CFLAGS ?= $(shell pkg-config --cflags ompi-c 2>/dev/null || mpicc --showme:compile)
MPI_LIBS   ?= $(shell pkg-config --libs ompi-c 2>/dev/null || mpicc --showme:link)
XT_LDLIBS  += $(MPI_LIBS)
$(BUILD)/src/core/dist.o: XT_CFLAGS += -DXT_MPI $(MPI_CFLAGS)
endif

# Optional input backends (src/formats/raster_gdal.c, raster_slide.c; docs/inputs.md): GDAL and
# OpenSlide when pkg-config finds them, loaded with dlopen on first use (their ~150 libraries
# would cost every run 0.2 s at start-up); GDAL=0 / OPENSLIDE=0 build without. Without them xt
# still reads TIFF / PNG / JPEG natively and says which backend a file would need.
soname = $(or $(shell objdump -p $(shell $(CC) -print-file-name=lib$(1).so) 2>/dev/null | awk '/SONAME/ {print $$2}'),lib$(1).so)
GDAL ?= $(shell pkg-config --exists gdal 2>/dev/null && echo 1 || echo 0)
ifeq ($(GDAL),1)
$(BUILD)/src/formats/raster_gdal.o: XT_CFLAGS += -DXT_GDAL -DXT_GDAL_SONAME='"$(call soname,gdal)"' $(shell pkg-config --cflags gdal)
endif
OPENSLIDE ?= $(shell pkg-config --exists openslide 2>/dev/null && echo 1 || echo 0)
ifeq ($(OPENSLIDE),1)
$(BUILD)/src/formats/raster_slide.o: XT_CFLAGS += -DXT_OPENSLIDE -DXT_OPENSLIDE_SONAME='"$(call soname,openslide)"' $(shell pkg-config --cflags openslide)
endif

SRC   := $(wildcard src/core/*.c src/formats/*.c src/nn/*.c src/models/*.c src/train/*.c src/run/*.c src/api/*.c)
CLI   := $(wildcard src/cli/*.c)
TESTS := $(patsubst tests/%.c,$(BUILD)/tests/%,$(wildcard tests/test_*.c))
BENCH := $(patsubst bench/%.c,$(BUILD)/bench/%,$(wildcard bench/*.c))
OBJ   := $(patsubst %.c,$(BUILD)/%.o,$(SRC))
CLIO  := $(patsubst %.c,$(BUILD)/%.o,$(CLI))

all: $(BUILD)/libxt.a $(XTBIN) $(BUILD)/examples/classify

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC $<"
	@$(CC) $(CFLAGS) $(XT_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/libxt.a: $(OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/libxt.so: $(OBJ)
	$(CC) $(CFLAGS) $(XT_CFLAGS) -shared -Wl,-soname,libxt.so.$(SOVER) $^ -o $@ $(XT_LDLIBS)

$(XTBIN): $(CLIO) $(BUILD)/libxt.a
	$(CC) $(CFLAGS) $(XT_CFLAGS) $^ -o $@ $(XT_LDLIBS)

$(BUILD)/tests/%: tests/%.c $(BUILD)/libxt.a $(wildcard tests/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(XT_CFLAGS) $< $(BUILD)/libxt.a -o $@ $(XT_LDLIBS)

# examples use only the public header
$(BUILD)/examples/%: examples/%.c $(BUILD)/libxt.a include/xt.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -std=c11 -Wall -Wextra $(if $(WERROR),-Werror) $(SAN) $(if $(filter 1,$(OPENMP)),-fopenmp) -Iinclude $< $(BUILD)/libxt.a -o $@ $(XT_LDLIBS)

$(BUILD)/bench/%: bench/%.c $(BUILD)/libxt.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(XT_CFLAGS) $< $(BUILD)/libxt.a -o $@ $(XT_LDLIBS)

test: all $(TESTS) $(BENCH)
	@XT=./$(XTBIN) BUILD=$(BUILD) sh tests/run.sh $(TESTS)

asan:
	$(MAKE) BUILD=build-asan XTBIN=build-asan/xt CFLAGS="-O1 -g" SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" test

bench: $(BENCH)

# libFuzzer targets (clang; not part of test): every parser of untrusted bytes, see
# docs/robustness.md. Each links the whole library (tests/fuzz/stubs.c is not needed). `make fuzz` builds them into $(BUILD)/fuzz/; tests/fuzz/run.sh runs them.
FUZZ_CC    ?= clang
FUZZ_FLAGS  = -O1 -g -march=native -std=c11 -D_GNU_SOURCE -Iinclude -Isrc -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_OBJ   := $(patsubst %.c,$(BUILD)/fuzz/obj/%.o,$(SRC))
FUZZ_BIN   := $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(wildcard tests/fuzz/fuzz_*.c))

$(BUILD)/fuzz/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  FUZZCC $<"
	@$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link -Wno-unknown-pragmas -MMD -MP -c $< -o $@

$(BUILD)/fuzz/libxt-fuzz.a: $(FUZZ_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/fuzz/%: tests/fuzz/%.c $(BUILD)/fuzz/libxt-fuzz.a
	$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer $< $(BUILD)/fuzz/libxt-fuzz.a -o $@ $(XT_LDLIBS)

fuzz: $(FUZZ_BIN)

# The library for other programs: `pkg-config --cflags --libs xt` (shared) or `--static`.
# The pkg-config file names the Debian packages' libraries, as the build links them.
VERSION := $(shell sed -n 's/^\#define XT_VERSION "\(.*\)"/\1/p' include/xt.h)
$(BUILD)/xt.pc: Makefile include/xt.h
	@mkdir -p $(dir $@)
	@printf '%s\n' 'prefix=$(PREFIX)' 'libdir=$${prefix}/lib' 'includedir=$${prefix}/include' '' \
	  'Name: xt' 'Description: xT (nested tokenization) for extremely large images, in C' 'Version: $(VERSION)' \
	  'Cflags: -I$${includedir}$(if $(filter 1,$(OPENMP)), -fopenmp)' 'Libs: -L$${libdir} -lxt$(if $(filter 1,$(OPENMP)), -fopenmp)' \
	  'Libs.private: $(XT_LDLIBS)' > $@

install: all $(BUILD)/libxt.so $(BUILD)/xt.pc
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/include
	install -m 755 $(XTBIN) $(DESTDIR)$(PREFIX)/bin/xt
	install -m 644 $(BUILD)/libxt.a $(DESTDIR)$(PREFIX)/lib/libxt.a
	install -m 755 $(BUILD)/libxt.so $(DESTDIR)$(PREFIX)/lib/libxt.so.$(VERSION)
	ln -sf libxt.so.$(VERSION) $(DESTDIR)$(PREFIX)/lib/libxt.so.$(SOVER)
	ln -sf libxt.so.$(SOVER) $(DESTDIR)$(PREFIX)/lib/libxt.so
	install -m 644 include/xt.h $(DESTDIR)$(PREFIX)/include/xt.h
	install -m 644 $(BUILD)/xt.pc $(DESTDIR)$(PREFIX)/lib/pkgconfig/xt.pc

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/xt $(DESTDIR)$(PREFIX)/lib/libxt.a $(DESTDIR)$(PREFIX)/lib/libxt.so* \
	  $(DESTDIR)$(PREFIX)/include/xt.h $(DESTDIR)$(PREFIX)/lib/pkgconfig/xt.pc

clean:
	rm -rf build build-asan xt

.PHONY: all test asan bench fuzz clean install uninstall $(BUILD)/xt.pc # xt.pc: PREFIX may change
-include $(OBJ:.o=.d) $(CLIO:.o=.d) $(wildcard $(BUILD)/fuzz/obj/src/*/*.d)
