// xview_world.c — the synthetic xView3-SAR world of xview_world.h: object placement (fleets, harbours,
// grounds or lanes, lone vessels, infrastructure), the scene rasters tile by tile, the label CSV and the shoreline.
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "formats/npy.h"
#include "run/xview_world.h"
#include "train/train.h"

enum { W_FISHING, W_VESSEL, W_INFRA, W_PORT }; // W_PORT: the port rule's harbours, not in the labels

typedef struct {
    int r, c;      // centre pixel
    double len_m;  // vessels: length in metres
    double ang;    // heading (radians)
    int kind;
} wobj;

typedef struct {
    int W, H;
    uint64_t seed;
    double c0, a1, l1, p1, a2, l2, p2; // coastline: column of the shore at row y
    double e0, ep;                     // NoData swath edge
    wobj *o;
    int n, cap;
} world;

static double coast(const world *w, double y) {
    return w->c0 + w->a1 * sin(2 * M_PI * y / w->l1 + w->p1) + w->a2 * sin(2 * M_PI * y / w->l2 + w->p2);
}
static double edge(const world *w, double y) { return w->W - w->e0 - 12 * (1 + sin(2 * M_PI * y / 3000 + w->ep)); }

// a uniform (0, 1] from (seed, a, x, y): per-pixel draws without state, so any tile can be made alone
static double hash01(uint64_t seed, uint64_t a, int64_t x, int64_t y) {
    uint64_t z = xt_rng_mix(seed ^ xt_rng_mix(a * 0x9E3779B97F4A7C15ull ^ xt_rng_mix((uint64_t)x * 0xD1B54A32D192ED03ull ^ (uint64_t)y)));
    return ((z >> 11) + 1) * (1.0 / 9007199254740992.0);
}

// smooth value noise in [0, 1] on a lattice of side g
static double vnoise(uint64_t seed, uint64_t a, double x, double y, double g) {
    double fx = x / g, fy = y / g;
    int64_t ix = (int64_t)floor(fx), iy = (int64_t)floor(fy);
    double tx = fx - ix, ty = fy - iy;
    tx = tx * tx * (3 - 2 * tx), ty = ty * ty * (3 - 2 * ty);
    double v00 = hash01(seed, a, ix, iy), v10 = hash01(seed, a, ix + 1, iy), v01 = hash01(seed, a, ix, iy + 1),
           v11 = hash01(seed, a, ix + 1, iy + 1);
    return (v00 * (1 - tx) + v10 * tx) * (1 - ty) + (v01 * (1 - tx) + v11 * tx) * ty;
}

static int in_sea(const world *w, double r, double c) {
    return r > 40 && r < w->H - 40 && c > coast(w, r) + 40 && c < edge(w, r) - 40;
}

// distance to the nearest object (kind mask: which kinds count)
static double nearest(const world *w, double r, double c, int mask) {
    double best = 1e30;
    for (int i = 0; i < w->n; i++)
        if (mask >> w->o[i].kind & 1) {
            double d = hypot(w->o[i].r - r, w->o[i].c - c);
            if (d < best) best = d;
        }
    return best;
}

static void add(world *w, double r, double c, double len, double ang, int kind) {
    if (w->n == w->cap) {
        w->cap = w->cap ? 2 * w->cap : 64;
        wobj *q = xt_xmalloc((size_t)w->cap * sizeof *q);
        if (w->n) memcpy(q, w->o, (size_t)w->n * sizeof *q);
        free(w->o);
        w->o = q;
    }
    w->o[w->n++] = (wobj){(int)lround(r), (int)lround(c), len, ang, kind};
}

