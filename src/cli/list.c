// list.c — `xt classify|embed|detect --list FILE -o DIR`: many inputs in one job, shared among MPI ranks.
//
// Work is handed out one item at a time by rank 0 (xt_dist_queue), so a slow scene does not hold
// up a rank's whole share. Results are files, written tmp + fsync + rename, so whatever a job
// leaves behind — finished, killed, failed — is valid and a rerun skips it; the merged JSON Lines
// file is rebuilt from them at the end of every run.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/core.h"
#include "core/dist.h"

// the result's name: file or folder name without directory and extension ("a/s1/" -> "s1")
static void item_name(const char *path, char *name, size_t cap) {
    size_t n = strlen(path);
    while (n > 1 && path[n - 1] == '/') n--;
    const char *b = path;
    for (size_t k = 0; k < n; k++)
        if (path[k] == '/') b = path + k + 1;
    snprintf(name, cap, "%.*s", (int)(path + n - b), b);
    char *dot = strrchr(name, '.');
    if (dot && dot != name) *dot = 0;
}

static int write_atomic(const char *path, const char *text, size_t n) {
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp%d", path, xt_dist_rank());
    FILE *f = fopen(tmp, "wb");
    if (!f) return xt_error("list", "%s: %s", tmp, strerror(errno));
    int ok = fwrite(text, 1, n, f) == n && fflush(f) == 0 && fsync(fileno(f)) == 0;
    ok &= fclose(f) == 0;
    if (!ok || rename(tmp, path)) {
        xt_error("list", "%s: %s", path, strerror(errno));
        remove(tmp);
        return -1;
    }
    return 0;
}

int xt_cli_list_run(const char *cmd, const char *list, const char *outdir,
                    int (*item)(void *u, const char *path, const char *name, xt_sbuf *json), void *u) {
    size_t len;
    char *text = xt_read_file(list, (size_t)1 << 30, &len, cmd);
    if (!text) return xt_cli_fail() + 1;
    int n = 0, cap = 0, rc = 2;
    char **paths = NULL, **names = NULL;
    for (char *line = strtok(text, "\r\n"); line; line = strtok(NULL, "\r\n")) {
        while (*line == ' ' || *line == '\t') line++;
        size_t l = strlen(line);
        while (l && (line[l - 1] == ' ' || line[l - 1] == '\t')) line[--l] = 0;
        if (!l || line[0] == '#') continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            paths = realloc(paths, cap * sizeof *paths);
            names = realloc(names, cap * sizeof *names);
            XT_ASSERT(paths && names);
        }
        char nm[1024];
        item_name(line, nm, sizeof nm);
        if (!*nm || !strcmp(nm, ".") || !strcmp(nm, "..")) {
            fprintf(stderr, "xt %s: %s: '%s' names no file\n", cmd, list, line);
            goto done;
        }
        for (int i = 0; i < n; i++)
            if (!strcmp(names[i], nm)) {
                fprintf(stderr, "xt %s: %s: %s and %s would both write %s/%s.json\n", cmd, list, paths[i], line, outdir, nm);
                goto done;
            }
        paths[n] = line;
        names[n] = strdup(nm);
        XT_ASSERT(names[n]);
        n++;
    }
    if (!n) {
        fprintf(stderr, "xt %s: %s: no paths\n", cmd, list);
        goto done;
    }
    if (xt_mkdir_p(outdir, cmd)) {
        xt_cli_fail();
        goto done;
    }
    // done here, skipped (finished by an earlier run), failed
    double count[3] = {0, 0, 0};
    int rank = xt_dist_rank();
    size_t plen = strlen(outdir) + 1100;
    char *out = xt_xmalloc(plen);
    if (xt_dist_queue_begin(n)) { xt_cli_fail(); xt_dist_abort(1); }
    for (int i; (i = xt_dist_queue_next()) >= 0;) {
        snprintf(out, plen, "%s/%s.json", outdir, names[i]);
        struct stat st;
        if (!stat(out, &st) && st.st_size > 0) { count[1]++; continue; }
        xt_sbuf js = {0};
        int e = item(u, paths[i], names[i], &js);
        if (!e) { // one line: the object's own line breaks are separators only (strings escape theirs)
            size_t k = 0;
            for (size_t j = 0; j < js.n; j++)
                if (js.p[j] != '\n') js.p[k++] = js.p[j];
            js.p[k++] = '\n';
            e = write_atomic(out, js.p, k);
        }
        xt_sbuf_free(&js);
        if (e) {
            count[2]++;
            if (xt_dist_size() > 1) fprintf(stderr, "xt %s: rank %d: %s failed: %s\n", cmd, rank, paths[i], xt_error_buffer());
            else fprintf(stderr, "xt %s: %s failed: %s\n", cmd, paths[i], xt_error_buffer());
        } else count[0]++;
    }
    xt_dist_queue_end();
    if (xt_dist_allreduce_sum_f64(count, 3)) { xt_cli_fail(); xt_dist_abort(1); }
    if (rank == 0) { // the merged file, in list order, from whatever results exist
        xt_sbuf all = {0};
        int have = 0;
        for (int i = 0; i < n; i++) {
            snprintf(out, plen, "%s/%s.json", outdir, names[i]);
            size_t got;
            if (access(out, F_OK)) continue;
            char *r = xt_read_file(out, (size_t)1 << 30, &got, cmd);
            if (!r) { xt_cli_fail(); continue; }
            xt_sbuf_printf(&all, "%.*s%s", (int)got, r, got && r[got - 1] == '\n' ? "" : "\n");
            free(r);
            have++;
        }
        snprintf(out, plen, "%s/results.jsonl", outdir);
        if (write_atomic(out, all.p ? all.p : "", all.n)) xt_cli_fail();
        xt_sbuf_free(&all);
        fprintf(stderr, "xt %s: %d items on %d rank%s: %.0f done, %.0f finished before, %.0f failed; %d results in %s\n", cmd, n,
                xt_dist_size(), xt_dist_size() > 1 ? "s" : "", count[0], count[1], count[2], have, out);
    }
    free(out);
    rc = count[2] > 0;
done:
    for (int i = 0; i < n; i++) free(names[i]);
    free(paths);
    free(names);
    free(text);
    return rc;
}
