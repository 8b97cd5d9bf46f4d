// test_class_map.c — `xt classify --map` through the library (run/class_map.h): the map's values
// equal each region classified on its own (the region cut out, normalised and streamed as an
// in-memory one-region image), NoData where a region is all NoData (the file's own GDAL_NODATA,
// used without --nodata), the GeoTIFF's tags read back (size, NoData, band descriptions,
// georeferencing scaled by the region size, GCPs), a failed map leaves no file, and the
// GDAL-metadata XML round trip of the writer and reader.
#include <unistd.h>

#include "check.h"
#include "run/class_map.h"

static const char *scratch(const char *name) {
    static char buf[4][512];
    static int k;
    const char *d = getenv("BUILD");
    k = (k + 1) & 3;
    snprintf(buf[k], sizeof buf[k], "%s/tests/map_%s", d ? d : "build", name);
    return buf[k];
}

static int on_row(void *u, int rr, const float *logits, const uint8_t *valid) { return xt_class_map_row(u, rr, logits, valid); }

// An f32 3-band image W x H, georeferenced; region (1, 0) entirely NoData (-32768, in the file's tag).
static int write_input(const char *path, int W, int H, int S, int gcps) {
    xt_georef g;
    xt_georef_simple(&g, 32633, 500000, 4500000, 10);
    if (gcps) { // GCPs instead of a geotransform
        g.has_transform = 0;
        g.n_gcps = 3;
        g.gcps = malloc(sizeof(double) * 18);
        double p[18] = {0, 0, 0, 500000, 4500000, 0, W, 0, 0, 500000 + 10.0 * W, 4500000, 0, 0, H, 0, 500000, 4500000 - 10.0 * H, 0};
        memcpy(g.gcps, p, sizeof p);
    }
    xt_tiff_opts o = {.width = W, .height = H, .bands = 3, .sample = XT_S_F32, .tile_w = 64, .tile_h = 64, .geo = &g,
                      .has_nodata = 1, .nodata = -32768};
    xt_tiff_writer *w = xt_tiff_writer_open(path, &o);
    float *row = malloc(sizeof(float) * 3 * W);
    int rc = w ? 0 : -1;
    for (int y = 0; y < H && !rc; y++) {
        for (int c = 0; c < 3; c++)
            for (int x = 0; x < W; x++) {
                float v = (float)xt_synth_value(7, c, x, y, XT_S_U8) / 255.0f;
                if (y >= S && y < 2 * S && x < S) v = -32768;
                row[(size_t)c * W + x] = v;
            }
        rc = xt_tiff_writer_rows(w, row, 1);
    }
    free(row);
    xt_georef_free(&g);
    if (rc) { if (w) xt_tiff_writer_abort(w); return -1; }
    return xt_tiff_writer_close(w);
}

