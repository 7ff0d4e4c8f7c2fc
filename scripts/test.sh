#!/bin/sh
# The full test suite: configure (or reconfigure) build/, build, run every test.
set -eu
cd "$(dirname "$0")/.."
if [ -d build ]; then
    meson setup --reconfigure build >/dev/null
else
    meson setup build >/dev/null
fi
ninja -C build
set +e
meson test -C build --print-errorlogs --num-processes 2 2>&1 | tee build/test-summary.log
status=$?
set -e
# One closing line that any CI reads, from meson's own summary.
ok=$(sed -n 's/^Ok: *\([0-9]*\).*/\1/p' build/test-summary.log)
fail=$(sed -n 's/^Fail: *\([0-9]*\).*/\1/p' build/test-summary.log)
timeout=$(sed -n 's/^Timeout: *\([0-9]*\).*/\1/p' build/test-summary.log)
skip=$(sed -n 's/^Skipped: *\([0-9]*\).*/\1/p' build/test-summary.log)
echo "${ok:-0} passed, $(( ${fail:-0} + ${timeout:-0} )) failed, ${skip:-0} skipped"
exit $status
