// stream.c — streaming inference driver, library side (see stream.h and docs/streaming.md).
#include <math.h>
#include <string.h>

#include "core/dist.h"
#include "run/stream.h"

static const double imagenet_mean[3] = {0.485, 0.456, 0.406}, imagenet_std[3] = {0.229, 0.224, 0.225};

void xt_stream_args_default(xt_stream_args *a) {
    memset(a, 0, sizeof *a);
    a->batch = 8;
    a->cache_mb = -1; // auto
    a->mem_mb = 1024;
    xt_raster_open_opts_default(&a->open);
}

// Reads a numeric array config key; returns count, 0 if absent, -1 on a bad value.
static int cfg_list(const xt_json *cfg, const char *key, double *out, int max) {
    const xt_json *j = xt_json_get(cfg, key);
    if (!j) return 0;
    if (j->type != XT_JSON_ARR || j->n > max) return xt_error("config", "\"%s\" must be an array of at most %d numbers", key, max);
    for (int i = 0; i < j->n; i++) {
        if (j->items[i]->type != XT_JSON_NUM) return xt_error("config", "\"%s\" must be an array of numbers", key);
        out[i] = j->items[i]->num;
    }
    return j->n;
}

int xt_xtfile_load(xt_xtfile *f, const char *path, const char *precision) {
    memset(f, 0, sizeof *f);
    if (!path) return xt_error("model", "no model file");
    if (!(f->st = xt_st_open(path))) goto fail;
    const char *cs = xt_st_meta(f->st, "config");
    if (!cs) {
        xt_error("model", "%s: no config in the file's metadata (not a model file)", path);
        goto fail;
    }
    if (!(f->cfg = xt_json_parse(cs, strlen(cs), path))) goto fail;
    const char *kind = xt_json_str(f->cfg, "kind", "");
    if (strcmp(kind, "xt")) {
        xt_error("model", "%s: kind \"%s\" is not an xT model (kind \"xt\")", path, kind);
        goto fail;
    }
    if (xt_config_apply_precision(f->cfg, precision)) {
        xt_error_in_file(path);
        goto fail;
    }
    if (!(f->m = xt_xtmodel_new(f->st, f->cfg))) goto fail;
    return 0;
fail:
    xt_xtfile_free(f);
    return -1;
}

void xt_xtfile_free(xt_xtfile *f) {
    if (f->m) xt_xtmodel_free(f->m);
    xt_json_free(f->cfg);
    xt_st_close(f->st);
    memset(f, 0, sizeof *f);
}

static void use_model(xt_stream *s, const xt_xtfile *f, const xt_stream_args *a) {
    memset(s, 0, sizeof *s);
    s->a = *a;
    s->st = f->st;
    s->cfg = f->cfg;
    s->m = f->m;
    s->mi = xt_xtmodel_get_info(s->m);
    s->S = s->mi->crop_size;
    xt_set_threads(a->threads);
}

// Buffers: one batch of regions and features, the encoder workspace.
static int alloc_buffers(xt_stream *s) {
    s->B = s->a.batch < s->WP ? s->a.batch : s->WP;
    if (s->B < 1) s->B = 1;
    size_t rs = (size_t)s->mi->in_chans * s->S * s->S, fs = xt_xtmodel_feat_numel(s->mi);
    s->regions = xt_malloc_checked(sizeof(float) * rs * s->B, "region batch");
    // split: rank 0 receives a batch's region flags after its features (one float each)
    s->feat = xt_malloc_checked(sizeof(float) * (fs + (s->a.split ? 1 : 0)) * s->B, "feature batch");
    if (!s->regions || !s->feat) return -1;
    if (s->a.region_logits && !(s->valid = xt_malloc_checked((size_t)s->HP * s->WP, "region flags"))) return -1;
    return xt_arena_init(&s->ws, xt_xtmodel_encode_ws_size(s->m, s->B));
}

int xt_stream_open(xt_stream *s, const xt_stream_args *a) {
    memset(s, 0, sizeof *s);
    if (!a->model) return xt_error("cli", "no model (-m FILE)");
    if (!a->image) return xt_error("cli", "no input image");
    xt_xtfile f;
    if (xt_xtfile_load(&f, a->model, a->precision) < 0) return -1;
    int rc = xt_stream_open_with(s, &f, a);
    s->own = f; // freed by xt_stream_close, also after a failed open
    return rc;
}

int xt_stream_open_array(xt_stream *s, const xt_xtfile *f, const float *img, int C, int H, int W, const xt_stream_args *a) {
    use_model(s, f, a);
    if (C != s->mi->in_chans)
        return xt_error("classify", "the image has %d band%s, the model expects %d", C, C == 1 ? "" : "s", s->mi->in_chans);
    if (!img || H < 1 || W < 1) return xt_error("classify", "bad image size %d x %d", W, H);
    s->img = img;
    s->img_H = H;
    s->img_W = W;
    s->HP = (H + s->S - 1) / s->S;
    s->WP = (W + s->S - 1) / s->S;
    return alloc_buffers(s);
}

