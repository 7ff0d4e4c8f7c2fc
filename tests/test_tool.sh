#!/bin/sh
# Drives the vkattn tool as a user would (SPEC section 4): exit codes, one-line errors, and outputs
# that appear complete or not at all. Usage: test_tool.sh path/to/vkattn
# Needs only POSIX sh tools (no python): the .npy inputs are written with printf.
# shellcheck disable=SC2059,SC2012 # printf formats carry the byte escapes; ls lists our own files
set -u
VKATTN=${1:?usage: test_tool.sh path/to/vkattn}

d=$(mktemp -d "${TMPDIR:-/tmp}/test_tool.XXXXXX") || exit 1
trap 'rm -rf "$d"' EXIT
trap 'exit 130' INT TERM
out="$d/out" # outputs go here; after a failed run it must be empty
pass=0
fail=0

ok() { pass=$((pass + 1)); echo "ok   $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }

# npy FILE DESCR SHAPE COUNT BYTES: a version 1.0 .npy (as numpy writes it) of COUNT elements,
# each the printf escapes BYTES, e.g. '\000\000\200\077' for the f32 1.0.
npy() {
    dict="{'descr': '$2', 'fortran_order': False, 'shape': $3, }"
    n=$((10 + ${#dict} + 1))
    total=$(((n + 63) / 64 * 64))
    hlen=$((total - 10))
    {
        printf '\223NUMPY\001\000'
        printf "\\$(printf %o $((hlen % 256)))\\$(printf %o $((hlen / 256)))"
        printf '%s' "$dict"
        i=$n
        while [ "$i" -lt "$total" ]; do printf ' '; i=$((i + 1)); done
        printf '\n'
        i=0
        while [ "$i" -lt "$4" ]; do printf "$5"; i=$((i + 1)); done
    } >"$1"
}

# Runs vkattn with a fresh, empty output directory; status in $got, stderr in $d/stderr.
# "run-qkv ARGS" stands for "run --q q.npy --k k.npy --v v.npy ARGS" (the valid inputs).
run() {
    rm -rf "$out" && mkdir "$out"
    if [ "${1:-}" = run-qkv ]; then
        shift
        set -- run --q "$in/q.npy" --k "$in/k.npy" --v "$in/v.npy" "$@"
    fi
    "$VKATTN" "$@" >"$d/stdout" 2>"$d/stderr"
    got=$?
}

# expect_status STATUS NAME ARGS...: only the exit status.
expect_status() {
    want=$1 name=$2
    shift 2
    run "$@"
    if [ "$got" -eq "$want" ]; then ok "$name"; else bad "$name: exit $got, expected $want"; fi
}

# expect_error NAME ARGS...: exit 2, exactly one line on stderr, nothing written (no temporary
# file either, beside the outputs or anywhere in $d).
clean="in out stderr stdout "
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
    elif [ -n "$(ls -A "$out")" ] || [ "$(ls -A "$d" | tr '\n' ' ')" != "$clean" ]; then
        bad "$name: left files behind: $(ls -A "$d" "$out" | tr '\n' ' ')"
    else
        ok "$name: $msg"
    fi
}

# check_npy NAME FILE DATA_BYTES [EXPECTED_DATA_FILE]: FILE is a complete .npy whose data is
# DATA_BYTES long (and equal to the expected data when given).
check_npy() {
    if [ ! -f "$2" ]; then bad "$1: $2 was not written"; return; fi
    # shellcheck disable=SC2046 # the two header-length bytes become $5 and $6
    set -- "$1" "$2" "$3" "${4:-}" $(od -An -tu1 -j8 -N2 "$2")
    size=$(wc -c <"$2")
    want=$((10 + $5 + $6 * 256 + $3))
    if [ "$size" -ne "$want" ]; then
        bad "$1: $2 is $size bytes, expected $want"
    elif [ -n "$4" ] && ! tail -c "$3" "$2" | cmp -s - "$4"; then
        bad "$1: the data of $2 differs from the expected values"
    else
        ok "$1"
    fi
}

# Inputs. Q [B=1, Hq=2, Sq=3, D=4], K and V [1, Hkv=1, Skv=5, 4] (GQA), all ones: then every
# query with a visible key gets exactly O = 1.
in="$d/in"
mkdir "$in"
one4='\000\000\200\077'
one2='\000\074'
npy "$in/q.npy" '<f4' '(1, 2, 3, 4)' 24 "$one4"
npy "$in/k.npy" '<f4' '(1, 1, 5, 4)' 20 "$one4"
cp "$in/k.npy" "$in/v.npy"
npy "$in/k8.npy" '<f4' '(1, 1, 5, 8)' 40 "$one4"
npy "$in/k2.npy" '<f4' '(2, 1, 5, 4)' 40 "$one4"
npy "$in/k3h.npy" '<f4' '(1, 3, 5, 4)' 60 "$one4"
npy "$in/q16.npy" '<f2' '(1, 2, 3, 4)' 24 "$one2"
npy "$in/k16.npy" '<f2' '(1, 1, 5, 4)' 20 "$one2"
npy "$in/qs.npy" '<f4' '(1, 3, 2, 4)' 24 "$one4" # bshd
npy "$in/ks.npy" '<f4' '(1, 5, 1, 4)' 20 "$one4"
npy "$in/mask.npy" '|b1' '(1, 1, 3, 5)' 15 '\001'
npy "$in/mask_bad.npy" '|b1' '(1, 1, 3, 4)' 12 '\001'
npy "$in/mask_f4.npy" '<f4' '(1, 1, 3, 5)' 15 "$one4"
npy "$in/q3d.npy" '<f4' '(2, 3, 4)' 24 "$one4"
npy "$in/expect_o.npy" '<f4' '(24,)' 24 "$one4"
npy "$in/expect_o16.npy" '<f2' '(24,)' 24 "$one2"
tail -c 96 "$in/expect_o.npy" >"$in/o.bin"
tail -c 48 "$in/expect_o16.npy" >"$in/o16.bin"
npy "$in/sinks.npy" '<f4' '(2,)' 2 "$one4"
npy "$in/sinks3.npy" '<f4' '(3,)' 3 "$one4"
npy "$in/alibi_bh.npy" '<f4' '(1, 2)' 2 "$one4"
npy "$in/alibi_bad.npy" '<f4' '(2, 2)' 4 "$one4"
npy "$in/sinks_f2.npy" '<f2' '(2,)' 2 "$one2"
npy "$in/qp.npy" '<f4' '(3, 2, 4)' 24 "$one4" # packed: [Tq, Hq, D]
npy "$in/kp.npy" '<f4' '(5, 1, 4)' 20 "$one4" # [Tk, Hkv, D]
one_bf='\200\077' # bf16 1.0
npy "$in/qb.npy" '<u2' '(1, 2, 3, 4)' 24 "$one_bf"
npy "$in/kb.npy" '<u2' '(1, 1, 5, 4)' 20 "$one_bf"
npy "$in/expect_ob.npy" '<u2' '(24,)' 24 "$one_bf"
tail -c 48 "$in/expect_ob.npy" >"$in/ob.bin"
printf 'PK\003\004 this is not a .npy file' >"$in/zip.npy"
head -c 100 "$in/q.npy" >"$in/short.npy"

# Usage.
expect_status 2 "no arguments" 
expect_status 2 "unknown command" frobnicate
expect_status 0 "--help" --help
expect_status 0 "--version" --version
if grep -q '^vkattn [0-9]' "$d/stdout"; then
    ok "--version prints the version"
else
    bad "--version prints '$(cat "$d/stdout")'"
fi
expect_status 0 "run --help" run --help

# Bad usage of run: exit 2, one line, nothing written.
expect_error "run without arguments" run
expect_error "missing --q" run --k "$in/k.npy" --v "$in/v.npy" --out "$out/o.npy"
expect_error "missing --out" run-qkv
expect_error "--q without a value" run --q --k "$in/k.npy" --v "$in/v.npy" --out "$out/o.npy"
expect_error "unknown option" run-qkv --out "$out/o.npy" --frobnicate
expect_error "stray argument" run-qkv --out "$out/o.npy" extra
expect_error "bad --window (one value)" run-qkv --out "$out/o.npy" --window 3
expect_error "bad --window (< -1)" run-qkv --out "$out/o.npy" --window -2,0
expect_error "bad --window (text)" run-qkv --out "$out/o.npy" --window=a,b
expect_error "bad --align" run-qkv --out "$out/o.npy" --align middle
expect_error "bad --precision" run-qkv --out "$out/o.npy" --precision half
expect_error "bad --layout" run-qkv --out "$out/o.npy" --layout hbsd
expect_error "bad --device" run-qkv --out "$out/o.npy" --device gpu
expect_error "bad --scale (0)" run-qkv --out "$out/o.npy" --scale 0
expect_error "bad --scale (nan)" run-qkv --out "$out/o.npy" --scale nan
expect_error "bad --softcap" run-qkv --out "$out/o.npy" --softcap -1
expect_error "--causal with a value" run-qkv --out "$out/o.npy" --causal=yes
expect_error "--lse same as --out" run-qkv --out "$out/o.npy" --lse "$out/o.npy"

# Bad input files.
expect_error "nonexistent input" run --q "$in/nope.npy" --k "$in/k.npy" --v "$in/v.npy" \
    --out "$out/o.npy"
expect_error "not a .npy file" run --q "$in/zip.npy" --k "$in/k.npy" --v "$in/v.npy" \
    --out "$out/o.npy"
expect_error "truncated .npy file" run --q "$in/short.npy" --k "$in/k.npy" --v "$in/v.npy" \
    --out "$out/o.npy"
expect_error "input is a directory" run --q "$in" --k "$in/k.npy" --v "$in/v.npy" --out "$out/o.npy"
expect_error "rank 3 Q" run --q "$in/q3d.npy" --k "$in/k.npy" --v "$in/v.npy" --out "$out/o.npy"
expect_error "D of K differs from Q" run --q "$in/q.npy" --k "$in/k8.npy" --v "$in/k8.npy" \
    --out "$out/o.npy"
expect_error "B of K differs from Q" run --q "$in/q.npy" --k "$in/k2.npy" --v "$in/k2.npy" \
    --out "$out/o.npy"
expect_error "K and V shapes differ but for the last" run --q "$in/q.npy" --k "$in/k.npy" \
    --v "$in/k2.npy" --out "$out/o.npy"
expect_error "Hq not a multiple of Hkv" run --q "$in/q.npy" --k "$in/k3h.npy" --v "$in/k3h.npy" \
    --out "$out/o.npy"
expect_error "mixed dtypes" run --q "$in/q16.npy" --k "$in/k.npy" --v "$in/v.npy" --out "$out/o.npy"
expect_error "mask of the wrong shape" run-qkv --out "$out/o.npy" --mask "$in/mask_bad.npy"
expect_error "mask of dtype <f4" run-qkv --out "$out/o.npy" --mask "$in/mask_f4.npy"
expect_error "--q-lens count differs from B" run-qkv --out "$out/o.npy" --q-lens 3,3
expect_error "--kv-lens larger than Skv" run-qkv --out "$out/o.npy" --kv-lens 6
expect_error "bad --q-lens" run-qkv --out "$out/o.npy" --q-lens=-1
expect_error "--q-start larger than Sq" run-qkv --out "$out/o.npy" --q-start 4
expect_error "--kv-start plus --kv-lens past Skv" run-qkv --out "$out/o.npy" --kv-start 2 \
    --kv-lens 4
expect_error "--sinks of the wrong shape" run-qkv --out "$out/o.npy" --sinks "$in/sinks3.npy"
expect_error "--sinks of dtype <f2" run-qkv --out "$out/o.npy" --sinks "$in/sinks_f2.npy"
expect_error "--alibi of the wrong shape" run-qkv --out "$out/o.npy" --alibi "$in/alibi_bad.npy"
expect_error "--cu-seqlens-q without --cu-seqlens-kv" run --q "$in/qp.npy" --k "$in/kp.npy" \
    --v "$in/kp.npy" --out "$out/o.npy" --cu-seqlens-q 0,1,3
expect_error "--cu-seqlens-kv count differs" run --q "$in/qp.npy" --k "$in/kp.npy" \
    --v "$in/kp.npy" --out "$out/o.npy" --cu-seqlens-q 0,1,3 --cu-seqlens-kv 0,5
expect_error "--cu-seqlens-q decreasing" run --q "$in/qp.npy" --k "$in/kp.npy" \
    --v "$in/kp.npy" --out "$out/o.npy" --cu-seqlens-q 0,2,1,3 --cu-seqlens-kv 0,2,3,5
expect_error "--cu-seqlens-kv not ending at Tk" run --q "$in/qp.npy" --k "$in/kp.npy" \
    --v "$in/kp.npy" --out "$out/o.npy" --cu-seqlens-q 0,1,3 --cu-seqlens-kv 0,2,4
expect_error "--cu-seqlens with rank-4 tensors" run-qkv --out "$out/o.npy" \
    --cu-seqlens-q 0,3 --cu-seqlens-kv 0,5
expect_error "--cu-seqlens with --q-lens" run --q "$in/qp.npy" --k "$in/kp.npy" \
    --v "$in/kp.npy" --out "$out/o.npy" --cu-seqlens-q 0,1,3 --cu-seqlens-kv 0,2,5 --q-lens 1,1
expect_error "<u2 without --dtype bf16" run --q "$in/qb.npy" --k "$in/kb.npy" --v "$in/kb.npy" \
    --out "$out/o.npy"
expect_error "--dtype bf16 with <f4 files" run-qkv --out "$out/o.npy" --dtype bf16
expect_error "--dtype f16 with <f4 files" run-qkv --out "$out/o.npy" --dtype f16
expect_error "bad --dtype" run-qkv --out "$out/o.npy" --dtype f64
expect_error "bshd shapes given as bhsd" run --q "$in/qs.npy" --k "$in/ks.npy" --v "$in/ks.npy" \
    --out "$out/o.npy"

# Outputs that cannot be written: exit 2 and nothing appears.
expect_error "--out in a nonexistent directory" run-qkv --out "$out/nope/o.npy" --device cpu
expect_error "--lse in a nonexistent directory" run-qkv --out "$out/o.npy" \
    --lse "$out/nope/l.npy" --device cpu
expect_error "--out is a directory" run-qkv --out "$out" --device cpu

# Runs on the CPU reference (these need src/reference.c).
expect_status 0 "run --device cpu" run-qkv --out "$out/o.npy" --device cpu
expect_status 0 "run --precision fast" run-qkv --out "$out/o.npy" --precision fast
check_npy "  O has the right size and values" "$out/o.npy" 96 "$in/o.bin"
expect_status 0 "run with --lse, --causal, --mask" run-qkv --out "$out/o.npy" \
    --lse "$out/l.npy" --causal --mask "$in/mask.npy" --device cpu
check_npy "  O is complete" "$out/o.npy" 96
check_npy "  LSE [1, 2, 3] <f4 is complete" "$out/l.npy" 24
expect_status 0 "run with --flag=value, window, lens, top-left" run --q="$in/q.npy" \
    --k="$in/k.npy" --v="$in/v.npy" --out="$out/o.npy" --window=-1,0 --q-lens=2 --kv-lens=4 \
    --align=top-left --scale=0.5 --softcap=30 --device=cpu
check_npy "  O is complete" "$out/o.npy" 96
expect_status 0 "run with starts, sinks and ALiBi per head" run-qkv --out "$out/o.npy" \
    --lse "$out/l.npy" --q-start 1 --kv-start 2 --causal --sinks "$in/sinks.npy" \
    --alibi "$in/sinks.npy" --device cpu
check_npy "  O is complete" "$out/o.npy" 96
check_npy "  LSE is complete" "$out/l.npy" 24
expect_status 0 "run with ALiBi per batch item and head" run-qkv --out "$out/o.npy" \
    --alibi "$in/alibi_bh.npy" --device cpu
check_npy "  O has the right size and values" "$out/o.npy" 96 "$in/o.bin"
expect_status 0 "run --layout bshd" run --q "$in/qs.npy" --k "$in/ks.npy" --v "$in/ks.npy" \
    --out "$out/o.npy" --layout bshd --device cpu
check_npy "  O has the right size and values" "$out/o.npy" 96 "$in/o.bin"
expect_status 0 "run a packed batch" run --q "$in/qp.npy" --k "$in/kp.npy" --v "$in/kp.npy" \
    --out "$out/o.npy" --lse "$out/l.npy" --cu-seqlens-q 0,1,3 --cu-seqlens-kv 0,2,5 --causal \
    --sinks "$in/sinks.npy" --alibi "$in/sinks.npy" --device cpu
check_npy "  O [3, 2, 4] is complete" "$out/o.npy" 96
check_npy "  LSE [2, 3] <f4 is complete" "$out/l.npy" 24
expect_status 0 "run with V's own head size (Dv 8, D 4)" run --q "$in/q.npy" --k "$in/k.npy" \
    --v "$in/k8.npy" --out "$out/o.npy" --lse "$out/l.npy" --device cpu
check_npy "  O [1, 2, 3, 8] has the right size" "$out/o.npy" 192
expect_status 0 "run bf16 (<u2 bits, --dtype bf16)" run --q "$in/qb.npy" --k "$in/kb.npy" \
    --v "$in/kb.npy" --out "$out/o.npy" --dtype bf16 --causal --device cpu
check_npy "  O <u2 has the right size and values" "$out/o.npy" 48 "$in/ob.bin"
expect_status 0 "run f16" run --q "$in/q16.npy" --k "$in/k16.npy" --v "$in/k16.npy" \
    --out "$out/o.npy" --device cpu
check_npy "  O <f2 has the right size and values" "$out/o.npy" 48 "$in/o16.bin"

# The default device (the first GPU, else any Vulkan device, else the CPU): the same run works.
expect_status 0 "run on the default device" run-qkv --out "$out/o.npy" --lse "$out/l.npy"
check_npy "  O is complete" "$out/o.npy" 96
check_npy "  LSE is complete" "$out/l.npy" 24
expect_status 0 "run with starts, sinks and ALiBi on the default device" run-qkv \
    --out "$out/o.npy" --q-start 1 --kv-start 2 --causal --sinks "$in/sinks.npy" \
    --alibi "$in/alibi_bh.npy"
check_npy "  O is complete" "$out/o.npy" 96

expect_status 0 "run a packed batch on the default device" run --q "$in/qp.npy" \
    --k "$in/kp.npy" --v "$in/kp.npy" --out "$out/o.npy" --cu-seqlens-q 0,1,3 \
    --cu-seqlens-kv 0,2,5 --causal
check_npy "  O has the right size and values" "$out/o.npy" 96 "$in/o.bin"

expect_status 0 "bf16 with --splits on the default device (attention.comp ignores the split)" \
    run --q "$in/qb.npy" --k "$in/kb.npy" --v "$in/kb.npy" --out "$out/o.npy" --dtype bf16 \
    --splits 2
check_npy "  O has the right size and values" "$out/o.npy" 48 "$in/ob.bin"
expect_status 0 "run bf16 on the default device" run --q "$in/qb.npy" --k "$in/kb.npy" \
    --v "$in/kb.npy" --out "$out/o.npy" --dtype bf16
check_npy "  O has the right size and values" "$out/o.npy" 48 "$in/ob.bin"

expect_error "--lse names --out through another path" run-qkv --out "$out/o.npy" \
    --lse "$out/../out/o.npy" --device cpu

# VKATTN_DEVICE=cpu needs no Vulkan driver at all.
VK_ICD_FILENAMES=/nonexistent.json VK_DRIVER_FILES=/nonexistent.json VKATTN_DEVICE=cpu \
    "$VKATTN" run --q "$in/q.npy" --k "$in/k.npy" --v "$in/v.npy" --out "$d/o_cpu.npy" \
    >/dev/null 2>"$d/stderr"
if [ $? -eq 0 ] && [ -s "$d/o_cpu.npy" ]; then
    ok "VKATTN_DEVICE=cpu without a Vulkan driver"
else
    bad "VKATTN_DEVICE=cpu without a Vulkan driver: $(head -n 1 "$d/stderr")"
fi
rm -f "$d/o_cpu.npy"

# vkattn info: lists the devices (or says the CPU is the default) and marks the default.
expect_status 0 "info" info
if grep -q "the CPU reference" "$d/stdout" && grep -q "default" "$d/stdout"; then
    ok "  info names the CPU fallback and the default"
else
    bad "  info output: $(head -n 3 "$d/stdout")"
fi
expect_status 0 "info --json" info --json
if grep -q '"default": ' "$d/stdout" && grep -q '"devices": \[' "$d/stdout"; then
    ok "  info --json has default and devices"
else
    bad "  info --json output: $(head -c 200 "$d/stdout")"
fi
if grep -q '"subgroup_size"' "$d/stdout" && ! grep -q '"subgroup_reduce": ' "$d/stdout"; then
    bad "  info --json lists a device without subgroup_reduce"
fi
VKATTN_DEVICE=cpu "$VKATTN" info --json >"$d/stdout" 2>"$d/stderr"
if grep -q '^{"default": "cpu"' "$d/stdout"; then
    ok "  info --json honours VKATTN_DEVICE=cpu"
else
    bad "  VKATTN_DEVICE=cpu info --json: $(head -c 80 "$d/stdout")"
fi
expect_error "info with an unknown option" info --frob

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
