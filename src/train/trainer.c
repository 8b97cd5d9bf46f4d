// trainer.c — the training loop (data order, augmentation, chipping draws, loss, backward,
// clipping, schedule, AdamW, checkpoints) and evaluation.
//
// Determinism: sample k of the run (k = step * batch + b) is permutation_e(k mod n) of epoch
// e = k / n, the permutation drawn from (seed, e); its augmentation from (seed, k); the regions
// that keep gradients at a step and HyperAttention's sampled keys from (seed, step). Nothing
// depends on wall time or on how many steps this process ran, so resuming from a checkpoint at
// step s replays steps s.. exactly.
//
// Data parallel (mpirun -np P, docs/distributed.md): rank r computes samples [N r / P, N (r+1) / P)
// of every global batch of N (the same sample indices, augmentations and chipping draws as one
// process), its loss gradient scaled by n_local / N so that the sum over ranks (xt_dist_allreduce_sum
// of the whole gradient buffer, in buckets) is the gradient of the mean over N; every rank then
// clips and steps AdamW on identical numbers, so the weights stay identical on every rank
// (checked by a hash at the end). Rank 0 alone reports progress and writes checkpoints, which
// hold no rank count: --resume works with any number of ranks.
#include <math.h>
#include <string.h>

#include "core/dist.h"
#include "train/train.h"

