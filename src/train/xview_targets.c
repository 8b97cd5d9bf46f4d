// xview_targets.c — the xView3 training targets as the official XviewDataset.__getitem__ paints
// them (xT 390372a, gigaformer/datasets/xview3.py), and its 180° rotation.
//
// Per labelled point strictly inside the crop (h_start < row < h_end, w_start < col < w_end), in
// the label file's order (later discs overwrite earlier ones):
//   center:  max with a Gaussian (sigma 2, a 6 sigma + 3 = 15 px window centred at the point),
//            float64 exp stored in float32, then x 255 in float32;
//   vessel:  cv2.circle filled, radius 4 with 1 (is_vessel) / 0 (not), radius 7 with 255 (unknown);
//   fishing: 0 if the vessel class is 0; else 255 (radius 7) if unknown, else 1 / 0 (radius 4);
//   length:  -1 everywhere, then a disc of the length (radius 4 if length > 0, else 7; an unknown
//            length paints -1 with radius 7).
// cv2.circle with thickness -1, LINE_8 and shift 0 is OpenCV's midpoint Circle(): rows cy ± dy span
// cx ± dx and rows cy ± dx span cx ± dy for every (dx, dy) the midpoint walk visits, clipped to the
// image. xt_xview_disc_halfwidth replays that walk.
#include <math.h>
#include <string.h>

#include "train/train.h"

// hw[d] (d = 0..r): the half-width of the filled disc on the row d away from the centre.
void xt_xview_disc_halfwidth(int r, int *hw) {
    for (int d = 0; d <= r; d++) hw[d] = -1;
    int err = 0, dx = r, dy = 0, plus = 1, minus = (r << 1) - 1; // ref: opencv imgproc/src/drawing.cpp Circle
    while (dx >= dy) {
        if (hw[dy] < dx) hw[dy] = dx;
        if (hw[dx] < dy) hw[dx] = dy;
        dy++;
        err += plus;
        plus += 2;
        int mask = (err <= 0) - 1;
        err -= minus & mask;
        dx += mask;
        minus -= mask & 2;
    }
}

static void disc(float *m, int H, int W, int cy, int cx, int r, float v) {
    int hw[16];
    XT_ASSERT(r >= 0 && r < 16);
    xt_xview_disc_halfwidth(r, hw);
    for (int d = -r; d <= r; d++) {
        int y = cy + d, h = hw[d < 0 ? -d : d];
        if (y < 0 || y >= H || h < 0) continue;
        int x0 = cx - h < 0 ? 0 : cx - h, x1 = cx + h >= W ? W - 1 : cx + h;
        for (int x = x0; x <= x1; x++) m[(size_t)y * W + x] = v;
    }
}

void xt_xview_paint_targets(float *const *tgt, int H, int W, int64_t y0, int64_t x0, const xt_xview_point *pts,
                            int64_t n) {
    enum { SIGMA = 2, RADIUS = 4, GS = 6 * SIGMA + 3 };
    float *vessel = tgt[0], *fishing = tgt[1], *center = tgt[2], *length = tgt[3];
    size_t np = (size_t)H * W;
    memset(vessel, 0, np * sizeof(float));
    memset(fishing, 0, np * sizeof(float));
    memset(center, 0, np * sizeof(float));
    for (size_t i = 0; i < np; i++) length[i] = -1.0f;
    float g[GS][GS]; // np.exp(-((x - x0)^2 + (y - y0)^2) / (2 sigma^2)) in float64, stored as float32
    for (int a = 0; a < GS; a++)
        for (int b = 0; b < GS; b++) {
            double dy = a - (3 * SIGMA + 1), dx = b - (3 * SIGMA + 1);
            g[a][b] = (float)exp(-(dx * dx + dy * dy) / (2.0 * SIGMA * SIGMA));
        }
    for (int64_t k = 0; k < n; k++) {
        const xt_xview_point *p = &pts[k];
        if (!(y0 < p->row && p->row < y0 + H && x0 < p->col && p->col < x0 + W)) continue;
        int y = (int)(p->row - y0), x = (int)(p->col - x0);
        // center: ul = (x - 3 sigma - 1, y - 3 sigma - 1), the window clipped to the crop
        int ux = x - 3 * SIGMA - 1, uy = y - 3 * SIGMA - 1;
        for (int a = 0; a < GS; a++) {
            int yy = uy + a;
            if (yy < 0 || yy >= H) continue;
            for (int b = 0; b < GS; b++) {
                int xx = ux + b;
                if (xx < 0 || xx >= W) continue;
                float *c = &center[(size_t)yy * W + xx];
                if (g[a][b] > *c) *c = g[a][b];
            }
        }
        int vcls = isnan(p->is_vessel) ? 255 : p->is_vessel != 0;
        int fcls = vcls == 0 ? 0 : isnan(p->is_fishing) ? 255 : p->is_fishing != 0;
        disc(vessel, H, W, y, x, vcls < 200 ? RADIUS : 7, (float)vcls);
        disc(fishing, H, W, y, x, fcls < 200 ? RADIUS : 7, (float)fcls);
        double len = isnan(p->length) ? -1.0 : p->length;
        disc(length, H, W, y, x, len > 0 ? RADIUS : 7, (float)len);
    }
    for (size_t i = 0; i < np; i++) center[i] *= 255.0f; // torch float32 x 255
}

void xt_xview_rot180(float *x, int C, int H, int W) {
    size_t n = (size_t)H * W;
    for (int c = 0; c < C; c++) {
        float *p = x + (size_t)c * n;
        for (size_t i = 0, j = n - 1; i < j; i++, j--) {
            float t = p[i];
            p[i] = p[j];
            p[j] = t;
        }
    }
}
