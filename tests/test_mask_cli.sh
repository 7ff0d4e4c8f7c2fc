#!/bin/sh
# vkattn mask as a user drives it (SPEC sections 2 and 4): the exact grid for small cases worked
# out by hand, the exit status and one-line error of bad usage, and the PNG it writes.
# Usage: test_mask_cli.sh path/to/vkattn. Needs only POSIX sh tools.
# The grids use --tiles so that they do not depend on the device's tile shape.
set -u
VKATTN=${1:?usage: test_mask_cli.sh path/to/vkattn}

d=$(mktemp -d "${TMPDIR:-/tmp}/test_mask_cli.XXXXXX") || exit 1
trap 'rm -rf "$d"' EXIT
trap 'exit 130' INT TERM
pass=0
fail=0

ok() { pass=$((pass + 1)); echo "ok   $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }

# Runs "vkattn mask ARGS"; status in $got, output in $d/stdout and $d/stderr.
run() {
    "$VKATTN" mask "$@" >"$d/stdout" 2>"$d/stderr"
    got=$?
}

# expect_grid NAME ARGS... <<EOF (the whole expected stdout)
expect_grid() {
    name=$1
    shift
    cat >"$d/want"
    run "$@"
    if [ "$got" -ne 0 ]; then
        bad "$name: exit $got: $(head -n 1 "$d/stderr")"
    elif ! cmp -s "$d/want" "$d/stdout"; then
        bad "$name: the output differs (- expected, + got):"
        diff "$d/want" "$d/stdout" | sed 's/^/     /'
    else
        ok "$name"
    fi
}

# expect_error NAME ARGS...: exit 2, exactly one line on stderr, nothing on stdout.
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
    elif [ -s "$d/stdout" ]; then
        bad "$name: printed to stdout on an error"
    else
        ok "$name: $msg"
    fi
}

# expect_png NAME FILE WIDTH HEIGHT: FILE starts with the PNG signature and an IHDR of that size.
expect_png() {
    name=$1 file=$2
    if [ ! -f "$file" ]; then
        bad "$name: $file was not written"
        return
    fi
    sig=$(od -An -tx1 -N8 "$file" | tr -s ' \n' ' ')
    # Bytes 16..23 are the IHDR's width and height, big-endian (split into 8 arguments).
    # shellcheck disable=SC2046
    set -- $(od -An -tu1 -j16 -N8 "$file") "$3" "$4"
    w=$(($1 * 16777216 + $2 * 65536 + $3 * 256 + $4))
    h=$(($5 * 16777216 + $6 * 65536 + $7 * 256 + $8))
    if [ "$sig" != " 89 50 4e 47 0d 0a 1a 0a " ]; then
        bad "$name: not a PNG (starts with$sig)"
    elif [ "$w" -ne "$9" ] || [ "$h" -ne "${10}" ]; then
        bad "$name: ${w}x$h pixels, expected ${9}x${10}"
    else
        ok "$name: PNG ${w}x$h"
    fi
}

# ---- grids worked out by hand ------------------------------------------------------------------
# Bottom-right: off = kl - ql = 2, so query i sees keys 0..i+2. Rows 0-1 see keys < 4: their
# second key tile (keys 4-5) is skipped.
expect_grid "causal bottom-right" --sq 4 --skv 6 --causal --tiles 2,4 <<'EOF'
Sq 4, Skv 6, batch item 0 of 1: ql 4, kl 6, off 2 (bottom-right), causal
  0123|45
0 ###.|
1 ####|
  ----+--
2 ####|#.
3 ####|##
# visible, . masked in a computed tile, blank: a skipped tile; tiles 2x4 (query rows x keys) as given by --tiles
visible pairs 18 of 24 (75.0%), tiles computed 3 of 4 (75.0%), tile 2x4
EOF

# Top-left: off = 0, query i sees keys 0..i; no row sees keys 4-5.
expect_grid "causal top-left" --sq 4 --skv 6 --causal --align top-left --tiles 2,4 <<'EOF'
Sq 4, Skv 6, batch item 0 of 1: ql 4, kl 6, off 0 (top-left), causal
  0123|45
0 #...|
1 ##..|
  ----+--
2 ###.|
3 ####|
# visible, . masked in a computed tile, blank: a skipped tile; tiles 2x4 (query rows x keys) as given by --tiles
visible pairs 10 of 24 (41.7%), tiles computed 2 of 4 (50.0%), tile 2x4
EOF

