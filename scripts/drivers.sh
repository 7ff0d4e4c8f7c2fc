#!/bin/sh
# Part 4 of the full suite (scripts/test.sh): `vkattn test` on the other CPU drivers the project
# answers for, built in build/ (run after it):
#  - SwiftShader, from Debian's chromium-common package, extracted (never installed) into
#    $VKATTN_CACHE/swiftshader: subgroup size 4, no 16-bit storage (f16 as 32-bit words), no push
#    descriptors. The whole matrix and the meson tests: it compiles fast.
#  - lavapipe with LP_NATIVE_VECTOR_WIDTH=512: subgroup size 16 (as Mali and Intel), the quick
#    matrix (its pipelines compile as slowly as lavapipe's always do).
# VKATTN_CACHE defaults to /var/cache/vkattn as root, else ${XDG_CACHE_HOME:-~/.cache}/vkattn.
#
#   scripts/drivers.sh                 both legs
#   scripts/drivers.sh swiftshader CMD run CMD ARGS with SwiftShader as the only Vulkan driver
#
# Ends with "N passed, N failed" over its legs (each leg one); exits nonzero on any failure.
set -eu
cd "$(dirname "$0")/.."
if [ "$(id -u)" -eq 0 ]; then
    cache=${VKATTN_CACHE:-/var/cache/vkattn}
else
    cache=${VKATTN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vkattn}
fi
ss=$cache/swiftshader
vkattn=build/tools/vkattn

# SwiftShader's ICD file, made once: the package's libvk_swiftshader.so and a JSON naming it.
swiftshader_icd() {
    if [ ! -f "$ss/icd.json" ]; then
        rm -rf "$ss.tmp"
        mkdir -p "$ss.tmp"
        # apt-get download takes the host's apt sources (and needs their lists: apt-get update).
        (cd "$ss.tmp" && apt-get download chromium-common >/dev/null)
        dpkg-deb -x "$ss.tmp"/chromium-common_*.deb "$ss.tmp/root"
        lib=$(find "$ss.tmp/root" -name libvk_swiftshader.so | head -n 1)
        if [ -z "$lib" ]; then
            echo "drivers: chromium-common has no libvk_swiftshader.so" >&2
            return 1
        fi
        rm -rf "$ss"
        mkdir -p "$ss"
        cp "$lib" "$ss/libvk_swiftshader.so"
        printf '{"file_format_version": "1.0.0", "ICD": {"library_path": "%s", "api_version": "1.3.0"}}\n' \
            "$ss/libvk_swiftshader.so" >"$ss/icd.json"
        rm -rf "$ss.tmp"
    fi
    echo "$ss/icd.json"
}

if [ "${1:-}" = swiftshader ]; then
    shift
    icd=$(swiftshader_icd)
    VK_DRIVER_FILES=$icd VK_ICD_FILENAMES=$icd exec "$@"
fi

passed=0
failed=0
# leg NAME CMD ARGS: one leg, its output shown; a pass needs exit 0 and either
# "N passed, 0 failed" (vkattn test) or meson's "Fail: 0".
leg() {
    name=$1
    shift
    echo "== drivers: $name: $*"
    t0=$(date +%s)
    if "$@" >build/drivers-leg.log 2>&1; then rc=0; else rc=$?; fi
    tail -n 40 build/drivers-leg.log
    echo "== drivers: $name took $(($(date +%s) - t0)) s (exit $rc)"
    if [ "$rc" -eq 0 ] && grep -Eq '^[0-9]+ passed, 0 failed|^Fail: +0' build/drivers-leg.log; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
    fi
}

# The default device must be SwiftShader itself, not a fallback to another driver.
if icd=$(swiftshader_icd) &&
    VK_DRIVER_FILES=$icd VK_ICD_FILENAMES=$icd $vkattn info | head -n 1 | grep -q SwiftShader; then
    leg swiftshader env VK_DRIVER_FILES="$icd" VK_ICD_FILENAMES="$icd" $vkattn test --validation
    # The unit tests too (about a minute there): they hold the library's own checks, such as
    # the guard test's list of the modules a device without 16-bit storage can run.
    leg swiftshader-meson env VK_DRIVER_FILES="$icd" VK_ICD_FILENAMES="$icd" \
        meson test -C build --no-rebuild --num-processes 2 --print-errorlogs --logbase swiftshader
else
    echo "drivers: no SwiftShader device from chromium-common's libvk_swiftshader.so" >&2
    failed=$((failed + 1))
fi
# The leg is about subgroup size 16: check lavapipe gives it with the wider vectors.
sg=$(LP_NATIVE_VECTOR_WIDTH=512 $vkattn info --json | python3 -c \
    'import json, sys; print(json.load(sys.stdin)["devices"][0]["subgroup_size"])' || echo "?")
if [ "$sg" = 16 ]; then
    leg lavapipe-subgroup-16 env LP_NATIVE_VECTOR_WIDTH=512 $vkattn test --quick --validation
else
    echo "drivers: lavapipe with LP_NATIVE_VECTOR_WIDTH=512 gives subgroup size $sg, not 16" >&2
    failed=$((failed + 1))
fi
echo "== drivers: $passed leg(s) passed, $failed failed"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
