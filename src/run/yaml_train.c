// yaml_train.c — `xt train -c OFFICIAL.yaml`: the official xT training recipes (config/*.yaml and
// their base_configs) read as xt's own JSON training config.
//
// ref: xt/config.py (MainConfig, _merge_configs: bases first, then the file, OmegaConf.merge),
// xt/datasets/build.py (DataConfig, AugmentationConfig, create_imagenet_transforms),
// xt/models/build.py, xt/optimizer.py, xt/trainer.py. Every key of every file is looked up in one
// table: used (translated below), ignored on purpose (reported once, with the reason), or an
// error naming the key and the file — a typo must not silently train something else. Absent
// keys take the official dataclass defaults (e.g. optimizer.name "sgd", data.test_crop true).
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "formats/ckpt.h" // xt_yaml_parse
#include "run/convert.h"
#include "run/yaml_train.h"
#include "train/train.h" // xt_optim_parse_name

typedef struct {
    const char *key; // dotted; "x.*": any key below x
    int used;
    const char *why; // ignored keys: why xt does not need it
} tkey;

// the official config keys (MainConfig and its dataclasses) and xt's own "xt" section
static const tkey keys[] = {
    {"base_configs", 1, NULL},
    {"name", 0, "run name"},
    {"distributed", 0, "mpirun / srun decide"},
    {"fsdp", 0, "CPU float32 training"},
    {"fp16", 0, "CPU float32 training"},
    {"output_dir", 0, "-o OUT"},
    {"test", 0, "xt eval"},
    {"val", 0, "xt eval"},
    {"eval_sampler", 0, "every held-out image is evaluated once"},
    {"data.dataset", 1, NULL},
    {"data.dir", 1, NULL},
    {"data.num_workers", 0, "one process reads"},
    {"data.test", 0, "xt eval"},
    {"data.batch_size", 0, "train.batch_size"},
    {"data.val_batch_size", 0, "evaluation uses the training batch"},
    {"data.crop_size", 1, NULL},
    {"data.val_crop_size", 1, NULL},
    {"data.num_classes", 1, NULL},
    {"data.test_crop", 1, NULL},
    {"data.interpolation", 1, NULL},
    {"data.supercategories", 1, NULL},
    {"data.category_label_path", 1, NULL},
    {"data.aug.auto_augment", 1, NULL},
    {"data.aug.color_jitter", 1, NULL},
    {"data.aug.reprob", 1, NULL},
    {"data.aug.remode", 1, NULL},
    {"data.aug.recount", 1, NULL},
    {"data.aug.mixup", 1, NULL},
    {"data.aug.cutmix", 1, NULL},
    {"data.aug.cutmix_minmax", 1, NULL},
    {"data.aug.mixup_prob", 1, NULL},
    {"data.aug.mixup_switch_prob", 1, NULL},
    {"data.aug.mixup_mode", 1, NULL},
    {"data.aug.label_smoothing", 1, NULL},
    {"data.aug.random_resized_crop", 1, NULL},
    {"data.aug.mean", 1, NULL},
    {"data.aug.std", 1, NULL},
    {"model.name", 1, NULL},
    {"model.resume", 0, "--init / --resume"},
    {"model.tiling", 0, "regions in raster order, as the classifier's naive tiling"},
    {"model.backbone_class", 1, NULL},
    {"model.patch_size", 0, "the backbone preset's"},
    {"model.num_classes", 1, NULL},
    {"model.cls_head", 1, NULL},
    {"model.mlp_ratio", 1, NULL},
    {"model.backbone.in_chans", 1, NULL},
    {"model.backbone.input_dim", 0, "in_chans"},
    {"model.backbone.drop_path_rate", 0, "xt trains without drop path"},
    {"model.backbone.pretrained", 0, "--init FILE from `xt convert --from ...`"},
    {"model.backbone.channel_last", 0, "memory layout"},
    {"model.backbone.input_size", 1, NULL},
    {"model.context.enabled", 0, "xView3 models only"},
    {"model.context.no_memory", 0, "xView3 models only"},
    {"model.context.mem_chip", 0, "xView3 models only"},
    {"model.context.tiling", 0, "regions in raster order"},
    {"model.context.context_patch_len", 0, "xView3 models only"},
    {"model.context.skip_connection", 0, "xView3 models only"},
    {"model.context.classification_mode", 0, "always on for classifiers"},
    {"model.context.num_heads", 0, "not read by the classifier's context encoder"},
    {"model.context.mlp_ratio", 0, "model.mlp_ratio"},
    {"model.context.n_layer", 1, NULL},
    {"model.context.hidden_size", 1, NULL},
    {"model.context.attention_method", 1, NULL},
    {"model.context.in_context_patches", 1, NULL},
    {"model.context.grad_ratio", 1, NULL},
    {"optimizer.name", 1, NULL},
    {"optimizer.lr", 1, NULL},
    {"optimizer.min_lr_ratio", 1, NULL},
    {"optimizer.classifier_ratio", 1, NULL},
    {"optimizer.warmup_epochs", 1, NULL},
    {"optimizer.weight_decay", 1, NULL},
    {"optimizer.scheduler", 1, NULL},
    {"optimizer.mode", 1, NULL},
    {"optimizer.momentum", 1, NULL},
    {"optimizer.nesterov", 1, NULL},
    {"optimizer.eps", 1, NULL},
    {"optimizer.betas", 1, NULL},
    {"train.epochs", 1, NULL},
    {"train.batch_size", 1, NULL},
    {"train.val_batch_size", 0, "evaluation uses the training batch"},
    {"train.freeze_epochs", 1, NULL},
    {"train.freeze_bn", 0, "no batch norm in xT classifiers"},
    {"train.test_every", 1, NULL},
    {"train.test_reset", 0, "no test CSV"},
    {"train.clip_grad", 1, NULL},
    {"losses.losses", 1, NULL},
    {"xt.model.*", 1, NULL}, // xt's own: keys merged over the translated model config
    {"xt.train.*", 1, NULL}, // ... and over the translated train options (steps, seed, ...)
};
#define NKEYS ((int)(sizeof keys / sizeof *keys))