# Window (1, 0) without causal: query i sees keys i-1 and i. Row block [2, 4) sees keys [1, 4):
# key tiles 0 and 1; row block [4, 6) sees [3, 6): tiles 1 and 2.
expect_grid "window 1,0" --sq 6 --skv 6 --window 1,0 --tiles 2,2 <<'EOF'
Sq 6, Skv 6, batch item 0 of 1: ql 6, kl 6, off 0 (bottom-right), window 1,0
  01|23|45
0 #.|  |
1 ##|  |
  --+--+--
2 .#|#.|
3 ..|##|
  --+--+--
4   |.#|#.
5   |..|##
# visible, . masked in a computed tile, blank: a skipped tile; tiles 2x2 (query rows x keys) as given by --tiles
visible pairs 11 of 36 (30.6%), tiles computed 5 of 9 (55.6%), tile 2x2
EOF

# Padding, batch item 1: ql 3, kl 4, off 1. Row 3 is padding inside a computed tile; keys 4-5
# are padding, and no row block reaches their tile.
expect_grid "causal with q-lens and kv-lens" --sq 4 --skv 6 --batch 2 --q-lens 4,3 \
    --kv-lens 6,4 --item 1 --causal --tiles 2,4 <<'EOF'
Sq 4, Skv 6, batch item 1 of 2: ql 3, kl 4, off 1 (bottom-right), causal
  0123|45
0 ##..|
1 ###.|
  ----+--
2 ####|
3 ....|
# visible, . masked in a computed tile, blank: a skipped tile; tiles 2x4 (query rows x keys) as given by --tiles
visible pairs 9 of 24 (37.5%), tiles computed 2 of 4 (50.0%), tile 2x4
EOF

# More queries than keys, bottom-right: off = -2, rows 0-1 see nothing, so their whole row block
# is skipped (those rows get O = 0).
expect_grid "causal, queries that see nothing" --sq 4 --skv 2 --causal --tiles 2,2 <<'EOF'
Sq 4, Skv 2, batch item 0 of 1: ql 4, kl 2, off -2 (bottom-right), causal
  01
0
1
  --
2 #.
3 ##
# visible, . masked in a computed tile, blank: a skipped tile; tiles 2x2 (query rows x keys) as given by --tiles
visible pairs 3 of 8 (37.5%), tiles computed 1 of 2 (50.0%), tile 2x2
EOF

# Query padding only: rows 2-3 are padding, a whole row block the kernel skips.
expect_grid "q-lens padding block" --sq 4 --skv 4 --q-lens 2 --tiles 2,2 <<'EOF'
Sq 4, Skv 4, batch item 0 of 1: ql 2, kl 4, off 2 (bottom-right), no causal or window mask
  01|23
0 ##|##
1 ##|##
  --+--
2   |
3   |
# visible, . masked in a computed tile, blank: a skipped tile; tiles 2x2 (query rows x keys) as given by --tiles
visible pairs 8 of 16 (50.0%), tiles computed 2 of 4 (50.0%), tile 2x2
EOF

# Two rulers past ten keys; the tile boundary sits between keys 11 and 12.
expect_grid "ruler past ten keys" --sq 2 --skv 13 --window 0,-1 --align top-left --tiles 2,12 <<'EOF'
Sq 2, Skv 13, batch item 0 of 1: ql 2, kl 13, off 0 (top-left), window 0,-1
  0         1 |
  012345678901|2
0 ############|#
1 .###########|#
# visible, . masked in a computed tile, blank: a skipped tile; tiles 2x12 (query rows x keys) as given by --tiles
visible pairs 25 of 26 (96.2%), tiles computed 2 of 2 (100.0%), tile 2x12
EOF

# ---- devices -------------------------------------------------------------------------------------
run --sq 8 --skv 8 --causal --device cpu
if [ "$got" -eq 0 ] && grep -q 'nominal tiles 64x64: the CPU reference has no kernel tiles' \
    "$d/stdout"; then ok "--device cpu: nominal 64x64 tiles"
else bad "--device cpu: exit $got, no 'nominal tiles 64x64' line: $(head -n 1 "$d/stderr")"; fi

run --sq 8 --skv 8 --causal --head-dim 128 --dtype f16
if [ "$got" -eq 0 ] && grep -q 'tile [0-9]*x[0-9]*$' "$d/stdout"; then
    ok "default device: $(grep -o 'tiles [0-9]*x[0-9]* .*' "$d/stdout" | head -n 1)"
else bad "default device: exit $got: $(head -n 1 "$d/stderr")"; fi

