// xview.h — xT's dense model for xView3-SAR dark-vessel detection (the official pre-release
// EncoderDecoderV2, dataset "xview3"): a 2-band Swin V2 region encoder with an extra stride-2
// level, an optional context model over the deepest level, and a UNet decoder with four output
// maps. Semantics: tests/golden/README.md, "xView3 dense prediction files".
//
//     xt_xview *m = xt_xview_new(st, cfg);                  // immutable; st outlives m
//     xt_xview_mem *mem = xt_xview_mem_new(m, 0);          // per run (one crop's tiles)
//     for each tile (i, j) of a crop, row-major:
//         xt_xview_forward(m, tile, B, S, i, j, mem, maps, tap, "");
//     xt_xview_mem_free(mem);  xt_xview_free(m);
#ifndef XT_XVIEW_H
#define XT_XVIEW_H

#include "models/models.h"

// The four output maps, in this order: vessel and fishing logits, center heatmap (0..255 scale),
// length (metres). Official names "<key>_mask".
enum { XT_XVIEW_VESSEL, XT_XVIEW_FISHING, XT_XVIEW_CENTER, XT_XVIEW_LENGTH, XT_XVIEW_MAPS };
extern const char *const xt_xview_map_names[XT_XVIEW_MAPS]; // "vessel_mask", ...

typedef struct xt_xview_info {
    int crop_size;      // S: side of one region (backbone img_size)
    int in_chans;       // 2 (VV, VH)
    int level_c[5];     // channels of levels 0..4 (C, C, 2C, 4C, 8C)
    int dec_f[4], last; // UNet widths (from the tensors)
    int context;        // xl_context.enabled
    int hidden, n_layers, mem_chip;
    // whole-scene inference settings of the official config (data.val_crop_size, data.overlap,
    // model.tiling); 0 / -1 / "" when the config has none
    int val_crop_size, overlap;
    char tiling[32];
} xt_xview_info;

typedef struct xt_xview xt_xview;
// cfg: a model config of kind "xview" (keys: crop_size; "swin" {embed_dim, depths, num_heads,
// window_size (else from timm_model / backbone_class "..._window16_..."), ...}; "xl_context"
// {enabled, hidden_size, n_layer, mem_chip}). Weights under the official names. NULL + error.
xt_xview *xt_xview_new(xt_st *st, const xt_json *cfg);
// The config's "swin" object as the Swin V2 reader's own config; NULL + error; caller frees.
xt_json *xt_xview_swin_json(const xt_json *cfg);
void xt_xview_free(xt_xview *m);
const xt_xview_info *xt_xview_get_info(const xt_xview *m);

// The context model's recurrent memory over the tiles of one crop. Officially it is dead (golden
// README bug 15: every tile starts from none), which is what carry = 0 gives; carry = 1 is the
// "memfix" variant (each layer's input is kept, the last mem_chip x L tokens attend).
typedef struct xt_xview_mem xt_xview_mem;
xt_xview_mem *xt_xview_mem_new(const xt_xview *m, int carry, int mem_chip);
void xt_xview_mem_free(xt_xview_mem *mem);

// One model call (EncoderDecoderV2.forward): img (B, in_chans, H, H) normalised, H = n x S
// (n > 1: nested tokenization into n x n regions, stitched back); cord (ci, cj): the tile's
// place in its crop (position embedding of the context). maps[k] (B, 1, H, H) written.
// Taps (tap != NULL): "<name><sfx>" for encoder.upsample.in, encoder.{0..4} (per
// region), context_model.*, decoder.decoder_stages.{k}, decoder.bottlenecks.{i}, out.<key>.
// Allocates its buffers per call; xt_xview_forward_ws reuses those of ws (grown to the largest
// (B, H) seen, never shrunk): a run makes one ws per thread, the model is shared.
int xt_xview_forward(const xt_xview *m, const float *img, int B, int H, int ci, int cj, xt_xview_mem *mem,
                     float *const *maps, const xt_tap *tap, const char *sfx);
typedef struct xt_xview_ws xt_xview_ws;
xt_xview_ws *xt_xview_ws_new(void);
void xt_xview_ws_free(xt_xview_ws *ws);
int xt_xview_forward_ws(const xt_xview *m, xt_xview_ws *ws, const float *img, int B, int H, int ci, int cj,
                        xt_xview_mem *mem, float *const *maps, const xt_tap *tap, const char *sfx);

#endif
