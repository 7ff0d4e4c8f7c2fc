#!/bin/sh
# The test suite under sanitizers (what CI runs after scripts/test.sh):
#  1. build-asan/: AddressSanitizer (with LeakSanitizer) and UndefinedBehaviorSanitizer, every test
#     that can run instrumented, the GPU tests included;
#  2. build-tsan/: ThreadSanitizer, the threaded tests only (engine, engine_no_push: four threads
#     recording on one context, each into its own command buffer; prepare: three threads
#     compiling pipelines on one context; ref_threads: the CPU reference
#     split over threads by (batch, head)).
# Leaks and races are suppressed only inside the Vulkan driver, loader, validation layer and LLVM,
# each by name in tests/lsan.supp and tests/tsan.supp; anything in vkattn's own code fails.
# Ends with one line "N passed, N failed" over both runs; exits nonzero on any failure.
set -eu
cd "$(dirname "$0")/.."
root=$(pwd)

# setup DIR ARGS...: configure DIR with ARGS, or reconfigure it with them when it exists.
setup() {
    dir=$1
    shift
    if [ -d "$dir/meson-private" ]; then
        meson setup --reconfigure "$dir" "$@" >/dev/null
    else
        meson setup "$dir" "$@" >/dev/null
    fi
}

# Counts from meson's own summary in $1/test-summary.log, added to the totals; a run that ended
# without a summary counts as one failure.
passed=0
failed=0
count() {
    ok=$(sed -n 's/^Ok: *\([0-9]*\).*/\1/p' "$1/test-summary.log")
    [ -n "$ok" ] || failed=$((failed + 1))
    fail=$(sed -n 's/^Fail: *\([0-9]*\).*/\1/p' "$1/test-summary.log")
    timeout=$(sed -n 's/^Timeout: *\([0-9]*\).*/\1/p' "$1/test-summary.log")
    passed=$((passed + ${ok:-0}))
    failed=$((failed + ${fail:-0} + ${timeout:-0}))
}

# Any report aborts the process that made it, which fails its test; LSan checks every process at
# its exit.
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:halt_on_error=1:detect_stack_use_after_return=1:strict_string_checks=1:check_initialization_order=1:verify_asan_link_order=0
UBSAN_OPTIONS=halt_on_error=1:abort_on_error=1:print_stacktrace=1
LSAN_OPTIONS=suppressions=$root/tests/lsan.supp:print_suppressions=0
TSAN_OPTIONS=halt_on_error=1:abort_on_error=1:second_deadlock_stack=1:suppressions=$root/tests/tsan.supp
export ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS TSAN_OPTIONS

# The loader dlcloses the driver (and with it LLVM) and the validation layer in vkDestroyInstance,
# before LSan looks at the heap at exit: their leaks would show as "<unknown module>" frames that
# no suppression can name. A preloaded shim opens them once more with RTLD_NODELETE so that they
# stay mapped and are named; RTLD_LOCAL, so that none of their vk* symbols replaces the loader's.
# (verify_asan_link_order=0 above: the shim comes before the ASan runtime in the link order.)
keep=
for f in /usr/share/vulkan/icd.d/lvp_icd*.json /usr/share/vulkan/explicit_layer.d/VkLayer_khronos_validation.json; do
    [ -f "$f" ] || continue
    lib=$(sed -n 's/.*"library_path": *"\([^"]*\)".*/\1/p' "$f" | head -n 1)
    [ -n "$lib" ] && keep=${keep:+$keep:}$lib
done
mkdir -p build-asan
cat >build-asan/keep-loaded.c <<'SHIM'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
__attribute__((constructor)) static void keep_loaded(void)
{
    const char *env = getenv("VKATTN_KEEP_LOADED");
    char buf[4096], *save = NULL;
    if (!env || strlen(env) >= sizeof buf)
        return;
    strcpy(buf, env);
    for (char *p = strtok_r(buf, ":", &save); p; p = strtok_r(NULL, ":", &save))
        dlopen(p, RTLD_LAZY | RTLD_LOCAL | RTLD_NODELETE);
}
SHIM
${CC:-cc} -shared -fPIC -O1 -o build-asan/keep-loaded.so build-asan/keep-loaded.c -ldl
VKATTN_KEEP_LOADED=$keep
export VKATTN_KEEP_LOADED

# The full matrix of tests/test_gpu.c takes over 10 minutes instrumented on 2 cores; the quick one
# still covers every kernel, dtype and mask kind.
VKATTN_TEST_QUICK=1
export VKATTN_TEST_QUICK

# 1. ASan + UBSan. b_lundef=false: the shared library's references to the sanitizer runtimes are
# resolved by the executable that loads it. Left out here, each for a reason:
#  consumer   compiles examples/engine.c with plain cc against the installed (instrumented)
#             libvkattn.so, which then needs the sanitizer runtime that cc does not link;
#  subproject builds a fresh, uninstrumented copy of vkattn in a temporary project: nothing of
#             this build is tested, and it costs a full compile;
#  soak       bounds the growth of resident memory, which ASan's quarantine of freed blocks and its
#             shadow memory make meaningless here (LSan checks the leaks instead).
# -O1 (ASan's own advice): at -O0 the instrumented CPU reference that checks every GPU result makes
# test_gpu and test_guard several times slower.
setup build-asan -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug -Doptimization=1
ninja -C build-asan
tests=$(meson test -C build-asan --list --no-rebuild 2>/dev/null | sed -n 's/^\([^ ]* \/ \)\{0,1\}\([A-Za-z0-9_]*\)$/\2/p' |
        grep -v -x -e consumer -e subproject -e soak)
# shellcheck disable=SC2086 # the test names are words
LD_PRELOAD=$root/build-asan/keep-loaded.so${LD_PRELOAD:+ $LD_PRELOAD} \
    meson test -C build-asan --print-errorlogs --num-processes 2 $tests 2>&1 |
    tee build-asan/test-summary.log
count build-asan

# 2. TSan on the threaded tests; only what they need is built.
setup build-tsan -Db_sanitize=thread -Db_lundef=false -Dbuildtype=debug -Doptimization=1
ninja -C build-tsan examples/engine tests/test_ref_threads tests/test_prepare
meson test -C build-tsan --print-errorlogs --no-rebuild --num-processes 1 engine engine_no_push \
    ref_threads prepare 2>&1 |
    tee build-tsan/test-summary.log
count build-tsan

# (A pipeline's status is tee's in POSIX sh, so the verdict comes from the summaries.)
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
