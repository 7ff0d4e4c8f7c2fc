#!/bin/sh
# vkattn bench as a user drives it (SPEC section 4): one-line errors with exit 2, the JSON and CSV
# files of a tiny run, --peak, --compare, and the CPU fallback without a Vulkan driver.
# Usage: test_bench.sh path/to/vkattn. Needs only POSIX sh tools; python3, when present, also
# parses the JSON with a standard parser.
# shellcheck disable=SC2012 # ls lists our own files
set -u
VKATTN=${1:?usage: test_bench.sh path/to/vkattn}

d=$(mktemp -d "${TMPDIR:-/tmp}/test_bench.XXXXXX") || exit 1
trap 'rm -rf "$d"' EXIT
trap 'exit 130' INT TERM
out="$d/out"
mkdir "$out"
pass=0
fail=0

ok() { pass=$((pass + 1)); echo "ok   $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }

# Runs "vkattn bench ARGS"; status in $got, output in $d/stdout and $d/stderr.
run() {
    "$VKATTN" bench "$@" >"$d/stdout" 2>"$d/stderr"
    got=$?
}

# expect_error NAME ARGS...: exit 2, exactly one line on stderr, nothing written to $out.
expect_error() {
    name=$1
    shift
    run "$@"
    lines=$(wc -l <"$d/stderr")
    msg=$(head -n 1 "$d/stderr")
    if [ "$got" -ne 2 ]; then
        bad "$name: exit $got, expected 2 ($msg)"
    elif [ "$lines" -ne 1 ]; then
        bad "$name: $lines lines on stderr, expected 1"
    elif [ -n "$(ls -A "$out")" ]; then
        bad "$name: left files behind: $(ls -A "$out" | tr '\n' ' ')"
    else
        ok "$name: $msg"
    fi
}

# expect_ok NAME ARGS...: exit 0.
expect_ok() {
    name=$1
    shift
    run "$@"
    if [ "$got" -eq 0 ]; then ok "$name"; else bad "$name: exit $got: $(head -n 1 "$d/stderr")"; fi
}

# The fields of a row (SPEC section 4, and those added since).
fields="B Hq Hkv Sq Skv D dtype layout causal align window q_lens kv_lens paged precision variant ms_median
ms_min ms_max repeats visible_pairs gflops_visible gflops_dense gbps flop_per_byte pct_of_peak
bound device timer threads"

# check_files NAME JSON CSV: the JSON parses (python3) and has every field; the CSV header names
# the same row fields in the same order.
check_files() {
    if [ ! -s "$2" ] || [ ! -s "$3" ]; then
        bad "$1: $2 or $3 was not written"
        return
    fi
    if command -v python3 >/dev/null 2>&1; then
        if python3 -m json.tool "$2" >/dev/null 2>"$d/json_err"; then
            ok "$1: the JSON parses (python3 -m json.tool)"
        else
            bad "$1: python3 cannot parse the JSON: $(head -n 1 "$d/json_err")"
        fi
    fi
    missing=""
    for key in vkattn version git device name type vendor_id driver api_version date rows \
        $fields; do
        grep -q "\"$key\":" "$2" || missing="$missing $key"
    done
    if [ -z "$missing" ]; then ok "$1: the JSON has every field"; else bad "$1: no$missing"; fi
    header=$(head -n 1 "$3")
    # shellcheck disable=SC2086 # split into words on purpose
    want=$(echo $fields | tr ' ' ',')
    case "$header" in
    "$want",*) ok "$1: the CSV header names the row fields" ;;
    *) bad "$1: the CSV header is '$header'" ;;
    esac
    rows=$(grep -c '"ms_median":' "$2")
    lines=$(($(wc -l <"$3") - 1))
    if [ "$rows" -eq "$lines" ]; then
        ok "$1: $rows row(s) in both"
    else
        bad "$1: $rows JSON rows, $lines CSV rows"
    fi
}