// n_lone lone vessels of kind lone_kind (sep px from any object, gap px from every object of the
// kinds in gap_mask: harbours, or vessels), then n_infra infrastructure squares near the coast
static void lone_and_infra(world *w, uint64_t *rng, int n_lone, int lone_kind, int n_infra, double sep, double gap, int gap_mask) {
    const int ALL = 15, VES = 1 << W_FISHING | 1 << W_VESSEL;
    for (int k = 0; k < n_lone; k++)
        for (int t = 0; t < 300; t++) {
            double r = w->H * xt_rng_u01(rng), c = w->W * xt_rng_u01(rng);
            if (in_sea(w, r, c) && nearest(w, r, c, ALL) >= sep && nearest(w, r, c, gap_mask) >= gap) {
                add(w, r, c, 20 + 100 * xt_rng_u01(rng), 2 * M_PI * xt_rng_u01(rng), lone_kind);
                break;
            }
        }
    for (int k = 0; k < n_infra; k++) // infrastructure within 300 px of the coast
        for (int t = 0; t < 300; t++) {
            double r = w->H * xt_rng_u01(rng), c0 = coast(w, r), c = c0 + 40 + 260 * xt_rng_u01(rng);
            if (in_sea(w, r, c) && nearest(w, r, c, VES | 1 << W_PORT) >= 200 && nearest(w, r, c, 1 << W_INFRA) >= 60) {
                add(w, r, c, 0, 0, W_INFRA);
                break;
            }
        }
}

// groups (fleets or harbours) in a scene: density per 1024 x 1024 px of sea (80 % of it), >= 1
static int groups(const world *w, double density) {
    double sea = (double)w->W * w->H * 0.8;
    int n = (int)lround(density * sea / (1024.0 * 1024.0));
    return n < 1 ? 1 : n;
}

// A chain of 3 + [0, extra) vessels of one kind (a fleet, a lane): the first >= sep px from any
// object; each next one d0 + [0, dspan) px from the one before, along a heading that turns by
// [-bend/2, bend/2) a step (the chain's heading follows by turn x that), >= d0 px from every vessel
// and >= 200 px from any other object. A chain of one is removed (it would look like a lone
// vessel). Returns the vessels placed.
static int chain(world *w, uint64_t *rng, int kind, int extra, double sep, double d0, double dspan, double bend, double turn) {
    const int ALL = 15, VES = 1 << W_FISHING | 1 << W_VESSEL;
    int first = w->n, want = 3 + (int)(xt_rng_u01(rng) * extra);
    double r = 0, c = 0, th = 2 * M_PI * xt_rng_u01(rng);
    int ok = 0;
    for (int t = 0; t < 200 && !ok; t++) {
        r = w->H * xt_rng_u01(rng), c = w->W * xt_rng_u01(rng);
        ok = in_sea(w, r, c) && nearest(w, r, c, ALL) >= sep;
    }
    if (!ok) return 0;
    add(w, r, c, 20 + 100 * xt_rng_u01(rng), 2 * M_PI * xt_rng_u01(rng), kind);
    for (int k = 1; k < want; k++) {
        int placed = 0;
        for (int t = 0; t < 30 && !placed; t++) {
            double d = d0 + dspan * xt_rng_u01(rng), dl = bend * (xt_rng_u01(rng) - 0.5);
            double nr = w->o[w->n - 1].r + d * sin(th + dl), nc = w->o[w->n - 1].c + d * cos(th + dl);
            // d0 from every ship (then its nearest neighbour is the one it follows), 200 from the rest
            if (!in_sea(w, nr, nc) || nearest(w, nr, nc, VES) < d0 || nearest(w, nr, nc, ALL & ~VES) < 200) continue;
            add(w, nr, nc, 20 + 100 * xt_rng_u01(rng), 2 * M_PI * xt_rng_u01(rng), kind);
            th += turn * dl, placed = 1;
        }
        if (!placed) break;
    }
    if (w->n - first < 2) w->n = first;
    return w->n - first;
}

// The fleet rule: fleets of 3-7 fishing vessels, each 96-112 px from the one before; as many
// other vessels alone (nothing within 200 px).
static void place(world *w, uint64_t *rng, double density) {
    int fleets = groups(w, density), fishing = 0;
    for (int f = 0; f < fleets; f++) fishing += chain(w, rng, W_FISHING, 5, 200, 96, 16, 1.2, 0.5);
    lone_and_infra(w, rng, fishing, W_VESSEL, fleets, 200, 0, 0);
}

