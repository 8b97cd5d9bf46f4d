// csv.h — comma-separated tables (the xView3 label and prediction files) read as pandas reads them.
#ifndef XT_FORMATS_CSV_H
#define XT_FORMATS_CSV_H

#include <stdint.h>

// A parsed table: a header row of names and data rows of text cells (unquoted). What
// pandas.read_csv(index_col=False) does with the same bytes: RFC 4180 quoting ("" inside quotes
// is a quote; quoted fields may hold commas and newlines), \n, \r\n or \r line ends, a UTF-8 BOM
// skipped, empty lines skipped, a row shorter than the header padded with empty (missing) cells,
// an empty column name made "Unnamed: <k>" and a repeated one "<name>.1", ".2", ... Refused with
// the line number: more fields than the header, text after a closing quote or a quote inside an
// unquoted field, an unterminated quote, NUL bytes, no header, more than 10000 columns.
typedef struct xt_csv {
    char *what;       // file name for messages
    int n_cols;
    int64_t n_rows;
    char **head;      // (n_cols) names
    char **cell;      // (n_rows, n_cols) NUL-terminated texts
    int64_t *line;    // (n_rows) 1-based line number where each row starts
    char *store;      // all texts
} xt_csv;

xt_csv *xt_csv_parse(const char *text, size_t len, const char *what); // NULL + error
xt_csv *xt_csv_read(const char *path);                                // NULL + error
void xt_csv_free(xt_csv *c);
int xt_csv_col(const xt_csv *c, const char *name); // column index, -1 if absent (no error)
static inline const char *xt_csv_at(const xt_csv *c, int64_t r, int k) { return c->cell[r * c->n_cols + k]; }

// 1 if s is one of pandas' default missing-value spellings ("", "NaN", "nan", "NA", "N/A",
// "NULL", "null", "None", "<NA>", "#N/A", "-nan", "1.#IND", ...).
int xt_csv_is_na(const char *s);
// The cell as a number: missing -> NaN; else a decimal (surrounding spaces allowed; "inf",
// "-inf" too). Anything else is an error naming the file, line and column.
int xt_csv_num(const xt_csv *c, int64_t r, int k, double *out);

#endif
