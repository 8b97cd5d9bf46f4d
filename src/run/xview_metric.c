// xview_metric.c — the xView3 leaderboard metric (golden README section D): reference/metric.py
// (DIUx-xView/xview3-reference 5ea1034; identical logic in xT's and selimsef's copies) with its
// flags --distance_tolerance, --shore_tolerance, --shore_root, --drop_low_detect, --costly_dist,
// --score_all, evaluated in the same order with the same float operations, so every score is
// the official double. Its quirks are kept (README "Quirks" 1-11): unscored scenes, the LOW pass
// as a full Hungarian, exact-200 m pairs costing 200, shore distances to contour points with
// zero excluded, the integer 0 of a caught ZeroDivisionError. Where the official code raises, this
// returns -1 with a message that says so.
#include <errno.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>

#include "formats/npy.h"
#include "run/xview.h"

#define PIX_TO_M 10            // reference/constants.py
#define MAX_OBJECT_LENGTH_M 500
#define COSTLY 99999990.0      // 9999999 * PIX_TO_M

xt_xview_score_opts xt_xview_score_default_opts(void) {
    return (xt_xview_score_opts){.distance_tolerance = 200, .shore_tolerance = 2, .shore_root = NULL,
                                 .drop_low_detect = 1, .costly_dist = 1, .score_all = 0};
}

// ---------------------------------------------------------------------------------------------
// scipy.optimize.linear_sum_assignment (scipy 1.10.1 rectangular_lsap.cpp, BSD-3, by PM Larsen;
// Crouse's shortest augmenting path). Ported line for line: the tie-breaking (remaining filled in
// reverse, a free column wins at equal cost) and the float operation order decide which of
// several optimal assignments comes out, and the scores depend on it (p15_hungarian_ties).

static int64_t augmenting_path(int64_t nc, const double *cost, double *u, double *v, int64_t *path, const int64_t *row4col,
                               double *spc, int64_t i, char *SR, char *SC, int64_t *remaining, double *p_minVal, int64_t nr) {
    if (nc <= 0 || nr <= 0) return -1;
    double minVal = 0;
    int64_t num_remaining = nc;
    for (int64_t it = 0; it < nc; it++) remaining[it] = nc - it - 1; // a constant matrix gives the identity
    memset(SR, 0, (size_t)nr);
    memset(SC, 0, (size_t)nc);
    for (int64_t j = 0; j < nc; j++) spc[j] = INFINITY;
    int64_t sink = -1;
    while (sink == -1) {
        int64_t index = -1;
        double lowest = INFINITY;
        SR[i] = 1;
        for (int64_t it = 0; it < num_remaining; it++) {
            int64_t j = remaining[it];
            double r = minVal + cost[i * nc + j] - u[i] - v[j];
            if (r < spc[j]) {
                path[j] = i;
                spc[j] = r;
            }
            // at equal cost a column that ends the path (a free one) wins
            if (spc[j] < lowest || (spc[j] == lowest && row4col[j] == -1)) {
                lowest = spc[j];
                index = it;
            }
        }
        minVal = lowest;
        if (minVal == INFINITY || index < 0) return -1; // infeasible
        int64_t j = remaining[index];
        if (row4col[j] == -1) sink = j;
        else i = row4col[j];
        SC[j] = 1;
        remaining[index] = remaining[--num_remaining];
    }
    *p_minVal = minVal;
    return sink;
}

static const double *lsap_key;
static int by_key(const void *a, const void *b) {
    double x = lsap_key[*(const int64_t *)a], y = lsap_key[*(const int64_t *)b];
    return x < y ? -1 : x > y;
}

