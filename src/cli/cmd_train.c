// cmd_train.c — `xt train`: train an xT classifier (Swin V2 regions + naive/xl head), or the xView3
// dense model (config kind "xview", run/xview_train.c), on the CPU.
//
// Config file (JSON): {"model": {xT model config, as in model files}, "train": {options}}; flags
// override the options. Checkpoints are model files with the optimiser state and a
// "train_state" (every option, the step) in their metadata; --resume continues from one exactly:
// data order, augmentation and chipping draws are pure functions of (seed, step, sample), so an
// interrupted and resumed run reaches the same weights bit for bit (same thread count).
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "run/xview_train.h"
#include "run/yaml_train.h"
#include "core/dist.h"
#include "train/train.h"

typedef struct {
    char data[1024], val[1024], root[1024], metrics[1100], plot[1100]; // the latter: room for OUT + suffix
    int has_metrics, has_plot; // given (else derived from -o)
    xt_train_opts t;
} topts;

static void defaults(topts *o) {
    memset(o, 0, sizeof *o);
    xt_train_opts_default(&o->t);
}

static int read_opts(const xt_json *j, topts *o) {
    if (!j) return 0;
    if (xt_train_opts_parse(j, &o->t)) return -1;
    const char *s;
    if ((s = xt_json_str(j, "data", NULL))) snprintf(o->data, sizeof o->data, "%s", s);
    if ((s = xt_json_str(j, "val", NULL))) snprintf(o->val, sizeof o->val, "%s", s);
    if ((s = xt_json_str(j, "root", NULL))) snprintf(o->root, sizeof o->root, "%s", s);
    if ((s = xt_json_str(j, "metrics", NULL))) snprintf(o->metrics, sizeof o->metrics, "%s", s), o->has_metrics = 1;
    if ((s = xt_json_str(j, "plot", NULL))) snprintf(o->plot, sizeof o->plot, "%s", s), o->has_plot = 1;
    return 0;
}

typedef struct {
    xt_progress pg;
    int64_t first; // the step this run starts at (a resumed run continues at its checkpoint's)
} train_progress;

// one line per step, on a terminal as in a log (the loss curve is the point), with the ETA
static void progress(void *u, int64_t step, int64_t total, double loss, double lr, double sec) {
    train_progress *tp = u;
    if (!tp->pg.on) return;
    if (!tp->pg.phase) {
        tp->first = step - 1;
        xt_progress_phase(&tp->pg, "train", (long)(total - tp->first), "steps");
    }
    tp->pg.done = (long)(step - tp->first);
    int eta = (int)(xt_progress_eta(&tp->pg) + 0.5);
    fprintf(stderr, "step %lld/%lld  loss %.4f  lr %.3g  %.2f s/step  ETA %02d:%02d:%02d\n", (long long)step, (long long)total, loss, lr,
            sec, eta / 3600, eta / 60 % 60, eta % 60);
}

// --init: what the file holds beyond the model is skipped; said at once, not after training
static void init_note(const char *path, const xt_init_report *r) {
    if (r->skipped && xt_dist_rank() == 0)
        fprintf(stderr, "init: skipped %d tensor%s of %s that the configured model does not have: %s\n", r->skipped,
                r->skipped > 1 ? "s" : "", path, r->skipped_names);
}

