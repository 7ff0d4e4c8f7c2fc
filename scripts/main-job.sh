#!/bin/sh
# Sets up a fresh Debian/Ubuntu machine and runs the main job: build, verify on the default
# device (vkattn test), then a short benchmark whose rows land in build/bench.json.
set -eu
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
if [ -d build/meson-private ]; then meson setup --reconfigure build >/dev/null; else meson setup build >/dev/null; fi
# Only the tool (the library and its kernels with it): the tests are built by scripts/test.sh.
ninja -C build tools/vkattn
./build/tools/vkattn info
./build/tools/vkattn test
./build/tools/vkattn bench --suite quick --json build/bench.json