# Bad usage: exit 2, one line, nothing written.
echo '{"rows": [{"B": 1, "Hq": 2}]}' >"$d/shape.json"
echo '[1, 2]' >"$d/list.json"
echo 'B,Hq' >"$d/table.csv"
expect_error "--shape with 5 values" --shape 1,2,2,32,32 --json "$out/x.json"
expect_error "--shape that is not a list" --shape big --json "$out/x.json"
expect_error "--shape with Hq not a multiple of Hkv" --shape 1,3,2,32,32,16 --json "$out/x.json"
expect_error "--dtype fp8" --dtype fp8 --json "$out/x.json"
expect_error "--dtype f32,f32" --dtype f32,f32 --json "$out/x.json"
expect_error "--dtype f32,f16,f32" --dtype f32,f16,f32 --json "$out/x.json"
expect_error "--precision medium" --precision medium --json "$out/x.json"
expect_error "--suite unknown" --suite nightly --json "$out/x.json"
expect_error "--repeat 0" --repeat 0
expect_error "--peak with a value" --peak=yes
expect_error "--json in a missing directory" --json "$out/none/x.json"
expect_error "unknown option" --frobnicate
expect_error "mask flag without --shape" --causal
expect_error "--layout without --shape" --layout bshd
expect_error "--layout bsdh" --shape 1,2,2,32,32,16 --layout bsdh
expect_error "--threads without --cpu" --threads 2
expect_error "--threads 0" --cpu --threads 0
expect_ok "--help" --help

# A tiny run on the default device (the first GPU, else lavapipe, else the CPU).
tiny="--shape 1,2,2,32,32,16 --repeat 2 --warmup 1"
# shellcheck disable=SC2086 # $tiny is a list of arguments
expect_ok "tiny bench with --json and --csv" $tiny --json "$out/a.json" --csv "$out/a.csv"
check_files "tiny bench" "$out/a.json" "$out/a.csv"
if grep -q '"peak":' "$out/a.json"; then bad "  a \"peak\" object without --peak"; fi

mv "$out/a.json" "$out/a.csv" "$d/"

# --cpu --threads: the CPU reference rows (and a CPU device's rows) say how many threads ran them.
# shellcheck disable=SC2086
expect_ok "tiny bench with --cpu --threads 1" $tiny --cpu --threads 1 --json "$d/r.json"
if grep -Eq '"threads":[[:space:]]*1([^0-9]|$)' "$d/r.json"; then
    ok "  the CPU rows have \"threads\": 1"
else
    bad "  no \"threads\": 1 in $d/r.json"
fi

# --dtype f16,f32: each --shape problem in both types, in the given order.
# shellcheck disable=SC2086
expect_ok "tiny bench with --dtype f16,f32" $tiny --dtype f16,f32 --json "$d/t.json"
types=$(grep -Eo '"dtype":[[:space:]]*"f(16|32)"' "$d/t.json" | grep -Eo 'f(16|32)' | tr '\n' ' ')
if [ "$types" = "f16 f32 " ]; then
    ok "  one row per type, in the given order"
else
    bad "  the rows' types are '$types', expected 'f16 f32 '"
fi

# --layout bshd: the rows say so (paged K/V keep the pool's layout, Q and O stay BSHD).
# shellcheck disable=SC2086
expect_ok "tiny bench with --layout bshd" $tiny --layout bshd --json "$d/l.json"
if grep -Eq '"layout":[[:space:]]*"bshd"' "$d/l.json"; then
    ok "  the row has \"layout\": \"bshd\""
else
    bad "  no \"layout\": \"bshd\" in $d/l.json"
fi

# --decode-variants: the problem and its three variants, timed in turn, each with every repeat
# (and, with --cpu, each followed by its CPU reference row); the last one paged.
expect_ok "--decode-variants" --shape 1,4,2,1,256,16 --decode-variants --repeat 2 --warmup 1 \
    --cpu --threads 1 --json "$d/dv.json"
