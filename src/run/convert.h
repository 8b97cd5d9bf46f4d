// convert.h — model-aware checkpoint conversion (`xt convert`): official xT checkpoints and
// ImageNet-pretrained timm / hiera backbones to xt model files. Sits above models/ because it
// needs to know each model's parameters and configs.
#ifndef XT_CONVERT_H
#define XT_CONVERT_H

#include "formats/ckpt.h"

// ---------------------------------------------------------------------------------------------
// pretrained backbones (pretrained.c): ImageNet weights under timm's / hiera's own names

// A checkpoint (.pth/.ckpt/.bin: zip or legacy) or a safetensors state dict (e.g. the
// model.safetensors timm publishes), chosen by the file's first bytes. NULL + error.
xt_ckpt *xt_ckpt_load_any(const char *path, const xt_ckpt_opts *opts);
// The layout of a pretrained backbone state dict: "timm-swinv2", "timm-convnext" or "hiera";
// NULL + error saying why when none (or, for xT names, that no mapping is needed).
const char *xt_pretrained_detect(const xt_ckpt *ck);
// Renames ck's tensors from the `from` layout to the features_only region encoder's names
// (timm FeatureListNet: layers_{s}, stem_{i}, stages_{s}) under `prefix` (NULL: the region
// file's default, see xt_pretrained_prefix); drops what a region encoder does not have (the
// classifier head, the final norm) with a note per group; any other unmapped name is an error
// listing a few. 0 / -1 + error.
int xt_pretrained_map(xt_ckpt *ck, const char *from, const char *prefix);
// The region-encoder model file for a layout: its config "kind" and weight prefix.
const char *xt_pretrained_kind(const char *from);   // swin_region, convnext_region, hiera_region
const char *xt_pretrained_prefix(const char *from); // "model.", "" (convnext), "model."

// ---------------------------------------------------------------------------------------------
// configs (ckpt_config.c)

// The xT model config for a checkpoint: `given` (our JSON config or NULL), the official YAML
// file (or NULL), and `sets` ("a.b=value" overrides, JSON values or bare words) are merged in
// this order; every setting the tensors determine is inferred and cross-checked. Returns the
// config as compact JSON text (malloc'd) or NULL + error listing what is missing or conflicting.
// notes: appended human-readable lines about what was inferred or assumed.
char *xt_ckpt_config(const xt_ckpt *ck, const char *config_path, char *const *sets, int n_sets,
                     xt_sbuf *notes);

// The config of a region-encoder model file made from a mapped pretrained state dict (ck after
// xt_pretrained_map with `prefix`): kind = xt_pretrained_kind(from), sizes inferred from the
// shapes as for xT checkpoints, `given` / `sets` merged and cross-checked; settings the tensors
// cannot determine (Swin window_size; Hiera num_heads outside the presets) must be given.
char *xt_ckpt_region_config(const xt_ckpt *ck, const char *from, const char *prefix, const char *config_path,
                            char *const *sets, int n_sets, xt_sbuf *notes);

// Official YAML configs for training (run/yaml_train.c builds on these):
// path and its base_configs (recursively; as given, then beside the file and above) parsed, in
// OmegaConf.merge order, lowest priority first: docs[i] came from files[i] (both malloc'd arrays
// of malloc'd items; the caller frees them). 0 / -1 + error.
int xt_yaml_config_docs(const char *path, xt_json ***docs, int *n, char ***files, xt_sbuf *notes);
// Deep merge of JSON objects, later ones overriding (mappings merge, everything else replaces):
// compact JSON text (malloc'd).
char *xt_config_merge(const xt_json *const *docs, int n);
// The xT model config (compact JSON, malloc'd) of a merged, resolved official config: the same
// translation `xt convert --config OFFICIAL.yaml` makes. NULL + error.
char *xt_yaml_model_config(const xt_json *merged, const char *path, xt_sbuf *notes);

#endif