static const tkey *find_key(const char *path) {
    for (int i = 0; i < NKEYS; i++) {
        size_t n = strlen(keys[i].key);
        if (n > 2 && !strcmp(keys[i].key + n - 2, ".*")) {
            if (!strncmp(path, keys[i].key, n - 1)) return &keys[i];
        } else if (!strcmp(path, keys[i].key)) return &keys[i];
    }
    return NULL;
}

// every leaf of doc must be a known key; sections ("data", "data.aug") are walked into
static int check_keys(const xt_json *j, const char *prefix, const char *file) {
    for (int i = 0; i < j->n; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s%s%s", prefix, prefix[0] ? "." : "", j->keys[i]);
        const tkey *k = find_key(path);
        if (k) continue;
        int section = 0; // a prefix of some known key
        size_t pl = strlen(path);
        for (int q = 0; q < NKEYS && !section; q++) section = !strncmp(keys[q].key, path, pl) && keys[q].key[pl] == '.';
        if (section && j->items[i]->type == XT_JSON_OBJ) {
            if (check_keys(j->items[i], path, file)) return -1;
        } else if (!section || j->items[i]->type != XT_JSON_NULL)
            return xt_error("config", "%s: unknown key '%s' (docs/training.md lists the official keys xt reads and ignores)", file, path);
    }
    return 0;
}

static const xt_json *jget(const xt_json *j, const char *path) {
    char buf[512];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *sv, *tok = strtok_r(buf, ".", &sv); tok && j; tok = strtok_r(NULL, ".", &sv)) j = xt_json_get(j, tok);
    return j;
}

