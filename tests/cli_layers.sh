#!/bin/sh
# The layer rule of libxt (docs/design.md): includes and calls point down only.
#   core -> formats -> nn -> models -> train -> run -> api -> cli
# A file may use its own folder and any folder below it. Checked two ways:
#   1. every #include "dir/..." of src/<folder>/* (and a bare "name.h" of its own folder);
#   2. every undefined symbol of build/src/<folder>/*.o, resolved to the folder whose object
#      defines it (nm), so a call through a local prototype is caught too.
set -eu
BUILD=${BUILD:-build}
rank() {
    case "$1" in
        core) echo 0 ;; formats) echo 1 ;; nn) echo 2 ;; models) echo 3 ;; train) echo 4 ;;
        run) echo 5 ;; api) echo 6 ;; cli) echo 7 ;; *) echo "" ;;
    esac
}
bad=0
for d in src/*/; do
    d=$(basename "$d")
    r=$(rank "$d")
    [ -n "$r" ] || { echo "FAIL: src/$d is not a known layer (add it to tests/cli_layers.sh and docs/design.md)"; bad=1; continue; }
done

# 1. includes
for f in src/*/*.c src/*/*.h; do
    d=$(basename "$(dirname "$f")"); r=$(rank "$d")
    for inc in $(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f"); do
        case "$inc" in
            xt.h) continue ;;      # the public header: types only
            */*) t=${inc%%/*} ;;
            *) t=$d ;;
        esac
        tr=$(rank "$t")
        if [ -z "$tr" ]; then echo "FAIL: $f includes \"$inc\": unknown folder"; bad=1
        elif [ "$tr" -gt "$r" ]; then echo "FAIL: $f ($d) includes \"$inc\" ($t, a higher layer)"; bad=1; fi
    done
done

# 2. calls (and data references) between objects: "D name" (defined) / "U name" lines per folder
objs=""
for c in src/*/*.c; do # the objects of today's sources (a build folder may hold stale ones)
    o="$BUILD/${c%.c}.o"
    [ -f "$o" ] || { echo "FAIL: $o missing (build first)"; exit 1; }
    objs="$objs $o"
done
order="core formats nn models train run api cli"
for o in $objs; do
    d=$(basename "$(dirname "$o")")
    nm -g "$o" | awk -v d="$d" -v o="$o" 'NF == 3 && $2 ~ /[TDBRC]/ { print "D", $3, d, o } NF == 2 && $1 == "U" { print "U", $2, d, o }'
done > "$BUILD/layers.nm"
ncalls=$(awk -v order="$order" '
    BEGIN { n = split(order, a, " "); for (i = 1; i <= n; i++) rank[a[i]] = i }
    $1 == "D" { def[$2] = $3; next }
    { use[++u] = $0 }
    END {
        for (i = 1; i <= u; i++) {
            split(use[i], f, " "); t = def[f[2]]
            if (t == "") continue
            c++
            if (rank[t] > rank[f[3]]) { printf "FAIL: %s (%s) uses %s, defined in %s (a higher layer)\n", f[4], f[3], f[2], t > "/dev/stderr"; bad = 1 }
        }
        print c; exit bad
    }' "$BUILD/layers.nm") || bad=1
echo "layers: $(ls src/*/*.c src/*/*.h | wc -l) files, $ncalls references between objects checked"
[ $bad -eq 0 ] && echo "layers: ok"
exit $bad