static void help(void) {
    printf("usage: xt train -c CONFIG.json [options]\n"
           "       xt train -c OFFICIAL.yaml [KEY=VALUE ...] [options]\n"
           "       xt train --resume CKPT.safetensors [-o OUT] [--stop-after N]\n\n"
           "Trains an xT classifier (Swin V2, Hiera or ConvNeXt regions + naive or xl head) with label-smoothed\n"
           "cross-entropy, SGD / Adam / AdamW, warm-up + cosine schedule, global-norm clipping and gradient chipping.\n"
           "CONFIG holds {\"model\": {...}, \"train\": {...}} (docs/training.md); flags override \"train\".\n"
           "A model of kind \"xview\" (the xView3 dense model) trains on \"data\": {\"xview3\": {\"scenes\": DIR or\n"
           "[PATHS], \"labels\": CSV}} with the official crops, targets, losses and per-tile steps; --img-size is\n"
           "the data crop (tiles of crop_size), --clip defaults to 5, --steps 0 writes a fresh model\n"
           "(docs/xview3.md, \"Training\").\n\n"
           "Under mpirun / srun the ranks train data-parallel: --batch is the global batch, each rank\n"
           "computes its share, rank 0 reports and checkpoints (docs/distributed.md).\n\n"
           "  -c FILE          config file: xt's JSON, or an official xT YAML (config/*.yaml: base_configs,\n"
           "                   ${...}; KEY=VALUE operands override dotted keys, e.g. data.dir=/data/inat\n"
           "                   train.batch_size=4 xt.train.steps=10; unknown keys are an error, the official\n"
           "                   keys xt does not use are listed once as ignored; docs/training.md)\n"
           "  --init MODEL     start from a model file's weights (and its config when -c has no model);\n"
           "                   a partial file (e.g. a pretrained region encoder from `xt convert --from\n"
           "                   timm-swinv2|timm-convnext|hiera`) loads what it has, the rest is fresh;\n"
           "                   weights the model lacks (another head's) are skipped, with a note\n"
           "  --resume CKPT    continue a checkpoint exactly (options come from the checkpoint)\n"
           "  -o FILE          checkpoint to write                          [xt_train.safetensors]\n"
           "  --export FILE    at the end, also write the weights alone (a small model file)\n"
           "  --data SPEC      CSV (path,label), iNaturalist JSON, or synth:N[:seed]\n"
           "  --val SPEC       held-out data: top-1/top-5, macro precision/recall at the end\n"
           "  --root DIR       image folder for relative paths              [the data file's folder]\n"
           "  --img-size S     training image side (a multiple of crop_size)\n"
           "  --batch N        images per step                              [8]\n"
           "  --steps N        optimiser steps (default: epochs x ceil(n / batch))\n"
           "  --epochs N       passes over the data                         [1]\n"
           "  --lr X           peak learning rate                           [1e-4]\n"
           "  --min-lr-ratio X cosine floor as a fraction of lr             [0.01]\n"
           "  --warmup N       linear warm-up steps                         [0]\n"
           "  --wd X           weight decay (not on biases; AdamW decoupled, SGD / Adam L2) [1e-4]\n"
           "  --optimizer NAME sgd, adam or adamw (torch.optim semantics)  [adamw]\n"
           "  --momentum X     SGD momentum                                 [0.9]\n"
           "  --nesterov B     SGD Nesterov momentum (0 / 1)                [1]\n"
           "  --classifier-ratio X  lr multiplier of the classifier group (official rule:\n"
           "                   every parameter whose name lacks \"backbone\", i.e. all of xT's) [1]\n"
           "  --context-lr-ratio X  xview: lr multiplier of the context model (context_model.*;\n"
           "                   not official)                                [1]\n"
           "  --freeze-epochs X  no updates to the region encoder for the first X epochs [0]\n"
           "  --val-every N    validate on --val every N steps (0: off)     [0]\n"
           "  --val-every-epochs X  ... and every X epochs (official train.test_every) [0]\n"
           "                   (--val is always evaluated at the end; each validation appends to the\n"
           "                   metrics log and writes OUT.best_<metric>.safetensors when it improves)\n"
           "  --metrics FILE   metrics log, JSON Lines ('': none)           [OUT.metrics.jsonl]\n"
           "  --plot FILE      PNG of its curves ('': none)                 [OUT.curves.png]\n"
           "  --clip X         global gradient-norm clip (0: off)           [1.0]\n"
           "  --grad-ratio X   fraction of regions that get gradients       [1.0]\n"
           "  --seed N         data order, augmentation, chipping, init     [0]\n"
           "  --no-augment     no training augmentation (crop, flip, RandAugment, Mixup, ...)\n"
           "  --save-every N   checkpoint every N steps (0: at the end)     [0]\n"
           "  --stop-after N   stop (with a checkpoint) after global step N (tests, interruption)\n"
           "  -t N             threads (also --threads)                     [all cores]\n"
           "  -q               no progress lines (also --quiet)\n"
           "Options may follow operands; --opt=VALUE and -tN forms are accepted.\n");
}