static uint64_t fnv1a(const void *p, size_t n) {
    const unsigned char *b = p;
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

// rank 0 saved (or failed to save) a checkpoint: every rank learns the outcome
static int ckpt_agree(int e) {
    int ok = !e;
    if (xt_dist_bcast(&ok, sizeof ok, 0)) return -1;
    if (!ok && xt_dist_rank() != 0) return xt_error("train", "rank 0 could not write the checkpoint");
    return ok ? 0 : -1;
}

void xt_train_opts_default(xt_train_opts *o) {
    memset(o, 0, sizeof *o);
    o->batch = 8, o->augment = 1, o->epochs = 1, o->lr = 1e-4, o->min_lr_ratio = 0.01, o->wd = 1e-4;
    o->clip = 1.0, o->grad_ratio = 1.0, o->stop_after = -1, o->steps = -1; // steps < 0: from epochs
    o->classifier_ratio = 1, o->context_lr_ratio = 1, o->context_identity = 1;
    xt_optim_default(&o->optim);
    o->mix.prob = 1, o->mix.switch_prob = 0.5; // timm Mixup's defaults
    xt_data_opts_default(&o->dopt);
}

// the optimiser keys of a "train" object: optimizer, momentum, nesterov, eps, betas
static int optim_parse(const xt_json *j, xt_optim_cfg *c) {
    const char *name = xt_json_str(j, "optimizer", NULL);
    const xt_json *nj = xt_json_get(j, "optimizer");
    if (nj && nj->type != XT_JSON_STR) return xt_error("config", "'optimizer' must be a string (sgd, adam or adamw)");
    if (name && xt_optim_parse_name(name, &c->kind)) return -1;
    if (xt_json_num(j, "momentum", c->momentum, &c->momentum) || xt_json_bool(j, "nesterov", c->nesterov, &c->nesterov) ||
        xt_json_num(j, "eps", c->eps, &c->eps))
        return -1;
    const xt_json *b = xt_json_get(j, "betas");
    if (b && b->type != XT_JSON_NULL) {
        if (b->type != XT_JSON_ARR || b->n != 2 || b->items[0]->type != XT_JSON_NUM || b->items[1]->type != XT_JSON_NUM)
            return xt_error("config", "'betas' must be two numbers, e.g. [0.9, 0.999]");
        c->beta1 = b->items[0]->num, c->beta2 = b->items[1]->num;
    }
    return 0;
}

// the Mixup / CutMix keys of a "train" object (timm Mixup's arguments)
static int mix_parse(const xt_json *j, xt_mixup_opts *m) {
    if (xt_json_num(j, "mixup", m->mixup_alpha, &m->mixup_alpha) || xt_json_num(j, "cutmix", m->cutmix_alpha, &m->cutmix_alpha) ||
        xt_json_num(j, "mixup_prob", m->prob, &m->prob) || xt_json_num(j, "mixup_switch_prob", m->switch_prob, &m->switch_prob))
        return -1;
    const xt_json *mm = xt_json_get(j, "cutmix_minmax");
    if (mm && mm->type == XT_JSON_NULL) m->has_minmax = 0;
    else if (mm) {
        if (mm->type != XT_JSON_ARR || mm->n != 2 || mm->items[0]->type != XT_JSON_NUM || mm->items[1]->type != XT_JSON_NUM)
            return xt_error("train", "'cutmix_minmax' must be null or [min, max]");
        m->has_minmax = 1, m->minmax[0] = mm->items[0]->num, m->minmax[1] = mm->items[1]->num;
    }
    const char *mode = xt_json_str(j, "mixup_mode", NULL);
    if (mode && xt_mix_mode_parse(mode, &m->mode)) return -1;
    return xt_mixup_check(m);
}

int xt_train_opts_parse(const xt_json *j, xt_train_opts *o) {
    if (xt_json_int(j, "img_size", o->img_size, &o->img_size) || xt_json_int(j, "batch", o->batch, &o->batch) ||
        xt_json_bool(j, "augment", o->augment, &o->augment) || xt_json_int(j, "warmup", o->warmup, &o->warmup) ||
        xt_json_int(j, "save_every", o->save_every, &o->save_every) || xt_json_num(j, "steps", o->steps, &o->steps) ||
        xt_json_num(j, "epochs", o->epochs, &o->epochs) || xt_json_num(j, "lr", o->lr, &o->lr) ||
        xt_json_num(j, "min_lr_ratio", o->min_lr_ratio, &o->min_lr_ratio) ||
        xt_json_num(j, "weight_decay", o->wd, &o->wd) || xt_json_num(j, "clip", o->clip, &o->clip) ||
        xt_json_num(j, "grad_ratio", o->grad_ratio, &o->grad_ratio) || xt_json_num(j, "seed", o->seed, &o->seed) ||
        xt_json_num(j, "warmup_epochs", o->warmup_epochs, &o->warmup_epochs) ||
        xt_json_num(j, "classifier_ratio", o->classifier_ratio, &o->classifier_ratio) ||
        xt_json_num(j, "context_lr_ratio", o->context_lr_ratio, &o->context_lr_ratio) ||
        xt_json_bool(j, "context_identity", o->context_identity, &o->context_identity) ||
        xt_json_num(j, "freeze_epochs", o->freeze_epochs, &o->freeze_epochs) ||
        xt_json_int(j, "val_every", o->val_every, &o->val_every) ||
        xt_json_num(j, "val_every_epochs", o->val_every_epochs, &o->val_every_epochs) || optim_parse(j, &o->optim))
        return xt_error_prefix("train options");
    return xt_data_opts_parse(j, &o->dopt) || mix_parse(j, &o->mix) ? xt_error_prefix("train options") : 0;
}

// best: the best value of each validation metric so far (NULL: none yet), for an exact resume
static void state_json(xt_sbuf *b, const xt_train_opts *o, int64_t step, const double *best) {
    xt_sbuf_printf(b, "{\"step\": %lld, \"img_size\": %d, \"batch\": %d, \"augment\": %s, \"warmup\": %d, "
                      "\"save_every\": %d, \"steps\": %.17g, \"epochs\": %.17g, \"lr\": %.17g, \"min_lr_ratio\": %.17g, "
                      "\"weight_decay\": %.17g, \"clip\": %.17g, \"grad_ratio\": %.17g, \"seed\": %.17g, \"warmup_epochs\": %.17g",
                   (long long)step, o->img_size, o->batch, o->augment ? "true" : "false", o->warmup, o->save_every,
                   o->steps, o->epochs, o->lr, o->min_lr_ratio, o->wd, o->clip, o->grad_ratio, o->seed, o->warmup_epochs);
    const char *k[3] = {"data", "val", "root"}, *v[3] = {o->data, o->val, o->root};
    for (int i = 0; i < 3; i++)
        if (v[i]) { xt_sbuf_printf(b, ", \"%s\": ", k[i]); xt_sbuf_json_str(b, v[i]); }
    const xt_optim_cfg *c = &o->optim;
    xt_sbuf_printf(b, ", \"optimizer\": \"%s\", \"momentum\": %.17g, \"nesterov\": %s, \"eps\": %.17g, \"betas\": [%.17g, %.17g], "
                      "\"classifier_ratio\": %.17g, \"freeze_epochs\": %.17g, \"val_every\": %d, \"val_every_epochs\": %.17g",
                   xt_optim_name(c->kind), c->momentum, c->nesterov ? "true" : "false", c->eps, c->beta1, c->beta2,
                   o->classifier_ratio, o->freeze_epochs, o->val_every, o->val_every_epochs);
    xt_data_opts_json(b, &o->dopt);
    if (best) {
        xt_sbuf_printf(b, ", \"best\": {");
        for (int k = 0; k < XT_VAL_METRICS; k++) xt_sbuf_printf(b, "%s\"%s\": %.17g", k ? ", " : "", xt_val_metric_names[k], best[k]);
        xt_sbuf_printf(b, "}");
    }
    const xt_mixup_opts *m = &o->mix;
    xt_sbuf_printf(b, ", \"mixup\": %.17g, \"cutmix\": %.17g, \"mixup_prob\": %.17g, \"mixup_switch_prob\": %.17g, \"mixup_mode\": \"%s\"",
                   m->mixup_alpha, m->cutmix_alpha, m->prob, m->switch_prob, xt_mix_mode_name(m->mode));
    if (m->has_minmax) xt_sbuf_printf(b, ", \"cutmix_minmax\": [%.17g, %.17g]", m->minmax[0], m->minmax[1]);
    xt_sbuf_printf(b, "}");
}

static void permutation(int *p, int n, uint64_t seed, int64_t epoch) {
    uint64_t r = xt_rng_mix(seed ^ xt_rng_mix(0xE90C ^ (uint64_t)epoch));
    for (int i = 0; i < n; i++) p[i] = i;
    for (int i = n - 1; i > 0; i--) { // Fisher-Yates
        int j = (int)(xt_rng_u01(&r) * (i + 1));
        int t = p[i]; p[i] = p[j]; p[j] = t;
    }
}

// sample b of the global batch at step: the data order, its augmentation stream and the load
static int load_sample(const xt_dataset *d, int *perm, int64_t *epoch, uint64_t seed, int64_t step, int N, int b, float *dst,
                       int C, int S, int crop, int augment, int *label) {
    int64_t k = step * N + b, e = k / d->n;
    if (e != *epoch) { permutation(perm, d->n, seed, e); *epoch = e; }
    uint64_t aug = xt_rng_mix(seed ^ xt_rng_mix(0xA06 + (uint64_t)k));
    return xt_dataset_load(d, perm[k % d->n], dst, C, S, crop, aug, augment, label);
}

// tpfpfn (3 K, may be NULL): per-class true positives, false positives, false negatives of the
// top-1 prediction (+=), what macro precision / recall need without a K x K matrix (iNat: 10k classes)
static int eval_loop(xt_xt_train *m, const xt_params *P, const xt_dataset *d, int S, int batch, double *top1, double *top5,
                     int64_t *confusion, int64_t *tpfpfn,
                     void (*progress)(void *u, int64_t done, int64_t total, double, double, double), void *u) {
    int K = xt_xt_train_num_classes(m), crop = xt_xt_train_crop(m), C = 3, rc = -1;
    C = xt_xt_train_in_chans(m);
    if (batch < 1) batch = 1;
    xt_arena act = {0};
    float *img = xt_malloc_checked((size_t)batch * C * S * S * sizeof(float), "evaluation batch");
    float *lg = xt_xmalloc((size_t)batch * K * sizeof(float));
    int *lab = xt_xmalloc(batch * sizeof(int));
    int64_t c1 = 0, c5 = 0;
    if (!img || xt_arena_init(&act, xt_xt_train_act_bytes(m, batch, S, S, 0))) goto done;
    double t0 = xt_time();
    for (int i0 = 0; i0 < d->n; i0 += batch) {
        int nb = d->n - i0 < batch ? d->n - i0 : batch;
        for (int b = 0; b < nb; b++) {
            if (xt_dataset_load(d, i0 + b, img + (size_t)b * C * S * S, C, S, crop, 0, 0, &lab[b])) goto done;
            if (lab[b] >= K) { xt_error("eval", "sample %d: label %d >= num_classes %d", i0 + b, lab[b], K); goto done; }
        }
        xt_arena_reset(&act);
        if (xt_xt_train_forward(m, P, img, nb, S, S, NULL, lg, &act, NULL)) goto done;
        for (int b = 0; b < nb; b++) {
            const float *l = lg + (size_t)b * K;
            int above = 0, best = 0;
            for (int k = 0; k < K; k++) {
                above += l[k] > l[lab[b]];
                if (l[k] > l[best]) best = k;
            }
            c1 += above == 0;
            c5 += above < 5;
            if (confusion) confusion[(size_t)lab[b] * K + best]++;
            if (tpfpfn) {
                if (best == lab[b]) tpfpfn[best]++;
                else tpfpfn[K + best]++, tpfpfn[2 * K + lab[b]]++;
            }
        }
        if (progress) progress(u, i0 + nb, d->n, (double)c1 / (i0 + nb), 0, (xt_time() - t0) / (i0 + nb));
    }
    *top1 = (double)c1 / d->n;
    *top5 = (double)c5 / d->n;
    rc = 0;
done:
    xt_arena_free(&act);
    free(img);
    free(lg);
    free(lab);
    return rc;
}

int xt_train_evaluate(xt_xt_train *m, const xt_params *P, const xt_dataset *d, const char *root, int S, int batch,
                      double *top1, double *top5, int64_t *confusion,
                      void (*progress)(void *u, int64_t done, int64_t total, double, double, double), void *u) {
    (void)root;
    return eval_loop(m, P, d, S, batch, top1, top5, confusion, NULL, progress, u);
}

int xt_train_validate(xt_xt_train *m, const xt_params *P, const xt_dataset *d, int S, int batch, xt_val_metrics *out) {
    int K = xt_xt_train_num_classes(m);
    int64_t *c = xt_xmalloc(3 * (size_t)K * sizeof(int64_t));
    memset(c, 0, 3 * (size_t)K * sizeof(int64_t));
    memset(out, 0, sizeof *out);
    int rc = d->n ? eval_loop(m, P, d, S, batch, &out->top1, &out->top5, NULL, c, NULL, NULL) : 0;
    if (!rc) {
        out->n = d->n;
        xt_metrics_macro(c, c + K, c + 2 * K, K, &out->precision, &out->recall);
    }
    free(c);
    return rc;
}

// OUT.safetensors -> OUT<suffix>
static void derived(char *dst, size_t cap, const char *out, const char *suffix) {
    size_t n = strlen(out), k = strlen(".safetensors");
    if (n > k && !strcmp(out + n - k, ".safetensors")) n -= k;
    snprintf(dst, cap, "%.*s%s", (int)n, out, suffix);
}

static void log_line(FILE *f, int64_t step, double epoch, double lr, double loss, double t, const xt_val_metrics *v,
                     const int *improved) {
    if (!f) return;
    fprintf(f, "{\"step\": %lld, \"epoch\": %.6g, \"lr\": %.9g, \"loss\": %.9g, \"time\": %.3f", (long long)step, epoch, lr,
            loss, t);
    if (v) {
        fprintf(f, ", \"val\": {\"n\": %lld", (long long)v->n);
        for (int k = 0; k < XT_VAL_METRICS; k++) fprintf(f, ", \"%s\": %.9g", xt_val_metric_names[k], xt_val_metric(v, k));
        fprintf(f, "}, \"improved\": [");
        for (int k = 0, c = 0; k < XT_VAL_METRICS; k++)
            if (improved[k]) fprintf(f, "%s\"%s\"", c++ ? ", " : "", xt_val_metric_names[k]);
        fprintf(f, "]");
    }
    fprintf(f, "}\n");
    fflush(f);
}

int xt_train_run(const xt_json *mcfg, xt_st *from, int resume, const xt_train_opts *o, xt_train_result *res) {
    memset(res, 0, sizeof *res);
    xt_params P = {0};
    xt_dataset d = {0}, dv = {0};
    xt_arena act = {0}, scr = {0};
    xt_sbuf cfgs = {0};
    float *img = NULL, *lg = NULL, *dl = NULL, *pimg = NULL, *tgt = NULL;
    int *lab = NULL, *plab = NULL, *perm = NULL, *ridx = NULL, rc = -1;
    unsigned char *keep = NULL, *enc = NULL;
    double *lrv = NULL;
    FILE *mlog = NULL;
    char mpath[1100] = "", ppath[1100] = "", bpath[1100];
    xt_json *rs = NULL;
    uint64_t seed = (uint64_t)o->seed;
    // the file decides optional keys (qkv.bias, hyper's draws) only when it holds an xl head (a
    // partial --init file, e.g. a pretrained encoder alone or a naive-head checkpoint whose head
    // is skipped, gets the fresh model's)
    int with_head = from && xt_st_find(from, "decoder.cls_token");
    xt_xt_train *m = xt_xt_train_new(&P, mcfg, with_head || resume ? from : NULL);
    if (!m) return -1;
    if (xt_params_alloc(&P)) goto done;
    if (from && resume) { if (xt_train_ckpt_load(&P, from, resume)) goto done; }
    else {
        xt_params_init(&P, seed); // what --init does not provide keeps this
        if (from && xt_params_load_partial(&P, from, &res->init)) goto done;
        if (from && o->on_init) o->on_init(from->path, &res->init);
    }
    xt_sbuf_json(&cfgs, mcfg, 1);
    int K = xt_xt_train_num_classes(m), crop = xt_xt_train_crop(m), S = o->img_size, N = o->batch;
    int C = xt_xt_train_in_chans(m);
    if (!o->data || !o->data[0]) { xt_error("train", "no training data (--data)"); goto done; }
    if (S < crop || S % crop || S > 1 << 16) { xt_error("train", "img_size %d must be a positive multiple of crop_size %d", S, crop); goto done; }
    if (N < 1 || N > 4096 || !(o->grad_ratio > 0 && o->grad_ratio <= 1) || !(o->lr >= 0) || o->warmup < 0) {
        xt_error("train", "batch %d, grad_ratio %g, lr %g, warmup %d out of range", N, o->grad_ratio, o->lr, o->warmup);
        goto done;
    }
    // Mixup / CutMix: sample b mixes with N-1-b of the global batch (timm's flip(0)), which a
    // rank loads itself (same index, same augmentation draws): any rank count mixes alike
    const int mixing = o->augment && xt_mixup_active(&o->mix);
    if (o->augment && (xt_aug_check(&o->dopt, C) || xt_mixup_check(&o->mix))) goto done;
    if (mixing && N % 2) { xt_error("train", "Mixup / CutMix need an even batch (timm), batch is %d", N); goto done; }
    if (xt_dataset_open(&d, o->data, o->root, &o->dopt)) goto done;
    if (d.n_classes > K) { xt_error("train", "%s: labels up to %d, the model has %d classes", o->data, d.n_classes - 1, K); goto done; }
    int64_t per_epoch = (d.n + N - 1) / N;
    int64_t total = o->steps > 0 ? (int64_t)o->steps : (int64_t)o->epochs * per_epoch;
    int64_t warmup = o->warmup + (int64_t)(o->warmup_epochs * per_epoch + 0.5);
    int G = S / crop, R = N * G * G, ng = (int)ceil(R * o->grad_ratio - 1e-9); // official: ceil(n * grad_ratio)
    if (ng > R) ng = R;
    // this rank's shard of every batch: samples b0 .. b0 + nl - 1 (all of them for a singleton)
    const int rank = xt_dist_rank(), nr = xt_dist_size();
    const int b0 = (int)((int64_t)N * rank / nr), nl = (int)((int64_t)N * (rank + 1) / nr) - b0, Rl = nl * G * G;
    int ngl = ng < Rl ? ng : Rl;
    if (nl > 0 && (xt_arena_init(&act, xt_xt_train_act_bytes(m, nl, S, S, ngl)) ||
                   xt_arena_init(&scr, xt_xt_train_scratch_bytes(m, nl, S, S, ngl))))
        goto done;
    if (!(img = xt_malloc_checked((size_t)(nl ? nl : 1) * C * S * S * sizeof(float), "image batch"))) goto done;
    lg = xt_xmalloc((size_t)N * K * sizeof(float));
    dl = xt_xmalloc((size_t)N * K * sizeof(float));
    lab = xt_xmalloc(N * sizeof(int));
    if (mixing) {
        if (!(pimg = xt_malloc_checked((size_t)(nl ? nl : 1) * C * S * S * sizeof(float), "mixup partners"))) goto done;
        tgt = xt_xmalloc((size_t)N * K * sizeof(float));
        plab = xt_xmalloc(N * sizeof(int));
    }
    perm = xt_xmalloc(d.n * sizeof(int));
    keep = xt_xmalloc(R);
    ridx = xt_xmalloc(R * sizeof(int));
    xt_optim_cfg oc = o->optim;
    oc.weight_decay = o->wd;
    if (xt_optim_check(&oc)) goto done;
    if (!(o->classifier_ratio > 0 && isfinite(o->classifier_ratio))) {
        xt_error("train", "classifier_ratio %g must be > 0", o->classifier_ratio);
        goto done;
    }
    if (!(o->freeze_epochs >= 0 && o->freeze_epochs < 1e9) || o->val_every < 0 || !(o->val_every_epochs >= 0 && o->val_every_epochs < 1e9)) {
        xt_error("train", "freeze_epochs %g, val_every %d, val_every_epochs %g must be >= 0", o->freeze_epochs, o->val_every,
                 o->val_every_epochs);
        goto done;
    }
    // param groups (official create_optimizer): lr x classifier_ratio for the "classifier"
    // parameters; the region encoder (the official model.encoder, our encoder.*) frozen first
    lrv = xt_xmalloc((size_t)(P.n ? P.n : 1) * sizeof(double));
    enc = xt_xmalloc((size_t)(P.n ? P.n : 1));
    for (int i = 0; i < P.n; i++) enc[i] = !strncmp(P.p[i].name, "encoder.", 8);
    const int64_t freeze_steps = (int64_t)(o->freeze_epochs * per_epoch + 0.5);
    const int64_t val_steps = o->val_every_epochs > 0 ? (int64_t)(o->val_every_epochs * per_epoch + 0.5) : 0;
    // validation state: best value per metric (official get_improved_metrics: strictly above, from 0)
    double best[XT_VAL_METRICS] = {0};
    if (resume && from) { // the checkpoint's, for an exact resume
        const char *t = xt_st_meta(from, "train_state");
        const xt_json *bj = t && (rs = xt_json_parse(t, strlen(t), "train_state")) ? xt_json_get(rs, "best") : NULL;
        xt_error_clear();
        for (int k = 0; bj && k < XT_VAL_METRICS; k++) xt_json_num(bj, xt_val_metric_names[k], 0, &best[k]);
    }
    if (o->metrics_path) snprintf(mpath, sizeof mpath, "%s", o->metrics_path);
    if (o->plot_path) snprintf(ppath, sizeof ppath, "%s", o->plot_path);
    if (ppath[0] && !mpath[0]) { xt_error("train", "a plot (%s) needs the metrics log (metrics \"\")", ppath); goto done; }
    int64_t epoch = -1, step = resume ? P.step : 0;
    if (rank == 0 && mpath[0]) {
        if (!(mlog = xt_metrics_log_open(mpath, resume, step, "train"))) goto done;
    }
    double t_train = xt_time(), comm0 = xt_dist_comm_seconds();
    for (; step < total; step++) {
        double t0 = xt_time();
        for (int b = b0; b < b0 + nl; b++) // global sample index b of the batch
            if (load_sample(&d, perm, &epoch, seed, step, N, b, img + (size_t)(b - b0) * C * S * S, C, S, crop, o->augment, &lab[b - b0]))
                goto done;
        if (mixing) // one lam (and box) per batch from (seed, step); per pair / sample from (seed, step, pair / sample)
            for (int b = b0; b < b0 + nl; b++) {
                double lam;
                int cut, box[4], key = o->mix.mode == XT_MIX_BATCH ? 0 : o->mix.mode == XT_MIX_PAIR && N - 1 - b < b ? N - 1 - b : b;
                uint64_t mr = xt_rng_mix(seed ^ xt_rng_mix(0x313C + (uint64_t)step));
                if (o->mix.mode != XT_MIX_BATCH) mr = xt_rng_mix(mr ^ xt_rng_mix(0x9A1 + (uint64_t)key));
                xt_mixup_draw(&o->mix, S, S, &mr, &lam, &cut, box);
                float *x = img + (size_t)(b - b0) * C * S * S, *p = pimg + (size_t)(b - b0) * C * S * S;
                plab[b - b0] = lab[b - b0]; // lam 1: the partner's weight is 0
                if (lam != 1) {
                    if (load_sample(&d, perm, &epoch, seed, step, N, N - 1 - b, p, C, S, crop, o->augment, &plab[b - b0])) goto done;
                    xt_mixup_apply(x, p, 1, C, S, S, lam, cut, box);
                }
                xt_mixup_target(tgt + (size_t)(b - b0) * K, &lab[b - b0], &plab[b - b0], 1, K, lam, xt_xt_train_smoothing(m));
            }
        if (ng < R) { // a random subset of regions keeps gradients (order untouched)
            uint64_t r = xt_rng_mix(seed ^ xt_rng_mix(0xC41 + (uint64_t)step));
            for (int i = 0; i < R; i++) ridx[i] = i, keep[i] = 0;
            for (int i = 0; i < ng; i++) {
                int j = i + (int)(xt_rng_u01(&r) * (R - i));
                int t = ridx[i]; ridx[i] = ridx[j]; ridx[j] = t;
                keep[ridx[i]] = 1;
            }
        }
        xt_params_zero_grad(&P);
        // HyperAttention's sampled keys: fresh each step (official torch.randint), from (seed, step)
        xt_xt_train_set_seed(m, xt_rng_mix(seed ^ xt_rng_mix(0x4A9E + (uint64_t)step)));
        xt_xt_train_freeze_encoder(m, step < freeze_steps); // no encoder backward while frozen
        double loss = 0;
        if (nl > 0) {
            const unsigned char *kl = ng < R ? keep + (size_t)b0 * G * G : NULL; // this shard's regions
            int nk = Rl;
            if (kl) {
                nk = 0;
                for (int i = 0; i < Rl; i++) nk += kl[i];
                if (!nk) {
                    xt_error("train", "step %lld: gradient chipping (grad_ratio %g) left rank %d's %d samples no region with "
                             "gradients: use fewer ranks or a larger grad_ratio", (long long)step, o->grad_ratio, rank, nl);
                    goto done;
                }
            }
            if (act.size < xt_xt_train_act_bytes(m, nl, S, S, nk)) { // a shard's share of chipped regions varies
                xt_arena_free(&act);
                if (xt_arena_init(&act, xt_xt_train_act_bytes(m, nl, S, S, nk))) goto done;
            }
            if (scr.size < xt_xt_train_scratch_bytes(m, nl, S, S, nk)) {
                xt_arena_free(&scr);
                if (xt_arena_init(&scr, xt_xt_train_scratch_bytes(m, nl, S, S, nk))) goto done;
            }
            xt_arena_reset(&act);
            if (xt_xt_train_forward(m, &P, img, nl, S, S, kl, lg, &act, NULL)) goto done;
            loss = mixing ? xt_soft_ce_loss(dl, lg, tgt, nl, K) : xt_lsce_loss(dl, lg, lab, nl, K, xt_xt_train_smoothing(m));
            if (!isfinite(loss)) { xt_error("train", "step %lld: loss is %g", (long long)step, loss); goto done; }
            if (nr > 1) { // the mean over the global batch: this shard's share
                float w = (float)nl / N;
                for (int i = 0; i < nl * K; i++) dl[i] *= w;
                loss *= (double)nl / N;
            }
            if (xt_xt_train_backward(m, &P, dl, NULL, &scr)) goto done;
        }
        if (nr > 1 && (xt_dist_allreduce_sum(P.g, P.total) || xt_dist_allreduce_sum_f64(&loss, 1))) goto done;
        // frozen encoder: no gradient, as requires_grad False leaves .grad None (out of the clip norm too)
        const unsigned char *skip = step < freeze_steps ? enc : NULL;
        xt_clip_grad_norm_skip(&P, o->clip, skip);
        // the logged lr is the base one (official: the last group's, lr x 1)
        double lr = xt_lr_at(step, o->lr, o->min_lr_ratio, warmup, total);
        double lrc = o->classifier_ratio == 1 ? lr : xt_lr_at_eta(step, o->lr * o->classifier_ratio, o->lr * o->min_lr_ratio, warmup, total);
        for (int i = 0; i < P.n; i++) lrv[i] = xt_optim_is_classifier(P.p[i].name) ? lrc : lr;
        xt_optim_step(&P, &oc, lrv, lr, skip);
        res->last_loss = loss;
        if (o->progress && rank == 0) o->progress(o->progress_u, step + 1, total, loss, lr, xt_time() - t0);
        int stop = o->stop_after >= 0 && step + 1 >= (int64_t)o->stop_after;
        double ep = (double)(step + 1) / per_epoch;
        log_line(mlog, step + 1, ep, lr, loss, xt_time() - t_train, NULL, NULL);
        // validation (rank 0; official: every train.test_every epochs) before the checkpoints, so
        // that a checkpoint's "best" includes its own step's validation
        int val_now = o->val && ((o->val_every > 0 && (step + 1) % o->val_every == 0) ||
                                 (val_steps > 0 && (step + 1) % val_steps == 0) || step + 1 == total);
        int improved[XT_VAL_METRICS] = {0}, any = 0;
        if (val_now && rank == 0) {
            xt_val_metrics vm;
            if (!dv.n && xt_dataset_open(&dv, o->val, o->root, &o->dopt)) goto done;
            if (xt_train_validate(m, &P, &dv, S, N, &vm)) goto done;
            for (int k = 0; k < XT_VAL_METRICS; k++)
                if (xt_val_metric(&vm, k) > best[k]) best[k] = xt_val_metric(&vm, k), improved[k] = 1, any = 1;
            res->top1 = vm.top1, res->top5 = vm.top5, res->precision = vm.precision, res->recall = vm.recall;
            res->evaluated = 1, res->n_val = dv.n, res->n_validations++;
            log_line(mlog, step + 1, ep, lr, loss, xt_time() - t_train, &vm, improved);
            if (ppath[0] && xt_train_plot(mpath, ppath, 800, 500)) goto done;
        }
        xt_sbuf st = {0}; // built only when written: a step allocates nothing (tests/test_train_alloc.c)
        int save = (o->save_every > 0 && (step + 1) % o->save_every == 0) || step + 1 == total || stop;
        if (save || any) state_json(&st, o, step + 1, o->val ? best : NULL);
        if (save) {
            int e = rank == 0 ? xt_train_ckpt_save(&P, o->out, cfgs.p, st.p, 1) : 0;
            if (ckpt_agree(e)) { xt_sbuf_free(&st); goto done; }
        }
        for (int k = 0; any && k < XT_VAL_METRICS; k++) { // official _save_best: the whole payload
            if (!improved[k]) continue;
            char suf[64];
            snprintf(suf, sizeof suf, ".best_%s.safetensors", xt_val_metric_names[k]);
            derived(bpath, sizeof bpath, o->out, suf);
            if (xt_train_ckpt_save(&P, bpath, cfgs.p, st.p, 1)) { xt_sbuf_free(&st); goto done; }
        }
        xt_sbuf_free(&st);
        if (stop) { step++; break; }
    }
    res->step = step;
    res->train_seconds = xt_time() - t_train;
    res->comm_seconds = xt_dist_comm_seconds() - comm0;
    res->ranks = nr;
    res->weights_hash = fnv1a(P.w, P.total * sizeof(float));
    if (nr > 1) { // every rank must hold rank 0's weights, bit for bit
        uint64_t h0 = res->weights_hash;
        double differ = 0;
        if (xt_dist_bcast(&h0, sizeof h0, 0)) goto done;
        differ = h0 != res->weights_hash;
        if (xt_dist_allreduce_sum_f64(&differ, 1)) goto done;
        if (differ > 0) { xt_error("train", "the weights of %d of %d ranks differ from rank 0's", (int)differ, nr); goto done; }
    }
    if (o->export_path && step >= total) {
        xt_sbuf st = {0};
        state_json(&st, o, step, NULL);
        int e = rank == 0 ? xt_train_ckpt_save(&P, o->export_path, cfgs.p, st.p, 0) : 0;
        xt_sbuf_free(&st);
        if (ckpt_agree(e)) goto done;
    }
    if (o->val && step >= total && rank == 0 && !res->evaluated) { // a finished checkpoint resumed: report only
        xt_val_metrics vm;
        if (!dv.n && xt_dataset_open(&dv, o->val, o->root, &o->dopt)) goto done;
        if (xt_train_validate(m, &P, &dv, S, N, &vm)) goto done;
        res->top1 = vm.top1, res->top5 = vm.top5, res->precision = vm.precision, res->recall = vm.recall;
        res->evaluated = 1, res->n_val = dv.n;
    }
    if (mlog && fclose(mlog)) { mlog = NULL; xt_error("train", "%s: cannot write the metrics log", mpath); goto done; }
    mlog = NULL;
    if (rank == 0 && ppath[0] && xt_train_plot(mpath, ppath, 800, 500)) goto done;
    rc = 0;
done:
    if (mlog) fclose(mlog);
    xt_json_free(rs);
    free(lrv); free(enc);
    free(img); free(lg); free(dl); free(lab); free(pimg); free(tgt); free(plab); free(perm); free(keep); free(ridx);
    xt_sbuf_free(&cfgs);
    xt_arena_free(&act);
    xt_arena_free(&scr);
    xt_dataset_free(&d);
    xt_dataset_free(&dv);
    xt_xt_train_free(m);
    xt_params_free(&P);
    return rc;
}
