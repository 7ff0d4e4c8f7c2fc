#!/bin/sh
# The full test suite, as CI runs it (after scripts/install-deps.sh):
#  1. build/: every test (meson test), the GPU ones on the default Vulkan device;
#  2. scripts/test-sanitizers.sh: ASan+UBSan over the tests, TSan over the threaded ones;
#  3. scripts/fuzz.sh: the libFuzzer harnesses for FUZZ_SECONDS (default 60) each.
#  4. scripts/drivers.sh: `vkattn test` on SwiftShader (subgroup 4, no 16-bit storage) and on
#     lavapipe with subgroup size 16.
# VKATTN_TEST_FAST=1 runs only the first part (the quick loop while developing).
# Ends with one line "N passed, N failed" over all parts, after the tail of each failed test's
# output (scripts/failed-tests.py); exits nonzero on any failure.
set -eu
cd "$(dirname "$0")/.."
if [ -d build/meson-private ]; then
    meson setup --reconfigure build >/dev/null
else
    meson setup build >/dev/null
fi
ninja -C build

passed=0
failed=0
# add LOG: the last "N passed, N failed" line of LOG into the totals (none = one failure).
add() {
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$1" | tail -n 1)
    if [ -z "$line" ]; then
        failed=$((failed + 1))
        return
    fi
    passed=$((passed + $(echo "$line" | cut -d' ' -f1)))
    failed=$((failed + $(echo "$line" | cut -d' ' -f3)))
}

# 1. A pipeline's status is tee's in POSIX sh: the verdict comes from meson's summary.
meson test -C build --print-errorlogs --num-processes 2 2>&1 | tee build/test-summary.log || true
ok=$(sed -n 's/^Ok: *\([0-9]*\).*/\1/p' build/test-summary.log)
fail=$(sed -n 's/^Fail: *\([0-9]*\).*/\1/p' build/test-summary.log)
timeout=$(sed -n 's/^Timeout: *\([0-9]*\).*/\1/p' build/test-summary.log)
if [ -z "$ok" ]; then
    failed=$((failed + 1))
else
    passed=$((passed + ok))
    failed=$((failed + ${fail:-0} + ${timeout:-0}))
fi

if [ "${VKATTN_TEST_FAST:-0}" != 1 ]; then
    # 2 and 3, each with its own closing line.
    ./scripts/test-sanitizers.sh 2>&1 | tee build/sanitizers.log || true
    add build/sanitizers.log
    ./scripts/fuzz.sh 2>&1 | tee build/fuzz.log || true
    add build/fuzz.log
    ./scripts/drivers.sh 2>&1 | tee build/drivers.log || true
    add build/drivers.log
fi
# What failed, with the tail of its output, last: a long log is often shown only by its end.
if [ "$failed" -ne 0 ]; then
    python3 scripts/failed-tests.py build build-asan build-tsan || true
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