int xt_stream_open_with(xt_stream *s, const xt_xtfile *f, const xt_stream_args *a) {
    use_model(s, f, a);
    if (!a->image) return xt_error("cli", "no input image");
    if (!(s->r = xt_raster_open_with(a->image, &a->open))) return -1;
    s->ri = xt_raster_get_info(s->r);
    const xt_raster_info *ri = s->ri;
    int C = s->mi->in_chans;
    // bands
    if (a->n_bands) {
        if (a->n_bands != C)
            return xt_error("cli", "--bands selects %d bands, the model expects %d", a->n_bands, C);
        for (int i = 0; i < C; i++) {
            if (a->bands[i] >= ri->bands)
                return xt_error("cli", "--bands: %s has %d band%s, no band %d", a->image, ri->bands, ri->bands == 1 ? "" : "s", a->bands[i] + 1);
            s->bands[i] = a->bands[i];
        }
    } else {
        if (ri->bands < C) // nothing to choose: say so, and what would fit
            return xt_error("cli", "%s has %d band%s, the model expects %d: use a %d-band image or a model for %d band%s", a->image,
                            ri->bands, ri->bands == 1 ? "" : "s", C, C, ri->bands, ri->bands == 1 ? "" : "s");
        if (ri->bands != C) { // more bands than the model reads: --bands picks them, e.g. the first C
            char eg[64] = "";
            for (int i = 0, o = 0; i < C && o < (int)sizeof eg - 8; i++) o += snprintf(eg + o, sizeof eg - o, "%s%d", i ? "," : "", i + 1);
            return xt_error("cli", "%s has %d bands, the model expects %d (choose %d with --bands, e.g. --bands %s%s)", a->image,
                            ri->bands, C, C, eg, C > 8 ? ",..." : "");
        }
        for (int i = 0; i < C; i++) s->bands[i] = i;
    }
    if (C > XT_NORM_MAX_BANDS) return xt_error("cli", "models with more than %d input bands are not supported", XT_NORM_MAX_BANDS);
    // size: an image smaller than one region is refused (it would be mostly padding)
    if (ri->width < s->S || ri->height < s->S)
        return xt_error("cli", "%s is %d x %d, smaller than one region of the model (%d x %d)", a->image, ri->width,
                        ri->height, s->S, s->S);
    s->HP = (ri->height + s->S - 1) / s->S;
    s->WP = (ri->width + s->S - 1) / s->S;
    // normalisation: command line > config > defaults
    xt_norm *nm = &s->norm;
    nm->n = C;
    double cm[XT_NORM_MAX_BANDS], csd[XT_NORM_MAX_BANDS], sc;
    int ncm = cfg_list(s->cfg, "mean", cm, XT_NORM_MAX_BANDS), ncs = cfg_list(s->cfg, "std", csd, XT_NORM_MAX_BANDS);
    if (ncm < 0 || ncs < 0) return xt_error_in_file(a->model);
    if (xt_json_num(s->cfg, "input_scale", xt_sample_unit_scale(ri->sample), &sc) < 0) return xt_error_in_file(a->model);
    nm->scale = a->has_scale ? a->scale : sc;
    for (int i = 0; i < C; i++) {
        nm->mean[i] = C == 3 ? imagenet_mean[i] : 0;
        nm->std[i] = C == 3 ? imagenet_std[i] : 1;
    }
    if (ncm && ncm != C) return xt_error("config", "%s: \"mean\" has %d values, the model has %d bands", a->model, ncm, C);
    if (ncs && ncs != C) return xt_error("config", "%s: \"std\" has %d values, the model has %d bands", a->model, ncs, C);
    for (int i = 0; i < ncm; i++) nm->mean[i] = cm[i];
    for (int i = 0; i < ncs; i++) {
        if (!(csd[i] > 0)) return xt_error("config", "%s: \"std\" values must be > 0", a->model);
        nm->std[i] = csd[i];
    }
    if (a->n_mean && a->n_mean != C) return xt_error("cli", "--mean has %d values, the model expects %d bands", a->n_mean, C);
    if (a->n_std && a->n_std != C) return xt_error("cli", "--std has %d values, the model expects %d bands", a->n_std, C);
    for (int i = 0; i < a->n_mean; i++) nm->mean[i] = a->mean[i];
    for (int i = 0; i < a->n_std; i++) nm->std[i] = a->std[i];
    // NoData: --nodata, else the file's own (GDAL_NODATA); NaN samples are NoData either way
    nm->has_nodata = a->has_nodata || ri->has_nodata;
    nm->nodata = a->has_nodata ? a->nodata : ri->nodata;
    if (alloc_buffers(s) < 0) return -1;
    // cache: by default the tiles under one batch of regions (each tile is decoded once when
    // tiles and regions align, about twice otherwise, and the cache does not grow with the image
    // width); strips and row-decoded formats need a band of S rows across the whole width.
    size_t px = (size_t)xt_sample_bytes(ri->sample) * (ri->planar ? 1 : ri->bands), bb = px * ri->block_w * ri->block_h;
    size_t nbx = ((size_t)s->B * s->S + ri->block_w - 1) / ri->block_w + 1, nby = ((size_t)s->S + ri->block_h - 1) / ri->block_h + 1;
    size_t cache = nbx * nby * bb * (ri->planar ? ri->bands : 1);
    if (!ri->tiled) cache = px * (ri->planar ? ri->bands : 1) * ri->width * ((size_t)s->S + 2 * ri->block_h);
    if (a->cache_mb >= 0) cache = (size_t)(a->cache_mb * 1048576.0) > cache || ri->tiled ? (size_t)(a->cache_mb * 1048576.0) : cache;
    xt_raster_set_cache(s->r, cache);
    return 0;
}

