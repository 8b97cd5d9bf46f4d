#!/bin/sh
# make install (DESTDIR, PREFIX): the CLI, libxt.a, libxt.so with its soname links, the public
# header and a pkg-config file; a program outside the tree builds against the installed files
# with pkg-config alone (shared and --static) and classifies an image like ./xt does.
set -u
T=$BUILD/cli_install
rm -rf "$T"; mkdir -p "$T"
fail() { echo "FAIL: $*"; exit 1; }
R=$T/root; P=/opt/xt
make -s install DESTDIR="$R" PREFIX=$P BUILD="$BUILD" XTBIN="$XT" > "$T/log" 2>&1 || fail "make install: $(tail -5 "$T/log")"
for f in bin/xt lib/libxt.a lib/libxt.so lib/libxt.so.0 include/xt.h lib/pkgconfig/xt.pc; do
    [ -e "$R$P/$f" ] || fail "make install left no $P/$f"
done
grep -q "^prefix=$P\$" "$R$P/lib/pkgconfig/xt.pc" || fail "xt.pc prefix: $(cat "$R$P/lib/pkgconfig/xt.pc")"
# pkg-config answers with the staged tree (the prefix redirected as a packager's build would)
export PKG_CONFIG_PATH="$R$P/lib/pkgconfig"
PC="pkg-config --define-variable=prefix=$R$P"
[ "$($PC --modversion xt)" = "$(sed -n 's/^#define XT_VERSION "\(.*\)"/\1/p' include/xt.h)" ] || fail "pkg-config --modversion"
SANF=""; case "$BUILD" in *asan*) SANF="-fsanitize=address,undefined";; esac # the objects of the ASan build
cp examples/classify.c "$T/prog.c"
cc -std=c11 $SANF "$T/prog.c" -o "$T/prog_shared" $($PC --cflags --libs xt) -Wl,-rpath,"$R$P/lib" > "$T/cc1" 2>&1 || fail "shared build: $(cat "$T/cc1")"
cc -std=c11 $SANF "$T/prog.c" -o "$T/prog_static" $($PC --cflags xt) "$R$P/lib/libxt.a" $($PC --libs-only-other --static xt) \
    $($PC --libs-only-l --libs-only-L --static xt | sed 's/-lxt //') > "$T/cc2" 2>&1 || fail "static build: $(cat "$T/cc2")"
ldd "$T/prog_shared" | grep -q "libxt.so.0 => $R$P/lib" || fail "the shared program does not use the installed libxt.so.0: $(ldd "$T/prog_shared")"
$XT make-image "$T/img.tif" --size 256x256 > /dev/null || fail "make-image"
M=models/synth_xl.safetensors
# " 1. class 0     57.094 %" -> "class 0 (p = 0.570"
want=$($XT classify -m $M "$T/img.tif" -q -k 1 2>&1 | sed -n 's/^ *1\. \(class [0-9]*\) *\([0-9]*\)\.\([0-9]\).*/\1 (p = 0.\2\3/p')
[ -n "$want" ] || fail "xt classify printed no top class"
for p in prog_shared prog_static; do
    got=$("$T/$p" $M "$T/img.tif" 2>&1) || fail "$p: $got"
    echo "$got" | grep -qF "$want" || fail "$p says '$got', xt classify's top class is '$want'"
done
make -s uninstall DESTDIR="$R" PREFIX=$P BUILD="$BUILD" XTBIN="$XT" > /dev/null 2>&1 || fail "make uninstall"
[ -e "$R$P/lib/libxt.so" ] && fail "uninstall left libxt.so"
echo "ok: make install; shared and static programs built with pkg-config agree with xt classify ($want)"