// The port rule: harbours (bright open squares, 21 px, unlabelled) at sea, each with 3-5 fishing
// vessels 150-190 px from its centre and >= 96 px from each other; other vessels >= port_gap px
// (320 by default) from every harbour. A harbour never reaches into a 64 px region holding one of
// its vessels (150 - 10 sqrt 2 > 64 sqrt 2), nor into the neighbouring regions the UNet decoder
// mixes in. With port_gap >= 725 no 512 x 512 window holds a lone vessel and a harbour (its
// diagonal is 724 px): the rule becomes "a harbour in view" instead of a distance.
static void place_ports(world *w, uint64_t *rng, double density, double port_gap) {
    const int VES = 1 << W_FISHING | 1 << W_VESSEL, PORT = 1 << W_PORT;
    int ports = groups(w, density);
    int fishing = 0;
    for (int p = 0; p < ports; p++) {
        double r = 0, c = 0;
        int ok = 0;
        for (int t = 0; t < 200 && !ok; t++) {
            r = w->H * xt_rng_u01(rng), c = w->W * xt_rng_u01(rng);
            ok = in_sea(w, r, c) && c > coast(w, r) + 200 && nearest(w, r, c, PORT) >= 700 && nearest(w, r, c, VES) >= 400;
        }
        if (!ok) continue;
        add(w, r, c, 0, 0, W_PORT);
        int want = 3 + (int)(xt_rng_u01(rng) * 3), got = 0;
        for (int t = 0; t < 60 && got < want; t++) {
            double d = 150 + 40 * xt_rng_u01(rng), th = 2 * M_PI * xt_rng_u01(rng);
            double nr = r + d * sin(th), nc = c + d * cos(th);
            if (!in_sea(w, nr, nc) || nearest(w, nr, nc, VES) < 96 || nearest(w, nr, nc, 1 << W_INFRA) < 200) continue;
            add(w, nr, nc, 20 + 100 * xt_rng_u01(rng), 2 * M_PI * xt_rng_u01(rng), W_FISHING);
            got++;
        }
        fishing += got;
    }
    lone_and_infra(w, rng, fishing, W_VESSEL, ports, 200, port_gap, 1 << W_PORT);
}

// The grounds rule: fishing grounds, each 8-14 fishing vessels within 300 px of its centre and
// >= 150 px from each other, so that no fishing vessel has another within what the model sees
// without its context model (its 64 px region and about 60 px around it through the decoder),
// yet a 512 x 512 window around one holds several; other vessels >= gap px (600 by default) from
// every fishing vessel and >= 350 px from any object. The evidence is how many ships are in view.
static void place_grounds(world *w, uint64_t *rng, double density, double gap) {
    const int ALL = 15, VES = 1 << W_FISHING | 1 << W_VESSEL;
    int grounds = groups(w, density);
    int fishing = 0;
    for (int g = 0; g < grounds; g++) {
        double r = 0, c = 0;
        int ok = 0;
        for (int t = 0; t < 200 && !ok; t++) {
            r = w->H * xt_rng_u01(rng), c = w->W * xt_rng_u01(rng);
            ok = in_sea(w, r, c) && c > coast(w, r) + 300 && nearest(w, r, c, VES) >= 300 + gap;
        }
        if (!ok) continue;
        int want = 8 + (int)(xt_rng_u01(rng) * 7), got = 0;
        for (int t = 0; t < 400 && got < want; t++) {
            double d = 300 * sqrt(xt_rng_u01(rng)), th = 2 * M_PI * xt_rng_u01(rng);
            double nr = r + d * sin(th), nc = c + d * cos(th);
            if (!in_sea(w, nr, nc) || nearest(w, nr, nc, VES) < 150 || nearest(w, nr, nc, ALL & ~VES) < 200) continue;
            add(w, nr, nc, 20 + 100 * xt_rng_u01(rng), 2 * M_PI * xt_rng_u01(rng), W_FISHING);
            got++;
        }
        fishing += got;
    }
    lone_and_infra(w, rng, fishing, W_VESSEL, grounds, 350, gap, 1 << W_FISHING);
}