rows=$(grep -c '"ms_median":' "$d/dv.json")
reps=$(grep -Ec '"repeats":[[:space:]]*2([^0-9]|$)' "$d/dv.json")
refs=$(grep -c '"variant":[[:space:]]*"cpu-reference"' "$d/dv.json")
paged=$(grep -o '"paged":[[:space:]]*[a-z]*' "$d/dv.json" | tr -d ' \t' | tr '\n' ' ')
if [ "$rows" -eq 8 ] && [ "$reps" -eq 8 ] && [ "$refs" -eq 4 ] &&
    [ "$paged" = '"paged":false "paged":false "paged":false "paged":false "paged":false "paged":false "paged":true "paged":true ' ]; then
    ok "  4 rows of 2 repeats, each with its CPU row, the last paged"
else
    bad "  $rows rows, $reps with 2 repeats, $refs CPU rows, $paged"
fi

# --compare: bad files (the first file is good, the second names the problem).
expect_error "--compare with one file" --compare "$d/a.json"
expect_error "--compare with a missing file" --compare "$d/a.json" "$d/none.json"
expect_error "--compare with a file that is not JSON" --compare "$d/a.json" "$d/table.csv"
expect_error "--compare with a JSON list" --compare "$d/a.json" "$d/list.json"
expect_error "--compare with a row that lacks fields" --compare "$d/a.json" "$d/shape.json"
expect_error "--compare with another option" --compare "$d/a.json" "$d/a.json" --peak
for e in "none.json" "table.csv" "list.json" "shape.json"; do
    run --compare "$d/a.json" "$d/$e"
    grep -q "$e" "$d/stderr" || bad "--compare names $e in '$(cat "$d/stderr")'"
done

# --compare: a file against itself is x1.00 on every row.
expect_ok "--compare a.json a.json" --compare "$d/a.json" "$d/a.json"
n=$(sed -n '/^case /,$p' "$d/stdout" | sed 1d | grep -c .)
same=$(sed -n '/^case /,$p' "$d/stdout" | sed 1d | grep -c ' x1\.00$')
if [ "$n" -ge 1 ] && [ "$n" -eq "$same" ]; then
    ok "  x1.00 on each of the $n row(s)"
else
    bad "  $same of $n row(s) with x1.00:"
    sed 's/^/     /' "$d/stdout"
fi
# A file of an older vkattn (no cu_seqlens or Dv fields) still matches the rows of a newer one.
python3 -c '
import json, sys
doc = json.load(open(sys.argv[1]))
rows = doc["rows"] if isinstance(doc, dict) else doc
for r in rows:
    for f in ("cu_seqlens_q", "cu_seqlens_kv", "Dv"):
        r.pop(f, None)
json.dump(doc, open(sys.argv[2], "w"))' "$d/a.json" "$d/old.json"
expect_ok "--compare an older file" --compare "$d/old.json" "$d/a.json"
if [ "$(sed -n '/^case /,$p' "$d/stdout" | sed 1d | grep -c ' x1\.00$')" -eq "$n" ]; then
    ok "  x1.00 on each of the $n row(s)"
else
    bad "  rows of the older file did not match:"
    sed 's/^/     /' "$d/stdout"
fi
# A file twice as slow gives x2.00; a problem missing from one file is '-' there.
sed 's/"ms_median":[^,]*/"ms_median": 1.5/' "$d/a.json" >"$d/one.json"
sed 's/"ms_median":[^,]*/"ms_median": 3/' "$d/a.json" >"$d/two.json"
sed 's/"Sq":[^,]*/"Sq": 7/' "$d/a.json" >"$d/other.json"
expect_ok "--compare three files" --compare "$d/one.json" "$d/two.json" "$d/other.json"
if grep -q ' 1\.500 .* 3\.000 .* - .* x2\.00 .* - *$' "$d/stdout" &&
    grep -q 'S7x32 .* - .* - .* [0-9.][0-9.]* .* - .* - *$' "$d/stdout"; then
    ok "  x2.00 for the slower file, '-' for missing rows"