static int split_ranks(const xt_stream *s) { return s->a.split ? xt_dist_size() : 1; }

// Every rank must cut the scene alike, or rank 0 would wait for rows nobody sends.
static int split_check(xt_stream *s) {
    int me[4] = {s->HP, s->WP, s->B, (int)xt_xtmodel_feat_numel(s->mi)}, r0[4];
    memcpy(r0, me, sizeof me);
    if (xt_dist_bcast(r0, sizeof r0, 0)) return -1;
    if (memcmp(me, r0, sizeof me))
        return xt_error("stream", "%s is %d x %d regions, batch %d, %d floats per region here; rank 0 has %d x %d, %d, %d "
                        "(every rank must see the same image, model and options)", s->a.image ? s->a.image : "the image",
                        me[0], me[1], me[2], me[3], r0[0], r0[1], r0[2], r0[3]);
    // Rows go out in groups of those that share a row of the file's tiles or strips, so each tile
    // is decoded by one rank, not by all (capped: a rank buffers up to two groups; a sequential
    // PNG / JPEG is decoded from its top by every rank anyway).
    int g = 1;
    if (s->ri && !s->ri->sequential) g = (s->ri->block_h + s->S - 1) / s->S;
    s->group = g < 1 ? 1 : g > XT_STREAM_GROUP_MAX ? XT_STREAM_GROUP_MAX : g;
    if (xt_dist_rank() > 0 && !s->ring) { // two groups of rows: a rank runs one group ahead of rank 0's reading
        s->n_ring = 2 * s->group * ((s->WP + s->B - 1) / s->B);
        size_t fs = xt_xtmodel_feat_numel(s->mi), bytes;
        if (xt_mul_size((size_t)s->n_ring * s->B, (fs + 1) * sizeof(float), &bytes)) return xt_error_prefix("stream");
        s->ring = xt_malloc_checked(bytes, "rows being sent");
        s->ring_rq = xt_xcalloc((size_t)s->n_ring, sizeof *s->ring_rq);
        if (!s->ring) return -1;
    }
    return 0;
}

