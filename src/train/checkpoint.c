// checkpoint.c — fresh initialisation and training checkpoints (model files + optimiser state).
#include <math.h>
#include <string.h>

#include "train/train.h"

static int ends(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}

void xt_params_init(xt_params *P, uint64_t seed) {
    for (int i = 0; i < P->n; i++) {
        const xt_param *p = &P->p[i];
        float *w = xt_pw(P, i);
        uint64_t r = xt_rng_mix(seed ^ xt_rng_mix((uint64_t)i + 1));
        size_t fan_in = p->shape[0] ? p->n / (size_t)p->shape[0] : 1;
        for (size_t j = 0; j < p->n; j++) {
            double v;
            if (ends(p->name, "logit_scale")) v = log(10.0);
            else if (ends(p->name, "A_log")) v = log((double)(j % (size_t)p->shape[1]) + 1.0);
            else if (ends(p->name, "mixer.D")) v = 1.0;
            else if (ends(p->name, "dt_proj.bias")) {
                double dt = exp(xt_rng_u01(&r) * (log(0.1) - log(1e-3)) + log(1e-3));
                v = dt + log(-expm1(-dt)); // softplus^-1
            } else if (ends(p->name, ".gamma")) v = 1e-6; // ConvNeXt layer scale: timm ls_init_value
            else if (ends(p->name, "cls_token") || ends(p->name, "pos_embed")) v = 0.02 * xt_rng_normal(&r); // Hiera: trunc_normal 0.02
            else if (p->ndim == 1 || (p->ndim == 3 && p->shape[1] == 1 && p->shape[2] == 1))
                v = strstr(p->name, "bias") ? 0.0 : 1.0;
            else v = xt_rng_normal(&r) / sqrt((double)fan_in);
            w[j] = (float)v;
        }
    }
}

int xt_train_ckpt_save(const xt_params *P, const char *path, const char *config_json, const char *train_state, int optim) {
    xt_st_writer *w = xt_st_writer_new();
    if (config_json) xt_st_writer_meta(w, "config", config_json);
    if (train_state) xt_st_writer_meta(w, "train_state", train_state);
    xt_st_writer_meta(w, "generator", "xt train");
    char nm[220];
    for (int i = 0; i < P->n; i++) xt_st_writer_add(w, P->p[i].name, xt_pw(P, i), P->p[i].ndim, P->p[i].shape);
    if (optim) {
        for (int i = 0; i < P->n; i++) {
            snprintf(nm, sizeof nm, "optim.exp_avg.%s", P->p[i].name);
            xt_st_writer_add(w, nm, P->m + P->p[i].off, P->p[i].ndim, P->p[i].shape);
            snprintf(nm, sizeof nm, "optim.exp_avg_sq.%s", P->p[i].name);
            xt_st_writer_add(w, nm, P->v + P->p[i].off, P->p[i].ndim, P->p[i].shape);
        }
        float step = (float)P->step; // exact below 2^24 steps
        int64_t one = 1, np = P->n;
        xt_st_writer_add(w, "optim.step", &step, 1, &one);
        // each parameter's own update count (differs from optim.step after freeze_epochs);
        // a file without it (older xt) means every parameter took every step
        float *ps = xt_xmalloc((size_t)(P->n ? P->n : 1) * sizeof(float));
        for (int i = 0; i < P->n; i++) ps[i] = (float)P->p[i].step;
        xt_st_writer_add(w, "optim.param_step", ps, 1, &np);
        int rc = xt_st_writer_save(w, path);
        free(ps);
        return rc;
    }
    return xt_st_writer_save(w, path);
}