static void check_map(const char *model, int top) {
    const char *img = scratch("in.tif"), *tif = scratch("m.tif"), *gj = scratch("m.geojson"), *png = scratch("m.png");
    unlink(tif);
    xt_stream_args a;
    xt_stream_args_default(&a);
    a.model = model, a.image = img, a.threads = 1, a.region_logits = on_row;
    a.mean[0] = a.mean[1] = a.mean[2] = 0, a.n_mean = 3; // f32 input: scale 1
    a.std[0] = a.std[1] = a.std[2] = 1, a.n_std = 3;
    xt_stream s;
    CHECK(xt_stream_open(&s, &a) == 0);
    const int K = s.mi->num_classes, S = s.S, HP = s.HP, WP = s.WP, C = s.mi->in_chans;
    CHECK(s.norm.has_nodata && s.norm.nodata == -32768); // the file's GDAL_NODATA, no --nodata given
    const char *meta[] = {"XT_TEST", "1", NULL};
    xt_class_map_opts mo = {tif, gj, png, top, NULL, meta, NULL, 0};
    xt_class_map *cm = xt_class_map_open(&s, &mo);
    CHECK(cm != NULL);
    s.a.region_user = cm;
    float *logits = malloc(sizeof(float) * K);
    CHECK(xt_stream_classify(&s, logits) == 0);
    CHECK(access(tif, F_OK) != 0); // still PATH.part
    CHECK(xt_class_map_close(cm, &s) == 0);
    CHECK(access(tif, F_OK) == 0 && access(gj, F_OK) == 0 && access(png, F_OK) == 0);
    char part[600];
    snprintf(part, sizeof part, "%s.part", tif);
    CHECK(access(part, F_OK) != 0);
    // read the map back
    xt_raster *r = xt_raster_open(tif);
    CHECK(r != NULL);
    if (!r) { xt_stream_close(&s); free(logits); return; }
    const xt_raster_info *in = xt_raster_get_info(r);
    int nb = top ? 2 * top : K;
    CHECK(in->width == WP && in->height == HP && in->bands == nb && in->sample == XT_S_F32);
    CHECK(in->has_nodata && isnan(in->nodata));
    CHECK(in->band_desc && in->band_desc[0] && !strcmp(in->band_desc[0], top ? "top1 class" : "class 0"));
    CHECK(in->geo.has_transform && in->geo.epsg == 32633 && in->geo.gt[1] == 10.0 * S && in->geo.gt[5] == -10.0 * S &&
          in->geo.gt[0] == 500000 && in->geo.gt[3] == 4500000);
    float *map = malloc(sizeof(float) * nb * HP * WP);
    CHECK(xt_raster_read_rect(r, xt_rect_make(0, 0, WP, HP), NULL, nb, 0, map) == 0);
    xt_raster_close(r);
    // each region on its own: read + normalised exactly as the stream does, then a one-region image
    xt_xtfile f;
    CHECK(xt_xtfile_load(&f, model, NULL) == 0);
    xt_raster *ir = xt_raster_open(img);
    float *reg = malloc(sizeof(float) * C * S * S), *one = malloc(sizeof(float) * K), *want = malloc(sizeof(float) * nb * HP * WP);
    for (int rr = 0; rr < HP; rr++)
        for (int rc = 0; rc < WP; rc++) {
            int64_t nv = 0;
            CHECK(xt_raster_read_norm_valid(ir, xt_rect_make(rc * S, rr * S, S, S), s.bands, &s.norm, reg, &nv) == 0);
            xt_stream one_s;
            xt_stream_args b = a;
            b.region_logits = NULL;
            CHECK(xt_stream_open_array(&one_s, &f, reg, C, S, S, &b) == 0 && xt_stream_classify(&one_s, one) == 0);
            xt_stream_close(&one_s);
            double mx = -INFINITY, sum = 0, p[64];
            for (int k = 0; k < K; k++) mx = one[k] > mx ? one[k] : mx;
            for (int k = 0; k < K; k++) sum += p[k] = exp(one[k] - mx);
            int best = 0;
            for (int k = 0; k < K; k++) best = p[k] > p[best] ? k : best;
            for (int b2 = 0; b2 < nb; b2++) {
                float v = top ? (b2 == 0 ? (float)best : b2 == 1 ? (float)(p[best] / sum) : map[((size_t)b2 * HP + rr) * WP + rc])
                              : (float)(p[b2] / sum);
                want[((size_t)b2 * HP + rr) * WP + rc] = nv ? v : NAN;
            }
        }
    // NaN where the region is all NoData (region (1, 0)), in both
    int nan_ok = 1;
    for (int b2 = 0; b2 < nb; b2++)
        for (int i = 0; i < HP * WP; i++) {
            size_t j = (size_t)b2 * HP * WP + i;
            int expect_nan = i == WP; // row 1, column 0
            nan_ok &= isnan(map[j]) == expect_nan && isnan(want[j]) == expect_nan;
            if (expect_nan) map[j] = want[j] = 0;
        }
    CHECK(nan_ok);
    CHECK_CLOSE(map, want, (long)nb * HP * WP, 1e-5, 1e-5, "map vs regions one by one");
    // GeoJSON: one feature per region (parsed by tests/cli_maps.sh), the NoData one with a null class
    size_t n = 0;
    char *text = xt_read_file(gj, 1 << 24, &n, "test");
    int feats = 0;
    for (char *q = text; q && (q = strstr(q, "\"Feature\"")); q++) feats++;
    CHECK(feats == HP * WP);
    CHECK(text && strstr(text, "\"row\":1,\"col\":0,\"class\":null"));
    free(text);
    xt_raster_close(ir);
    xt_xtfile_free(&f);
    free(reg), free(one), free(want), free(map), free(logits);
    xt_stream_close(&s);
}