// The lanes rule, the grounds rule turned around: the other (non-fishing) vessels sail in lanes of
// 3-5, each 150-180 px from the one before along a heading that bends by < 0.15 rad a step, so no
// lane vessel has another within the no-context reach, yet a 256 x 256 window around one often
// holds its neighbour; as many fishing vessels, alone, >= gap px (400 by default) from every
// other vessel. The context cue (a ship in view) marks the vessels that are NOT fishing: the
// ones a fishing map pushed toward fishing by the class prior and the dice term gets wrong.
static void place_lanes(world *w, uint64_t *rng, double density, double gap) {
    int lanes = groups(w, density), others = 0;
    for (int l = 0; l < lanes; l++) others += chain(w, rng, W_VESSEL, 3, 400, 150, 30, 0.3, 1);
    lone_and_infra(w, rng, others, W_FISHING, lanes, 200, gap, 1 << W_FISHING | 1 << W_VESSEL);
}

// Linear backscatter of the objects at (x, y) for band b (0 VV, 1 VH).
static double objects(const world *w, const int *idx, int ni, int b, double x, double y) {
    double s = 0;
    for (int k = 0; k < ni; k++) {
        const wobj *o = &w->o[idx[k]];
        double dx = x - o->c, dy = y - o->r;
        if (o->kind == W_PORT) { // an open square frame, 3 px thick, its mouth facing down
            double m = fmax(fabs(dx), fabs(dy));
            if (m >= 7.5 && m <= 10.5 && !(dy > 0 && fabs(dx) < 4)) s += (b ? 0.5 : 1.0) * 6.0;
            continue;
        }
        if (o->kind == W_INFRA) {
            double m = fmax(fabs(dx), fabs(dy));
            if (m <= 2.5) s += (b ? 0.5 : 1.0) * 10.0 * (m <= 1.5 ? 1 : 0.3);
            continue;
        }
        double lp = o->len_m / 10, su = fmax(1.0, lp / 3), sv = 0.8;
        double u = dx * cos(o->ang) + dy * sin(o->ang), v = -dx * sin(o->ang) + dy * cos(o->ang);
        double a = pow(10, (-4 + 8 * (o->len_m - 20) / 100) / 10) * (b ? 0.25 : 1);
        s += a * exp(-(u * u / (2 * su * su) + v * v / (2 * sv * sv)));
    }
    return s;
}

// one tile (th x tw at x0, y0) of both bands, float32 dB
static void tile(const world *w, int x0, int y0, int tw, int th, float *vv, float *vh, int *idx) {
    int ni = 0;
    for (int i = 0; i < w->n; i++) // objects reaching into the tile (blobs fade within 40 px)
        if (w->o[i].c > x0 - 40 && w->o[i].c < x0 + tw + 40 && w->o[i].r > y0 - 40 && w->o[i].r < y0 + th + 40) idx[ni++] = i;
    for (int y = 0; y < th; y++) {
        int yy = y0 + y;
        double cy = coast(w, yy), ey = edge(w, yy);
        for (int x = 0; x < tw; x++) {
            int xx = x0 + x;
            size_t p = (size_t)y * tw + x;
            if (xx >= w->W || yy >= w->H || xx >= ey) { vv[p] = vh[p] = -32768.0f; continue; }
            double bg;
            if (xx < cy) bg = -8 + 6 * (vnoise(w->seed, 11, xx, yy, 24) - 0.5) + 3 * (vnoise(w->seed, 12, xx, yy, 5) - 0.5);
            else bg = -21 + 2.5 * (vnoise(w->seed, 13, xx, yy, 300) - 0.5);
            for (int b = 0; b < 2; b++) {
                double s = pow(10, (bg - (b ? 7.5 : 0)) / 10), sp = 0;
                for (int k = 0; k < 4; k++) sp -= log(hash01(w->seed, 20 + 4 * b + k, xx, yy)); // 4-look speckle
                double v = s * sp / 4 + (ni ? objects(w, idx, ni, b, xx, yy) : 0);
                (b ? vh : vv)[p] = (float)(10 * log10(fmax(v, 1e-6)));
            }
        }
    }
}

