#!/bin/sh
# What vkattn puts into a program's namespace: the shared library exports only the public
# vkattn_ API, and every global of the static archive starts with vkattn_ (internal ones with
# vkattn__), so linking it statically into an engine cannot clash with the engine's names.
# $1 = libvkattn.so, $2 = libvkattn.a
set -u
command -v nm >/dev/null 2>&1 || exit 77
fail=0
pass=0
bad=$(nm -D --defined-only "$1" | awk '{print $3}' | grep -v '^vkattn_[a-z]' || true)
if [ -n "$bad" ]; then
    echo "FAIL $1 exports non-public symbols: $bad"
    fail=$((fail + 1))
else
    echo "ok   $1 exports only vkattn_ names"
    pass=$((pass + 1))
fi
bad=$(nm -g --defined-only "$2" 2>/dev/null | awk 'NF == 3 && $2 ~ /[TDBRC]/ {print $3}' |
      grep -v '^vkattn_' || true)
if [ -n "$bad" ]; then
    echo "FAIL $2 defines unprefixed globals: $bad"
    fail=$((fail + 1))
else
    echo "ok   $2 defines only vkattn_ globals"
    pass=$((pass + 1))
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
