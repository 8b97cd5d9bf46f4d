# xt — build the library, the CLI, tests and benchmarks.
#   make            libxt.a and ./xt          make test    all tests (stops at first failure)
#   make asan       tests under ASan+UBSan    make bench   benchmark programs
#   CFLAGS=... / WERROR=1 / OPENMP=0 / SAN=-fsanitize=...
CC      ?= cc
CFLAGS  ?= -O2 -g -march=native
OPENMP  ?= 1
SAN     ?=
WERROR  ?=
BUILD   ?= build
XTBIN   ?= xt

XT_CFLAGS  = -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wno-unused-parameter -Iinclude -Isrc -I$(BLAS_INC) $(SAN)
# OpenBLAS, OpenMP build: it runs single-threaded inside our parallel regions (no oversubscription).
BLAS_DIR  ?= /usr/lib/x86_64-linux-gnu/openblas-openmp
BLAS_INC  ?= /usr/include/x86_64-linux-gnu/openblas-openmp
XT_LDLIBS  = -L$(BLAS_DIR) -Wl,-rpath,$(BLAS_DIR) -lopenblas -ldnnl -ltiff -lgeotiff -lpng -ljpeg -lz -lm -lpthread
ifeq ($(OPENMP),1)
XT_CFLAGS += -fopenmp
endif
ifneq ($(WERROR),)
XT_CFLAGS += -Werror
endif

SRC   := $(wildcard src/core/*.c src/nn/*.c src/models/*.c src/io/*.c src/train/*.c)
CLI   := $(wildcard src/cli/*.c)
TESTS := $(patsubst tests/%.c,$(BUILD)/tests/%,$(wildcard tests/test_*.c))
BENCH := $(patsubst bench/%.c,$(BUILD)/bench/%,$(wildcard bench/*.c))
OBJ   := $(patsubst %.c,$(BUILD)/%.o,$(SRC))
CLIO  := $(patsubst %.c,$(BUILD)/%.o,$(CLI))

all: $(BUILD)/libxt.a $(XTBIN)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC $<"
	@$(CC) $(CFLAGS) $(XT_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/libxt.a: $(OBJ)
	@rm -f $@
	ar rcs $@ $^

$(XTBIN): $(CLIO) $(BUILD)/libxt.a
	$(CC) $(CFLAGS) $(XT_CFLAGS) $^ -o $@ $(XT_LDLIBS)

$(BUILD)/tests/%: tests/%.c $(BUILD)/libxt.a tests/check.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(XT_CFLAGS) $< $(BUILD)/libxt.a -o $@ $(XT_LDLIBS)

$(BUILD)/bench/%: bench/%.c $(BUILD)/libxt.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(XT_CFLAGS) $< $(BUILD)/libxt.a -o $@ $(XT_LDLIBS)

test: all $(TESTS)
	@XT=./$(XTBIN) BUILD=$(BUILD) sh tests/run.sh $(TESTS)

asan:
	$(MAKE) BUILD=build-asan XTBIN=build-asan/xt CFLAGS="-O1 -g" SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" test

bench: $(BENCH)

# libFuzzer target for the checkpoint readers (clang; not part of test): see docs/checkpoints.md
fuzz:
	@mkdir -p $(BUILD)/fuzz/corpus
	clang -O1 -g -std=c11 -D_GNU_SOURCE -Iinclude -Isrc -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined $(wildcard src/core/err.c src/core/json.c src/core/arena.c src/io/safetensors.c src/io/zip.c src/io/pickle.c src/io/ckpt*.c src/io/yaml.c src/models/presets.c) tests/fuzz/fuzz_ckpt.c tests/fuzz/stubs.c -lz -lm -o $(BUILD)/fuzz/fuzz_ckpt

clean:
	rm -rf build build-asan xt

.PHONY: all test asan bench fuzz clean
-include $(OBJ:.o=.d) $(CLIO:.o=.d)
