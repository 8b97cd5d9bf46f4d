// verify_grad.c — `xt verify` on gradient files (*_grad.safetensors): builds the trainable model
// from the file, runs the training forward on input.image (emitting the forward tensors as the
// inference path does), the file's loss and the backward, and emits `loss`, `grad.<param>` for
// every parameter and `grad.input.image`.
//   swin_region, hiera_region, convnext_region: loss = sum_s sum(stage_s * input.cotangent.stage{s}) (a VJP; Hiera
//                emits its stages as intermediates{s} NHWC and out, as its inference verify does)
//   xt:          label-smoothed cross-entropy (smoothing from config.loss, 0.3) on input.label
//   xview:       the official xView3 loss (config.loss.terms) on input.target.*, at config.cord;
//                also loss.<term>[.bce|.focal|.dice] and grad_norm
#include <math.h>
#include <string.h>

#include "models/models.h"
#include "models/xview.h"
#include "nn/nn.h"
#include "run/verify.h"
#include "train/train.h"

static void emit_grads(const xt_params *P, const xt_tap *tap) {
    for (int i = 0; i < P->n; i++)
        xt_tap_emitf(tap, xt_pg(P, i), P->p[i].ndim, P->p[i].shape, "grad.%s", P->p[i].name);
}

// hiera: cfg is the hiera_region file's config (encoder object "hiera"); convnext: the ConvNeXt
// config at the top level, weights unprefixed (as its inference verify); else Swin V2's own
static int region_grad(xt_st *st, const xt_json *cfg, const xt_tap *tap, int hiera, int convnext) {
    const xt_st_tensor *ti;
    const float *img = xt_st_f32(st, "input.image", &ti);
    if (!img) return -1;
    if (ti->ndim != 4 || ti->shape[2] != ti->shape[3] || ti->shape[0] < 1 || ti->shape[0] > 1024)
        return xt_error("verify", "%s: input.image must be (B, C, S, S)", st->path);
    int B = (int)ti->shape[0], S = (int)ti->shape[2], rc = -1;
    xt_params P = {0};
    xt_arena act = {0}, scr = {0};
    float *out[XT_MAX_STAGES] = {0}, *dimg = NULL;
    const float *cot[XT_MAX_STAGES] = {0};
    xt_encoder_train *m = NULL;
    const xt_json *ec = cfg; // the encoder's config object and weight prefix, as its inference verify reads them
    const char *arch = convnext ? "convnext" : hiera ? "hiera" : "swinv2", *pre = convnext ? "" : "model.";
    if (hiera && !(ec = xt_json_get(cfg, "hiera"))) { xt_error("verify", "%s: config has no 'hiera' object", st->path); goto done; }
    if (!(m = xt_encoder_train_new(&P, arch, ec, pre, S))) goto done;
    const int ns = m->n_stages, *C = m->stage_c, *H = m->stage_h;
    if (ti->shape[1] != m->in_chans) {
        xt_error("verify", "%s: input.image has %lld channels, the model %d", st->path, (long long)ti->shape[1], m->in_chans);
        goto done;
    }
    if (xt_params_alloc(&P) || xt_params_load(&P, st)) goto done;
    if (xt_arena_init(&act, m->act_bytes(m, B)) || xt_arena_init(&scr, m->scratch_bytes(m, B))) goto done;
    double loss = 0;
    for (int s = 0; s < ns; s++) {
        size_t n = (size_t)B * C[s] * H[s] * H[s];
        out[s] = xt_malloc_checked(n * sizeof(float), "stage output");
        if (!out[s]) goto done;
    }
    if (m->forward(m, &P, img, B, out, &act, tap, pre)) goto done;
    for (int s = 0; s < ns; s++) {
        size_t n = (size_t)B * C[s] * H[s] * H[s];
        int64_t sh[4] = {B, C[s], H[s], H[s]};
        if (hiera) {
            float *t = xt_malloc_checked(n * sizeof(float), "stage output");
            if (!t) goto done;
            xt_nchw_to_nhwc(t, out[s], B, C[s], H[s] * H[s]);
            int64_t sl[4] = {B, H[s], H[s], C[s]};
            xt_tap_emitf(tap, t, 4, sl, "intermediates%d", s);
            free(t);
            if (s == ns - 1) xt_tap_emitf(tap, out[s], 4, sh, "out");
        } else
            xt_tap_emitf(tap, out[s], 4, sh, "stage%d", s);
        char nm[64];
        snprintf(nm, sizeof nm, "input.cotangent.stage%d", s);
        const xt_st_tensor *tc;
        if (!(cot[s] = xt_st_f32(st, nm, &tc))) goto done;
        if ((size_t)tc->numel != n) { xt_error("verify", "%s: %s has %lld elements, stage %d has %zu", st->path, nm, (long long)tc->numel, s, n); goto done; }
        for (size_t i = 0; i < n; i++) loss += (double)out[s][i] * cot[s][i];
    }
    float lf = (float)loss;
    xt_tap_emit(tap, "loss", &lf, 1, (int64_t)1);
    if (!(dimg = xt_malloc_checked((size_t)ti->numel * sizeof(float), "image gradient"))) goto done;
    if (m->backward(m, &P, cot, dimg, &scr)) goto done;
    emit_grads(&P, tap);
    xt_tap_emitf(tap, dimg, 4, ti->shape, "grad.input.image");
    rc = 0;
done:
    for (int s = 0; s < XT_MAX_STAGES; s++) free(out[s]);
    free(dimg);
    xt_arena_free(&act);
    xt_arena_free(&scr);
    if (m) m->free(m);
    xt_params_free(&P);
    return rc;
}

