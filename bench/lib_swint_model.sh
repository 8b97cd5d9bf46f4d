# lib_swint_model.sh — the xT models of the benchmarks (256² regions, 10 classes, mlp_ratio 4),
# sourced by run_bench.sh, whole_scene.sh and train_step.sh so that they measure the same network.
# Region encoder: swin (Swin V2-T, the default of every caller), hiera (Hiera-T) or convnext
# (ConvNeXt-T), the networks bench/torch_swin.py and tools/export_onnx.py build. POSIX sh;
# defines functions and nothing else.

# region_encoder_json ENC BANDS: the xT config's encoder object ("key": {...}) for ENC.
region_encoder_json() {
    case $1 in
        swin) printf '"swin": {"embed_dim": 96, "depths": [2, 2, 6, 2], "num_heads": [3, 6, 12, 24], "window_size": 16, "in_chans": %s}' "$2" ;;
        # hiera.Hiera's defaults (docs/backbones.md) at the hiera_tiny_224 size
        hiera) printf '"hiera": {"embed_dim": 96, "num_heads": 1, "stages": [1, 2, 7, 2], "in_chans": %s}' "$2" ;;
        convnext) printf '"convnext": {"dims": [96, 192, 384, 768], "depths": [3, 3, 9, 3], "in_chans": %s}' "$2" ;;
        *) echo "lib_swint_model: unknown encoder '$1' (swin, hiera or convnext)" >&2; return 1 ;;
    esac
}

# region_config FILE ENC HEAD BANDS TRAIN [CONTEXT]: writes the config. HEAD: naive or xl; BANDS:
# the encoder's in_chans; TRAIN: the "train" object (JSON); CONTEXT: the xl head's "context" object.
region_config() {
    _e=$(region_encoder_json "$2" "$4") || return 1
    {
        printf '{"model": {"kind": "xt", "cls_head": "%s", "crop_size": 256, "num_classes": 10, "mlp_ratio": 4,\n' "$3"
        [ -z "${6:-}" ] || printf '  "context": %s,\n' "$6"
        printf '  %s},\n' "$_e"
        printf ' "train": %s}\n' "$5"
    } > "$1"
}

# region_model XT M.safetensors ENC HEAD BANDS [CONTEXT]: writes M.safetensors, the model with
# random weights (its numbers exercise every layer but mean nothing), and its config M.json. xt
# has no "write a fresh model" command: one `xt train` step at lr 0 on one BANDS-band 256² image
# (one.tif beside M) keeps the fresh initialisation, --export writes the weights alone (no
# checkpoint or metrics log is left behind).
region_model() {
    _m=${2%.safetensors}
    _d=$(dirname "$2")
    region_config "$_m.json" "$3" "$4" "$5" '{"img_size": 256, "batch": 1, "steps": 1, "lr": 0}' "${6:-}" || return 1
    [ -s "$_d/one.tif" ] || "$1" make-image "$_d/one.tif" --size 256x256 --bands "$5" > /dev/null
    printf "one.tif,0\n" > "$_d/one.csv"
    "$1" train -c "$_m.json" --data "$_d/one.csv" -o "$_m.ckpt.safetensors" --export "$2" --metrics '' -q > /dev/null
    rm -f "$_m.ckpt.safetensors"
}

# The Swin V2-T forms of the two, as the callers have always used them:
# swint_config FILE HEAD BANDS TRAIN [CONTEXT], swint_model XT M.safetensors HEAD BANDS [CONTEXT].
swint_config() { region_config "$1" swin "$2" "$3" "$4" "${5:-}"; }
swint_model() { region_model "$1" "$2" swin "$3" "$4" "${5:-}"; }
