#!/bin/sh
# Runs every test binary given, then every tests/cli_*.sh; prints "N passed, N failed".
# Passive OpenMP waiting: spinning threads starve each other when the machine is shared.
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
pass=0; fail=0
for t in "$@"; do
    if "$t" > "$t.log" 2>&1; then pass=$((pass+1)); echo "ok   $t"; tail -1 "$t.log" | sed 's/^/     /'
    else fail=$((fail+1)); echo "FAIL $t"; tail -30 "$t.log"; fi
done
for s in tests/cli_*.sh; do
    [ -f "$s" ] || continue
    if sh "$s" > "$BUILD/$(basename $s).log" 2>&1; then pass=$((pass+1)); echo "ok   $s"
    else fail=$((fail+1)); echo "FAIL $s"; tail -30 "$BUILD/$(basename $s).log"; fi
done
echo "tests: $pass passed, $fail failed"
[ $fail -eq 0 ]