static int write_rasters(const world *w, const char *dir, const char *id, const xt_world_opts *o) {
    char sd[4200], path[2][4300];
    snprintf(sd, sizeof sd, "%s/%s", dir, id);
    if (xt_mkdir_p(sd, "make-scene")) return -1;
    const char *nm[2] = {"VV_dB.tif", "VH_dB.tif"};
    xt_tiff_writer *tw[2] = {0};
    const int T = 256;
    xt_tiff_opts to = {.width = w->W, .height = w->H, .bands = 1, .sample = XT_S_F32, .tile_w = T, .tile_h = T,
                       .compression = o->compression, .geo = o->geo, .has_nodata = 1, .nodata = -32768};
    float *buf = xt_malloc_checked((size_t)2 * T * T * sizeof(float), "scene tile");
    int *idx = xt_malloc_checked((size_t)(w->n + 1) * sizeof(int), "scene objects"), rc = -1;
    if (!buf || !idx) goto done;
    for (int b = 0; b < 2; b++) {
        snprintf(path[b], sizeof path[b], "%.4180s/%s", sd, nm[b]);
        const char *desc[1] = {b ? "VH (dB)" : "VV (dB)"}; // as GDAL shows the dataset's own files' bands
        to.band_desc = desc;
        if (!(tw[b] = xt_tiff_writer_open(path[b], &to))) goto done; // PATH.part until closed
    }
    for (int ty = 0; ty * T < w->H; ty++)
        for (int tx = 0; tx * T < w->W; tx++) {
            tile(w, tx * T, ty * T, T, T, buf, buf + (size_t)T * T, idx);
            if (xt_tiff_writer_tile(tw[0], tx, ty, buf) || xt_tiff_writer_tile(tw[1], tx, ty, buf + (size_t)T * T)) goto done;
        }
    for (int b = 0; b < 2; b++) {
        int e = xt_tiff_writer_close(tw[b]);
        tw[b] = NULL;
        if (e) goto done;
    }
    rc = 0;
done:
    for (int b = 0; b < 2; b++)
        if (tw[b]) xt_tiff_writer_abort(tw[b]);
    free(buf), free(idx);
    return rc;
}

static int write_shore(const world *w, const char *dir, const char *id, xt_npy_contours *ct) {
    char path[4300];
    snprintf(path, sizeof path, "%s/shoreline/%s_shoreline.npy", dir, id);
    ct->n = 1, ct->total = w->H;
    ct->len = xt_xmalloc(sizeof *ct->len);
    ct->len[0] = w->H;
    ct->pts = xt_xmalloc((size_t)w->H * 2 * sizeof(double));
    for (int y = 0; y < w->H; y++) ct->pts[2 * y] = y, ct->pts[2 * y + 1] = coast(w, y);
    return xt_npy_write_contours(path, ct);
}

static void write_labels(FILE *f, const world *w, const char *id, const xt_npy_contours *ct, const xt_georef *g) {
    for (int i = 0; i < w->n; i++) {
        const wobj *o = &w->o[i];
        if (o->kind == W_PORT) continue; // harbours are scenery, not labels (DIR/ports.csv)
        double best = 1e30, x, y, lon = NAN, lat = NAN;
        for (int64_t k = 0; k < ct->total; k++) {
            double d = hypot(ct->pts[2 * k] - o->r, ct->pts[2 * k + 1] - o->c);
            if (d < best) best = d;
        }
        xt_georef_apply(g, o->c + 0.5, o->r + 0.5, &x, &y);
        if (!xt_georef_lonlat(g, x, y, &lon, &lat)) lon = lat = NAN;
        int half = o->kind == W_INFRA ? 3 : (int)ceil(o->len_m / 20) + 1;
        char len[32] = "", fish[8] = "";
        if (o->kind != W_INFRA) {
            snprintf(len, sizeof len, "%.1f", o->len_m);
            snprintf(fish, sizeof fish, "%s", o->kind == W_FISHING ? "True" : "False");
        }
        fprintf(f, "%.6f,%.6f,%s,synthetic,%d,%d,%s,%s,%.3f,%s,%s,%d,%d,%d,%d,%s_%05d\n", lat, lon, len, o->r, o->c,
                o->kind == W_INFRA ? "False" : "True", fish, best * 10 / 1000, id, o->kind == W_INFRA ? "MEDIUM" : "HIGH",
                o->r - half, o->c - half, o->r + half, o->c + half, id, i);
    }
}