else
    bad "  the comparison is:"
    sed 's/^/     /' "$d/stdout"
fi

# --peak: the peaks in the header and the JSON, a roofline for each row (on a Vulkan device;
# on the CPU the peaks are null). --validation makes any message of the layer an exit 1.
# shellcheck disable=SC2086
expect_ok "tiny bench with --peak" $tiny --peak --validation --json "$out/p.json" --csv "$out/p.csv"
check_files "--peak" "$out/p.json" "$out/p.csv"
if grep -q '"type":.*"cpu"' "$out/p.json" && grep -q '"name":.*"cpu"' "$out/p.json"; then
    if grep -q '"f32_gflops":[[:space:]]*null' "$out/p.json"; then
        ok "  no Vulkan device: the peaks are null"
    else
        bad "  no Vulkan device, yet peaks in $out/p.json"
    fi
elif grep -q '"f32_gflops":[[:space:]]*[0-9]' "$out/p.json" &&
    grep -q '"bandwidth_gbps":[[:space:]]*[0-9]' "$out/p.json" &&
    grep -q '"pct_of_peak":[[:space:]]*[0-9]' "$out/p.json" &&
    grep -q '"bound":[[:space:]]*"\(compute\|memory\)"' "$out/p.json" &&
    grep -q '^peak: f32 [0-9.]* GFLOP/s' "$d/stdout"; then
    ok "  peaks, percentages and bounds in the table and the JSON"
    # The roofline's bandwidth is the higher of the read and copy kernels' (read_gbps is null
    # on a device whose texel views cannot span 16 MiB; lavapipe's can).
    if command -v python3 >/dev/null 2>&1; then
        if python3 -c 'import json, sys
p = json.load(open(sys.argv[1]))["peak"]
r, c, b = p["read_gbps"], p["copy_gbps"], p["bandwidth_gbps"]
lvp = "llvmpipe" in json.load(open(sys.argv[1]))["device"]["name"]
sys.exit(0 if (r or not lvp) and c > 0 and b == max(r or 0, c) else 1)' "$out/p.json"; then
            ok "  bandwidth_gbps is the higher of read_gbps and copy_gbps"
        else
            bad "  the peak's bandwidths disagree: $(grep -o '"[a-z]*_gbps":[^,}]*' "$out/p.json")"
        fi
    fi
else
    bad "  no peaks in the output:"
    sed 's/^/     /' "$d/stdout"
fi

