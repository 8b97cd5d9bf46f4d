# lib_swint_model.sh — the Swin V2-T xT model of the benchmarks (256² regions, 10 classes,
# mlp_ratio 4), sourced by run_bench.sh, whole_scene.sh and train_step.sh so that they measure
# the same network. POSIX sh; defines two functions and nothing else.

# swint_config FILE HEAD BANDS TRAIN [CONTEXT]: writes the config. HEAD: naive or xl; BANDS: the
# encoder's in_chans; TRAIN: the "train" object (JSON); CONTEXT: the xl head's "context" object.
swint_config() {
    {
        printf '{"model": {"kind": "xt", "cls_head": "%s", "crop_size": 256, "num_classes": 10, "mlp_ratio": 4,\n' "$2"
        [ -z "${5:-}" ] || printf '  "context": %s,\n' "$5"
        printf '  "swin": {"embed_dim": 96, "depths": [2, 2, 6, 2], "num_heads": [3, 6, 12, 24], "window_size": 16, "in_chans": %s}},\n' "$3"
        printf ' "train": %s}\n' "$4"
    } > "$1"
}

# swint_model XT M.safetensors HEAD BANDS [CONTEXT]: writes M.safetensors, the model with random
# weights (its numbers exercise every layer but mean nothing), and its config M.json. xt has no
# "write a fresh model" command: one `xt train` step at lr 0 on one BANDS-band 256² image
# (one.tif beside M) keeps the fresh initialisation, --export writes the weights alone (no
# checkpoint or metrics log is left behind).
swint_model() {
    _m=${2%.safetensors}
    _d=$(dirname "$2")
    swint_config "$_m.json" "$3" "$4" '{"img_size": 256, "batch": 1, "steps": 1, "lr": 0}' "${5:-}"
    [ -s "$_d/one.tif" ] || "$1" make-image "$_d/one.tif" --size 256x256 --bands "$4" > /dev/null
    printf "one.tif,0\n" > "$_d/one.csv"
    "$1" train -c "$_m.json" --data "$_d/one.csv" -o "$_m.ckpt.safetensors" --export "$2" --metrics '' -q > /dev/null
    rm -f "$_m.ckpt.safetensors"
}