// ---------------------------------------------------------------------------------------------
// interpolation: ${a.b} (a whole value keeps the referenced value's type) and
// ${oc.env:NAME, default}, also inside longer strings

static int emit_resolved(xt_sbuf *o, const xt_json *root, const xt_json *j, int depth);

static void trim(char *s) {
    size_t n = strlen(s), a = 0;
    while (s[a] == ' ') a++;
    while (n > a && s[n - 1] == ' ') n--;
    if (n - a >= 2 && (s[a] == '"' || s[a] == '\'') && s[n - 1] == s[a]) a++, n--;
    memmove(s, s + a, n - a);
    s[n - a] = 0;
}

// inner of one ${...}: JSON text of its value into o
static int resolve_one(xt_sbuf *o, const xt_json *root, const char *inner, int depth) {
    if (depth > 16) return xt_error("config", "interpolation ${%s}: nested too deeply (a cycle?)", inner);
    if (!strncmp(inner, "oc.env:", 7)) {
        char name[256], def[1024] = "";
        const char *c = strchr(inner + 7, ',');
        snprintf(name, sizeof name, "%.*s", c ? (int)(c - inner - 7) : (int)strlen(inner + 7), inner + 7);
        trim(name);
        const char *v = getenv(name);
        if (!v && c) { snprintf(def, sizeof def, "%s", c + 1); trim(def); v = def; }
        if (!v) return xt_error("config", "interpolation ${%s}: environment variable %s is not set", inner, name);
        xt_sbuf_json_str(o, v);
        return 0;
    }
    if (strchr(inner, ':')) return xt_error("config", "interpolation ${%s}: only ${a.b} and ${oc.env:NAME, default} are supported", inner);
    char path[512];
    snprintf(path, sizeof path, "%s", inner);
    trim(path);
    const xt_json *v = jget(root, path);
    if (!v) return xt_error("config", "interpolation ${%s}: no such key", inner);
    return emit_resolved(o, root, v, depth + 1);
}

static int resolve_str(xt_sbuf *o, const xt_json *root, const char *s, int depth) {
    size_t n = strlen(s);
    const char *e = strchr(s, '}');
    if (!strncmp(s, "${", 2) && e == s + n - 1 && !strstr(s + 2, "${")) { // a whole value
        char inner[512];
        snprintf(inner, sizeof inner, "%.*s", (int)(n - 3), s + 2);
        return resolve_one(o, root, inner, depth);
    }
    xt_sbuf t = {0}; // the string with each ${...} replaced by its text
    for (const char *p = s; *p;) {
        const char *b = strstr(p, "${");
        if (!b) { xt_sbuf_printf(&t, "%s", p); break; }
        xt_sbuf_printf(&t, "%.*s", (int)(b - p), p);
        const char *c = strchr(b, '}');
        if (!c) { xt_sbuf_free(&t); return xt_error("config", "'%s': unterminated ${", s); }
        char inner[512];
        snprintf(inner, sizeof inner, "%.*s", (int)(c - b - 2), b + 2);
        xt_sbuf v = {0};
        if (resolve_one(&v, root, inner, depth)) { xt_sbuf_free(&t); xt_sbuf_free(&v); return -1; }
        xt_json *vj = xt_json_parse(v.p, v.n, "value");
        if (vj && vj->type == XT_JSON_STR) xt_sbuf_printf(&t, "%s", vj->str);
        else xt_sbuf_printf(&t, "%s", v.p);
        xt_json_free(vj);
        xt_sbuf_free(&v);
        p = c + 1;
    }
    xt_sbuf_json_str(o, t.p ? t.p : "");
    xt_sbuf_free(&t);
    return 0;
}

