// xview_csv.c — the xView3 prediction CSV as xT's evaluator writes it (golden README section C):
// the 6 official columns, booleans True/False, integer row and column, and the length as the
// text the evaluator's two pandas steps leave (numpy's float16 repr, re-read, Python's repr).
#include <math.h>
#include <string.h>

#include "formats/safetensors.h"
#include "run/xview.h"

// double -> float16, round to nearest even in one step (no double rounding through float)
static uint16_t f64_to_f16(double v) {
    uint16_t sign = signbit(v) ? 0x8000 : 0;
    double a = fabs(v);
    if (a != a) return 0x7e00;
    if (a >= 65520.0) return sign | 0x7c00;
    if (a < 0x1p-14) return (uint16_t)(sign | (uint16_t)rint(a * 0x1p24)); // subnormal units of 2^-24
    int e;
    frexp(a, &e);                            // a in [2^(e-1), 2^e)
    double m = rint(ldexp(a, 11 - e));       // 10 fraction bits: [1024, 2048]
    int E = e - 1;
    if (m == 2048) m = 1024, E++;
    if (E > 15) return sign | 0x7c00;
    return (uint16_t)(sign | (E + 15) << 10 | ((int)m - 1024));
}

char *xt_xview_fmt_length(char *buf, uint16_t h) {
    float f = xt_f16_to_f32(h);
    if (f != f) { // pandas writes NaN as an empty cell
        buf[0] = 0;
        return buf;
    }
    char e[40];
    double d = f;
    if (!isinf(f))
        for (int p = 1; p <= 17; p++) { // numpy's shortest digits that read back as the same float16
            snprintf(e, sizeof e, "%.*e", p - 1, (double)f);
            d = strtod(e, NULL);
            if (f64_to_f16(d) == h) break;
        }
    return xt_fmt_pyfloat(buf, d); // pandas re-reads that text as a double and writes repr()
}

void xt_xview_csv_header(xt_sbuf *s) {
    xt_sbuf_printf(s, "detect_scene_row,detect_scene_column,scene_id,is_vessel,is_fishing,vessel_length_m\n");
}

// pandas' QUOTE_MINIMAL: quoted only if it holds a comma, a quote or a line break
static void put_field(xt_sbuf *s, const char *t) {
    if (!strpbrk(t, ",\"\n\r")) {
        xt_sbuf_printf(s, "%s", t);
        return;
    }
    xt_sbuf_printf(s, "\"");
    for (; *t; t++) {
        if (*t == '"') xt_sbuf_printf(s, "\"\"");
        else xt_sbuf_printf(s, "%c", *t);
    }
    xt_sbuf_printf(s, "\"");
}

void xt_xview_csv_rows(xt_sbuf *s, const char *scene_id, const xt_xview_det *d, int64_t n) {
    char len[32];
    for (int64_t i = 0; i < n; i++) {
        xt_sbuf_printf(s, "%lld,%lld,", (long long)d[i].row, (long long)d[i].col);
        put_field(s, scene_id);
        xt_sbuf_printf(s, ",%s,%s,%s\n", d[i].is_vessel ? "True" : "False", d[i].is_fishing ? "True" : "False",
                       xt_xview_fmt_length(len, d[i].length_f16));
    }
}