// The map of a GCP-referenced input carries the GCPs, pixel positions divided by the region size.
static void check_gcps(const char *model) {
    const char *img = scratch("gcp.tif"), *tif = scratch("gcp_map.tif");
    CHECK(write_input(img, 600, 520, 256, 1) == 0);
    xt_stream_args a;
    xt_stream_args_default(&a);
    a.model = model, a.image = img, a.threads = 1, a.region_logits = on_row;
    xt_stream s;
    CHECK(xt_stream_open(&s, &a) == 0);
    CHECK(s.ri->geo.n_gcps == 3 && !s.ri->geo.has_transform);
    xt_class_map_opts mo = {tif, NULL, NULL, 1, NULL, NULL, NULL, 0};
    xt_class_map *cm = xt_class_map_open(&s, &mo);
    s.a.region_user = cm;
    float logits[64];
    CHECK(cm && xt_stream_classify(&s, logits) == 0 && xt_class_map_close(cm, &s) == 0);
    xt_stream_close(&s);
    xt_raster *r = xt_raster_open(tif);
    CHECK(r != NULL);
    if (r) {
        const xt_georef *g = &xt_raster_get_info(r)->geo;
        CHECK(g->n_gcps == 3 && g->epsg == 32633 && fabs(g->gcps[6] - 600.0 / 256) < 1e-12 && g->gcps[9] == 506000 &&
              fabs(g->gcps[13] - 520.0 / 256) < 1e-12);
        xt_raster_close(r);
    }
}

// xl head, global context: per-region values are the classifier on each region's mean
// context-encoded token (they depend on the whole image, so no one-region reference): every
// valid region's probabilities sum to 1, the all-NoData region is NaN; a windowed model refuses.
static void check_xl(const char *model, const char *windowed) {
    const char *img = scratch("in.tif"), *tif = scratch("xl.tif");
    xt_stream_args a;
    xt_stream_args_default(&a);
    a.model = model, a.image = img, a.threads = 1, a.region_logits = on_row;
    xt_stream s;
    CHECK(xt_stream_open(&s, &a) == 0);
    xt_class_map_opts mo = {tif, NULL, NULL, 0, NULL, NULL, NULL, 0};
    xt_class_map *cm = xt_class_map_open(&s, &mo);
    s.a.region_user = cm;
    float logits[64];
    CHECK(cm && xt_stream_classify(&s, logits) == 0 && xt_class_map_close(cm, &s) == 0);
    int K = s.mi->num_classes, HP = s.HP, WP = s.WP, S = s.S;
    xt_stream_close(&s);
    xt_raster *r = xt_raster_open(tif);
    CHECK(r != NULL);
    if (r) {
        float *map = malloc(sizeof(float) * K * HP * WP);
        CHECK(xt_raster_read_rect(r, xt_rect_make(0, 0, WP, HP), NULL, K, 0, map) == 0);
        int ok = 1, n_nan = 0;
        for (int i = 0; i < HP * WP; i++) {
            int y0 = i / WP * S, x0 = i % WP * S, in_box = y0 >= 256 && y0 + S <= 512 && x0 + S <= 256; // the NoData box
            double sum = 0;
            for (int k = 0; k < K; k++) sum += map[(size_t)k * HP * WP + i];
            ok &= in_box ? isnan(sum) : fabs(sum - 1) < 1e-5;
            n_nan += in_box;
        }
        CHECK(n_nan > 0);
        CHECK(ok);
        free(map);
        xt_raster_close(r);
    }
    a.model = windowed;
    CHECK(xt_stream_open(&s, &a) == 0);
    CHECK(xt_stream_classify(&s, logits) < 0 && strstr(xt_error_buffer(), "windowed context"));
    xt_stream_close(&s);
}