static int emit_resolved(xt_sbuf *o, const xt_json *root, const xt_json *j, int depth) {
    if (j->type == XT_JSON_STR && strstr(j->str, "${")) return resolve_str(o, root, j->str, depth);
    if (j->type != XT_JSON_OBJ && j->type != XT_JSON_ARR) { xt_sbuf_json(o, j, 0); return 0; }
    int obj = j->type == XT_JSON_OBJ;
    xt_sbuf_printf(o, obj ? "{" : "[");
    for (int i = 0; i < j->n; i++) {
        if (i) xt_sbuf_printf(o, ",");
        if (obj) { xt_sbuf_json_str(o, j->keys[i]); xt_sbuf_printf(o, ":"); }
        if (emit_resolved(o, root, j->items[i], depth)) return -1;
    }
    xt_sbuf_printf(o, obj ? "}" : "]");
    return 0;
}

// "a.b=value" as the document {"a": {"b": value}}, the value read as YAML (1e-4, on, [1, 2], text)
static xt_json *set_doc(const char *kv) {
    const char *eq = strchr(kv, '=');
    if (!eq || eq == kv || eq[-1] == '.' || kv[0] == '.') { xt_error("config", "override '%s': expected KEY=VALUE (dotted key)", kv); return NULL; }
    xt_sbuf y = {0}, t = {0};
    xt_sbuf_printf(&y, "v: %s\n", eq + 1);
    xt_json *v = xt_yaml_parse(y.p, y.n, "override"), *out = NULL;
    xt_sbuf_free(&y);
    if (!v) return NULL;
    char key[512];
    snprintf(key, sizeof key, "%.*s", (int)(eq - kv), kv);
    int depth = 0;
    for (char *sv, *tok = strtok_r(key, ".", &sv); tok; tok = strtok_r(NULL, ".", &sv), depth++) {
        xt_sbuf_printf(&t, "{");
        xt_sbuf_json_str(&t, tok);
        xt_sbuf_printf(&t, ":");
    }
    xt_sbuf_json(&t, xt_json_get(v, "v"), 0);
    for (int i = 0; i < depth; i++) xt_sbuf_printf(&t, "}");
    out = xt_json_parse(t.p, t.n, "override");
    xt_sbuf_free(&t);
    xt_json_free(v);
    return out;
}

// ---------------------------------------------------------------------------------------------

static double num(const xt_json *R, const char *path, double def, int *bad) {
    const xt_json *j = jget(R, path);
    if (!j || j->type == XT_JSON_NULL) return def;
    if (j->type != XT_JSON_NUM) { if (!*bad) xt_error("config", "%s is not a number", path); *bad = 1; return def; }
    return j->num;
}

static const char *str(const xt_json *R, const char *path, const char *def) {
    const xt_json *j = jget(R, path);
    return j && j->type == XT_JSON_STR ? j->str : def;
}

static int truthy(const xt_json *R, const char *path, int def) {
    const xt_json *j = jget(R, path);
    return !j || j->type == XT_JSON_NULL ? def : j->num != 0;
}

static int file_exists(const char *p) {
    FILE *f = fopen(p, "rb");
    if (f) fclose(f);
    return f != NULL;
}