int xt_world_write(const char *dir, const xt_world_opts *o, char (*ids)[32]) {
    if (o->width < 512 || o->height < 512 || o->width > (1 << 20) || o->height > (1 << 20))
        return xt_error("make-scene", "size %dx%d: each side in [512, 1048576]", o->width, o->height);
    if (o->scenes < 1 || o->scenes > 100000) return xt_error("make-scene", "%d scenes: 1 to 100000", o->scenes);
    char sub[4200], path[4300];
    if (xt_mkdir_p(dir, "make-scene")) return -1;
    snprintf(sub, sizeof sub, "%s/shoreline", dir);
    if (xt_mkdir_p(sub, "make-scene")) return -1;
    xt_georef g = {0};
    if (o->geo) { if (xt_georef_copy(&g, o->geo)) return -1; }
    else if (xt_georef_simple(&g, 32633, 400000, 4700000, 10)) return -1;
    xt_world_opts oo = *o;
    oo.geo = &g;
    snprintf(path, sizeof path, "%s/labels.csv", dir);
    FILE *f = xt_part_fopen(path, "make-scene"), *fp = NULL; // PATH.part until complete
    char ppath[4300];
    snprintf(ppath, sizeof ppath, "%s/ports.csv", dir);
    if (f && o->rule == XT_WORLD_PORTS && (fp = xt_part_fopen(ppath, "make-scene"))) fprintf(fp, "scene_id,row,col\n");
    if (!f || (o->rule == XT_WORLD_PORTS && !fp)) {
        if (f) xt_part_fclose(f, path, 0, "make-scene");
        xt_georef_free(&g);
        return -1;
    }
    fprintf(f, "detect_lat,detect_lon,vessel_length_m,source,detect_scene_row,detect_scene_column,is_vessel,is_fishing,"
               "distance_from_shore_km,scene_id,confidence,top,left,bottom,right,detect_id\n");
    int rc = -1;
    for (int s = 0; s < o->scenes; s++) {
        uint64_t rng = xt_rng_mix(o->seed * 0x2545F4914F6CDD1Dull + (uint64_t)s + 1);
        char id[32];
        snprintf(id, sizeof id, "%016llxv", (unsigned long long)xt_rng_mix(rng ^ 0x5CE7E));
        if (ids) memcpy(ids[s], id, sizeof id);
        world w = {0};
        w.W = o->width, w.H = o->height, w.seed = xt_rng_mix(rng ^ 0xB00);
        w.c0 = o->width * (0.04 + 0.06 * xt_rng_u01(&rng));
        w.a1 = 20 + 40 * xt_rng_u01(&rng), w.l1 = 400 + 500 * xt_rng_u01(&rng), w.p1 = 2 * M_PI * xt_rng_u01(&rng);
        w.a2 = 5 + 10 * xt_rng_u01(&rng), w.l2 = 60 + 80 * xt_rng_u01(&rng), w.p2 = 2 * M_PI * xt_rng_u01(&rng);
        w.e0 = fmax(12, 0.02 * o->width), w.ep = 2 * M_PI * xt_rng_u01(&rng);
        double density = o->density > 0 ? o->density : 1.0;
        if (o->rule == XT_WORLD_PORTS) place_ports(&w, &rng, density, o->port_gap > 0 ? o->port_gap : 320);
        else if (o->rule == XT_WORLD_GROUNDS) place_grounds(&w, &rng, density, o->port_gap > 0 ? o->port_gap : 600);
        else if (o->rule == XT_WORLD_LANES) place_lanes(&w, &rng, density, o->port_gap > 0 ? o->port_gap : 400);
        else place(&w, &rng, density);
        for (int i = 0; fp && i < w.n; i++)
            if (w.o[i].kind == W_PORT) fprintf(fp, "%s,%d,%d\n", id, w.o[i].r, w.o[i].c);
        xt_npy_contours ct = {0};
        int e = write_rasters(&w, dir, id, &oo) || write_shore(&w, dir, id, &ct);
        if (!e) write_labels(f, &w, id, &ct, &g);
        xt_npy_contours_free(&ct);
        free(w.o);
        if (e) goto done;
    }
    rc = 0;
done:
    if (xt_part_fclose(f, path, rc == 0, "make-scene")) rc = -1;
    if (fp && xt_part_fclose(fp, ppath, rc == 0, "make-scene")) rc = -1;
    xt_georef_free(&g);
    return rc;
}