int xt_train_ckpt_load(xt_params *P, xt_st *st, int optim) {
    if (xt_params_load(P, st)) return -1;
    if (!optim || !xt_st_find(st, "optim.step")) return 0;
    for (int i = 0; i < P->n; i++) {
        const float *m = xt_st_weightf(st, P->p[i].ndim, P->p[i].shape, "optim.exp_avg.%s", P->p[i].name);
        const float *v = xt_st_weightf(st, P->p[i].ndim, P->p[i].shape, "optim.exp_avg_sq.%s", P->p[i].name);
        if (!m || !v) return -1;
        memcpy(P->m + P->p[i].off, m, P->p[i].n * sizeof(float));
        memcpy(P->v + P->p[i].off, v, P->p[i].n * sizeof(float));
    }
    const float *s = xt_st_weight(st, "optim.step", 1, (int64_t)1);
    if (!s || !(*s >= 0 && *s < 16777216.0f)) return xt_error("ckpt", "%s: bad optim.step", st->path);
    P->step = (int64_t)*s;
    const float *ps = xt_st_find(st, "optim.param_step") ? xt_st_weight(st, "optim.param_step", 1, (int64_t)P->n) : NULL;
    if (xt_st_find(st, "optim.param_step") && !ps) return -1;
    for (int i = 0; i < P->n; i++) {
        if (ps && !(ps[i] >= 0 && ps[i] <= *s)) return xt_error("ckpt", "%s: bad optim.param_step[%d]", st->path, i);
        P->p[i].step = ps ? (int64_t)ps[i] : P->step;
    }
    return 0;
}

// the first two dotted components of a name ("decoder.layers.0.attn.qkv.weight" -> "decoder.layers")
static void add_group(char *groups, size_t cap, const char *name) {
    char g[128];
    const char *d = strchr(name, '.');
    d = d ? strchr(d + 1, '.') : NULL;
    snprintf(g, sizeof g, "%.*s", d ? (int)(d - name) : (int)strlen(name), name);
    for (const char *p = groups; (p = strstr(p, g)); p++) // already listed?
        if ((p == groups || p[-1] == ' ') && (p[strlen(g)] == ',' || !p[strlen(g)])) return;
    size_t n = strlen(groups);
    if (n && !strcmp(groups + n - 3, "...")) return;
    if (n + strlen(g) + 2 >= cap - 4) { snprintf(groups + n, cap - n, "%s...", n ? ", " : ""); return; }
    snprintf(groups + n, cap - n, "%s%s", n ? ", " : "", g);
}