// the translation: R is the merged, resolved config
static char *translate(const xt_json *R, const char *path, xt_sbuf *notes) {
    int bad = 0;
    char *model = NULL, *out = NULL;
    xt_json *tj = NULL;
    xt_sbuf t = {0}, m = {0}, r = {0};
    const char *ds = str(R, "data.dataset", "inaturalist");
    if (strcmp(ds, "inaturalist")) { xt_error("config", "%s: data.dataset '%s': xt trains the inaturalist classifier from YAML", path, ds); goto done; }
    if (strcmp(str(R, "model.name", "xT"), "xT")) { xt_error("config", "%s: model.name '%s' (the classifier is xT)", path, str(R, "model.name", "")); goto done; }
    // what xt does not implement must not pass as if it did
    const char *on = str(R, "optimizer.name", "sgd"), *sch = str(R, "optimizer.scheduler", "cosine"), *mode = str(R, "optimizer.mode", "step");
    xt_optim_kind ok;
    if (xt_optim_parse_name(on, &ok)) { xt_error_prefix("%s: optimizer.name", path); goto done; }
    if (strcmp(sch, "cosine") || strcmp(mode, "step")) { xt_error("config", "%s: optimizer.scheduler '%s' / mode '%s': xt has cosine, stepped per step", path, sch, mode); goto done; }
    const xt_json *be = jget(R, "optimizer.betas");
    if (be && be->type != XT_JSON_NULL && (be->type != XT_JSON_ARR || be->n != 2 || be->items[0]->type != XT_JSON_NUM ||
                                           be->items[1]->type != XT_JSON_NUM)) {
        xt_error("config", "%s: optimizer.betas must be two numbers, e.g. [0.9, 0.999]", path);
        goto done;
    }
    const xt_json *nv = jget(R, "optimizer.nesterov");
    if (nv && nv->type != XT_JSON_NULL && nv->type != XT_JSON_BOOL) { xt_error("config", "%s: optimizer.nesterov must be true or false", path); goto done; }
    int test_crop = truthy(R, "data.test_crop", 1);
    if (!test_crop && truthy(R, "data.aug.random_resized_crop", 0)) { xt_error("config", "%s: data.aug.random_resized_crop (a random evaluation crop) is not supported", path); goto done; }
    const xt_json *ls = jget(R, "losses.losses");
    for (int i = 0; ls && ls->type == XT_JSON_ARR && i < ls->n; i++) {
        const char *ty = xt_json_str(ls->items[i], "type", "");
        if (!ty || strcasecmp(ty, "CrossEntropy")) { xt_error("config", "%s: losses.losses[%d].type '%s': the classifier trains with CrossEntropy", path, i, ty ? ty : ""); goto done; }
    }
    int crop = (int)num(R, "data.crop_size", 512, &bad), vcrop = (int)num(R, "data.val_crop_size", 512, &bad);
    if (bad) goto done;
    if (vcrop != crop) { xt_error("config", "%s: data.val_crop_size %d != crop_size %d: xt evaluates at the training size", path, vcrop, crop); goto done; }
    if (crop <= 32) { // create_imagenet_transforms' resize_im false: RandomCrop(padding 4), no resize
        xt_error("config", "%s: data.crop_size %d <= 32: the official transforms for such sizes (RandomCrop with padding 4, no resize) are not implemented", path, crop);
        goto done;
    }
    // the model: the translation `xt convert` makes, the loss, then xt.model
    if (!(model = xt_yaml_model_config(R, path, notes))) goto done;
    xt_sbuf_printf(&m, "{\"loss\": {\"smoothing\": %.17g}}", num(R, "data.aug.label_smoothing", 0, &bad)); // timm default 0: plain CE
    {
        xt_json *a = xt_json_parse(model, strlen(model), "model"), *b = xt_json_parse(m.p, m.n, "loss");
        const xt_json *docs[3] = {a, b, jget(R, "xt.model")};
        free(model);
        model = a && b ? xt_config_merge(docs, 3) : NULL;
        xt_json_free(a);
        xt_json_free(b);
        if (!model) goto done;
    }
    // the train options
    const char *dir = str(R, "data.dir", "/home/group/inaturalist");
    xt_sbuf_printf(&t, "{\"data\": ");
    xt_sbuf_printf(&r, "%s/train2018.json", dir);
    xt_sbuf_json_str(&t, r.p);
    r.n = 0;
    xt_sbuf_printf(&r, "%s/val2018.json", dir);
    xt_sbuf_printf(&t, ", \"val\": ");
    xt_sbuf_json_str(&t, r.p);
    xt_sbuf_printf(&t, ", \"root\": ");
    xt_sbuf_json_str(&t, dir);
    r.n = 0;
    xt_sbuf_printf(&r, "%s/categories.json", dir);
    if (file_exists(r.p)) { xt_sbuf_printf(&t, ", \"categories\": "); xt_sbuf_json_str(&t, r.p); }
    else xt_sbuf_printf(notes, "%s not found: categories (supercategories) from the annotation files\n", r.p);
    const xt_json *lmj = jget(R, "data.category_label_path"); // null or "": no map (official: `if category_label_path:`)
    const char *lm = !lmj ? "meta/category_label_reptilia_map.json" : lmj->type == XT_JSON_STR ? lmj->str : NULL;
    if (lm && lm[0]) { xt_sbuf_printf(&t, ", \"label_map\": "); xt_sbuf_json_str(&t, lm); }
    const xt_json *sc = jget(R, "data.supercategories");
    if (sc && sc->type == XT_JSON_ARR && sc->n) { xt_sbuf_printf(&t, ", \"supercategories\": "); xt_sbuf_json(&t, sc, 0); }
    const xt_json *mean = jget(R, "data.aug.mean"), *sd = jget(R, "data.aug.std");
    xt_sbuf_printf(&t, ", \"mean\": ");
    if (mean && mean->type != XT_JSON_NULL) xt_sbuf_json(&t, mean, 0); else xt_sbuf_printf(&t, "[0.485, 0.456, 0.406]");
    xt_sbuf_printf(&t, ", \"std\": ");
    if (sd && sd->type != XT_JSON_NULL) xt_sbuf_json(&t, sd, 0); else xt_sbuf_printf(&t, "[0.229, 0.224, 0.225]");
    xt_sbuf_printf(&t, ", \"transform\": \"%s\", \"interpolation\": ", test_crop ? "resize_crop" : "resize");
    xt_sbuf_json_str(&t, str(R, "data.interpolation", "bilinear"));
    // the training transform: timm create_transform(is_training=True) with the config's
    // AugmentationConfig (xt/datasets/build.py); RandomResizedCrop(scale (0.08, 1), ratio
    // (3/4, 4/3)) and the flip always; the jitter only without auto_augment (timm)
    const xt_json *aa = jget(R, "data.aug.auto_augment");
    xt_sbuf_printf(&t, ", \"rrc\": true, \"auto_augment\": ");
    if (!aa) xt_sbuf_printf(&t, "\"rand-m9-mstd0.5-inc1\"");
    else if (aa->type == XT_JSON_STR || aa->type == XT_JSON_NULL) xt_sbuf_json(&t, aa, 0);
    else { xt_error("config", "%s: data.aug.auto_augment must be a string or null", path); goto done; }
    const char *rm = str(R, "data.aug.remode", "pixel");
    double cj = num(R, "data.aug.color_jitter", 0.4, &bad);
    xt_sbuf_printf(&t, ", \"color_jitter\": %.17g, \"reprob\": %.17g, \"remode\": ", cj > 0 ? cj : 0, num(R, "data.aug.reprob", 0, &bad));
    xt_sbuf_json_str(&t, rm);
    xt_sbuf_printf(&t, ", \"recount\": %d, \"mixup\": %.17g, \"cutmix\": %.17g, \"mixup_prob\": %.17g, \"mixup_switch_prob\": %.17g",
                   (int)num(R, "data.aug.recount", 1, &bad), num(R, "data.aug.mixup", 0, &bad), num(R, "data.aug.cutmix", 0, &bad),
                   num(R, "data.aug.mixup_prob", 0, &bad), num(R, "data.aug.mixup_switch_prob", 0, &bad));
    xt_sbuf_printf(&t, ", \"mixup_mode\": ");
    xt_sbuf_json_str(&t, str(R, "data.aug.mixup_mode", "batch"));
    const xt_json *cmm = jget(R, "data.aug.cutmix_minmax");
    if (cmm && cmm->type != XT_JSON_NULL) { xt_sbuf_printf(&t, ", \"cutmix_minmax\": "); xt_sbuf_json(&t, cmm, 0); }
    xt_sbuf_printf(&t, ", \"img_size\": %d, \"batch\": %d, \"epochs\": %.17g, \"lr\": %.17g, \"min_lr_ratio\": %.17g, "
                       "\"weight_decay\": %.17g, \"clip\": %.17g, \"grad_ratio\": %.17g, \"warmup_epochs\": %.17g, "
                       "\"optimizer\": \"%s\", \"momentum\": %.17g, \"nesterov\": %s, \"eps\": %.17g, \"betas\": [%.17g, %.17g], "
                       "\"classifier_ratio\": %.17g, \"freeze_epochs\": %.17g, \"val_every_epochs\": %.17g}",
                   crop, (int)num(R, "train.batch_size", 4, &bad), num(R, "train.epochs", 120, &bad), num(R, "optimizer.lr", 1e-4, &bad),
                   num(R, "optimizer.min_lr_ratio", 0.01, &bad), num(R, "optimizer.weight_decay", 1e-4, &bad),
                   num(R, "train.clip_grad", 5.0, &bad), num(R, "model.context.grad_ratio", 1.0, &bad),
                   num(R, "optimizer.warmup_epochs", 0, &bad), xt_optim_name(ok), num(R, "optimizer.momentum", 0.9, &bad),
                   truthy(R, "optimizer.nesterov", 1) ? "true" : "false", num(R, "optimizer.eps", 1e-8, &bad),
                   be && be->type == XT_JSON_ARR ? be->items[0]->num : 0.9, be && be->type == XT_JSON_ARR ? be->items[1]->num : 0.999,
                   num(R, "optimizer.classifier_ratio", 1.0, &bad), num(R, "train.freeze_epochs", 0, &bad),
                   num(R, "train.test_every", 1, &bad));
    if (bad || !(tj = xt_json_parse(t.p, t.n, "train"))) goto done;
    const xt_json *docs[2] = {tj, jget(R, "xt.train")};
    char *train = xt_config_merge(docs, 2);
    xt_sbuf o = {0};
    xt_sbuf_printf(&o, "{\"model\": %s, \"train\": %s}", model, train);
    free(train);
    out = o.p;
    xt_sbuf_printf(notes, "%d px images, batch %d (xt's batch is global, the official one per GPU), %s evaluation transform\n", crop,
                   (int)num(R, "train.batch_size", 4, &bad), test_crop ? "Resize(S) + CenterCrop(S)" : "Resize((S, S))");
done:
    free(model);
    xt_json_free(tj);
    xt_sbuf_free(&t);
    xt_sbuf_free(&m);
    xt_sbuf_free(&r);
    return out;
}

