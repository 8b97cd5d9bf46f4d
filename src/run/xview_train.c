// xview_train.c — `xt train` for the xView3 dense model: scenes + label CSV -> the official
// XviewDataset crops and targets -> the official naive_two_stream loop, with AdamW, clipping, the
// schedule and the classifier trainer's checkpoints.
//
// Official (xT 390372a, gigaformer/datasets/xview3.py and trainer.py), kept:
//   * a crop is placed around a random label of its scene with probability positive_ratio (when
//     the scene has more than one label), the start drawn in the official window (max_shift_pad
//     32); else up to 5 uniform draws until more than 5 % of the VH pixels are known (> -1000);
//   * targets painted from every label strictly inside the crop (train/xview_targets.c);
//     normalize_band per band in float32; a 180° rotation of image and targets with p 0.5;
//   * the crop cut into n x n tiles of crop_size with cord (i, j) row-major, each tile its own
//     forward, loss (official composition and weights), backward, clip_grad_norm (5.0) and AdamW
//     step; the lr follows the schedule per batch of crops (the official scheduler steps per
//     loader iteration).
// Different, and why:
//   * the mem_only warm-up pass of naive_two_stream is skipped: the memory it would build is
//     dead (golden README bug 15), so it changes nothing but the time;
//   * the random draws come from (seed, sample index), not from time_ns and the global RNG, so a
//     run is reproducible and --resume continues it bit for bit; scene order is a permutation
//     per epoch (an epoch = one crop per scene) as in the classifier trainer;
//   * eval-mode forward (no drop-path: bug 16) as xview_bwd.c does; a crop is read by window from
//     the scene files, so a scene is never held whole; pixels past the scene edge are NoData.
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "run/xview_detect.h"
#include "run/xview_train.h"

static int is_dir(const char *p) {
    struct stat s;
    return !stat(p, &s) && S_ISDIR(s.st_mode);
}
static int is_file(const char *p) {
    struct stat s;
    return !stat(p, &s) && S_ISREG(s.st_mode);
}