int xt_lsap(const double *cost, int64_t nr, int64_t nc, int64_t *rows, int64_t *cols) {
    if (nr <= 0 || nc <= 0) return 0;
    const int transpose = nc < nr; // a tall matrix is solved transposed
    double *tmp = NULL;
    if (transpose) {
        tmp = xt_malloc_checked((size_t)nr * (size_t)nc * sizeof *tmp, "assignment matrix");
        if (!tmp) return -1;
        for (int64_t i = 0; i < nr; i++)
            for (int64_t j = 0; j < nc; j++) tmp[j * nr + i] = cost[i * nc + j];
        int64_t t = nr;
        nr = nc;
        nc = t;
        cost = tmp;
    }
    for (int64_t i = 0; i < nr * nc; i++)
        if (cost[i] != cost[i] || cost[i] == -INFINITY) {
            free(tmp);
            return xt_error("assignment", "the cost matrix contains NaN or -inf (scipy: invalid numeric entries)");
        }
    double *u = xt_xcalloc((size_t)nr, sizeof *u), *v = xt_xcalloc((size_t)nc, sizeof *v);
    double *spc = xt_xmalloc((size_t)nc * sizeof *spc);
    int64_t *path = xt_xmalloc((size_t)nc * sizeof *path), *col4row = xt_xmalloc((size_t)nr * sizeof *col4row);
    int64_t *row4col = xt_xmalloc((size_t)nc * sizeof *row4col), *remaining = xt_xmalloc((size_t)nc * sizeof *remaining);
    char *SR = xt_xmalloc((size_t)nr), *SC = xt_xmalloc((size_t)nc);
    int rc = -1;
    for (int64_t j = 0; j < nc; j++) path[j] = row4col[j] = -1;
    for (int64_t i = 0; i < nr; i++) col4row[i] = -1;
    for (int64_t curRow = 0; curRow < nr; curRow++) {
        double minVal;
        int64_t sink = augmenting_path(nc, cost, u, v, path, row4col, spc, curRow, SR, SC, remaining, &minVal, nr);
        if (sink < 0) {
            xt_error("assignment", "the cost matrix is infeasible");
            goto done;
        }
        u[curRow] += minVal; // update dual variables
        for (int64_t i = 0; i < nr; i++)
            if (SR[i] && i != curRow) u[i] += minVal - spc[col4row[i]];
        for (int64_t j = 0; j < nc; j++)
            if (SC[j]) v[j] -= minVal - spc[j];
        int64_t j = sink; // augment the previous solution
        for (;;) {
            int64_t i = path[j];
            row4col[j] = i;
            int64_t t = col4row[i];
            col4row[i] = j;
            j = t;
            if (i == curRow) break;
        }
    }
    if (transpose) { // pairs sorted by the original row (argsort of col4row)
        int64_t *order = xt_xmalloc((size_t)nr * sizeof *order);
        double *key = xt_xmalloc((size_t)nr * sizeof *key);
        for (int64_t i = 0; i < nr; i++) order[i] = i, key[i] = (double)col4row[i];
        lsap_key = key;
        qsort(order, (size_t)nr, sizeof *order, by_key); // the keys are distinct
        for (int64_t k = 0; k < nr; k++) {
            rows[k] = col4row[order[k]];
            cols[k] = order[k];
        }
        free(order);
        free(key);
    } else
        for (int64_t i = 0; i < nr; i++) {
            rows[i] = i;
            cols[i] = col4row[i];
        }
    rc = 0;
done:
    free(u);
    free(v);
    free(spc);
    free(path);
    free(col4row);
    free(row4col);
    free(remaining);
    free(SR);
    free(SC);
    free(tmp);
    return rc;
}

// ---------------------------------------------------------------------------------------------
// tables

typedef struct {
    int64_t n;
    double *row, *col, *vessel, *fishing, *length, *km;
    int *scene;          // interned scene id
    const char **conf;   // labels: the confidence text, NULL if missing
} table;

static void table_free(table *t) {
    free(t->row);
    free(t->col);
    free(t->vessel);
    free(t->fishing);
    free(t->length);
    free(t->km);
    free(t->scene);
    free(t->conf);
}

typedef struct { // scene ids: open addressing over interned strings
    const char **name;
    int n, cap;
    int *slot;
    int nslot;
} scenes;