static void ignored_note(const xt_json *j, const char *prefix, xt_sbuf *list) {
    for (int i = 0; i < j->n; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s%s%s", prefix, prefix[0] ? "." : "", j->keys[i]);
        const tkey *k = find_key(path);
        if (k && !k->used) xt_sbuf_printf(list, "%s%s (%s)", list->n ? ", " : "", path, k->why);
        else if (!k && j->items[i]->type == XT_JSON_OBJ) ignored_note(j->items[i], path, list);
    }
}

// xt's JSON: the same rule, a typo in "train" is an error (model keys are checked by the model)
static int check_json_keys(const xt_json *j, const char *path) {
    static const char *train_keys[] = {"data", "val", "root", "img_size", "batch", "augment", "warmup", "save_every", "steps",
                                       "epochs", "lr", "min_lr_ratio", "weight_decay", "clip", "grad_ratio", "seed",
                                       "warmup_epochs", "mean", "std", "scale", "nodata", "transform", "interpolation",
                                       "categories", "label_map", "supercategories", "loss", "optimizer", "momentum",
                                       "nesterov", "eps", "betas", "classifier_ratio", "context_lr_ratio", "context_identity", "freeze_epochs", "val_every",
                                       "val_every_epochs", "metrics", "plot",
                                       "rrc", "rrc_scale", "rrc_ratio", "hflip", "color_jitter", "auto_augment", "reprob",
                                       "remode", "recount", "mixup", "cutmix", "cutmix_minmax", "mixup_prob",
                                       "mixup_switch_prob", "mixup_mode"};
    if (j->type != XT_JSON_OBJ) return xt_error("config", "%s: not a JSON object", path);
    for (int i = 0; i < j->n; i++)
        if (strcmp(j->keys[i], "model") && strcmp(j->keys[i], "train"))
            return xt_error("config", "%s: unknown key '%s' (a training config has \"model\" and \"train\")", path, j->keys[i]);
    const xt_json *t = xt_json_get(j, "train");
    for (int i = 0; t && i < t->n; i++) {
        size_t k = 0, nk = sizeof train_keys / sizeof *train_keys;
        while (k < nk && strcmp(t->keys[i], train_keys[k])) k++;
        if (k == nk) return xt_error("config", "%s: unknown key 'train.%s' (docs/training.md lists the options)", path, t->keys[i]);
    }
    return 0;
}