static void add_scene(xt_xview_data_spec *d, const char *p) {
    d->scenes = realloc(d->scenes, (size_t)(d->n_scenes + 1) * sizeof *d->scenes);
    XT_ASSERT(d->scenes);
    XT_ASSERT((d->scenes[d->n_scenes] = strdup(p)));
    d->n_scenes++;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int has_tif_suffix(const char *n) {
    size_t k = strlen(n);
    return (k > 4 && !strcmp(n + k - 4, ".tif")) || (k > 5 && !strcmp(n + k - 5, ".tiff"));
}

// a folder of scenes: scene folders (VV_dB.tif inside) and 2-band .tif files, sorted
static int scan_dir(xt_xview_data_spec *d, const char *dir) {
    char p[2048];
    snprintf(p, sizeof p, "%s/VV_dB.tif", dir);
    if (is_file(p)) { add_scene(d, dir); return 0; }
    DIR *dh = opendir(dir);
    if (!dh) return xt_error("xview train", "%s: cannot read the scene folder", dir);
    int first = d->n_scenes;
    struct dirent *e;
    while ((e = readdir(dh))) {
        if (e->d_name[0] == '.') continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        char vv[2100], vh[2100];
        snprintf(vv, sizeof vv, "%s/VV_dB.tif", p);
        snprintf(vh, sizeof vh, "%s/VH_dB.tif", p);
        if (is_dir(p) && (is_file(vv) || is_file(vh))) add_scene(d, p);
        else if (is_file(p) && has_tif_suffix(e->d_name)) add_scene(d, p);
    }
    closedir(dh);
    if (d->n_scenes == first) return xt_error("xview train", "%s: no scenes (folders with VV_dB.tif and VH_dB.tif, or 2-band .tif files)", dir);
    qsort(d->scenes + first, (size_t)(d->n_scenes - first), sizeof *d->scenes, cmp_str);
    return 0;
}

void xt_xview_data_free(xt_xview_data_spec *d) {
    for (int i = 0; i < d->n_scenes; i++) free(d->scenes[i]);
    free(d->scenes);
    memset(d, 0, sizeof *d);
}

int xt_xview_data_parse(const xt_json *j, xt_xview_data_spec *d) {
    memset(d, 0, sizeof *d);
    d->positive_ratio = 0.85;
    if (!j || j->type != XT_JSON_OBJ) return xt_error("xview train", "data.xview3 must be an object {\"scenes\": ..., \"labels\": ...}");
    const char *lab = xt_json_str(j, "labels", NULL);
    const xt_json *sc = xt_json_get(j, "scenes");
    if (!lab || !sc) return xt_error("xview train", "data.xview3 needs \"scenes\" (a folder or a list) and \"labels\" (a CSV)");
    if (xt_json_num(j, "positive_ratio", d->positive_ratio, &d->positive_ratio)) return -1;
    if (!(d->positive_ratio >= 0 && d->positive_ratio <= 1)) return xt_error("xview train", "data.xview3.positive_ratio %g: not in [0, 1]", d->positive_ratio);
    snprintf(d->labels, sizeof d->labels, "%s", lab);
    if (sc->type == XT_JSON_STR) {
        if (scan_dir(d, sc->str)) goto fail;
    } else if (sc->type == XT_JSON_ARR && sc->n > 0) {
        for (int i = 0; i < sc->n; i++) {
            if (sc->items[i]->type != XT_JSON_STR) { xt_error("xview train", "data.xview3.scenes[%d] is not a path", i); goto fail; }
            add_scene(d, sc->items[i]->str);
        }
    } else {
        xt_error("xview train", "data.xview3.scenes must be a folder or a non-empty list of scenes");
        goto fail;
    }
    return 0;
fail:
    xt_xview_data_free(d);
    return -1;
}

void xt_xview_data_json(xt_sbuf *b, const xt_xview_data_spec *d) {
    xt_sbuf_printf(b, "{\"xview3\": {\"scenes\": [");
    for (int i = 0; i < d->n_scenes; i++) {
        if (i) xt_sbuf_printf(b, ", ");
        xt_sbuf_json_str(b, d->scenes[i]);
    }
    xt_sbuf_printf(b, "], \"labels\": ");
    xt_sbuf_json_str(b, d->labels);
    xt_sbuf_printf(b, ", \"positive_ratio\": %.17g}}", d->positive_ratio);
}

int xt_xview_loss_parse(const xt_json *train, xt_xview_loss_cfg *c) {
    *c = xt_xview_loss_official;
    const xt_json *l = train ? xt_json_get(train, "loss") : NULL;
    if (!l) return 0;
    double w[4];
    const char *wn[4] = {"vessel", "fishing", "center", "length"};
    const xt_json *wj = xt_json_get(l, "weights");
    for (int i = 0; i < 4; i++) w[i] = c->w[i];
    for (int i = 0; wj && i < 4; i++)
        if (xt_json_num(wj, wn[i], w[i], &w[i])) return xt_error_prefix("train.loss.weights");
    for (int i = 0; i < 4; i++) c->w[i] = (float)w[i];
    // "combo" sets both masks' Combo weights; "combo_fishing" (the official mask_fishing term's own
    // params.weights) then overrides the fishing mask's
    if (xt_xview_combo_parse(xt_json_get(l, "combo"), "train.loss.combo", c->combo[0])) return -1;
    memcpy(c->combo[1], c->combo[0], sizeof c->combo[1]);
    if (xt_xview_combo_parse(xt_json_get(l, "combo_fishing"), "train.loss.combo_fishing", c->combo[1])) return -1;
    const xt_json *fv = xt_json_get(l, "fishing_on_vessels");
    if (fv) {
        if (fv->type != XT_JSON_BOOL) return xt_error("train.loss.fishing_on_vessels", "must be true or false");
        c->fishing_on_vessels = fv->num != 0;
    }
    return 0;
}

// ---------------------------------------------------------------------------------------------
// scenes and crops

typedef struct {
    char id[256], vv[2100], vh[2100]; // vh empty: one 2-band raster
    int H, W;
    xt_xview_point *pts;
    int64_t n_pts;
} scene;

static int scene_paths(scene *s, const char *path) {
    if (is_dir(path)) {
        snprintf(s->vv, sizeof s->vv, "%s/VV_dB.tif", path);
        snprintf(s->vh, sizeof s->vh, "%s/VH_dB.tif", path);
        if (!is_file(s->vv) || !is_file(s->vh))
            return xt_error("xview train", "scene folder %s: %s is missing (a scene folder holds VV_dB.tif and VH_dB.tif)", path,
                            is_file(s->vv) ? "VH_dB.tif" : "VV_dB.tif");
        size_t n = strlen(path);
        while (n > 1 && path[n - 1] == '/') n--;
        const char *b = path + n;
        while (b > path && b[-1] != '/') b--;
        snprintf(s->id, sizeof s->id, "%.*s", (int)(path + n - b), b);
    } else {
        snprintf(s->vv, sizeof s->vv, "%s", path);
        s->vh[0] = 0;
        const char *b = strrchr(path, '/');
        snprintf(s->id, sizeof s->id, "%s", b ? b + 1 : path);
        char *dot = strrchr(s->id, '.');
        if (dot && has_tif_suffix(s->id)) *dot = 0;
    }
    return 0;
}

// normalize_band (float32): < -32760 -> -100; all -100 -> 0; else (x + 40) / 15 and the -100s 0
void xt_xview_normalize_band(float *b, size_t n) {
    size_t known = 0;
    for (size_t i = 0; i < n; i++) {
        if (b[i] < -32760.0f) b[i] = -100.0f;
        known += b[i] != -100.0f;
    }
    for (size_t i = 0; i < n; i++) b[i] = !known || b[i] == -100.0f ? 0.0f : (b[i] + 40.0f) / 15.0f;
}

// random.randint(a, b): a + floor(u (b - a + 1)); b < a (a scene barely larger than the crop) gives a
static int64_t randint(uint64_t *r, int64_t a, int64_t b) {
    double u = xt_rng_u01(r);
    if (b < a) return a;
    int64_t v = a + (int64_t)(u * (double)(b - a + 1));
    return v > b ? b : v;
}

// Crop k of the run from scene s: image (2, D, D) normalised, targets tgt[4] (D, D), as
// XviewDataset.__getitem__ draws them, from (seed, k).
static int load_crop(const scene *s, int D, double pr, uint64_t seed, int64_t k, int augment, int fishing_on_vessels,
                     float *img, float *const *tgt, float *vv, float *vh) {
    uint64_t r = xt_rng_mix(seed ^ xt_rng_mix(0x5A3 + (uint64_t)k));
    xt_detect_scene *sc = xt_detect_scene_open(s->vv, s->vh[0] ? s->vh : NULL);
    if (!sc) return -1;
    int64_t hs = 0, ws = 0, h = s->H, w = s->W, rc = -1;
    if (s->n_pts > 1 && xt_rng_u01(&r) > 1.0 - pr) { // a positive crop around one label
        const xt_xview_point *p = &s->pts[randint(&r, 0, s->n_pts - 1)];
        int64_t y = p->row, x = p->col, pad = 32;
        int64_t min_x = x - D + pad > 0 ? x - D + pad : 0, min_y = y - D + pad > 0 ? y - D + pad : 0;
        if (min_x > w - D - 32) min_x = w - D - 32;
        if (min_y > h - D - 32) min_y = h - D - 32;
        int64_t max_x = x - pad < w - D - 1 ? x - pad : w - D - 1, max_y = y - pad < h - D - 1 ? y - pad : h - D - 1;
        if (max_x < 0) max_x = 0;
        if (max_y < 0) max_y = 0;
        if (max_x < min_x) { int64_t t = min_x; min_x = max_x; max_x = t; }
        if (max_y < min_y) { int64_t t = min_y; min_y = max_y; max_y = t; }
        hs = randint(&r, min_y, max_y);
        ws = randint(&r, min_x, max_x);
        if (xt_detect_scene_read(sc, (int)hs, (int)ws, D, D, vv, vh)) goto done;
    } else {
        for (int t = 0; t < 5; t++) { // up to 5 tries for > 5 % known pixels
            hs = randint(&r, 0, h - D - 1);
            ws = randint(&r, 0, w - D - 1);
            if (xt_detect_scene_read(sc, (int)hs, (int)ws, D, D, vv, vh)) goto done;
            size_t known = 0;
            for (size_t i = 0; i < (size_t)D * D; i++) known += vh[i] > -1000.0f;
            if ((double)known / ((double)D * D) > 0.05) break;
        }
    }
    xt_xview_paint_targets(tgt, D, D, hs, ws, s->pts, s->n_pts);
    if (fishing_on_vessels) // the fishing term only where the vessel target is 1 or unknown
        for (size_t i = 0; i < (size_t)D * D; i++)
            if (tgt[0][i] == 0.0f) tgt[1][i] = 255.0f;
    xt_xview_normalize_band(vv, (size_t)D * D);
    xt_xview_normalize_band(vh, (size_t)D * D);
    memcpy(img, vv, (size_t)D * D * sizeof(float));
    memcpy(img + (size_t)D * D, vh, (size_t)D * D * sizeof(float));
    if (augment && xt_rng_u01(&r) < 0.5) { // 180° rotation for the SAR orientation
        xt_xview_rot180(img, 2, D, D);
        for (int m = 0; m < XT_XVIEW_MAPS; m++) xt_xview_rot180(tgt[m], 1, D, D);
    }
    rc = 0;
done:
    xt_detect_scene_close(sc);
    return (int)rc;
}

// ---------------------------------------------------------------------------------------------
// the loop

static void state_json(xt_sbuf *b, const xt_train_opts *o, const xt_xview_data_spec *d, const xt_xview_loss_cfg *lc,
                       int64_t step) {
    xt_sbuf_printf(b, "{\"step\": %lld, \"img_size\": %d, \"batch\": %d, \"augment\": %s, \"warmup\": %d, "
                      "\"save_every\": %d, \"steps\": %.17g, \"epochs\": %.17g, \"lr\": %.17g, \"min_lr_ratio\": %.17g, "
                      "\"weight_decay\": %.17g, \"clip\": %.17g, \"seed\": %.17g, \"context_lr_ratio\": %.17g, \"context_identity\": %s, \"data\": ",
                   (long long)step, o->img_size, o->batch, o->augment ? "true" : "false", o->warmup, o->save_every, o->steps,
                   o->epochs, o->lr, o->min_lr_ratio, o->wd, o->clip, o->seed, o->context_lr_ratio, o->context_identity ? "true" : "false");
    xt_xview_data_json(b, d);
    xt_sbuf_printf(b, ", \"loss\": {\"weights\": {\"vessel\": %.9g, \"fishing\": %.9g, \"center\": %.9g, \"length\": %.9g}, "
                      "\"combo\": {\"bce\": %.9g, \"focal\": %.9g, \"dice\": %.9g}, "
                      "\"combo_fishing\": {\"bce\": %.9g, \"focal\": %.9g, \"dice\": %.9g}, \"fishing_on_vessels\": %s}}",
                   lc->w[0], lc->w[1], lc->w[2], lc->w[3], lc->combo[0][0], lc->combo[0][1], lc->combo[0][2],
                   lc->combo[1][0], lc->combo[1][1], lc->combo[1][2],
                   lc->fishing_on_vessels ? "true" : "false");
}

static void permutation(int *p, int n, uint64_t seed, int64_t epoch) {
    uint64_t r = xt_rng_mix(seed ^ xt_rng_mix(0xE90C ^ (uint64_t)epoch));
    for (int i = 0; i < n; i++) p[i] = i;
    for (int i = n - 1; i > 0; i--) {
        int j = (int)(xt_rng_u01(&r) * (i + 1));
        int t = p[i]; p[i] = p[j]; p[j] = t;
    }
}

// the decoder's convs: the official _initialize_weights (kaiming_normal_, fan_in, gain sqrt 2)
static void he_decoder(xt_params *P) {
    for (int i = 0; i < P->n; i++) {
        const xt_param *p = &P->p[i];
        if (strncmp(p->name, "decoder.", 8) || p->ndim != 4) continue;
        float *w = xt_pw(P, i);
        for (size_t j = 0; j < p->n; j++) w[j] *= (float)M_SQRT2;
    }
}

// The context model's out_proj starts at zero, so the context block (out_proj(...) + residual) is
// the identity at step 0: a model --init'ed from a no-context detector starts as that detector
// instead of as a randomly perturbed one (docs/detection.md; the official init is nn.Linear's).
static void identity_context(xt_params *P) {
    int i = xt_params_find(P, "context_model.out_proj.weight");
    if (i >= 0) memset(xt_pw(P, i), 0, P->p[i].n * sizeof(float));
}

static int save(const xt_params *P, const char *path, const char *cfg, const xt_train_opts *o, const xt_xview_data_spec *d,
                const xt_xview_loss_cfg *lc, int64_t step, int optim) {
    xt_sbuf st = {0};
    state_json(&st, o, d, lc, step);
    int e = xt_train_ckpt_save(P, path, cfg, st.p, optim);
    xt_sbuf_free(&st);
    return e;
}

int xt_xview_train_run(const xt_json *mcfg, xt_st *from, int resume, const xt_train_opts *o, const xt_xview_data_spec *d,
                       const xt_xview_loss_cfg *lc, xt_train_result *res) {
    memset(res, 0, sizeof *res);
    xt_params P = {0};
    xt_arena act = {0}, scr = {0};
    xt_sbuf cfgs = {0};
    xt_csv *csv = NULL;
    scene *sc = NULL;
    int *perm = NULL, rc = -1, NS = d->n_scenes;
    float *img = NULL, *vv = NULL, *vh = NULL, *timg = NULL, *tgt[XT_XVIEW_MAPS] = {0}, *ttg[XT_XVIEW_MAPS] = {0};
    float *maps[XT_XVIEW_MAPS] = {0}, *dmaps[XT_XVIEW_MAPS] = {0};
    double *lrv = NULL; // per-parameter lr (context_lr_ratio)
    FILE *mlog = NULL; // metrics log: one line per step with the loss terms (o->metrics_path)
    uint64_t seed = (uint64_t)o->seed;
    xt_xview_train *m = xt_xview_train_new(&P, mcfg, from);
    if (!m) return -1;
    if (xt_params_alloc(&P)) goto done;
    if (from && resume) { if (xt_train_ckpt_load(&P, from, 1)) goto done; }
    else {
        xt_params_init(&P, seed);
        he_decoder(&P);
        if (o->context_identity) identity_context(&P);
        if (from && xt_params_load_partial(&P, from, &res->init)) goto done;
        if (from && o->on_init) o->on_init(from->path, &res->init);
    }
    xt_sbuf_json(&cfgs, mcfg, 1);
    const int S = xt_xview_train_crop(m), Cin = xt_xview_train_in_chans(m), N = o->batch;
    const xt_json *xl = xt_json_get(mcfg, "xl_context");
    int ctx = 0;
    if (xl && xt_json_bool(xl, "enabled", 0, &ctx)) goto done;
    // "tiling": "chip" trains each crop in one call (its G x G tiles chipped inside the model, the
    // context over all of them; xt detect then runs tiles the same way); otherwise the official
    // loop, one call and one AdamW step per tile
    const char *tiling = xt_json_str(mcfg, "tiling", "naive");
    const int chip = tiling && !strcmp(tiling, "chip");
    const int D = o->img_size > 0 ? o->img_size : ctx ? 2 * S : S, G = chip ? 1 : D / S, T = chip ? D : S;
    if (Cin != 2) { xt_error("xview train", "the model takes %d bands; xView3 scenes have 2 (VV, VH)", Cin); goto done; }
    if (D < S || D % S || D > 1 << 15) { xt_error("xview train", "img_size %d (the data crop) must be a positive multiple of crop_size %d", D, S); goto done; }
    if (N < 1 || N > 4096 || !(o->lr >= 0) || o->warmup < 0 || !(o->clip >= 0) || !(o->context_lr_ratio >= 0 && o->context_lr_ratio <= 1e4)) {
        xt_error("xview train", "batch %d, lr %g, warmup %d, clip %g, context_lr_ratio %g out of range", N, o->lr, o->warmup, o->clip,
                 o->context_lr_ratio);
        goto done;
    }
    if (NS < 1) { xt_error("xview train", "no scenes"); goto done; }
    // scenes: paths, sizes, points
    if (!(csv = xt_csv_read(d->labels))) goto done;
    sc = xt_xcalloc((size_t)NS, sizeof *sc);
    int64_t n_pts = 0;
    for (int i = 0; i < NS; i++) {
        if (scene_paths(&sc[i], d->scenes[i])) goto done;
        xt_detect_scene *s = xt_detect_scene_open(sc[i].vv, sc[i].vh[0] ? sc[i].vh : NULL);
        if (!s) goto done;
        xt_detect_scene_size(s, &sc[i].H, &sc[i].W);
        xt_detect_scene_close(s);
        if (sc[i].H <= D || sc[i].W <= D) {
            xt_error("xview train", "scene %s (%d x %d) is not larger than the data crop %d", d->scenes[i], sc[i].W, sc[i].H, D);
            goto done;
        }
        if (xt_xview_labels_points(csv, sc[i].id, &sc[i].pts, &sc[i].n_pts)) goto done;
        n_pts += sc[i].n_pts;
    }
    if (!n_pts) { xt_error("xview train", "%s: no labels for any of the %d scenes (scene_id = the folder or file name)", d->labels, NS); goto done; }
    int64_t per_epoch = (NS + N - 1) / N;
    int64_t total = o->steps >= 0 ? (int64_t)o->steps : (int64_t)(o->epochs * per_epoch);
    const size_t DD = (size_t)D * D, SS = (size_t)T * T, n = (size_t)N * SS;
    int64_t step = resume ? P.step / ((int64_t)G * G) : 0, epoch = -1;
    if (resume && P.step % ((int64_t)G * G)) {
        xt_error("xview train", "%s: optimiser step %lld is not a whole number of crops of %d tiles", from->path, (long long)P.step, G * G);
        goto done;
    }
    xt_optim_cfg oc = {.kind = XT_OPTIM_ADAMW, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f, .weight_decay = (float)o->wd};
    // context_lr_ratio (not official): the context model's parameters at lr x ratio, so that it can
    // move before the heads settle on the class prior (docs/detection.md)
    lrv = xt_xmalloc((size_t)(P.n ? P.n : 1) * sizeof *lrv);
    if (step < total) { // else nothing to train (--steps 0: the fresh model is written)
        if (!(img = xt_malloc_checked((size_t)N * 2 * DD * sizeof(float), "xview crops")) ||
            !(vv = xt_malloc_checked(DD * sizeof(float), "xview crop")) || !(vh = xt_malloc_checked(DD * sizeof(float), "xview crop")) ||
            (!chip && !(timg = xt_malloc_checked((size_t)N * 2 * SS * sizeof(float), "xview tiles"))))
            goto done;
        for (int k = 0; k < XT_XVIEW_MAPS; k++)
            if (!(tgt[k] = xt_malloc_checked((size_t)N * DD * sizeof(float), "xview targets")) ||
                (!chip && !(ttg[k] = xt_malloc_checked(n * sizeof(float), "xview targets"))) ||
                !(maps[k] = xt_malloc_checked(n * sizeof(float), "xview maps")) ||
                !(dmaps[k] = xt_malloc_checked(n * sizeof(float), "xview maps")))
                goto done;
        if (xt_arena_init(&act, xt_xview_train_act_bytes(m, N, T)) || xt_arena_init(&scr, xt_xview_train_scratch_bytes(m, N, T)))
            goto done;
        perm = xt_xmalloc((size_t)NS * sizeof(int));
    }
    if (o->metrics_path && o->metrics_path[0] && step < total) {
        if (!(mlog = xt_metrics_log_open(o->metrics_path, resume, step, "xview train"))) goto done;
    }
    int saved = 0;
    double t_train = xt_time();
    for (; step < total; step++) {
        double t0 = xt_time(), terms[4] = {0}; // the step's Combo(vessel), Combo(fishing), center, length
        for (int b = 0; b < N; b++) {
            int64_t k = step * N + b, e = k / NS;
            if (e != epoch) { permutation(perm, NS, seed, e); epoch = e; }
            float *tb[XT_XVIEW_MAPS];
            for (int q = 0; q < XT_XVIEW_MAPS; q++) tb[q] = tgt[q] + (size_t)b * DD;
            if (load_crop(&sc[perm[k % NS]], D, d->positive_ratio, seed, k, o->augment, lc->fishing_on_vessels, img + (size_t)b * 2 * DD, tb, vv, vh)) goto done;
        }
        double lr = xt_lr_at(step, o->lr, o->min_lr_ratio, o->warmup, total), sum = 0;
        for (int i = 0; i < P.n; i++)
            lrv[i] = (float)(strncmp(P.p[i].name, "context_model.", 14) ? lr : lr * o->context_lr_ratio);
        for (int ti = 0; ti < G; ti++)
            for (int tj = 0; tj < G; tj++) { // naive_two_stream's second pass; its mem_only pass is dead (bug 15)
                const float *xin = img, *const *tin = (const float *const *)tgt;
                for (int b = 0; !chip && b < N; b++) {
                    for (int c = 0; c < 2; c++)
                        for (int y = 0; y < S; y++)
                            memcpy(timg + (((size_t)b * 2 + c) * S + y) * S, img + ((size_t)b * 2 + c) * DD + (size_t)(ti * S + y) * D + tj * S, S * sizeof(float));
                    for (int q = 0; q < XT_XVIEW_MAPS; q++)
                        for (int y = 0; y < S; y++)
                            memcpy(ttg[q] + ((size_t)b * S + y) * S, tgt[q] + (size_t)b * DD + (size_t)(ti * S + y) * D + tj * S, S * sizeof(float));
                }
                if (!chip) xin = timg, tin = (const float *const *)ttg;
                xt_arena_reset(&act);
                xt_arena_reset(&scr);
                xt_params_zero_grad(&P);
                if (xt_xview_train_forward(m, &P, xin, N, T, ti, tj, maps, &act, NULL)) goto done;
                xt_xview_loss_terms LT;
                double loss = xt_xview_loss(lc, (const float *const *)maps, tin, n, dmaps, &LT);
                if (!isfinite(loss)) { // the official trainer stops too ("NaN loss !!"), e.g. bug 22
                    xt_error("xview train", "step %lld, tile (%d, %d): loss is %g (vessel %g, fishing %g, center %g, length %g)",
                             (long long)step, ti, tj, loss, LT.combo[0], LT.combo[1], LT.center, LT.length);
                    goto done;
                }
                if (xt_xview_train_backward(m, &P, (const float *const *)dmaps, NULL, &scr)) goto done;
                xt_clip_grad_norm(&P, o->clip);
                xt_optim_step(&P, &oc, lrv, lr, NULL);
                sum += loss;
                terms[0] += LT.combo[0], terms[1] += LT.combo[1], terms[2] += LT.center, terms[3] += LT.length;
            }
        res->last_loss = sum / (G * G);
        if (mlog) { // the unweighted terms, each the mean over the step's tiles
            fprintf(mlog, "{\"step\": %lld, \"lr\": %.9g, \"loss\": %.9g, \"vessel\": %.9g, \"fishing\": %.9g, \"center\": %.9g, "
                          "\"length\": %.9g, \"time\": %.3f}\n", (long long)step + 1, lr, res->last_loss, terms[0] / (G * G),
                    terms[1] / (G * G), terms[2] / (G * G), terms[3] / (G * G), xt_time() - t_train);
            fflush(mlog);
        }
        if (o->progress) o->progress(o->progress_u, step + 1, total, res->last_loss, lr, xt_time() - t0);
        int stop = o->stop_after >= 0 && step + 1 >= (int64_t)o->stop_after;
        if ((o->save_every > 0 && (step + 1) % o->save_every == 0) || step + 1 == total || stop) {
            if (save(&P, o->out, cfgs.p, o, d, lc, step + 1, 1)) goto done;
            saved = 1;
        }
        if (stop) { step++; break; }
    }
    // no steps: the initial model, without the (zero) AdamW moments (a resume starts them at zero)
    if (!saved && save(&P, o->out, cfgs.p, o, d, lc, step, step > 0)) goto done;
    res->step = step;
    if (o->export_path && step >= total && save(&P, o->export_path, cfgs.p, o, d, lc, step, 0)) goto done;
    int logged = mlog != NULL; // this run trained and logged steps (a finished checkpoint resumed logs none)
    if (mlog && fclose(mlog)) { mlog = NULL; xt_error("xview train", "%s: cannot write the metrics log", o->metrics_path); goto done; }
    mlog = NULL;
    if (logged && o->plot_path && o->plot_path[0] && xt_train_plot(o->metrics_path, o->plot_path, 800, 500)) goto done;
    rc = 0;
done:
    if (mlog) fclose(mlog);
    free(img), free(vv), free(vh), free(timg), free(perm), free(lrv);
    for (int k = 0; k < XT_XVIEW_MAPS; k++) free(tgt[k]), free(ttg[k]), free(maps[k]), free(dmaps[k]);
    for (int i = 0; sc && i < NS; i++) free(sc[i].pts);
    free(sc);
    xt_csv_free(csv);
    xt_sbuf_free(&cfgs);
    xt_arena_free(&act);
    xt_arena_free(&scr);
    xt_xview_train_free(m);
    xt_params_free(&P);
    return rc;
}