static uint64_t hash(const char *s) {
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static int intern(scenes *S, const char *s) {
    if (2 * (S->n + 1) > S->nslot) {
        int ns = S->nslot ? 2 * S->nslot : 64;
        int *sl = xt_xmalloc((size_t)ns * sizeof *sl);
        for (int k = 0; k < ns; k++) sl[k] = -1;
        for (int k = 0; k < S->n; k++) {
            uint64_t h = hash(S->name[k]) % (uint64_t)ns;
            while (sl[h] >= 0) h = (h + 1) % (uint64_t)ns;
            sl[h] = k;
        }
        free(S->slot);
        S->slot = sl;
        S->nslot = ns;
    }
    uint64_t h = hash(s) % (uint64_t)S->nslot;
    while (S->slot[h] >= 0) {
        if (!strcmp(S->name[S->slot[h]], s)) return S->slot[h];
        h = (h + 1) % (uint64_t)S->nslot;
    }
    if (S->n == S->cap) {
        S->cap = S->cap ? 2 * S->cap : 64;
        S->name = realloc(S->name, (size_t)S->cap * sizeof *S->name);
        XT_ASSERT(S->name);
    }
    S->name[S->n] = s;
    S->slot[h] = S->n;
    return S->n++;
}

// the error prefix of the column readers: the scorer's, or training's while it reads labels
static _Thread_local const char *who = "xview score";

static int column(const xt_csv *c, const char *name, const char *kind) {
    int k = xt_csv_col(c, name);
    if (k < 0) return xt_error(who, "%s: the %s file has no column '%s'", c->what, kind, name);
    return k;
}

static int num_col(const xt_csv *c, int k, double **out) {
    *out = xt_xmalloc(((size_t)c->n_rows + 1) * sizeof **out);
    for (int64_t r = 0; r < c->n_rows; r++)
        if (xt_csv_num(c, r, k, &(*out)[r])) return -1;
    return 0;
}

// pandas: True/TRUE/true and False/FALSE/false are booleans, a missing cell NaN; a column of
// numbers stays numbers (compared by value, as Python compares 1.0 == True).
static int bool_col(const xt_csv *c, int k, double **out) {
    *out = xt_xmalloc(((size_t)c->n_rows + 1) * sizeof **out);
    int64_t words = 0, nums = 0;
    for (int64_t r = 0; r < c->n_rows; r++) {
        const char *s = xt_csv_at(c, r, k);
        double *o = &(*out)[r];
        if (xt_csv_is_na(s)) *o = NAN;
        else if (!strcmp(s, "True") || !strcmp(s, "TRUE") || !strcmp(s, "true")) *o = 1, words++;
        else if (!strcmp(s, "False") || !strcmp(s, "FALSE") || !strcmp(s, "false")) *o = 0, words++;
        else if (!xt_csv_num(c, r, k, o)) nums++;
        else
            return xt_error(who, "%s: line %lld: column '%s': '%.40s' is not True or False", c->what,
                            (long long)c->line[r], c->head[k], s);
    }
    if (words && nums)
        return xt_error(who, "%s: column '%s' mixes True/False with numbers (pandas would compare them as text)",
                        c->what, c->head[k]);
    return 0;
}

static int scene_col(const xt_csv *c, int k, scenes *S, int **out) {
    *out = xt_xmalloc(((size_t)c->n_rows + 1) * sizeof **out);
    for (int64_t r = 0; r < c->n_rows; r++) {
        const char *s = xt_csv_at(c, r, k);
        if (xt_csv_is_na(s))
            return xt_error(who, "%s: line %lld: empty scene_id", c->what, (long long)c->line[r]);
        (*out)[r] = intern(S, s);
    }
    return 0;
}

static int load_preds(const xt_csv *c, scenes *S, table *t) {
    int kr, kc, ks, kv, kf, kl;
    if ((kr = column(c, "detect_scene_row", "prediction")) < 0 || (kc = column(c, "detect_scene_column", "prediction")) < 0 ||
        (ks = column(c, "scene_id", "prediction")) < 0 || (kv = column(c, "is_vessel", "prediction")) < 0 ||
        (kf = column(c, "is_fishing", "prediction")) < 0 || (kl = column(c, "vessel_length_m", "prediction")) < 0)
        return -1;
    t->n = c->n_rows;
    if (num_col(c, kr, &t->row) || num_col(c, kc, &t->col) || scene_col(c, ks, S, &t->scene) || bool_col(c, kv, &t->vessel) ||
        bool_col(c, kf, &t->fishing) || num_col(c, kl, &t->length))
        return -1;
    return 0;
}

static int load_labels(const xt_csv *c, scenes *S, const xt_xview_score_opts *o, table *t) {
    int kr, kc, ks, kv, kf, kl, kconf = -1, kkm = -1;
    if ((kr = column(c, "detect_scene_row", "label")) < 0 || (kc = column(c, "detect_scene_column", "label")) < 0 ||
        (ks = column(c, "scene_id", "label")) < 0 || (kv = column(c, "is_vessel", "label")) < 0 ||
        (kf = column(c, "is_fishing", "label")) < 0 || (kl = column(c, "vessel_length_m", "label")) < 0)
        return -1;
    if (!o->score_all && (kconf = column(c, "confidence", "label")) < 0) return -1;
    if (o->shore_root && o->shore_tolerance && (kkm = column(c, "distance_from_shore_km", "label")) < 0) return -1;
    t->n = c->n_rows;
    if (num_col(c, kr, &t->row) || num_col(c, kc, &t->col) || scene_col(c, ks, S, &t->scene) || bool_col(c, kv, &t->vessel) ||
        bool_col(c, kf, &t->fishing) || num_col(c, kl, &t->length) || (kkm >= 0 && num_col(c, kkm, &t->km)))
        return -1;
    t->conf = xt_xcalloc((size_t)t->n + 1, sizeof *t->conf);
    for (int64_t r = 0; kconf >= 0 && r < t->n; r++) {
        const char *s = xt_csv_at(c, r, kconf);
        t->conf[r] = xt_csv_is_na(s) ? NULL : s;
    }
    return 0;
}

// The points of a label CSV for training (xview_train.c): the columns the scorer reads plus
// confidence, every row checked (numbers, booleans), then the rows of scene_id in file order.
int xt_xview_labels_points(const xt_csv *c, const char *scene_id, xt_xview_point **out, int64_t *n) {
    int kr, kc, ks, kv, kf, kl, kconf;
    *out = NULL, *n = 0;
    who = "xview labels";
    if ((ks = column(c, "scene_id", "label")) < 0 || (kr = column(c, "detect_scene_row", "label")) < 0 ||
        (kc = column(c, "detect_scene_column", "label")) < 0 || (kv = column(c, "is_vessel", "label")) < 0 ||
        (kf = column(c, "is_fishing", "label")) < 0 || (kl = column(c, "vessel_length_m", "label")) < 0 ||
        (kconf = column(c, "confidence", "label")) < 0) {
        who = "xview score";
        return -1;
    }
    table t = {0};
    scenes S = {0};
    int rc = -1;
    if (num_col(c, kr, &t.row) || num_col(c, kc, &t.col) || scene_col(c, ks, &S, &t.scene) || bool_col(c, kv, &t.vessel) ||
        bool_col(c, kf, &t.fishing) || num_col(c, kl, &t.length))
        goto done;
    *out = xt_xmalloc(((size_t)c->n_rows + 1) * sizeof **out);
    for (int64_t r = 0; r < c->n_rows; r++) {
        int bad = !(fabs(t.row[r]) <= 1e9) ? kr : !(fabs(t.col[r]) <= 1e9) ? kc : -1; // NaN: an empty cell
        if (bad >= 0) {
            xt_error("xview labels", "%s: line %lld: column '%s': a pixel coordinate is needed, got '%.40s'", c->what,
                     (long long)c->line[r], c->head[bad], xt_csv_at(c, r, bad));
            goto done;
        }
        if (scene_id && strcmp(S.name[t.scene[r]], scene_id)) continue;
        // cv2.circle takes integer centres: the dataset's coordinates are integers
        (*out)[(*n)++] = (xt_xview_point){(int64_t)llround(t.row[r]), (int64_t)llround(t.col[r]), t.vessel[r], t.fishing[r],
                                          t.length[r]};
    }
    rc = 0;
done:
    who = "xview score";
    if (rc) { free(*out); *out = NULL, *n = 0; }
    free(t.row); free(t.col); free(t.scene); free(t.vessel); free(t.fishing); free(t.length);
    free(S.name); free(S.slot);
    return rc;
}

// ---------------------------------------------------------------------------------------------
// matching

typedef struct {
    int64_t *p, *g; // pairs (prediction row, label row)
    int64_t n, cap;
} pairs;

static void add_pair(pairs *q, int64_t p, int64_t g) {
    if (q->n == q->cap) {
        q->cap = q->cap ? 2 * q->cap : 64;
        q->p = realloc(q->p, (size_t)q->cap * sizeof *q->p);
        q->g = realloc(q->g, (size_t)q->cap * sizeof *q->g);
        XT_ASSERT(q->p && q->g);
    }
    q->p[q->n] = p;
    q->g[q->n++] = g;
}

// compute_loc_performance / match_low_confidence_preds: scipy distance_matrix x PIX_TO_M,
// costly_dist, linear_sum_assignment; the pairs closer than the tolerance, in LSAP row order.
static int match(const table *P, const int64_t *pi, int64_t np, const table *G, const int64_t *gi, int64_t ng,
                 const xt_xview_score_opts *o, pairs *out) {
    if (np == 0 || ng == 0) return 0; // callers check the official crash first
    double *D = xt_malloc_checked((size_t)np * (size_t)ng * sizeof *D, "distance matrix");
    int64_t k = np < ng ? np : ng;
    int64_t *rr = xt_xmalloc((size_t)k * sizeof *rr), *cc = xt_xmalloc((size_t)k * sizeof *cc);
    int rc = -1;
    if (!D) goto done;
    const double tol = o->distance_tolerance;
    for (int64_t i = 0; i < np; i++)
        for (int64_t j = 0; j < ng; j++) {
            double dr = G->row[gi[j]] - P->row[pi[i]], dc = G->col[gi[j]] - P->col[pi[i]];
            double d = sqrt(dr * dr + dc * dc) * PIX_TO_M; // minkowski_distance: sum of squares ** 0.5
            if (o->costly_dist && d > tol) d = COSTLY;
            D[i * ng + j] = d;
        }
    if (xt_lsap(D, np, ng, rr, cc)) goto done;
    for (int64_t q = 0; q < k; q++)
        if (D[rr[q] * ng + cc[q]] < tol) add_pair(out, pi[rr[q]], gi[cc[q]]);
    rc = 0;
done:
    free(D);
    free(rr);
    free(cc);
    return rc;
}

// rows of t (listed in idx, n of them) grouped by scene, order kept: start[s] .. start[s+1]
static void group(const table *t, const int64_t *idx, int64_t n, int ns, int64_t **start, int64_t **rows) {
    *start = xt_xcalloc((size_t)ns + 1, sizeof **start);
    *rows = xt_xmalloc(((size_t)n + 1) * sizeof **rows);
    for (int64_t k = 0; k < n; k++) (*start)[t->scene[idx[k]] + 1]++;
    for (int s = 0; s < ns; s++) (*start)[s + 1] += (*start)[s];
    int64_t *fill = xt_xmalloc(((size_t)ns + 1) * sizeof *fill);
    memcpy(fill, *start, (size_t)ns * sizeof *fill);
    for (int64_t k = 0; k < n; k++) (*rows)[fill[t->scene[idx[k]]]++] = idx[k];
    free(fill);
}

// scenes of the listed rows in order of first appearance (pandas unique())
static int64_t scene_order(const table *t, const int64_t *idx, int64_t n, int ns, int *order) {
    char *seen = xt_xcalloc((size_t)ns + 1, 1);
    int64_t m = 0;
    for (int64_t k = 0; k < n; k++)
        if (!seen[t->scene[idx[k]]]) seen[t->scene[idx[k]]] = 1, order[m++] = t->scene[idx[k]];
    free(seen);
    return m;
}

// ---------------------------------------------------------------------------------------------
// shore

typedef struct {
    int64_t cr, cc, k; // cell, point index
} cell_pt;

static int by_cell(const void *a, const void *b) {
    const cell_pt *x = a, *y = b;
    if (x->cr != y->cr) return x->cr < y->cr ? -1 : 1;
    return x->cc < y->cc ? -1 : x->cc > y->cc;
}

// get_shore_preds: the predictions with a contour point at 0 < distance <= R px (KDTree
// sparse_distance_matrix: squared distance <= R * R; a zero distance is no entry). Points are
// bucketed in cells of R + 1 px so that only neighbouring cells need a look.
static int shore_preds(const table *P, const int64_t *pi, int64_t np, const char *root, const char *scene, double R,
                       int64_t *near, int64_t *n_near) {
    *n_near = 0;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s_shoreline.npy", root, scene);
    struct stat sb;
    if (stat(path, &sb) && errno == ENOENT)
        return xt_error("xview score", "%s: no such file: every scored scene needs its shoreline "
                                       "(the official scorer raises FileNotFoundError)", path);
    xt_npy_contours ct;
    if (xt_npy_read_contours(path, &ct)) return -1;
    if (ct.n == 0) return 0; // len(shoreline_contours) == 0
    const double cell = R + 1, R2 = R * R;
    cell_pt *cp = xt_xmalloc(((size_t)ct.total + 1) * sizeof *cp);
    int64_t m = 0;
    for (int64_t k = 0; k < ct.total; k++) {
        double r = ct.pts[2 * k], c = ct.pts[2 * k + 1];
        if (!isfinite(r) || !isfinite(c) || fabs(r) > 1e15 || fabs(c) > 1e15) continue; // never within R of a finite point
        cp[m++] = (cell_pt){(int64_t)floor(r / cell), (int64_t)floor(c / cell), k};
    }
    qsort(cp, (size_t)m, sizeof *cp, by_cell);
    for (int64_t i = 0; i < np; i++) {
        double pr = P->row[pi[i]], pc = P->col[pi[i]];
        if (!isfinite(pr) || !isfinite(pc) || fabs(pr) > 1e15 || fabs(pc) > 1e15) continue;
        int64_t cr = (int64_t)floor(pr / cell), cc = (int64_t)floor(pc / cell);
        int found = 0;
        for (int64_t dr = -1; dr <= 1 && !found; dr++)
            for (int64_t dc = -1; dc <= 1 && !found; dc++) {
                cell_pt key = {cr + dr, cc + dc, 0};
                int64_t lo = 0, hi = m; // first point of the cell
                while (lo < hi) {
                    int64_t mid = (lo + hi) / 2;
                    if (by_cell(&cp[mid], &key) < 0) lo = mid + 1;
                    else hi = mid;
                }
                for (int64_t q = lo; q < m && cp[q].cr == key.cr && cp[q].cc == key.cc; q++) {
                    double a = ct.pts[2 * cp[q].k] - pr, b = ct.pts[2 * cp[q].k + 1] - pc; // contour - prediction
                    double d2 = a * a + b * b;
                    if (d2 <= R2 && d2 > 0) { found = 1; break; }
                }
            }
        if (found) near[(*n_near)++] = pi[i];
    }
    free(cp);
    xt_npy_contours_free(&ct);
    return 0;
}

// ---------------------------------------------------------------------------------------------
// scores

// calculate_p_r_f: ZeroDivisionError gives the integer 0; f1 is (2 p r) / (p + r)
static xt_xview_num prf(int64_t tp, int64_t fp, int64_t fn) {
    double p = tp + fp ? (double)tp / (double)(tp + fp) : 0, r = tp + fn ? (double)tp / (double)(tp + fn) : 0;
    if (p + r == 0) return (xt_xview_num){0, 1};
    return (xt_xview_num){2 * p * r / (p + r), 0};
}

// compute_vessel_class_performance / compute_fishing_class_performance over the TP pairs
static void classify(const double *pv, const double *gv, const pairs *tp, const double *only_if_true, int64_t c[4]) {
    c[0] = c[1] = c[2] = c[3] = 0; // tp fp fn tn
    for (int64_t k = 0; k < tp->n; k++) {
        if (only_if_true && only_if_true[tp->g[k]] != 1) continue; // gt["is_vessel"].isin([True])
        double g = gv[tp->g[k]], p = pv[tp->p[k]];
        if (g != g) continue;   // a NaN label is skipped
        if (p == g) c[g != 0 ? 0 : 3]++;
        else c[g != 0 ? 2 : 1]++; // a NaN prediction is never equal: a wrong answer
    }
}

int xt_xview_score(const xt_csv *preds, const xt_csv *labels, const xt_xview_score_opts *o, xt_xview_scores *out,
                   xt_xview_score_detail *detail) {
    memset(out, 0, sizeof *out);
    xt_xview_score_detail det = {0};
    scenes S = {0};
    table P = {0}, G = {0};
    pairs low = {0}, tp = {0}, stp = {0};
    int64_t *idx = NULL, *gt0 = NULL, *gt1 = NULL, *pkeep = NULL, *ps = NULL, *prow = NULL, *gs = NULL, *grow_ = NULL;
    int64_t *near = NULL, *gnear = NULL;
    int *order = NULL;
    char *dropped = NULL, *has_pred = NULL;
    int rc = -1;
    if (o->distance_tolerance < 0 || o->shore_tolerance < 0) {
        xt_error("xview score", "negative tolerance");
        goto done;
    }
    if (load_preds(preds, &S, &P) || load_labels(labels, &S, o, &G)) goto done;
    const int ns = S.n;
    idx = xt_xmalloc(((size_t)(P.n > G.n ? P.n : G.n) + 1) * sizeof *idx);
    order = xt_xmalloc(((size_t)ns + 1) * sizeof *order);
    // ground_truth[scene_id.isin(inference.scene_id.unique())]: labels of unpredicted scenes go
    has_pred = xt_xcalloc((size_t)ns + 1, 1);
    for (int64_t i = 0; i < P.n; i++) has_pred[P.scene[i]] = 1;
    gt0 = xt_xmalloc(((size_t)G.n + 1) * sizeof *gt0);
    int64_t n0 = 0;
    for (int64_t j = 0; j < G.n; j++)
        if (has_pred[G.scene[j]]) gt0[n0++] = j;
    for (int64_t i = 0; i < P.n; i++) idx[i] = i;
    dropped = xt_xcalloc((size_t)P.n + 1, 1);
    if (!o->score_all && o->drop_low_detect) { // drop_low_confidence_preds: a Hungarian against all labels
        group(&P, idx, P.n, ns, &ps, &prow);
        group(&G, gt0, n0, ns, &gs, &grow_);
        int64_t m = scene_order(&G, gt0, n0, ns, order);
        for (int64_t q = 0; q < m; q++) {
            int s = order[q];
            low.n = 0;
            if (match(&P, prow + ps[s], ps[s + 1] - ps[s], &G, grow_ + gs[s], gs[s + 1] - gs[s], o, &low)) goto done;
            for (int64_t k = 0; k < low.n; k++)
                if (G.conf[low.g[k]] && !strcmp(G.conf[low.g[k]], "LOW")) dropped[low.p[k]] = 1, det.n_dropped++;
        }
        free(ps), free(prow), free(gs), free(grow_);
        ps = prow = gs = grow_ = NULL;
    }
    // remaining predictions, and the labels scored (HIGH / MEDIUM unless score_all)
    pkeep = xt_xmalloc(((size_t)P.n + 1) * sizeof *pkeep);
    int64_t npk = 0;
    for (int64_t i = 0; i < P.n; i++)
        if (!dropped[i]) pkeep[npk++] = i;
    gt1 = xt_xmalloc(((size_t)n0 + 1) * sizeof *gt1);
    int64_t n1 = 0;
    for (int64_t k = 0; k < n0; k++) {
        const char *c = G.conf[gt0[k]];
        if (o->score_all || (c && (!strcmp(c, "HIGH") || !strcmp(c, "MEDIUM")))) gt1[n1++] = gt0[k];
    }
    group(&P, pkeep, npk, ns, &ps, &prow);
    group(&G, gt1, n1, ns, &gs, &grow_);
    int64_t m = scene_order(&G, gt1, n1, ns, order);
    for (int64_t q = 0; q < m; q++) { // localisation, pooled over scenes
        int s = order[q];
        int64_t np = ps[s + 1] - ps[s], ng = gs[s + 1] - gs[s], before = tp.n;
        if (np == 0) {
            xt_error("xview score", "scene '%s': every prediction was deleted by the LOW-confidence pass (drop_low_detect) "
                                    "but the scene has HIGH/MEDIUM labels; the official scorer stops here with "
                                    "ValueError: not enough values to unpack (expected 2, got 1)", S.name[s]);
            goto done;
        }
        if (match(&P, prow + ps[s], np, &G, grow_ + gs[s], ng, o, &tp)) goto done;
        det.loc[1] += np - (tp.n - before);
        det.loc[2] += ng - (tp.n - before);
    }
    det.loc[0] = tp.n;
    out->loc_fscore = prf(det.loc[0], det.loc[1], det.loc[2]);
    out->loc_fscore_shore = (xt_xview_num){0, 1};
    if (o->shore_tolerance && o->shore_root) {
        const double R = ((double)o->shore_tolerance + (double)o->distance_tolerance / 1000) * 1000 / PIX_TO_M;
        near = xt_xmalloc(((size_t)npk + 1) * sizeof *near);
        gnear = xt_xmalloc(((size_t)n1 + 1) * sizeof *gnear);
        for (int64_t q = 0; q < m; q++) {
            int s = order[q];
            int64_t nn, ngn = 0, before = stp.n;
            for (int64_t k = gs[s]; k < gs[s + 1]; k++)
                if (G.km[grow_[k]] <= o->shore_tolerance) gnear[ngn++] = grow_[k];
            if (shore_preds(&P, prow + ps[s], ps[s + 1] - ps[s], o->shore_root, S.name[s], R, near, &nn)) goto done;
            if (ngn > 0 && nn > 0) {
                if (match(&P, near, nn, &G, gnear, ngn, o, &stp)) goto done;
                det.shore[1] += nn - (stp.n - before);
                det.shore[2] += ngn - (stp.n - before);
            }
        }
        det.shore[0] = stp.n;
        // scored if any label within the tolerance is in a scene that still has predictions
        char *pscene = xt_xcalloc((size_t)ns + 1, 1);
        for (int64_t k = 0; k < npk; k++) pscene[P.scene[pkeep[k]]] = 1;
        for (int64_t k = 0; k < n1 && !det.shore_scored; k++)
            det.shore_scored = pscene[G.scene[gt1[k]]] && G.km[gt1[k]] <= o->shore_tolerance;
        free(pscene);
        if (det.shore_scored) out->loc_fscore_shore = prf(det.shore[0], det.shore[1], det.shore[2]);
    }
    classify(P.vessel, G.vessel, &tp, NULL, det.vessel);
    out->vessel_fscore = prf(det.vessel[0], det.vessel[1], det.vessel[2]);
    classify(P.fishing, G.fishing, &tp, G.vessel, det.fishing);
    out->fishing_fscore = prf(det.fishing[0], det.fishing[1], det.fishing[2]);
    // compute_length_performance: capped lengths, the error summed in pair order
    double e = 0;
    for (int64_t k = 0; k < tp.n; k++) {
        double g = G.length[tp.g[k]], p = P.length[tp.p[k]];
        if (g != g) continue;
        double gc = MAX_OBJECT_LENGTH_M < g ? MAX_OBJECT_LENGTH_M : g;  // Python min(x, 500): x unless 500 < x,
        double pc = MAX_OBJECT_LENGTH_M < p ? MAX_OBJECT_LENGTH_M : p;  // so NaN stays NaN
        e += fabs(pc - gc) / gc;
        det.n_length_pairs++;
    }
    if (det.n_length_pairs == 0) out->length_acc = (xt_xview_num){0, 1};
    else {
        double x = e / (double)det.n_length_pairs;
        out->length_acc = (xt_xview_num){1.0 - (1.0 < x ? 1.0 : x), 0};
    }
    // aggregate_f: loc * (1 + length + vessel + fishing + shore) / 5, left to right
    double sum = 1 + out->length_acc.v;
    sum = sum + out->vessel_fscore.v;
    sum = sum + out->fishing_fscore.v;
    sum = sum + out->loc_fscore_shore.v;
    out->aggregate = (xt_xview_num){out->loc_fscore.v * sum / 5, 0};
    if (detail) *detail = det;
    rc = 0;
done:
    table_free(&P);
    table_free(&G);
    free(S.name);
    free(S.slot);
    free(low.p), free(low.g), free(tp.p), free(tp.g), free(stp.p), free(stp.g);
    free(idx), free(gt0), free(gt1), free(pkeep), free(ps), free(prow), free(gs), free(grow_), free(near), free(gnear);
    free(order), free(dropped), free(has_pred);
    return rc;
}

static void put_num(xt_sbuf *s, xt_xview_num n) {
    char b[32];
    if (n.is_int) xt_sbuf_printf(s, "%lld", (long long)n.v);
    else if (n.v != n.v) xt_sbuf_printf(s, "NaN"); // json.dump's spellings
    else if (isinf(n.v)) xt_sbuf_printf(s, n.v < 0 ? "-Infinity" : "Infinity");
    else xt_sbuf_printf(s, "%s", xt_fmt_pyfloat(b, n.v));
}

void xt_xview_scores_json(xt_sbuf *s, const xt_xview_scores *sc) {
    const char *names[6] = {"loc_fscore", "loc_fscore_shore", "vessel_fscore", "fishing_fscore", "length_acc", "aggregate"};
    const xt_xview_num v[6] = {sc->loc_fscore, sc->loc_fscore_shore, sc->vessel_fscore, sc->fishing_fscore, sc->length_acc,
                               sc->aggregate};
    xt_sbuf_printf(s, "{");
    for (int k = 0; k < 6; k++) {
        xt_sbuf_printf(s, "%s\"%s\": ", k ? ", " : "", names[k]);
        put_num(s, v[k]);
    }
    xt_sbuf_printf(s, "}");
}