int xt_params_load_partial(xt_params *P, xt_st *st, xt_init_report *rep) {
    memset(rep, 0, sizeof *rep);
    // a region-encoder file provides encoder.model.* under its own prefix
    const char *from = "", *to = "";
    const char *cs = xt_st_meta(st, "config");
    xt_json *cfg = cs ? xt_json_parse(cs, strlen(cs), "config") : NULL;
    xt_error_clear();
    char fp[128] = "", kind[64] = "";
    const char *k = cfg ? xt_json_str(cfg, "kind", "") : "";
    snprintf(kind, sizeof kind, "%s", k ? k : "");
    // ConvNeXt region files keep timm's features_only names unprefixed (xt_pretrained_prefix)
    const char *defp = !strcmp(kind, "convnext_region") ? "" : "model.";
    const char *wp = cfg ? xt_json_str(cfg, "weight_prefix", defp) : defp;
    snprintf(fp, sizeof fp, "%s", wp ? wp : defp);
    xt_json_free(cfg);
    if (!strcmp(kind, "swin_region") || !strcmp(kind, "hiera_region") || !strcmp(kind, "convnext_region")) {
        const char *file_arch = kind[0] == 'h' ? "Hiera" : kind[0] == 'c' ? "ConvNeXt" : "Swin V2";
        const char *model_arch = xt_params_find(P, "encoder.model.pos_embed") >= 0        ? "Hiera"
                                 : xt_params_find(P, "encoder.model.stem_0.weight") >= 0 ? "ConvNeXt"
                                                                                          : "Swin V2";
        if (strcmp(file_arch, model_arch))
            return xt_error("train", "%s: a %s file, but the configured region encoder is %s", st->path, kind, model_arch);
        from = fp;
        to = "encoder.model.";
    }
    const size_t nf = strlen(from), nt = strlen(to);
    char nm[300];
    for (int i = 0; i < P->n; i++) {
        const xt_param *p = &P->p[i];
        const xt_st_tensor *t = NULL;
        if (!strncmp(p->name, to, nt)) {
            snprintf(nm, sizeof nm, "%s%s", from, p->name + nt);
            t = xt_st_find(st, nm);
        }
        if (!t) {
            rep->fresh++;
            add_group(rep->fresh_groups, sizeof rep->fresh_groups, p->name);
            continue;
        }
        int same = t->ndim == p->ndim;
        for (int k = 0; same && k < p->ndim; k++) same = t->shape[k] == p->shape[k];
        if (!same) {
            char a[96] = "", b[96] = "";
            for (int k = 0; k < t->ndim; k++) snprintf(a + strlen(a), sizeof a - strlen(a), "%s%lld", k ? ", " : "", (long long)t->shape[k]);
            for (int k = 0; k < p->ndim; k++) snprintf(b + strlen(b), sizeof b - strlen(b), "%s%lld", k ? ", " : "", (long long)p->shape[k]);
            return xt_error("train", "%s: tensor '%s' is (%s) but the model's '%s' is (%s): the config and the "
                            "weights disagree (%s?)", st->path, nm, a, p->name, b,
                            strncmp(p->name, "encoder.", 8) ? "num_classes, the head's sizes" : "embed_dim, depths, num_heads");
        }
        const float *w = xt_st_f32(st, nm, NULL);
        if (!w) return -1;
        memcpy(xt_pw(P, i), w, p->n * sizeof(float));
        rep->loaded++;
    }
    // the file's weights the model does not have: another head's (a naive-head checkpoint for an
    // xl-head model, an xView3 decoder) are skipped, so any xT checkpoint can seed the encoder;
    // the region encoder's must all land (else its config and the file's disagree, e.g. depths)
    int extra = 0;
    const char *first = NULL; // the first of them, for the error below
    xt_sbuf ex = {0}, sk = {0};
    for (int i = 0; i < st->n; i++) {
        const char *n = st->t[i].name;
        if (!strncmp(n, "input.", 6) || !strncmp(n, "expected.", 9) || !strncmp(n, "optim.", 6)) continue;
        int ok = 0;
        if (!strncmp(n, from, nf)) {
            snprintf(nm, sizeof nm, "%s%s", to, n + nf);
            ok = xt_params_find(P, nm) >= 0;
        } else snprintf(nm, sizeof nm, "%s", n);
        if (ok) continue;
        if (!first) first = n;
        if (!strncmp(nm, "encoder.model.", 14)) {
            if (extra++ < 4) xt_sbuf_printf(&ex, "%s'%s'", extra > 1 ? ", " : "", n);
        } else if (rep->skipped++ < 3)
            xt_sbuf_printf(&sk, "%s'%s'", rep->skipped > 1 ? ", " : "", n);
    }
    if (rep->skipped > 3) xt_sbuf_printf(&sk, " ... %d more", rep->skipped - 3);
    snprintf(rep->skipped_names, sizeof rep->skipped_names, "%s", sk.p ? sk.p : "");
    xt_sbuf_free(&sk);
    if (!rep->loaded) { // nothing in common: another model's file, or a config for another model
        xt_sbuf_free(&ex);
        if (!first) return xt_error("train", "%s: no weights in the file", st->path);
        return xt_error("train", "%s shares no tensor with the configured model (its %d weights, e.g. '%s', are all "
                        "foreign to it): the wrong file, or a config for another model?", st->path, extra + rep->skipped, first);
    }
    if (extra) {
        xt_error("train", "%s: %d tensor%s not part of the configured model: %s%s (region-encoder weights: the config "
                 "and the file disagree, e.g. depths?)", st->path, extra, extra > 1 ? "s are" : " is", ex.p, extra > 4 ? ", ..." : "");
        xt_sbuf_free(&ex);
        return -1;
    }
    return 0;
}
