#!/bin/sh
# run_bench.sh — region-encoder benchmark: PyTorch, ONNX Runtime and xt on this machine, in one
# go, one table (docs/performance.md). Run from the repository root:
#
#   sh bench/run_bench.sh              # BATCH=4 ITERS=5 WARMUP=1 THREADS=1,2 ROUNDS=3 E2E=1 E2E_SIZE=4096 by default
#   ITERS=10 sh bench/run_bench.sh
#   MATMUL=f32 sh bench/run_bench.sh   # xt float32 only (default f32,bf16,int8: also the opt-in bf16 and int8 linears)
#   ENCODERS=swin,hiera,convnext sh bench/run_bench.sh   # Swin V2-T (the default alone), Hiera-T, ConvNeXt-T
#   sh bench/run_bench.sh context      # long-sequence layers instead (bench_context + torch_context.py)
#
# Needs: /usr/bin/python3 with python3-torch + python3-torchvision (Debian), node + npm,
# libopenblas0-openmp. Writes scratch files under build/bench/.
#
# PyTorch and BLAS: Debian's torch links the generic libblas.so.3 (BLAS_INFO=generic), i.e.
# whatever the libblas.so.3-x86_64-linux-gnu alternative points to. With only the reference BLAS
# that is ~6 GFLOP/s; with the *pthread* OpenBLAS build (the default alternative when both are
# installed) torch's own OpenMP threads and OpenBLAS's pthreads oversubscribe the cores at 2
# threads. So PyTorch is run with the OpenMP build of OpenBLAS put first on LD_LIBRARY_PATH
# (per process; the system alternative is left alone). To make it the system default instead:
#   update-alternatives --set libblas.so.3-x86_64-linux-gnu \
#       /usr/lib/x86_64-linux-gnu/openblas-openmp/libblas.so.3
# The script checks which libblas torch actually mapped and that a 1024^2 torch.mm runs at
# > 100 GFLOP/s on 2 threads, and says so if not.
set -eu

BATCH=${BATCH:-4}
ITERS=${ITERS:-5}
WARMUP=${WARMUP:-1}
THREADS=${THREADS:-1,2}
PY=${PY:-/usr/bin/python3}
BUILD=${BUILD:-build}
OUT=$BUILD/bench
BLAS_OMP=/usr/lib/x86_64-linux-gnu/openblas-openmp
mkdir -p "$OUT"

if [ ! -e "$BLAS_OMP/libblas.so.3" ]; then
    echo "run_bench: $BLAS_OMP/libblas.so.3 missing: apt-get install -y libopenblas0-openmp" >&2
    exit 1
fi
TORCH_ENV="LD_LIBRARY_PATH=$BLAS_OMP${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
. "$(dirname "$0")/lib_swint_model.sh"

echo "== machine"
echo "$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB; $(date -u '+%Y-%m-%d %H:%M UTC'); load $(cut -d' ' -f1-3 /proc/loadavg)"

echo "== PyTorch BLAS check"
env $TORCH_ENV "$PY" - <<'EOF'
import time, torch
torch.set_num_threads(2)
a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
for _ in range(3): a @ b
t = time.perf_counter()
for _ in range(20): a @ b
g = 2 * 1024**3 / ((time.perf_counter() - t) / 20) / 1e9
libs = sorted({l.split()[-1] for l in open('/proc/self/maps') if 'blas' in l and '.so' in l})
print(f"torch {torch.__version__}: libblas mapped: {', '.join(libs)}")
print(f"torch.mm 1024^2, 2 threads: {g:.0f} GFLOP/s" + ("" if g > 100 else
      "  ** WARNING: < 100 GFLOP/s, PyTorch is not on a fast BLAS (or the machine is busy) **"))
EOF

echo "== build"
make -s -j2 bench >/dev/null

