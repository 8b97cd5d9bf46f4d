#!/bin/sh
# tests/fuzz/run.sh — build (make fuzz) and run the libFuzzer targets, one after another, on one
# core at low priority. Not part of `make test`; see docs/robustness.md.
#   tests/fuzz/run.sh [TARGET...] [-t SECONDS]      TARGET: json safetensors model raster ckpt csv npy (default: all)
# Each run keeps its growing corpus in $BUILD/fuzz/corpus_<target> (the committed seeds in
# tests/fuzz/corpus_<target> are read, never written) and its crash files in $BUILD/fuzz/crash_<target>/.
set -e
BUILD=${BUILD:-build}
T=300
targets=""
while [ $# -gt 0 ]; do
    case "$1" in
    -t) T=$2; shift 2 ;;
    *) targets="$targets $1"; shift ;;
    esac
done
[ -n "$targets" ] || targets="json safetensors model raster ckpt csv npy"
make -s -j2 BUILD="$BUILD" fuzz
status=0
for t in $targets; do
    seeds=tests/fuzz/corpus_$t
    case $t in
    ckpt) seeds=tests/fuzz/corpus; opts="-max_len=65536" ;;
    json) opts="-max_len=4096 -dict=tests/fuzz/json.dict" ;;
    model) opts="-max_len=2048 -dict=tests/fuzz/json.dict -timeout=30" ;;
    safetensors) opts="-max_len=8192" ;;
    raster) opts="-max_len=32768 -timeout=20" ;;
    csv) opts="-max_len=8192 -timeout=20" ;;
    npy) opts="-max_len=16384" ;;
    *) echo "run.sh: unknown target $t" >&2; exit 2 ;;
    esac
    mkdir -p "$BUILD/fuzz/corpus_$t" "$BUILD/fuzz/crash_$t"
    echo "== fuzz_$t: $T s"
    # -malloc_limit_mb: a single allocation above 1 GiB is reported as a bug (hostile sizes must be
    # refused before allocating); -rss_limit_mb bounds the whole process
    nice -n 19 "$BUILD/fuzz/fuzz_$t" -max_total_time="$T" -print_final_stats=1 -rss_limit_mb=3072 -malloc_limit_mb=1024 \
        -artifact_prefix="$BUILD/fuzz/crash_$t/" $opts "$BUILD/fuzz/corpus_$t" "$seeds" 2>&1 |
        tee "$BUILD/fuzz/fuzz_$t.log" | grep -E "^(==|SUMMARY|#[0-9]+ *DONE|stat::number_of_executed_units|stat::peak_rss)|ERROR" || true
    if grep -q -E "ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error|SUMMARY: " "$BUILD/fuzz/fuzz_$t.log"; then status=1; fi
done
exit $status
