#!/bin/bash
# The project's GPU check: runs vkattn on a borrowed NVIDIA machine (an H200 lent for a
# few minutes, no network, no installs) and brings numbers back in $OUT.
#
#   scripts/gpu-check.sh --prepare [DIR [--with-validation]]
#                                          here: gather what must travel into DIR
#                                          (default gpu-carry, an ignored path);
#                                          VKATTN_BIN=path picks the build to carry
#   scripts/gpu-check.sh [--run]           there (or here): the check itself
#
# Prepare copies the built tool and the Vulkan loader (and the few small libraries the
# tool or the NVIDIA ICD may miss) as extracted Debian packages into DIR: the target's
# image is a CUDA image that may have no libvulkan at all, and nothing can be fetched
# there. At run time a carried library is only used where the target lacks that soname,
# so the target's own (newer) libraries win.
#
# Run writes into $OUT (default ./gpu-check-out): gpu-check.json (everything),
# gpu-check.txt (the table printed at the end), gpu-check.log (every step's output),
# info.json, bench.json, bench-coopmat.json, bench-shapes.json - 7 files, since the
# device tool brings back at most 8.
#
# Environment: OUT; GPU_CHECK_BUDGET (seconds for the whole run, default 400: the
# machine is held for about 8 minutes); GPU_CARRY (default <repo>/gpu-carry);
# PYTHON (an interpreter to prefer); GPU_CHECK_FORCE_CARRIED=1 (use every carried
# library even where the system has one: tests the carried set here);
# GPU_CHECK_VALIDATION=1 (run `vkattn test` with --validation; on by default when the
# validation layer was carried); GPU_CHECK_KEEP=1 (keep the work folder).
set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd)
HELPER="$ROOT/scripts/gpu_check.py"
# Multiarch directory of the Debian packages we carry: the device machine is x86-64.
MA=x86_64-linux-gnu

usage() {
    sed -n '2,/^set -u$/{/^#/p}' "$0" | sed 's/^# \{0,1\}//'
}