int xt_stream_run(xt_stream *s, int (*on_batch)(void *u, int rr, int rc0, int n, const float *feat), void *u) {
    int S = s->S, C = s->mi->in_chans, P = split_ranks(s), me = P > 1 ? xt_dist_rank() : 0;
    size_t rs = (size_t)C * S * S, fs = xt_xtmodel_feat_numel(s->mi);
    int64_t done = 0, total = (int64_t)s->HP * s->WP;
    double t0 = xt_time();
    if (P > 1 && split_check(s)) return -1;
    int slot = 0;
    for (int rr = 0; rr < s->HP; rr++) {
        int owner = P > 1 ? rr / s->group % P : 0, tag = rr % (XT_DIST_TAG_MAX + 1);
        if (owner != me && me != 0) continue; // another rank's row
        if (s->r && owner == me) xt_raster_drop_above(s->r, rr * S);
        for (int rc0 = 0; rc0 < s->WP; rc0 += s->B) {
            int n = s->WP - rc0 < s->B ? s->WP - rc0 : s->B;
            double t1 = xt_time();
            if (owner != me) { // rank 0: the batch from its owner; messages of one sender arrive in order
                if (xt_dist_recv_floats(s->feat, (fs + 1) * n, owner, tag)) return -1;
                for (int k = 0; s->valid && k < n; k++) s->valid[(size_t)rr * s->WP + rc0 + k] = s->feat[fs * n + k] != 0;
                double t2 = xt_time();
                if (on_batch(u, rr, rc0, n, s->feat) < 0) return -1;
                s->t_wait += t2 - t1;
                s->t_sink += xt_time() - t2;
            } else {
                float *feat = s->feat;
                if (me > 0) { // the ring slot, once the send that last used it has been received
                    if (xt_dist_wait(&s->ring_rq[slot])) return -1;
                    feat = s->ring + (size_t)slot * s->B * (fs + 1);
                }
                for (int k = 0; k < n; k++) {
                    int64_t nv = 1;
                    if (s->img) xt_xtmodel_crop_region(s->m, s->regions + k * rs, s->img, s->img_H, s->img_W, rr, rc0 + k);
                    else if (xt_raster_read_norm_valid(s->r, xt_rect_make((rc0 + k) * S, rr * S, S, S), s->bands, &s->norm,
                                                       s->regions + k * rs, &nv) < 0)
                        return -1;
                    if (s->valid) s->valid[(size_t)rr * s->WP + rc0 + k] = nv > 0;
                    if (me > 0) feat[fs * n + k] = nv > 0;
                }
                double t2 = xt_time();
                xt_arena_reset(&s->ws);
                if (xt_xtmodel_encode_regions(s->m, s->regions, n, feat, &s->ws) < 0) return -1;
                double t3 = xt_time();
                if (me > 0) {
                    if (xt_dist_isend_floats(feat, (fs + 1) * n, 0, tag, &s->ring_rq[slot])) return -1;
                    slot = (slot + 1) % s->n_ring;
                } else if (on_batch(u, rr, rc0, n, feat) < 0) return -1;
                s->t_read += t2 - t1;
                s->t_encode += t3 - t2;
                s->n_here += n;
                s->t_sink += xt_time() - t3;
            }
            done += n;
            if (s->a.progress && me == 0) s->a.progress(s->a.progress_user, done, total);
        }
    }
    for (int i = 0; i < s->n_ring; i++) // rank 0 has taken every row when these complete
        if (xt_dist_wait(&s->ring_rq[i])) return -1;
    s->t_total = xt_time() - t0;
    return 0;
}

static int region_row(void *u, int rr, const float *logits) {
    xt_stream *s = u;
    return s->a.region_logits(s->a.region_user, rr, logits, s->valid + (size_t)rr * s->WP);
}

static int push_batch(void *u, int rr, int rc0, int n, const float *feat) {
    xt_stream *s = ((void **)u)[0];
    xt_ctx *ctx = ((void **)u)[1];
    size_t fs = xt_xtmodel_feat_numel(s->mi);
    for (int k = 0; k < n; k++)
        if (xt_ctx_push(ctx, feat + k * fs) < 0) return -1;
    return 0;
}

int xt_stream_classify(xt_stream *s, float *logits) {
    if (split_ranks(s) > 1 && xt_dist_rank() > 0) return xt_stream_run(s, NULL, NULL);
    xt_ctx *ctx = xt_ctx_begin(s->m, s->HP, s->WP);
    if (!ctx) return -1;
    int rc = -1;
    // global context modes keep the token sequence: spill beyond a.mem_mb
    if (!s->mi->streaming && s->mi->head == XT_HEAD_XL) {
        double L = (double)s->HP * s->WP * s->mi->feat_h * s->mi->feat_w;
        if (L * s->mi->hidden * sizeof(float) > s->a.mem_mb * 1048576.0) {
            xt_token_store *ts = xt_token_store_new(s->mi->hidden, (size_t)(s->a.mem_mb * 1048576.0), NULL);
            if (!ts || xt_ctx_set_store(ctx, ts) < 0) goto done;
        }
    }
    if (s->a.region_logits && xt_ctx_set_region_logits(ctx, region_row, s) < 0) goto done;
    void *u[2] = {s, ctx};
    double t0 = xt_time();
    if (xt_stream_run(s, push_batch, u) < 0) goto done;
    double t1 = xt_time();
    if (s->a.context_progress) xt_ctx_set_progress(ctx, s->a.context_progress, s->a.progress_user);
    if (xt_ctx_logits(ctx, logits) < 0) goto done;
    s->t_context = xt_time() - t1;
    s->t_total = xt_time() - t0;
    rc = 0;
done:
    xt_ctx_free(ctx);
    return rc;
}

void xt_stream_close(xt_stream *s) {
    int sending = 0;
    for (int i = 0; i < s->n_ring; i++) sending |= s->ring_rq[i].active;
    // after a failure a send may still be unmatched and read its buffer: left to the job's end,
    // which the caller brings about (xt_dist_abort)
    if (!sending) free(s->ring);
    free(s->ring_rq);
    xt_arena_free(&s->ws);
    free(s->regions);
    free(s->feat);
    free(s->valid);
    xt_raster_close(s->r);
    xt_xtfile_free(&s->own);
    memset(s, 0, sizeof *s);
}