// A map that fails half-way (the abort path) leaves neither the file nor PATH.part.
static void check_abort(void) {
    const char *p = scratch("abort.tif");
    char part[600];
    snprintf(part, sizeof part, "%s.part", p);
    xt_tiff_opts o = {.width = 32, .height = 32, .bands = 1, .sample = XT_S_F32, .tile_w = 16, .tile_h = 16};
    xt_tiff_writer *w = xt_tiff_writer_open(p, &o);
    float row[32] = {0};
    CHECK(w && xt_tiff_writer_rows(w, row, 1) == 0);
    CHECK(access(part, F_OK) == 0 && access(p, F_OK) != 0);
    xt_tiff_writer_abort(w);
    CHECK(access(part, F_OK) != 0 && access(p, F_OK) != 0);
    // closing an incomplete image is an error and leaves nothing either
    w = xt_tiff_writer_open(p, &o);
    CHECK(w && xt_tiff_writer_rows(w, row, 1) == 0 && xt_tiff_writer_close(w) < 0);
    CHECK(access(part, F_OK) != 0 && access(p, F_OK) != 0);
}

// GDAL_METADATA: what the writer makes, the reader's band descriptions (entities decoded).
static void check_xml(void) {
    const char *desc[3] = {"a<b", NULL, "x & \"y\""}, *meta[] = {"K", "v>1", NULL};
    char *x = xt_gdal_metadata_xml(3, desc, meta);
    CHECK(x && strstr(x, "<Item name=\"K\">v&gt;1</Item>") && strstr(x, "sample=\"2\" role=\"description\">x &amp; &quot;y&quot;<"));
    CHECK(x && !strstr(x, "sample=\"1\""));
    free(x);
    CHECK(xt_gdal_metadata_xml(3, NULL, NULL) == NULL);
    const char *p = scratch("xml.tif");
    xt_tiff_opts o = {.width = 16, .height = 16, .bands = 3, .sample = XT_S_F32, .tile_w = 16, .tile_h = 16, .band_desc = desc,
                      .meta = meta, .has_nodata = 1, .nodata = -9999.5};
    xt_tiff_writer *w = xt_tiff_writer_open(p, &o);
    float px[3 * 16 * 16] = {0};
    CHECK(w && xt_tiff_writer_rows(w, px, 16) == 0 && xt_tiff_writer_close(w) == 0);
    xt_raster *r = xt_raster_open(p);
    CHECK(r != NULL);
    if (r) {
        const xt_raster_info *in = xt_raster_get_info(r);
        CHECK(in->has_nodata && in->nodata == -9999.5);
        CHECK(in->band_desc && !strcmp(in->band_desc[0], "a<b") && !in->band_desc[1] && !strcmp(in->band_desc[2], "x & \"y\""));
        xt_raster_close(r);
    }
}

int main(void) {
    char cmd[600];
    snprintf(cmd, sizeof cmd, "mkdir -p %s", scratch(""));
    *strrchr(cmd, '/') = 0;
    CHECK(system(cmd) == 0);
    const char *naive = golden("xt_cls_naive.safetensors"), *xl = golden("xt_cls_xl.safetensors");
    CHECK(write_input(scratch("in.tif"), 700, 600, 256, 0) == 0); // 3 x 3 regions, partial edges
    check_map(naive, 0);
    check_map(naive, 2);
    check_xl(xl, golden("xt_cls_xl_incontext.safetensors"));
    check_gcps(naive);
    check_abort();
    check_xml();
    return check_summary("class_map");
}