# ------------------------------------------------------------------------- prepare
prepare() {
    dir=$1
    with_validation=$2
    cd "$ROOT" || return 1
    case "$dir" in
        /*) echo "prepare: DIR must be a path inside the repository (the device tool carries repo paths only)" >&2
            return 2 ;;
    esac
    # What we fetch must never reach git: the folder has to be ignored.
    mkdir -p "$dir"
    if ! git check-ignore -q "$dir/"; then
        echo "prepare: '$dir' is not ignored by git; add '/$dir/' to .gitignore first" >&2
        return 2
    fi
    if [ "$(uname -m)" != x86_64 ]; then
        echo "prepare: this machine is $(uname -m); the device machine is x86-64, so the build would not run there" >&2
        return 2
    fi
    # The Debian 13 leg's build where there is one (scripts/trixie-leg.sh): Debian 12's glslc
    # cannot compile GL_KHR_cooperative_matrix, so build/ has no coopmat kernel. It needs
    # nothing of glibc past 2.34. VKATTN_BIN picks another build.
    default_bin=build/tools/vkattn
    [ -x "$ROOT/build-trixie/tools/vkattn" ] && default_bin=build-trixie/tools/vkattn
    bin=${VKATTN_BIN:-$default_bin}
    echo "prepare: carrying $bin"
    case "$bin" in /*) ;; *) bin="$ROOT/$bin" ;; esac
    if [ ! -x "$bin" ]; then
        echo "prepare: $bin is missing: run 'ninja -C build' first" >&2
        return 2
    fi
    rm -rf "${dir:?}/bin" "${dir:?}/lib" "${dir:?}/root" "${dir:?}/debs" "${dir:?}/MANIFEST.txt"
    mkdir -p "$dir/bin" "$dir/lib" "$dir/root" "$dir/debs"
    cp -p "$bin" "$dir/bin/vkattn" || return 1
    # A build older than HEAD is carried as it is (the tree may be mid-edit), but said so.
    head=$(git rev-parse --short HEAD 2>/dev/null)
    if ! "$bin" --version 2>&1 | grep -q "git $head"; then
        echo "prepare: warning: $bin is '$("$bin" --version 2>&1)', HEAD is $head: rebuild it for a current build" >&2
    fi
    # The tool links libvkattn statically today; carry the shared one if that changes.
    if ldd "$bin" | grep -q 'libvkattn\.so'; then
        cp -P "$ROOT"/build/src/libvkattn.so* "$dir/lib/" || return 1
    fi
    # libvulkan1: the loader (the CUDA image may lack it). libcjson1, libpng16-16: the
    # tool's own dependencies, absent from a plain CUDA image. libglvnd0 (libGLdispatch)
    # and the X client libraries: needed by the NVIDIA ICD, libGLX_nvidia.so.0, where
    # the image has no GL stack. All small (under 2 MiB together).
    pkgs="libvulkan1 libcjson1 libpng16-16 libglvnd0 libx11-6 libx11-xcb1 libxext6 libxcb1 libxau6 libxdmcp6 libbsd0 libmd0"
    # The validation layer is about 22 MiB unpacked, a third of what may travel: only on request.
    [ "$with_validation" = 1 ] && pkgs="$pkgs vulkan-validationlayers"
    (cd "$dir/debs" && apt-get -q -o APT::Sandbox::User=root download $pkgs) || {
        # An empty or stale package list: refresh once and try again.
        apt-get update -qq && (cd "$dir/debs" && apt-get -q -o APT::Sandbox::User=root download $pkgs)
    } || { echo "prepare: apt-get download failed" >&2; return 1; }
    for d in "$dir"/debs/*.deb; do
        dpkg -x "$d" "$dir/root" || return 1
    done
    # Only the shared objects and layer manifests are needed there.
    rm -rf "$dir/root/usr/share/doc" "$dir/root/usr/share/doc-base" "$dir/root/usr/share/lintian" "$dir/root/usr/share/bug"
    {
        echo "prepared $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(uname -n)"
        echo "binary: $("$bin" --version 2>&1)"
        echo "repo HEAD $(git rev-parse --short HEAD 2>/dev/null)$(git diff --quiet HEAD -- src shaders tools include 2>/dev/null || echo ' +uncommitted changes in src/shaders/tools/include')"
        echo "vkattn sha256 $(sha256sum "$dir/bin/vkattn" | cut -d' ' -f1)"
        echo "glibc here: $(ldd --version | head -1)"
        # The target must have at least this glibc (its CUDA image: Ubuntu 24.04's 2.39, by
        # its Python 3.12.3; checked there in env/glibc).
        echo "binary needs $(objdump -T "$dir/bin/vkattn" 2>/dev/null | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -1)"
        for d in "$dir"/debs/*.deb; do
            dpkg-deb --show --showformat='${Package} ${Version}\n' "$d"
        done
    } >"$dir/MANIFEST.txt"
    rm -rf "$dir/debs"
    cat "$dir/MANIFEST.txt"
    echo "size: $(du -sh "$dir" | cut -f1)"
    echo "carry: [\"$dir\"]   command: scripts/gpu-check.sh"
}

# ------------------------------------------------------------------------- run
now() { date +%s; }

# record STEP STATUS RC SECONDS NOTE: one line of steps.tsv, which the report reads.
record() {
    printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" >>"$WORK/steps.tsv"
    printf '[gpu-check] %-16s %-12s rc=%-3s %6ss  %s\n' "$1" "$2" "$3" "$4" "$5"
}

# step NAME TIMEOUT OUTFILE CMD...: runs CMD with its own timeout (cut to the time the
# whole run has left), its output to OUTFILE and to the log. Never fails the script:
# sets STEP_RC and STEP_SECS and leaves the status to the caller (see finish).
step() {
    name=$1 t=$2 of=$3
    shift 3
    left=$((DEADLINE - $(now) - RESERVE))
    if [ "$left" -lt 10 ]; then
        STEP_RC=- STEP_SECS=0
        record "$name" skipped - 0 "out of time"
        return 1
    fi
    [ "$t" -gt "$left" ] && t=$left
    printf '\n=== %s (timeout %ss): %s\n' "$name" "$t" "$*" >>"$LOG"
    printf '[gpu-check] %s ...\n' "$name"
    t0=$(date +%s.%N)
    timeout -k 5 "$t" "$@" >"$of" 2>&1
    STEP_RC=$?
    STEP_SECS=$(echo "$(date +%s.%N) $t0" | awk '{printf "%.1f", $1 - $2}')
    cat "$of" >>"$LOG"
    echo "=== $name: rc $STEP_RC after ${STEP_SECS}s" >>"$LOG"
    return 0
}

# finish NAME NOTE: the usual status from STEP_RC.
finish() {
    case "$STEP_RC" in
        0) st=ok ;;
        124 | 137) st=timeout ;;
        2) st=usage ;;
        *) st=fail ;;
    esac
    record "$1" "$st" "$STEP_RC" "$STEP_SECS" "$2"
}

# A soname is "present" when the dynamic linker's cache knows it.
have_lib() {
    ldconfig -p 2>/dev/null | grep -qF "	$1 ("
}

# Makes $WORK/lib: links to the carried libraries that the system lacks (all of them
# with GPU_CHECK_FORCE_CARRIED=1). LD_LIBRARY_PATH beats the cache, so linking only the
# missing ones is what keeps the target's own libraries in use.
setup_libs() {
    mkdir -p "$WORK/lib"
    used=""
    for d in "$CARRY/lib" "$CARRY/root/usr/lib/$MA" "$CARRY/root/lib/$MA"; do
        [ -d "$d" ] || continue
        for f in "$d"/*.so*; do
            [ -e "$f" ] || continue
            n=$(basename "$f")
            case "$n" in *.so | *.so.[0-9] | *.so.[0-9][0-9]) ;; *) continue ;; esac
            if [ "${GPU_CHECK_FORCE_CARRIED:-0}" = 1 ] || ! have_lib "$n"; then
                ln -sf "$f" "$WORK/lib/$n"
                used="$used $n"
            fi
        done
    done
    export LD_LIBRARY_PATH="$WORK/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    echo "carried libraries used:${used:- none}" >"$WORK/env/libs"
    # The carried validation layer's manifest names its library by bare soname, which
    # the link above makes resolvable.
    if [ -d "$CARRY/root/usr/share/vulkan/explicit_layer.d" ]; then
        export VK_LAYER_PATH="$CARRY/root/usr/share/vulkan/explicit_layer.d${VK_LAYER_PATH:+:$VK_LAYER_PATH}"
        VALIDATION=${GPU_CHECK_VALIDATION:-1}
    fi
}

# Prints the directory holding libGLX_nvidia.so.0 (the NVIDIA Vulkan ICD), if any.
find_glx_nvidia() {
    p=$(ldconfig -p 2>/dev/null | awk '/libGLX_nvidia\.so\.0 /{print $NF; exit}')
    if [ -z "$p" ]; then
        for d in /usr/local/nvidia/lib64 /usr/local/nvidia/lib /usr/lib/$MA /usr/lib64 /usr/lib \
                 /usr/local/lib /usr/lib/nvidia /run/nvidia/driver/usr/lib/$MA; do
            [ -e "$d/libGLX_nvidia.so.0" ] && { p="$d/libGLX_nvidia.so.0"; break; }
        done
    fi
    if [ -z "$p" ]; then
        p=$(find /usr/local/nvidia /usr/lib /usr/lib64 /opt -maxdepth 4 -name 'libGLX_nvidia.so.0' 2>/dev/null | head -1)
    fi
    [ -n "$p" ] && dirname "$p"
}

# Candidate ICD manifests naming the NVIDIA driver: the loader's standard folders and
# the driver's own (CUDA containers mount the driver under /usr/local/nvidia).
find_icd_jsons() {
    for d in /usr/share/vulkan/icd.d /etc/vulkan/icd.d /usr/local/share/vulkan/icd.d \
             /usr/local/etc/vulkan/icd.d /usr/local/nvidia/share/vulkan/icd.d \
             /usr/local/nvidia/etc/vulkan/icd.d /usr/local/nvidia/icd.d; do
        for f in "$d"/*.json; do
            [ -f "$f" ] && grep -qi nvidia "$f" && echo "$f"
        done
    done
    find /usr/local/nvidia /run/nvidia -maxdepth 6 -name 'nvidia_icd*.json' 2>/dev/null
}

# try_icd JSON: does the loader find an NVIDIA device (vendor 0x10de = 4318) with it?
try_icd() {
    VK_DRIVER_FILES=$1 VK_ICD_FILENAMES=$1 timeout -k 5 30 "$VKATTN" info --json \
        >"$WORK/icd-try.json" 2>>"$LOG" && grep -q '"vendor_id": *4318' "$WORK/icd-try.json"
}

# Chooses the Vulkan driver: an NVIDIA ICD when one works, else the default device.
# VK_DRIVER_FILES (loader 1.3.207+) and VK_ICD_FILENAMES (older loaders) both name it,
# which also hides any other driver (say lavapipe) from the default-device choice.
setup_icd() {
    glxdir=$(find_glx_nvidia)
    if [ -n "$glxdir" ]; then
        # The ICD's own dependencies (libnvidia-glcore...) sit beside it.
        export LD_LIBRARY_PATH="$LD_LIBRARY_PATH:$glxdir"
        echo "libGLX_nvidia.so.0 in $glxdir" >"$WORK/env/glx"
        ldd "$glxdir/libGLX_nvidia.so.0" 2>&1 | grep 'not found' >>"$WORK/env/glx"
    fi
    if [ -n "${VK_DRIVER_FILES:-}${VK_ICD_FILENAMES:-}" ]; then
        echo "given by the caller: VK_DRIVER_FILES=${VK_DRIVER_FILES:-} VK_ICD_FILENAMES=${VK_ICD_FILENAMES:-}" >"$WORK/env/icd"
        return
    fi
    echo "=== ICD search" >>"$LOG"
    for j in $(find_icd_jsons | sort -u); do
        echo "trying $j: $(tr -d '\n' <"$j" | head -c 300)" >>"$LOG"
        if try_icd "$j"; then
            export VK_DRIVER_FILES=$j VK_ICD_FILENAMES=$j
            echo "NVIDIA ICD $j" >"$WORK/env/icd"
            return
        fi
    done
    if [ -n "$glxdir" ]; then
        # The common case in CUDA containers: the driver's libraries without a manifest.
        mkdir -p "$WORK/icd.d"
        j="$WORK/icd.d/nvidia_icd.json"
        printf '{\n  "file_format_version": "1.0.0",\n  "ICD": {\n    "library_path": "%s",\n    "api_version": "1.3.0"\n  }\n}\n' \
            "$glxdir/libGLX_nvidia.so.0" >"$j"
        echo "trying written $j" >>"$LOG"
        if try_icd "$j"; then
            export VK_DRIVER_FILES=$j VK_ICD_FILENAMES=$j
            echo "NVIDIA ICD written by gpu-check for $glxdir/libGLX_nvidia.so.0" >"$WORK/env/icd"
            return
        fi
    fi
    # Why not: the loader's own account, for the log.
    j=$(find_icd_jsons | head -1)
    j=${j:-${WORK}/icd.d/nvidia_icd.json}
    if [ -f "$j" ]; then
        echo "=== loader debug with $j" >>"$LOG"
        VK_LOADER_DEBUG=error,warn,driver VK_DRIVER_FILES=$j VK_ICD_FILENAMES=$j \
            timeout -k 5 30 "$VKATTN" info >>"$LOG" 2>&1
    fi
    echo "no working NVIDIA Vulkan ICD found (libGLX_nvidia.so.0: ${glxdir:-none}): the default Vulkan device" >"$WORK/env/icd"
    echo "[gpu-check] no NVIDIA Vulkan ICD: falling back to the default Vulkan device"
}

pick_python() {
    # The first interpreter with numpy (the target's torch lives in a venv's python3;
    # here a pyenv python3 may shadow Debian's, which has numpy and torch).
    for p in ${PYTHON:-} python3 /usr/bin/python3 /opt/torch/.venv/bin/python3; do
        command -v "$p" >/dev/null 2>&1 || continue
        "$p" -c 'import numpy' >/dev/null 2>&1 && { echo "$p"; return; }
    done
    for p in ${PYTHON:-} python3 /usr/bin/python3; do
        command -v "$p" >/dev/null 2>&1 && { echo "$p"; return; }
    done
}

collect_env() {
    e="$WORK/env"
    uname -a >"$e/uname" 2>&1
    grep -E '^(PRETTY_NAME|VERSION_ID)=' /etc/os-release >"$e/os-release" 2>&1
    ldd --version 2>&1 | head -1 >"$e/glibc"
    nproc >"$e/nproc" 2>&1
    if command -v nvidia-smi >/dev/null 2>&1; then
        timeout 20 nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm,power.draw \
            --format=csv,noheader >"$e/nvidia-smi" 2>&1
    fi
    { ldconfig -p 2>/dev/null | grep -E 'libvulkan|libGLX_nvidia|libnvidia-glcore' || echo "none in the linker cache"; } >"$e/ldconfig"
    [ -f "$CARRY/MANIFEST.txt" ] && cp "$CARRY/MANIFEST.txt" "$e/carry-manifest"
    echo "$VKATTN" >"$e/vkattn-path"
    "$VKATTN" --version >"$e/vkattn-version" 2>&1
    ldd "$VKATTN" 2>&1 | grep 'not found' >"$e/vkattn-missing-libs"
    [ -n "$PY" ] && "$PY" -c 'import sys; print(sys.executable, sys.version.split()[0])' >"$e/python" 2>&1
    cat "$e"/* >>"$LOG" 2>/dev/null
}

# Does this build's vkattn SUB take --kernel coopmat? (The kernel is being added.)
coopmat_flag() {
    "$VKATTN" "$1" --help 2>&1 | grep -q coopmat
}

# coop_unsupported NAME FILE: records NAME as unsupported when the last step failed
# because the coopmat kernel is not there: exit 2 naming --kernel (the tool does not
# take it), or a failure that says unsupported (a build whose glslc could not compile
# GL_KHR_cooperative_matrix, or a device without cooperative matrices).
coop_unsupported() {
    [ "$STEP_RC" != 0 ] || return 1
    why=""
    if [ "$STEP_RC" = 2 ] && grep -q -- '--kernel' "$2"; then
        why=$(grep -- '--kernel' "$2" | tail -1)
    else
        why=$(grep -iE 'unsupported|no cooperative' "$2" | tail -1)
    fi
    [ -n "$why" ] || return 1
    record "$1" unsupported "$STEP_RC" "$STEP_SECS" "$why"
}

run_check() {
    T_START=$(now)
    BUDGET=${GPU_CHECK_BUDGET:-400}
    RESERVE=20            # kept back for the report
    DEADLINE=$((T_START + BUDGET))
    OUT=${OUT:-./gpu-check-out}
    mkdir -p "$OUT" || exit 1
    OUT=$(cd "$OUT" && pwd)
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/gpu-check.XXXXXX")
    # GPU_CHECK_KEEP=1 keeps the work folder (the .npy files, the step outputs) for a look.
    if [ "${GPU_CHECK_KEEP:-0}" = 1 ]; then
        echo "[gpu-check] work folder kept: $WORK"
    else
        trap 'rm -rf "$WORK"' EXIT
    fi
    mkdir -p "$WORK/env"
    : >"$WORK/steps.tsv"
    LOG="$OUT/gpu-check.log"
    : >"$LOG"
    CARRY=${GPU_CARRY:-$ROOT/gpu-carry}
    VALIDATION=${GPU_CHECK_VALIDATION:-0}
    # A copy may lose the execute bit.
    [ -f "$CARRY/bin/vkattn" ] && [ ! -x "$CARRY/bin/vkattn" ] && chmod +x "$CARRY/bin/vkattn"
    if [ -x "$CARRY/bin/vkattn" ]; then
        VKATTN="$CARRY/bin/vkattn"
    elif [ -x "$ROOT/build/tools/vkattn" ]; then
        VKATTN="$ROOT/build/tools/vkattn"
        echo "[gpu-check] no carried vkattn in $CARRY: using build/tools/vkattn"
    else
        echo "[gpu-check] no vkattn: run 'scripts/gpu-check.sh --prepare' and carry gpu-carry" >&2
        VKATTN=false
    fi
    PY=$(pick_python)
    setup_libs
    collect_env
    setup_icd
    # Writable caches: Mesa and the NVIDIA driver keep compiled pipelines there.
    export XDG_CACHE_HOME="${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}"

    step info 60 "$OUT/info.json" "$VKATTN" info --json
    finish info "$(cat "$WORK/env/icd")"
    cp "$OUT/info.json" "$WORK/info.json" 2>/dev/null
    if [ "$STEP_RC" != 0 ]; then
        rm -f "$OUT/info.json"
    fi

    vflag=""
    [ "$VALIDATION" = 1 ] && vflag=--validation
    step test 150 "$WORK/test.txt" "$VKATTN" test --quick $vflag
    finish test "$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$WORK/test.txt" | tail -1)${vflag:+ (validation)}"

    COOP=0
    if coopmat_flag test; then
        step test-coopmat 120 "$WORK/test-coopmat.txt" "$VKATTN" test --kernel coopmat --quick $vflag
        coop_unsupported test-coopmat "$WORK/test-coopmat.txt" ||
            finish test-coopmat "$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$WORK/test-coopmat.txt" | tail -1)"
    else
        record test-coopmat unsupported - 0 "vkattn test --help lists no coopmat kernel"
    fi

    # On a GPU, --peak (about a second) puts each row against the device's measured
    # roofline; on a CPU device its micro-kernels would cost pipeline compiles instead.
    peak=""
    grep '"default": true' "$WORK/info.json" 2>/dev/null | grep -qv '"type": "cpu"' && peak=--peak
    step bench 120 "$WORK/bench.txt" "$VKATTN" bench --suite quick --dtype f32,f16 $peak --json "$OUT/bench.json"
    finish bench "$(grep -c '"ms_median"' "$OUT/bench.json" 2>/dev/null || echo 0) rows"

    if coopmat_flag bench; then
        step bench-coopmat 90 "$WORK/bench-coopmat.txt" "$VKATTN" bench --suite quick --dtype f32,f16 \
            --kernel coopmat --json "$OUT/bench-coopmat.json"
        if ! coop_unsupported bench-coopmat "$WORK/bench-coopmat.txt"; then
            finish bench-coopmat "$(grep -c '"ms_median"' "$OUT/bench-coopmat.json" 2>/dev/null || echo 0) rows"
            [ "$STEP_RC" = 0 ] && COOP=1
        fi
    else
        record bench-coopmat unsupported - 0 "vkattn bench --help lists no coopmat kernel"
    fi

    if [ -z "$PY" ]; then
        record compare skipped - 0 "no python3"
    elif ! "$PY" -c 'import numpy' >/dev/null 2>&1; then
        record compare skipped - 0 "no numpy in $PY"
    else
        cflag=""
        [ "$COOP" = 1 ] && cflag=--coopmat
        # The helper keeps to the deadline itself; the timeout is the backstop.
        left=$((DEADLINE - $(now) - RESERVE))
        step compare "$left" "$WORK/compare.txt" env PYTHONUNBUFFERED=1 "$PY" "$HELPER" compare \
            --vkattn "$VKATTN" --work "$WORK" --info "$WORK/info.json" --out "$WORK/compare.json" \
            --deadline $((DEADLINE - RESERVE)) --bench-json "$OUT/bench-shapes.json" $cflag &&
            finish compare "$("$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); print("torch", d.get("torch"), "cuda", bool(d.get("cuda")), "ref:", d.get("reference"))' "$WORK/compare.json" 2>/dev/null)"
        cat "$WORK/compare.log" >>"$LOG" 2>/dev/null
    fi

    wall=$(($(now) - T_START))
    if [ -n "$PY" ]; then
        "$PY" "$HELPER" report --work "$WORK" --out "$OUT" --wall "$wall" 2>>"$LOG" && return 0
        echo "[gpu-check] report failed (see gpu-check.log): writing the step list only" >&2
    fi
    # No usable python: the step list alone, so that something readable comes back.
    {
        printf '{"wall_s": %s, "note": "no python report", "steps": [' "$wall"
        awk -F'\t' 'BEGIN{s=""} {gsub(/"/,"\\\"",$5); printf "%s{\"step\":\"%s\",\"status\":\"%s\",\"rc\":\"%s\",\"seconds\":%s,\"note\":\"%s\"}", s,$1,$2,$3,$4,$5; s=","}' "$WORK/steps.tsv"
        printf ']}\n'
    } >"$OUT/gpu-check.json"
    { column -t -s "$(printf '\t')" "$WORK/steps.tsv" 2>/dev/null || cat "$WORK/steps.tsv"; } | tee "$OUT/gpu-check.txt"
}

case "${1:-}" in
    --prepare)
        dir=${2:-gpu-carry}
        val=0
        [ "${3:-}" = --with-validation ] && val=1
        prepare "${dir%/}" "$val"
        ;;
    "" | --run) run_check ;;
    -h | --help) usage ;;
    *) usage >&2; exit 2 ;;
esac