# ---- bad usage ----------------------------------------------------------------------------------
expect_error "missing --skv" --sq 4
expect_error "missing --sq" --skv 4 --causal
expect_error "--sq 0" --sq 0 --skv 4
expect_error "--sq not a number" --sq four --skv 4
expect_error "--item beyond the batch" --sq 4 --skv 4 --item 1
expect_error "--kv-lens larger than Skv" --sq 4 --skv 4 --kv-lens 5
expect_error "--q-lens larger than Sq" --sq 4 --skv 4 --q-lens 5
expect_error "--kv-lens with too few values" --sq 4 --skv 4 --batch 2 --kv-lens 4
expect_error "--window without R" --sq 4 --skv 4 --window 1
expect_error "--window -2,0" --sq 4 --skv 4 --window -2,0
expect_error "--align sideways" --sq 4 --skv 4 --align sideways
expect_error "--tiles 0,2" --sq 4 --skv 4 --tiles 0,2
expect_error "--tiles 2" --sq 4 --skv 4 --tiles 2
expect_error "--tiles and --device" --sq 4 --skv 4 --tiles 2,2 --device cpu
expect_error "--dtype f64" --sq 4 --skv 4 --dtype f64
expect_error "--head-dim 257" --sq 4 --skv 4 --head-dim 257
expect_error "--head -1" --sq 4 --skv 4 --head -1
expect_error "--device 99" --sq 4 --skv 4 --device 99
expect_error "--device gpu" --sq 4 --skv 4 --device gpu
expect_error "--causal=1" --sq 4 --skv 4 --causal=1
expect_error "unknown option" --sq 4 --skv 4 --bogus
expect_error "stray argument" --sq 4 --skv 4 causal
expect_error "grid too large without --png" --sq 300 --skv 8 --causal
expect_error "--png in a missing directory" --sq 4 --skv 4 --tiles 2,2 --png "$d/none/m.png"
expect_error "--png names a directory" --sq 4 --skv 4 --tiles 2,2 --png "$d"

run --help
if [ "$got" -eq 0 ] && grep -q '^usage: vkattn mask' "$d/stdout"; then ok "--help"
else bad "--help: exit $got"; fi

# ---- PNG ----------------------------------------------------------------------------------------
# One pixel per pair plus a red line around every tile: 512 + 512/32 + 1 by 512 + 512/64 + 1.
run --causal --window 64,0 --sq 512 --skv 512 --tiles 64,32 --png "$d/m.png"
if [ "$got" -eq 0 ]; then expect_png "512x512 causal window" "$d/m.png" 529 521
else bad "512x512 causal window: exit $got: $(head -n 1 "$d/stderr")"; fi
# Past 256 the grid is left out: the header, the tile line, the summary and the PNG line.
n=$(wc -l <"$d/stdout")
if [ "$n" -eq 4 ] && grep -q 'tiles computed 30 of 128' "$d/stdout"; then
    ok "large mask with --png: summary only"
else bad "large mask with --png: $n lines, expected 4 with 'tiles computed 30 of 128'"; fi

# Small masks are drawn 16 pixels per pair: 6 * 16 + 4 lines. The grid is printed as well.
run --sq 6 --skv 6 --window 1,0 --tiles 2,2 --png "$d/small.png"
if [ "$got" -eq 0 ] && grep -q '^5   |..|##$' "$d/stdout"; then
    expect_png "small mask, scaled up" "$d/small.png" 100 100
else bad "small mask with --png: exit $got or no grid"; fi

# Past 2048 per side, 3x3 pairs per pixel: 1667 x 2000 pixels; row tiles are 64/3 = 21 pixels
# (lines drawn: 78 inner + frame), key tiles 32/3 = 10 (too thin: the frame only).
run --sq 5000 --skv 6000 --causal --window 1000,0 --tiles 64,32 --png "$d/big.png"
if [ "$got" -eq 0 ]; then expect_png "5000x6000, scaled down" "$d/big.png" 2002 1747
else bad "5000x6000: exit $got: $(head -n 1 "$d/stderr")"; fi

# Replacing an existing file leaves no temporary behind.
run --sq 6 --skv 6 --causal --tiles 2,2 --png "$d/m.png"
left=0
for f in "$d"/*.png.*; do [ -e "$f" ] && left=$((left + 1)); done
if [ "$got" -eq 0 ] && [ "$left" -eq 0 ]; then expect_png "overwrite" "$d/m.png" 100 100
else bad "overwrite: exit $got, $left temporary files left"; fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