// options followed by a value (a KEY=VALUE operand is anything else with '=' and no leading '-')
static int takes_value(const char *a) {
    static const char *v[] = {"-c", "--init", "--resume", "-o", "--export", "--data", "--val", "--root", "-t", "--threads",
                              "--img-size", "--batch", "--steps", "--epochs", "--lr", "--min-lr-ratio", "--warmup", "--wd",
                              "--clip", "--grad-ratio", "--seed", "--save-every", "--stop-after", "--optimizer", "--momentum",
                              "--nesterov", "--classifier-ratio", "--freeze-epochs", "--val-every", "--val-every-epochs",
                              "--metrics", "--plot"};
    for (size_t i = 0; i < sizeof v / sizeof *v; i++)
        if (!strcmp(a, v[i])) return 1;
    return 0;
}

int xt_cmd_train(int argc, char **argv) {
    const char *cfgf = NULL, *init = NULL, *resume = NULL, *out = "xt_train.safetensors";
    int threads = 0, quiet = 0;
    double stop_after = -1;
    topts o;
    defaults(&o);
    train_progress tp = {0};
    xt_progress_init(&tp.pg, "train", 0); // the job's clock; -q is applied after the flags
    // first pass: files and KEY=VALUE overrides; flags are applied after the config is read
    char **sets = xt_xmalloc((size_t)argc * sizeof *sets);
    int n_sets = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) { help(); free(sets); return 0; }
        if (argv[i][0] != '-' && strchr(argv[i], '=') && !takes_value(argv[i - 1])) sets[n_sets++] = argv[i];
        if (!strcmp(argv[i], "-c") && i + 1 < argc) cfgf = argv[++i];
        else if (!strcmp(argv[i], "--init") && i + 1 < argc) init = argv[++i];
        else if (!strcmp(argv[i], "--resume") && i + 1 < argc) resume = argv[++i];
    }
    xt_json *cj = NULL, *mcfg_own = NULL, *ts = NULL;
    const xt_json *mcfg = NULL, *tobj = NULL; // the model config; the train options (config or checkpoint)
    xt_xview_data_spec xd = {0};
    int xview = 0;
    xt_st *ist = NULL;
    int rc = 1;
    char *cfgtext = NULL;
    if (resume) {
        if (!(ist = xt_st_open(resume))) return xt_cli_fail();
        const char *c = xt_st_meta(ist, "config"), *t = xt_st_meta(ist, "train_state");
        if (!c || !t) { xt_error("train", "%s: not an xt training checkpoint (no config / train_state)", resume); goto fail; }
        if (!(mcfg_own = xt_json_parse(c, strlen(c), "config")) || !(ts = xt_json_parse(t, strlen(t), "train_state"))) goto fail;
        mcfg = mcfg_own;
        tobj = ts;
        if (read_opts(ts, &o)) goto fail;
    } else {
        if (n_sets && !cfgf) { xt_error("train", "KEY=VALUE overrides (%s) need -c OFFICIAL.yaml", sets[0]); goto fail; }
        if (cfgf) {
            xt_sbuf notes = {0};
            cfgtext = xt_train_config_read(cfgf, sets, n_sets, &notes);
            if (notes.n && xt_dist_rank() == 0) fprintf(stderr, "%s", notes.p); // once for the job
            xt_sbuf_free(&notes);
            if (!cfgtext || !(cj = xt_json_parse(cfgtext, strlen(cfgtext), cfgf))) goto fail;
            mcfg = xt_json_get(cj, "model");
            tobj = xt_json_get(cj, "train");
            const char *k = mcfg ? xt_json_str(mcfg, "kind", "") : "";
            if (k && !strcmp(k, "xview")) o.t.clip = 5.0; // the official xView3 trainer's clip_grad
            if (read_opts(tobj, &o)) goto fail;
        }
        if (init) {
            if (!(ist = xt_st_open(init))) goto fail;
            if (!mcfg) {
                const char *c = xt_st_meta(ist, "config");
                if (!c || !(mcfg_own = xt_json_parse(c, strlen(c), "config"))) { xt_error("train", "%s: no model config", init); goto fail; }
                mcfg = mcfg_own;
                const char *k = xt_json_str(mcfg, "kind", "xt");
                if (k && strcmp(k, "xt") && strcmp(k, "xview")) {
                    xt_error("train", "%s is a %s file (weights for the region encoder only): give -c CONFIG with the xT \"model\"", init, k);
                    goto fail;
                }
            }
        }
        if (!mcfg) { xt_error("train", "no model: give -c CONFIG with a \"model\" object, or --init MODEL"); goto fail; }
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int tr = !resume; // options of a resumed run are the checkpoint's
#define NUM(flag, dst)                                                                              \
    if (!strcmp(a, flag) && v) { char *e_; double x_ = strtod(v, &e_); if (!*v || *e_) { xt_error("train", "%s expects a number, got '%s'", flag, v); goto fail; } if (tr) dst = x_; i++; continue; }
        if ((!strcmp(a, "-c") || !strcmp(a, "--init") || !strcmp(a, "--resume")) && v) { i++; continue; }
        int is_set = 0;
        for (int k = 0; k < n_sets && !is_set; k++) is_set = sets[k] == a;
        if (is_set) { if (resume) { xt_error("train", "KEY=VALUE overrides do not apply to --resume (options come from the checkpoint)"); goto fail; } continue; }
        if (!strcmp(a, "-o") && v) { out = v; i++; continue; }
        if (!strcmp(a, "--export") && v) { o.t.export_path = v; i++; continue; }
        if (!strcmp(a, "--data") && v) { if (tr) snprintf(o.data, sizeof o.data, "%s", v); i++; continue; }
        if (!strcmp(a, "--val") && v) { if (tr) snprintf(o.val, sizeof o.val, "%s", v); i++; continue; }
        if (!strcmp(a, "--root") && v) { if (tr) snprintf(o.root, sizeof o.root, "%s", v); i++; continue; }
        if (!strcmp(a, "--no-augment")) { if (tr) o.t.augment = 0; continue; }
        if (!strcmp(a, "--optimizer") && v) { if (tr && xt_optim_parse_name(v, &o.t.optim.kind)) goto fail; i++; continue; }
        // outputs, like -o: they apply to resumed runs too
        if (!strcmp(a, "--metrics") && v) { snprintf(o.metrics, sizeof o.metrics, "%s", v), o.has_metrics = 1; i++; continue; }
        if (!strcmp(a, "--plot") && v) { snprintf(o.plot, sizeof o.plot, "%s", v), o.has_plot = 1; i++; continue; }
        if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) { quiet = 1; continue; }
        if ((!strcmp(a, "-t") || !strcmp(a, "--threads")) && v) { if (xt_cli_parse_int(v, "-t", 1, 1024, &threads)) goto fail; i++; continue; }
        NUM("--img-size", o.t.img_size);
        NUM("--batch", o.t.batch);
        NUM("--steps", o.t.steps);
        NUM("--epochs", o.t.epochs);
        NUM("--lr", o.t.lr);
        NUM("--min-lr-ratio", o.t.min_lr_ratio);
        NUM("--warmup", o.t.warmup);
        NUM("--wd", o.t.wd);
        NUM("--clip", o.t.clip);
        NUM("--grad-ratio", o.t.grad_ratio);
        NUM("--seed", o.t.seed);
        NUM("--save-every", o.t.save_every);
        NUM("--momentum", o.t.optim.momentum);
        NUM("--nesterov", o.t.optim.nesterov);
        NUM("--classifier-ratio", o.t.classifier_ratio);
        NUM("--context-lr-ratio", o.t.context_lr_ratio);
        NUM("--freeze-epochs", o.t.freeze_epochs);
        NUM("--val-every", o.t.val_every);
        NUM("--val-every-epochs", o.t.val_every_epochs);
        tr = 1; // --stop-after applies to resumed runs too
        NUM("--stop-after", stop_after);