static int xt_grad(xt_st *st, const xt_json *cfg, const xt_tap *tap) {
    const xt_st_tensor *ti, *tl;
    const float *img = xt_st_f32(st, "input.image", &ti), *lab = xt_st_f32(st, "input.label", &tl);
    if (!img || !lab) return -1;
    if (ti->ndim != 4 || ti->shape[0] < 1 || ti->shape[0] > 4096 || tl->numel != ti->shape[0])
        return xt_error("verify", "%s: input.image must be (N, C, H, W) and input.label (N)", st->path);
    int N = (int)ti->shape[0], H = (int)ti->shape[2], W = (int)ti->shape[3], rc = -1;
    xt_params P = {0};
    xt_arena act = {0}, scr = {0};
    float *logits = NULL, *dl = NULL, *dimg = NULL;
    int *label = NULL;
    xt_xt_train *m = xt_xt_train_new(&P, cfg, st);
    if (!m) goto done;
    int K = xt_xt_train_num_classes(m);
    if (ti->shape[1] != xt_xt_train_in_chans(m)) {
        xt_error("verify", "%s: input.image has %lld channels, not the model's", st->path, (long long)ti->shape[1]);
        goto done;
    }
    label = xt_xmalloc(N * sizeof(int));
    for (int n = 0; n < N; n++) {
        if (!(lab[n] >= 0 && lab[n] < K && lab[n] == (int)lab[n])) {
            xt_error("verify", "%s: input.label[%d] = %g is not a class id in [0, %d)", st->path, n, lab[n], K);
            goto done;
        }
        label[n] = (int)lab[n];
    }
    if (xt_params_alloc(&P) || xt_params_load(&P, st)) goto done;
    if (xt_arena_init(&act, xt_xt_train_act_bytes(m, N, H, W, 0)) ||
        xt_arena_init(&scr, xt_xt_train_scratch_bytes(m, N, H, W, 0)))
        goto done;
    logits = xt_xmalloc((size_t)N * K * sizeof(float));
    dl = xt_xmalloc((size_t)N * K * sizeof(float));
    if (!(dimg = xt_malloc_checked((size_t)ti->numel * sizeof(float), "image gradient"))) goto done;
    if (xt_xt_train_forward(m, &P, img, N, H, W, NULL, logits, &act, tap)) goto done;
    float loss = (float)xt_lsce_loss(dl, logits, label, N, K, xt_xt_train_smoothing(m));
    xt_tap_emit(tap, "loss", &loss, 1, (int64_t)1);
    if (xt_xt_train_backward(m, &P, dl, dimg, &scr)) goto done;
    emit_grads(&P, tap);
    xt_tap_emitf(tap, dimg, 4, ti->shape, "grad.input.image");
    rc = 0;
done:
    free(logits);
    free(dl);
    free(dimg);
    free(label);
    xt_arena_free(&act);
    xt_arena_free(&scr);
    xt_xt_train_free(m);
    xt_params_free(&P);
    return rc;
}

