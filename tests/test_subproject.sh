#!/bin/sh
# vkattn as a meson subproject: a consumer project with subprojects/vkattn -> this tree gets it
# through dependency('vkattn') with a fallback, builds and runs. $1 = the source root.
set -u
src=$(cd "$1" && pwd)
command -v meson >/dev/null 2>&1 && command -v ninja >/dev/null 2>&1 || exit 77
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM
cp "$src/tests/subproject/meson.build" "$src/tests/subproject/consumer.c" "$tmp/"
mkdir "$tmp/subprojects"
ln -s "$src" "$tmp/subprojects/vkattn"
if ! meson setup "$tmp/build" "$tmp" >"$tmp/setup.log" 2>&1; then
    cat "$tmp/setup.log"
    echo "subproject: meson setup failed"
    exit 1
fi
if ! ninja -C "$tmp/build" >"$tmp/build.log" 2>&1; then
    cat "$tmp/build.log"
    echo "subproject: build failed"
    exit 1
fi
"$tmp/build/consumer"