#undef NUM
        xt_cli_usage_error("train", "unknown option '%s'", a);
        rc = 2;
        goto done;
    }
    xt_set_threads(threads);
    o.t.data = o.data;
    o.t.val = o.val[0] ? o.val : NULL;
    o.t.root = o.root[0] ? o.root : NULL;
    o.t.out = out;
    // default outputs beside the checkpoint: OUT.metrics.jsonl, OUT.curves.png (the plot only with a log)
    char stem[1024];
    size_t sl = strlen(out), k = strlen(".safetensors");
    snprintf(stem, sizeof stem, "%.*s", (int)(sl > k && !strcmp(out + sl - k, ".safetensors") ? sl - k : sl), out);
    if (!o.has_metrics) snprintf(o.metrics, sizeof o.metrics, "%s.metrics.jsonl", stem);
    if (!o.has_plot) snprintf(o.plot, sizeof o.plot, "%s%s", o.metrics[0] ? stem : "", o.metrics[0] ? ".curves.png" : "");
    o.t.metrics_path = o.metrics[0] ? o.metrics : NULL;
    o.t.plot_path = o.plot[0] ? o.plot : NULL;
    o.t.stop_after = stop_after;
    o.t.progress = progress;
    o.t.progress_u = &tp;
    o.t.on_init = init_note;
    tp.pg.on &= !quiet;
    xt_train_result res;
    const char *kind = xt_json_str(mcfg, "kind", "");
    xview = kind && !strcmp(kind, "xview");
    if (xview) { // the dense xView3 model: data from train.data.xview3 (docs/xview3.md, "Training")
        xt_xview_loss_cfg lc;
        const xt_json *dj = tobj ? xt_json_get(tobj, "data") : NULL;
        if (o.data[0] || o.val[0]) {
            xt_error("train", "--data / --val are for classifier data; an xview model reads \"data\": {\"xview3\": ...} of the config's \"train\"");
            goto fail;
        }
        if (!dj || !xt_json_get(dj, "xview3")) {
            xt_error("train", "an xview model trains on \"data\": {\"xview3\": {\"scenes\": ..., \"labels\": ...}} in the config's \"train\"");
            goto fail;
        }
        if (xt_dist_size() > 1) { // each rank would train the whole model on its own
            xt_error("train", "the xview model does not train data-parallel yet: run it without mpirun");
            goto fail;
        }
        if (o.t.optim.kind != XT_OPTIM_ADAMW || o.t.classifier_ratio != 1 || o.t.freeze_epochs > 0 || o.t.val_every ||
            o.t.val_every_epochs > 0) { // xview_train.c steps AdamW per tile and evaluates with xt score
            xt_error("train", "the xview model trains with AdamW only (no optimizer / classifier_ratio / freeze_epochs / val_every)");
            goto fail;
        }
        if (xt_xview_data_parse(xt_json_get(dj, "xview3"), &xd) || xt_xview_loss_parse(tobj, &lc)) goto fail;
        if (xt_xview_train_run(mcfg, ist, resume != NULL, &o.t, &xd, &lc, &res)) goto fail;
    } else if (o.t.context_lr_ratio != 1 || !o.t.context_identity) {
        xt_error("train", "context_lr_ratio and context_identity are for the xview model (a classifier has classifier_ratio)");
        goto fail;
    } else if (xt_train_run(mcfg, ist, resume != NULL, &o.t, &res)) goto fail;
    xt_progress_end(&tp.pg);
    if (xt_dist_rank() != 0) { rc = 0; goto done; } // rank 0 reports for the job
    if (init && !resume)
    {
        printf("init: %d tensors loaded from %s, %d freshly initialised%s%s%s", res.init.loaded, init, res.init.fresh,
               res.init.fresh ? " (" : "", res.init.fresh_groups, res.init.fresh ? ")" : "");
        if (res.init.skipped) printf(", %d of the file's skipped", res.init.skipped);
        printf("\n");
    }
    printf("trained %lld steps; final loss %.4f; checkpoint %s\n", (long long)res.step, res.last_loss, out);
    if (res.evaluated)
        printf("val: top-1 %.2f%%  top-5 %.2f%%  precision %.2f%%  recall %.2f%%  (%d images)\n", 100 * res.top1,
               100 * res.top5, 100 * res.precision, 100 * res.recall, res.n_val);
    if (res.n_validations > 1) printf("validations: %d (metrics log, best checkpoints beside %s)\n", res.n_validations, out);
    if (res.ranks > 1)
        printf("ranks: %d, weights identical on every rank (fnv1a64 %016llx); allreduce %.3f s of %.3f s (%.1f%%)\n", res.ranks,
               (unsigned long long)res.weights_hash, res.comm_seconds, res.train_seconds,
               res.train_seconds > 0 ? 100 * res.comm_seconds / res.train_seconds : 0.0);
    rc = 0;
    goto done;
fail:
    xt_progress_abort(&tp.pg);
    rc = xt_cli_fail();
    // the other ranks may wait in a collective for this one: end the whole job
    if (xt_dist_size() > 1) xt_dist_abort(rc);
done:
    xt_xview_data_free(&xd);
    free(sets);
    free(cfgtext);
    xt_json_free(cj);
    xt_json_free(mcfg_own);
    xt_json_free(ts);
    xt_st_close(ist);
    return rc;
}