// The loss weights of config.loss.terms (name mask_vessel / mask_fishing / center / length with
// "weight", Combo params.weights {bce, focal, dice}); absent: the official ones.
static int xview_loss_cfg(const xt_json *cfg, xt_xview_loss_cfg *c) {
    *c = xt_xview_loss_official;
    const xt_json *lc = xt_json_get(cfg, "loss"), *terms = NULL;
    for (int i = 0; lc && i < lc->n; i++)
        if (!strcmp(lc->keys[i], "terms") && lc->items[i]->type == XT_JSON_ARR) terms = lc->items[i];
    static const char *names[4] = {"mask_vessel", "mask_fishing", "center", "length"};
    for (int i = 0; terms && i < terms->n; i++) {
        const xt_json *t = terms->items[i];
        const char *nm = t->type == XT_JSON_OBJ ? xt_json_str(t, "name", "") : "";
        int k = 0;
        while (k < 4 && strcmp(nm, names[k])) k++;
        if (k == 4) return xt_error("verify", "config: loss term '%s' is not one of the xView3 losses", nm ? nm : "?");
        double w;
        if (xt_json_num(t, "weight", c->w[k], &w)) return -1;
        c->w[k] = (float)w;
        const xt_json *pw = xt_json_get(xt_json_get(t, "params"), "weights");
        if (k < 2 && pw && xt_xview_combo_parse(pw, "verify: config loss params.weights", c->combo[k])) return -1;
    }
    return 0;
}