static int ends_with(const char *s, const char *suf) {
    size_t n = strlen(s), k = strlen(suf);
    return n >= k && !strcmp(s + n - k, suf);
}

char *xt_train_config_read(const char *path, char *const *sets, int n_sets, xt_sbuf *notes) {
    if (!ends_with(path, ".yaml") && !ends_with(path, ".yml")) {
        if (n_sets) { xt_error("config", "%s: KEY=VALUE overrides apply to official YAML configs (set \"train\" keys with flags)", path); return NULL; }
        size_t len;
        char *text = xt_read_file(path, (size_t)1 << 31, &len, "train");
        if (!text) return NULL;
        xt_json *j = xt_json_parse(text, len, path);
        int bad = !j || check_json_keys(j, path);
        xt_json_free(j);
        if (bad) { free(text); return NULL; }
        return text;
    }
    xt_json **docs = NULL, *merged = NULL, *R = NULL;
    char **files = NULL, *out = NULL, *mt = NULL;
    int n = 0;
    xt_sbuf rs = {0}, ign = {0};
    if (xt_yaml_config_docs(path, &docs, &n, &files, notes)) return NULL;
    docs = realloc(docs, (size_t)(n + n_sets + 1) * sizeof *docs);
    files = realloc(files, (size_t)(n + n_sets + 1) * sizeof *files);
    XT_ASSERT(docs && files);
    for (int i = 0; i < n_sets; i++, n++) {
        files[n] = strdup("command line");
        if (!(docs[n] = set_doc(sets[i]))) { n++; goto done; }
    }
    for (int i = 0; i < n; i++) {
        if (!docs[i] || docs[i]->type != XT_JSON_OBJ) { xt_error("config", "%s: not a mapping", files[i]); goto done; }
        if (check_keys(docs[i], "", files[i])) goto done;
    }
    mt = xt_config_merge((const xt_json *const *)docs, n);
    if (!(merged = xt_json_parse(mt, strlen(mt), path))) goto done;
    if (emit_resolved(&rs, merged, merged, 0)) { xt_error_prefix("%s", path); goto done; }
    if (!(R = xt_json_parse(rs.p, rs.n, path))) goto done;
    if (!(out = translate(R, path, notes))) goto done;
    ignored_note(R, "", &ign);
    if (ign.n) xt_sbuf_printf(notes, "ignored: %s\n", ign.p);
done:
    for (int i = 0; i < n; i++) xt_json_free(docs[i]), free(files[i]);
    free(docs);
    free(files);
    free(mt);
    xt_json_free(merged);
    xt_json_free(R);
    xt_sbuf_free(&rs);
    xt_sbuf_free(&ign);
    return out;
}
