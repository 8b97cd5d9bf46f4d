#!/bin/sh
# xt score (the xView3 leaderboard metric) on every golden metric case: the file written with -o
# is byte-identical to the official expected.json; p16, where the official scorer raised, fails
# with its ValueError named; --help lists every option with its default; bad input and a missing
# shoreline fail with clear messages and a non-zero status.
set -u
G=${XT_GOLDEN:-tests/golden}/xview_score/metric
T=$BUILD/cli_score
rm -rf "$T"; mkdir -p "$T"
fail() { echo "FAIL: $*"; exit 1; }
n=0
for d in "$G"/p*/; do
    c=$(basename "$d")
    if grep -q '"error"' "$d/expected.json"; then
        if $XT score --inference "$d/preds.csv" --labels "$d/labels.csv" --shore-root "$d/shoreline" -o "$T/$c.json" > "$T/$c.out" 2>&1; then
            fail "$c: the official scorer raised, xt score did not"
        fi
        grep -q "ValueError" "$T/$c.out" || fail "$c: error does not name the official one: $(cat "$T/$c.out")"
    else
        $XT score --inference "$d/preds.csv" --labels "$d/labels.csv" --shore-root "$d/shoreline" -o "$T/$c.json" > "$T/$c.out" 2>&1 \
            || fail "$c: $(cat "$T/$c.out")"
        cmp -s "$T/$c.json" "$d/expected.json" || fail "$c: $(cat "$T/$c.json") != $(cat "$d/expected.json")"
        [ "$(cat "$T/$c.out")" = "$(cat "$d/expected.json")" ] || fail "$c: stdout differs"
    fi
    n=$((n + 1))
done
[ $n -eq 17 ] || fail "expected 17 metric cases, found $n"
echo "xt score: $n golden cases as the official scorer"
# a flag variant (detail.json variants.no_costly_dist of p04)
$XT score --inference "$G/p04_costly_exact200/preds.csv" --labels "$G/p04_costly_exact200/labels.csv" --no-costly-dist > "$T/v.out" \
    || fail "no-costly-dist"
grep -q '"loc_fscore": 0.25,' "$T/v.out" || fail "p04 without costly_dist: $(cat "$T/v.out")"
$XT score --help > "$T/help.txt" || fail "--help"
for o in "--inference" "--labels" "--shore-root" "--distance-tolerance M .*\[200\]" "--shore-tolerance KM .*\[2\]" \
         "--no-drop-low-detect" "--no-costly-dist" "--score-all" "-o OUT.json"; do
    grep -q -- "$o" "$T/help.txt" || fail "--help does not list $o"
done
# hostile input
printf 'a,b\n1,2,3\n' > "$T/bad.csv"
if $XT score --inference "$T/bad.csv" --labels "$G/p01_exact_hits/labels.csv" > "$T/bad.out" 2>&1; then fail "ragged CSV accepted"; fi
grep -q "bad.csv: line 2: 3 fields, the header has 2" "$T/bad.out" || fail "ragged CSV: $(cat "$T/bad.out")"
if $XT score --inference "$G/p01_exact_hits/preds.csv" --labels "$G/p01_exact_hits/labels.csv" --shore-root "$T" > "$T/ns.out" 2>&1; then
    fail "missing shoreline accepted"
fi
grep -q "FileNotFoundError" "$T/ns.out" || fail "missing shoreline: $(cat "$T/ns.out")"
# a label file without a column, or with a bad number / boolean: the file, line and column named
P1=$G/p01_exact_hits
bad_input() { # expected message, preds, labels
    if $XT score --inference "$2" --labels "$3" --shore-root "$P1/shoreline" > "$T/bi.out" 2>&1; then fail "accepted: $2 $3"; fi
    grep -q "$1" "$T/bi.out" || fail "'$(cat "$T/bi.out")' lacks '$1'"
}
cut -d, -f1-4,6- "$P1/labels.csv" > "$T/nocol.csv"
bad_input "nocol.csv: the label file has no column 'detect_scene_row'" "$P1/preds.csv" "$T/nocol.csv"
cut -d, -f1,3- "$P1/preds.csv" > "$T/pnocol.csv"
bad_input "pnocol.csv: the prediction file has no column 'detect_scene_column'" "$T/pnocol.csv" "$P1/labels.csv"
sed '3s/^\([^,]*,[^,]*,[^,]*,[^,]*\),[0-9]*/\1,31x0/' "$P1/labels.csv" > "$T/badnum.csv"
bad_input "badnum.csv: line 3: column 'detect_scene_row': '31x0' is not a number" "$P1/preds.csv" "$T/badnum.csv"
sed '3s/,True,False,/,maybe,False,/' "$P1/preds.csv" > "$T/badbool.csv"
bad_input "badbool.csv: line 3: column 'is_vessel': 'maybe' is not True or False" "$T/badbool.csv" "$P1/labels.csv"
if $XT score --inference "$G/p01_exact_hits/preds.csv" > /dev/null 2>&1; then fail "no --labels accepted"; fi
if $XT score --inference a --labels b --distance-tolerance x > /dev/null 2>&1; then fail "bad tolerance accepted"; fi
echo "ok"