if [ "${1:-}" = context ]; then
    # Long-sequence context layers, 2 threads. xt at the issue's sizes, then PyTorch and xt at a
    # size PyTorch can run (its attention materialises L x L scores; its Mamba reference
    # materialises (d_inner, L, d_state) tensors and loops over L in Python).
    CT=${CTX_THREADS:-2}
    AL=${ATTN_L:-200000}; ML=${MAMBA_L:-1000000}; TAL=${TORCH_ATTN_L:-16384}; TML=${TORCH_MAMBA_L:-16384}
    echo "== context: causal attention layer, D=256"
    "$BUILD/bench/bench_context" attn --L "$AL" --method stream --threads "$CT"
    [ -n "${HYPER:-}" ] && "$BUILD/bench/bench_context" attn --L "$AL" --method hyper --threads "$CT"
    env $TORCH_ENV "$PY" bench/torch_context.py attn --L "$TAL" --threads "$CT"
    "$BUILD/bench/bench_context" attn --L "$TAL" --method stream --threads "$CT"
    echo "== context: Mamba block, D=128"
    "$BUILD/bench/bench_context" mamba --L "$ML" --threads "$CT"
    env $TORCH_ENV "$PY" bench/torch_context.py mamba --L "$TML" --threads "$CT"
    "$BUILD/bench/bench_context" mamba --L "$TML" --threads "$CT"
    # Side by side, per context encoder: PyTorch and xt at the same L and threads, ROUNDS
    # interleaved rounds; ratio = xt tokens/s / PyTorch tokens/s per round, then the median.
    # naive: the official channel attention alone (PyTorch: a (D, L, L) score tensor, 1 GiB at
    # L = 2048); attn: the causal attention layer; mamba: the Mamba block.
    NL=${NAIVE_L:-2048}
    RS=$OUT/context_rounds.txt
    : > "$RS"
    for r in $(seq "${ROUNDS:-3}"); do
        for w in naive attn mamba; do
            case $w in naive) L=$NL ;; attn) L=$TAL ;; *) L=$TML ;; esac
            env $TORCH_ENV "$PY" bench/torch_context.py $w --L "$L" --threads "$CT" | grep '^RESULT' | sed "s/^/$r $w /" >> "$RS"
            "$BUILD/bench/bench_context" $w --L "$L" --threads "$CT" | grep '^RESULT' | sed "s/^/$r $w /" >> "$RS"
        done
    done
    echo "== context encoders, $CT threads: tokens/s, xt / PyTorch (same L), ${ROUNDS:-3} interleaved rounds"
    awk '{ for (i = 4; i <= NF; i++) if ($i ~ /^tokens_per_s=/) { split($i, a, "="); tps = a[2] }
           if ($5 ~ /^L=/) L[$2] = $5
           if ($4 ~ /torch/) t[$1, $2] = tps; else x[$1, $2] = tps
           rounds[$1] = 1; what[$2] = 1 }
         END { for (w in what) { n = 0
                 for (r in rounds) if (t[r, w] > 0) { q[++n] = x[r, w] / t[r, w]
                     printf "  %-6s %s round %s: xt %8.0f  torch %8.0f  ratio %.2f\n", w, L[w], r, x[r, w], t[r, w], q[n] }
                 for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (q[j] < q[i]) { s = q[i]; q[i] = q[j]; q[j] = s }
                 if (n) printf "  %-6s median ratio %.2f (xt / PyTorch tokens/s)\n", w, n % 2 ? q[(n + 1) / 2] : (q[n / 2] + q[n / 2 + 1]) / 2 } }' "$RS"
    exit 0
fi

ENCODERS=$(echo "${ENCODERS:-swin}" | tr ',' ' ')
# the ONNX file of each encoder (tools/export_onnx.py --encoder; swin keeps its old name)
onnx_of() { case $1 in swin) echo "$OUT/swinv2_t_256.onnx" ;; *) echo "$OUT/${1}_t_256.onnx" ;; esac; }
for e in $ENCODERS; do
    case $e in swin|hiera|convnext) ;; *) echo "run_bench: ENCODERS: unknown '$e' (swin, hiera, convnext)" >&2; exit 1 ;; esac
    [ -e "$(onnx_of "$e")" ] || "$PY" tools/export_onnx.py --encoder "$e" -o "$(onnx_of "$e")" 2>/dev/null