// xview: one training call on input.image (cord config.cord), the official loss on
// input.target.<key>; emits the forward taps, loss terms, gradients and grad_norm.
static int xview_grad(xt_st *st, const xt_json *cfg, const xt_tap *tap) {
    const xt_st_tensor *ti;
    const float *img = xt_st_f32(st, "input.image", &ti), *tgt[XT_XVIEW_MAPS];
    if (!img) return -1;
    if (ti->ndim != 4 || ti->shape[2] != ti->shape[3] || ti->shape[0] < 1 || ti->shape[0] > 1024)
        return xt_error("verify", "%s: input.image must be (B, C, S, S)", st->path);
    int B = (int)ti->shape[0], H = (int)ti->shape[2], rc = -1, cord[2] = {0, 0};
    size_t n = (size_t)B * H * H;
    for (int k = 0; k < XT_XVIEW_MAPS; k++) {
        const xt_st_tensor *tt;
        char nm[64];
        snprintf(nm, sizeof nm, "input.target.%s", xt_xview_map_names[k]);
        if (!(tgt[k] = xt_st_f32(st, nm, &tt))) return -1;
        if ((size_t)tt->numel != n) return xt_error("verify", "%s: %s must be (B, 1, H, W) like input.image", st->path, nm);
    }
    if (xt_json_get(cfg, "cord") && xt_json_int_array(cfg, "cord", cord, 2) != 2)
        return xt_error("verify", "%s: config.cord must be [i, j]", st->path);
    xt_xview_loss_cfg lc;
    if (xview_loss_cfg(cfg, &lc)) return -1;
    xt_params P = {0};
    xt_arena act = {0}, scr = {0};
    float *maps[XT_XVIEW_MAPS] = {0}, *dmaps[XT_XVIEW_MAPS] = {0}, *dimg = NULL;
    xt_xview_train *m = xt_xview_train_new(&P, cfg, st);
    if (!m) goto done;
    if (ti->shape[1] != xt_xview_train_in_chans(m)) {
        xt_error("verify", "%s: input.image has %lld channels, the model %d", st->path, (long long)ti->shape[1], xt_xview_train_in_chans(m));
        goto done;
    }
    if (xt_params_alloc(&P) || xt_params_load(&P, st)) goto done;
    if (xt_arena_init(&act, xt_xview_train_act_bytes(m, B, H)) || xt_arena_init(&scr, xt_xview_train_scratch_bytes(m, B, H))) goto done;
    for (int k = 0; k < XT_XVIEW_MAPS; k++)
        if (!(maps[k] = xt_malloc_checked(n * sizeof(float), "xview maps")) ||
            !(dmaps[k] = xt_malloc_checked(n * sizeof(float), "xview maps")))
            goto done;
    if (!(dimg = xt_malloc_checked((size_t)ti->numel * sizeof(float), "image gradient"))) goto done;
    if (xt_xview_train_forward(m, &P, img, B, H, cord[0], cord[1], maps, &act, tap)) goto done;
    xt_xview_loss_terms T;
    xt_xview_loss(&lc, (const float *const *)maps, tgt, n, dmaps, &T);
    static const char *cn[2] = {"mask_vessel", "mask_fishing"}, *pn[3] = {"bce", "focal", "dice"};
    for (int c = 0; c < 2; c++) {
        float v = (float)T.combo[c];
        xt_tap_emitf(tap, &v, 1, (int64_t[1]){1}, "loss.%s", cn[c]);
        for (int p = 0; p < 3; p++) {
            v = (float)T.parts[c][p];
            xt_tap_emitf(tap, &v, 1, (int64_t[1]){1}, "loss.%s.%s", cn[c], pn[p]);
        }
    }
    float lcen = (float)T.center, llen = (float)T.length, lt = (float)T.total;
    xt_tap_emit(tap, "loss.center", &lcen, 1, (int64_t)1);
    xt_tap_emit(tap, "loss.length", &llen, 1, (int64_t)1);
    xt_tap_emit(tap, "loss", &lt, 1, (int64_t)1);
    if (!isfinite(lt)) { xt_error("verify", "%s: the loss is not finite (%g)", st->path, lt); goto done; }
    if (xt_xview_train_backward(m, &P, (const float *const *)dmaps, dimg, &scr)) goto done;
    emit_grads(&P, tap);
    xt_tap_emitf(tap, dimg, 4, ti->shape, "grad.input.image");
    double gn = 0;
    for (size_t i = 0; i < P.total; i++) gn += (double)P.g[i] * P.g[i];
    float gnf = (float)sqrt(gn);
    xt_tap_emit(tap, "grad_norm", &gnf, 1, (int64_t)1);
    rc = 0;
done:
    for (int k = 0; k < XT_XVIEW_MAPS; k++) free(maps[k]), free(dmaps[k]);
    free(dimg);
    xt_arena_free(&act);
    xt_arena_free(&scr);
    xt_xview_train_free(m);
    xt_params_free(&P);
    return rc;
}

int xt_grad_verify(xt_st *st, const xt_json *cfg, const xt_tap *tap) {
    const char *kind = xt_json_str(cfg, "kind", "");
    if (!strcmp(kind, "swin_region") || !strcmp(kind, "hiera_region")) return region_grad(st, cfg, tap, kind[0] == 'h', 0);
    if (!strcmp(kind, "convnext_region")) return region_grad(st, cfg, tap, 0, 1);
    if (!strcmp(kind, "xt")) return xt_grad(st, cfg, tap);
    if (!strcmp(kind, "xview")) return xview_grad(st, cfg, tap);
    return xt_error("verify", "%s: gradients for model kind '%s' are not implemented", st->path, kind);
}