# Each form forced: the row's variant names the kernel that ran, as vkattn_problem_plan says
# (vkattn info prints the same names), with its key ranges in "splits" (on a Vulkan device only).
if "$VKATTN" info | grep -q '^0'; then
    for k in rowwise tiled split-kv; do
        rm -f "$out"/*
        run --shape 1,2,2,64,64,32 --kernel "$k" --repeat 1 --warmup 0 --json "$out/k.json"
        if [ "$got" -eq 0 ] && grep -q "\"variant\":[[:space:]]*\"$k\"" "$out/k.json" &&
            grep -q '"splits":[[:space:]]*1[,}]' "$out/k.json"; then
            ok "bench --kernel $k: the row's variant is $k, one key range"
        else
            bad "bench --kernel $k: exit $got, $(grep -o '"variant":[^,]*' "$out/k.json" 2>/dev/null)"
        fi
    done
fi

# vkattn tune: a file that vkattn bench --tuning and vkattn test --tuning load; bad files and
# outputs are refused with exit 2 and one line (on a Vulkan device only: the CPU has no kernels).
rm -f "$out"/*
"$VKATTN" tune --shape 1,2,2,64,64,32 --repeat 1 --warmup 0 --out "$out/t.txt" >"$d/stdout" 2>"$d/stderr"
got=$?
if grep -q 'cannot open a Vulkan device' "$d/stderr"; then
    echo "skip vkattn tune: no Vulkan device"
elif [ "$got" -eq 0 ] && [ "$(head -n 1 "$out/t.txt")" = "vkattn-tuning 1" ] &&
    grep -q '^device 0x' "$out/t.txt" && grep -q 'built-in ms' "$d/stdout"; then
    ok "vkattn tune writes a tuning file and the side-by-side table"
    # The device line of the file, with a shape of our own for the bench's D=32 problem (the last
    # line for a slot wins, so the count is 2 when tune kept a shape for it).
    { cat "$out/t.txt"; echo "prefill f32 32 kernel=split-kv rows=2 workgroup=16 split_target=1024"; } \
        >"$d/tuned.txt"
    rm -f "$out/t.txt"
    run --shape 1,2,2,64,1024,32 --repeat 1 --warmup 0 --tuning "$d/tuned.txt" --json "$out/tb.json"
    if [ "$got" -eq 0 ] && grep -q "tuning: $d/tuned.txt ([12] line(s) for this device)" "$d/stdout" &&
        grep -q '"variant":[[:space:]]*"split-kv"' "$out/tb.json"; then
        ok "bench --tuning applies the file's line (split-kv: 1024 workgroups wanted, 4 splits of 256 keys)"
    else
        bad "bench --tuning: exit $got, $(head -n 3 "$d/stdout" | tr '\n' ' ')"
    fi
    rm -f "$out/tb.json"
    if "$VKATTN" test --quick --filter D32 --tuning "$d/tuned.txt" >"$d/stdout" 2>"$d/stderr" &&
        grep -q ' 0 failed' "$d/stdout"; then
        ok "test --tuning: the tuned shape passes against the reference"
    else
        bad "test --tuning: $(tail -n 1 "$d/stdout") $(head -n 1 "$d/stderr")"
    fi
    printf 'vkattn-tuning 1\ndevice 0x1 0x2 "x"\nprefill f32 32 rows=3\n' >"$d/bad.txt"
    expect_error "--tuning with rows=3" --shape 1,2,2,64,64,32 --tuning "$d/bad.txt"
    case $msg in *"line 3"*"rows = 3"*) ;; *) bad "  the message names neither line 3 nor rows" ;; esac
    expect_error "--tuning with a missing file" --shape 1,2,2,64,64,32 --tuning "$d/none.txt"
    "$VKATTN" tune --shape 1,2,2,64,64,32 --repeat 1 --out "$out/none/t.txt" >/dev/null 2>"$d/stderr"
    got=$?
    if [ "$got" -eq 2 ] && [ "$(wc -l <"$d/stderr")" -eq 1 ]; then
        ok "tune --out in a missing directory: exit 2, $(cat "$d/stderr")"
    else
        bad "tune --out in a missing directory: exit $got"
    fi
else
    bad "vkattn tune: exit $got, $(head -n 1 "$d/stderr")"
fi

# Without a Vulkan driver the bench falls back to the CPU reference.
# shellcheck disable=SC2086
VK_ICD_FILENAMES="$d/none.json" VK_DRIVER_FILES="$d/none.json" \
    "$VKATTN" bench $tiny --peak --json "$out/c.json" >"$d/stdout" 2>"$d/stderr"
got=$?
if [ "$got" -eq 0 ] && grep -q '^device: cpu' "$d/stdout"; then
    ok "no Vulkan driver: the CPU, exit 0"
else
    bad "no Vulkan driver: exit $got, $(head -n 1 "$d/stdout") $(head -n 1 "$d/stderr")"
fi
if [ -s "$out/c.json" ] && grep -q '"f32_gflops":[[:space:]]*null' "$out/c.json" &&
    grep -q '"pct_of_peak":[[:space:]]*null' "$out/c.json"; then
    ok "  the JSON has null peaks and percentages"
else
    bad "  $out/c.json lacks the null peaks"
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
