#!/bin/sh
# Builds the libFuzzer harnesses of tests/fuzz (clang, ASan + UBSan) in build-fuzz/ and runs each
# for a bounded time: FUZZ_SECONDS (default 60) per harness. Fails on any crash, leak, timeout or
# broken invariant; the input that did it is left in build-fuzz/artifacts/.
# Needs clang and its runtime libraries (libFuzzer, ASan, UBSan): see scripts/install-deps.sh.
set -eu
cd "$(dirname "$0")/.."
seconds=${FUZZ_SECONDS:-60}
build=build-fuzz

if [ ! -f "$build/build.ninja" ]; then
    rm -rf "$build"
    # fuzzer-no-link: the library and the .npy codec get libFuzzer's coverage feedback too.
    if ! CC=${FUZZ_CC:-clang} meson setup "$build" -Dfuzz=true -Dbuildtype=debugoptimized \
        -Db_sanitize=address,undefined -Db_lundef=false \
        "-Dc_args=-fsanitize=fuzzer-no-link -fno-sanitize-recover=undefined -fno-omit-frame-pointer" \
        >"$build.setup.log" 2>&1; then
        tail -n 20 "$build.setup.log"
        rm -rf "$build"
        echo "0 passed, 2 failed"
        exit 1
    fi
    rm -f "$build.setup.log"
else
    meson setup --reconfigure "$build" -Dfuzz=true >/dev/null
fi
# Only the harnesses and what they link (the library and the tool's core), not the whole project.
ninja -C "$build" tests/fuzz_npy tests/fuzz_problem

export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1:strict_string_checks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}"
mkdir -p "$build/artifacts"
passed=0
failed=0
for name in npy problem; do
    # New inputs go to a scratch corpus in the build folder; the checked-in seeds stay read-only.
    corpus="$build/corpus_$name"
    mkdir -p "$corpus"
    echo "== fuzz_$name: ${seconds} s"
    if "$build/tests/fuzz_$name" -max_total_time="$seconds" -max_len=4096 -timeout=10 \
        -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$build/artifacts/${name}-" \
        "$corpus" "tests/fuzz/corpus_$name" >"$build/fuzz_$name.log" 2>&1; then
        passed=$((passed + 1))
        echo "fuzz_$name: ok ($(grep -c . "$build/fuzz_$name.log") log lines, $build/fuzz_$name.log)"
        grep -E '^(stat::number_of_executed_units|stat::new_units_added|#[0-9]+.*DONE)' \
            "$build/fuzz_$name.log" || true
    else
        failed=$((failed + 1))
        echo "fuzz_$name: FAILED; the log ends:"
        tail -n 60 "$build/fuzz_$name.log"
        ls "$build/artifacts" | sed -n "s|^${name}-|    artifact: $build/artifacts/${name}-|p"
    fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
