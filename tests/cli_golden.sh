#!/bin/sh
# cli_golden.sh — the repository's copies of the official reference files (tests/golden) are intact
# (SHA256SUMS) and, where the shared folder exists beside the checkout (../shared/golden), byte for
# byte the same as it, with nothing missing on either side. Where it does not exist (a user's
# clone), the comparison is skipped with a note; the checksums are always checked.
set -u
G=tests/golden
S=${XT_SHARED_GOLDEN:-../shared/golden}
fail=0
die() { echo "FAIL: $*"; fail=1; }
[ -f "$G/SHA256SUMS" ] || { echo "FAIL: $G/SHA256SUMS missing"; exit 1; }
if (cd "$G" && sha256sum --quiet -c SHA256SUMS); then sums=ok
else die "a file in $G differs from $G/SHA256SUMS (corrupt or changed copy)"; sums=bad; fi
n=$(wc -l < "$G/SHA256SUMS")
extra=$(cd "$G" && find . -type f ! -name SHA256SUMS ! -name PROVENANCE.md | sort | awk 'NR == FNR { want[$2] = 1; next } !($1 in want)' SHA256SUMS -)
[ -z "$extra" ] || die "$G holds files not listed in SHA256SUMS: $extra"
[ "$sums" = ok ] && echo "ok: $n files match $G/SHA256SUMS"
if [ -d "$S" ]; then
    m=0
    for f in $(cd "$S" && find . -type f | sort); do
        m=$((m + 1))
        [ -f "$G/$f" ] || { die "$f is in $S but not in $G (copy it, update SHA256SUMS)"; continue; }
        cmp -s "$S/$f" "$G/$f" || die "$G/$f differs from $S/$f (refresh the copy, update SHA256SUMS)"
    done
    [ "$m" -eq "$n" ] || die "$G holds $n files, $S holds $m"
    [ $fail -eq 0 ] && echo "ok: $n files byte-identical to $S"
else
    echo "note: $S not found (a clone on its own): compared with SHA256SUMS only"
fi
exit $fail