done
[ -d bench/node_modules/onnxruntime-node ] || (cd bench && npm install --ignore-scripts --no-audit --no-fund >/dev/null)

# Region encoders (ENCODERS, default swin: Swin V2-T; hiera: Hiera-T; convnext: ConvNeXt-T; all on
# 256² regions, 3 bands, random weights): ROUNDS interleaved rounds (each round: the GEMM peak,
# then per encoder PyTorch, ONNX Runtime, for swin xt's bench_swin, then `xt classify` of a whole
# image), so that every ratio compares programs run minutes apart, not one program in a quiet
# minute with another in a busy one. Summary: per encoder and program the median and best
# regions/s over rounds, xt / ORT per round and its median, and % of the round's measured GEMM
# peak. GFLOP per region: counted analytically by bench/torch_swin.py --flops (swin_flops,
# hiera_flops, convnext_flops: convs, linears and attention matmuls of the network it builds,
# 2 FLOP per multiply-add; Swin 13.199 as bench_swin.c counts it, Hiera-T 12.956, ConvNeXt-T
# 11.637, i.e. the published 4.9 and 4.5 GMAC at 224² scaled to 256²).
ROUNDS=${ROUNDS:-3}
E2E=${E2E:-1}
ES=${E2E_SIZE:-4096}
NREG=$(( ((ES + 255) / 256) * ((ES + 255) / 256) ))
FLOPS=
for e in $ENCODERS; do FLOPS="$FLOPS $e=$("$PY" bench/torch_swin.py --encoder "$e" --flops)"; done
PRECS=$(echo "${MATMUL:-f32,bf16,int8}" | tr ',' ' ')
RES=$OUT/results.txt
: > "$RES"
E2ED=$OUT/e2e
# the e2e model of each encoder (swin keeps its old name)
model_of() { case $1 in swin) echo "$E2ED/swint_naive.safetensors" ;; *) echo "$E2ED/${1}_naive.safetensors" ;; esac; }
if [ "$E2E" = 1 ]; then
    # End to end: an E2E_SIZE^2 RGB image (4096: the README's scene, 256 regions of 256) through
    # `xt classify` with an xT model per encoder (naive head; random weights: one lr-0 step of
    # `xt train` writes a fresh model, bench/lib_swint_model.sh). Model loading (~0.3 s) is part
    # of the time.
    mkdir -p "$E2ED"
    [ -s "$E2ED/img$ES.tif" ] || ./xt make-image "$E2ED/img$ES.tif" --size "${ES}x$ES" --bands 3 --type u8 --tile 256 --seed 1 > /dev/null
    for e in $ENCODERS; do
        [ -s "$(model_of "$e")" ] || region_model ./xt "$(model_of "$e")" "$e" naive 3
    done
fi
for r in $(seq "$ROUNDS"); do
    echo "== round $r of $ROUNDS, $(date -u '+%H:%M:%S UTC'), load $(cut -d' ' -f1-3 /proc/loadavg)"
    "$BUILD/bench/bench_swin" --peak --threads "$THREADS" | grep '^RESULT' | sed "s/^RESULT/R$r -/" | tee -a "$RES"
    for e in $ENCODERS; do
        env $TORCH_ENV "$PY" bench/torch_swin.py --encoder "$e" --threads "$THREADS" --batch "$BATCH" --iters "$ITERS" \
            --warmup "$WARMUP" | grep '^RESULT' | sed "s/^RESULT/R$r $e/" | tee -a "$RES"
        node bench/ort_swin.mjs "$(onnx_of "$e")" --threads "$THREADS" --batch "$BATCH" --iters "$ITERS" --warmup "$WARMUP" \
            | grep '^RESULT' | sed "s/^RESULT/R$r $e/" | tee -a "$RES"
        # bench_swin: xt's region benchmark exists for Swin only; the others are measured end to end
        [ "$e" != swin ] || "$BUILD/bench/bench_swin" --threads "$THREADS" --batch "$BATCH" --iters "$ITERS" --warmup "$WARMUP" \
            --matmul "${MATMUL:-f32,bf16,int8}" | grep '^RESULT' | sed "s/^RESULT/R$r $e/" | tee -a "$RES"
        [ "$E2E" = 1 ] || continue
        for t in $(echo "$THREADS" | tr ',' ' '); do
            for p in $PRECS; do
                # Hiera and ConvNeXt have no int8 linears (f32 and bf16 only)
                [ "$e" = swin ] || [ "$p" != int8 ] || continue
                # the whole command: model load, reading, batching, encoder, head (--json "seconds")
                s=$(./xt classify -q -t "$t" --precision "$p" -m "$(model_of "$e")" "$E2ED/img$ES.tif" --json \
                    | tr -d '\n ' | sed -n 's/.*"seconds":\([0-9.]*\).*/\1/p')
                echo "R$r $e xt-classify-$p threads=$t regions=$NREG regions_per_s=$(awk -v s="$s" -v n="$NREG" 'BEGIN { printf "%.3f", n / s }') seconds=$s" | tee -a "$RES"
            done
        done
    done
done

echo
echo "== region encoders 256², batch $BATCH, $ROUNDS interleaved rounds: median (best) regions/s; xt / ORT per round and median; % of the same round's GEMM peak (GFLOP/region:$FLOPS)"
awk -v FL="$FLOPS" '
    function med(a, n,   i, j, t) { for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
                                  return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
    BEGIN { n = split(FL, kv, " "); for (i = 1; i <= n; i++) { split(kv[i], a, "="); F[a[1]] = a[2] } }
    { r = substr($1, 2); enc = $2; prog = $3; split($4, a, "="); t = a[2]; v = 0
      for (i = 5; i <= NF; i++) { split($i, kv, "="); if (kv[1] == (prog == "sgemm" ? "gflops" : "regions_per_s")) v = kv[2] }
      if (prog == "sgemm") peak[r, t] = v; else { val[enc, prog, t, r] = v; progs[enc SUBSEP prog] = 1 }
      rounds[r] = 1; threads[t] = 1 }
    END {
      print "| encoder | program | threads | regions/s median | best | GFLOP/s median | % of GEMM peak | xt / ORT per round | xt / ORT median |"
      print "|---|---|---:|---:|---:|---:|---:|---|---:|"
      for (t in threads) { n = 0; for (r in rounds) if (peak[r, t] > 0) q[++n] = peak[r, t]
          if (n) printf "| - | GEMM peak (oneDNN f32 2048^3) | %s | | | %.0f | | | |\n", t, med(q, n) }
      for (ep in progs) for (t in threads) {
          split(ep, z, SUBSEP); enc = z[1]; prog = z[2]
          n = 0; m = 0; best = 0; rs = ""; pk = 0
          for (r in rounds) if ((enc, prog, t, r) in val) {
              v = val[enc, prog, t, r]; x[++n] = v; if (v > best) best = v
              if (peak[r, t] > 0) p[++pk] = v * F[enc] / peak[r, t] * 100
              if (prog != "ort" && prog != "torch" && val[enc, "ort", t, r] > 0) { y[++m] = v / val[enc, "ort", t, r]; rs = rs sprintf("%s%.2f", m > 1 ? ", " : "", y[m]) } }
          if (!n) continue
          mv = med(x, n)
          printf "| %s | %s | %s | %.2f | %.2f | %.0f | %s | %s | %s |\n", enc, prog, t, mv, best, mv * F[enc],
                 pk ? sprintf("%.0f %%", med(p, pk)) : "", rs, m ? sprintf("%.2fx", med(y, m)) : "" } }' "$RES" |
    { read -r h1; read -r h2; echo "$h1"; echo "$h2"; sort -t'|' -k2,2 -k4,4n -k3,3; }
echo "(raw lines: $RES)"
