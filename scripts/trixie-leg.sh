#!/bin/sh
# The Debian 13 leg of CI (run by .ci/run after scripts/test.sh, the Debian 12 leg).
#
# Debian 12's Mesa has no VK_KHR_cooperative_matrix on lavapipe and its glslc cannot compile
# GL_KHR_cooperative_matrix, so the cooperative-matrix kernel cannot be built or tested there.
# This script builds and tests vkattn inside a Debian 13 (trixie) root instead, against the
# lavapipe of trixie-backports' Mesa (26.x, which offers VK_KHR_cooperative_matrix) and trixie's
# glslc (shaderc 2025.x), with trixie's validation layer.
#
#   scripts/trixie-leg.sh            build in build-trixie/, then the meson tests, `vkattn info`,
#                                    `vkattn test` and `vkattn test --kernel coopmat`
#   scripts/trixie-leg.sh CMD ARGS   build, then run CMD ARGS inside the root at /src instead,
#                                    e.g. scripts/trixie-leg.sh build-trixie/tools/vkattn info
#
# Needs root (debootstrap, mount, chroot). The root is made once at
# ${VKATTN_TRIXIE_ROOT:-/var/cache/vkattn/trixie} and reused while its stamp files say that it is
# complete; VKATTN_TRIXIE_REFRESH=1 updates its packages again. The repository is bind-mounted at
# /src inside it, so the build lands in this checkout's build-trixie/ (the host leg uses build/).
# Ends with "trixie: N passed, N failed" (the meson tests one by one, each vkattn step as one) and
# the time of every phase; exits nonzero on any failure.
set -eu
if [ "$(id -u)" -ne 0 ]; then
    echo "trixie-leg: needs root (debootstrap, mount, chroot)" >&2
    exit 2
fi
# Everything runs in a mount namespace of its own where unshare(1) can make one: the mounts below
# are then invisible to the rest of the machine and vanish with the last process of this run,
# even one killed outright, and mounts that anything else left in the root cannot get in the way.
# (The trap below unmounts them all the same, and is all there is where no namespace can be had.)
if [ -z "${VKATTN_TRIXIE_IN_NS:-}" ] && unshare --mount --propagation private true 2>/dev/null; then
    VKATTN_TRIXIE_IN_NS=1 exec unshare --mount --propagation private /bin/sh "$0" "$@"
fi
cd "$(dirname "$0")/.."
repo=$(pwd)
root=${VKATTN_TRIXIE_ROOT:-/var/cache/vkattn/trixie}
suite=trixie
# The root is removed and made anew when incomplete: never a path that could be anything else.
case $root in
    /?*/?*) root=${root%/} ;;
    *)
        echo "trixie-leg: VKATTN_TRIXIE_ROOT must be an absolute path two levels deep or more" >&2
        exit 2
        ;;
esac
# One run at a time per root (apt, debootstrap and the build directory are not shared safely);
# the lock lives beside the root, so that removing the root keeps it.
mkdir -p "$(dirname "$root")"
exec 9>"$root.lock"
if ! flock -n 9; then
    echo "== trixie leg: waiting for another run on $root"
    flock 9
fi
export DEBIAN_FRONTEND=noninteractive

now() { date +%s; }
t_start=$(now)
times=""
# phase NAME SECONDS: remember one phase's time for the closing report.
phase() {
    echo "== trixie leg: $1 took $2 s"
    times="${times}${times:+, }$1 $2 s"
}

# --- The mirror -------------------------------------------------------------------------------
# The repository names no mirror: the host's apt sources say which one this machine may use. Both
# formats are read: one-line "deb [options] URI suite components" in sources.list and *.list, and
# deb822 stanzas (Types/URIs/Suites/Enabled) in *.sources. Each candidate is printed as
# "URI first-suite"; the first whose path ends in /debian (the main archive, so not
# debian-security, debian-ports or debian-debug) and whose suite is not a -security one is taken.
host_mirror() {
    {
        for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
            [ -f "$f" ] || continue
            sed -e 's/#.*//' "$f" | awk '
                $1 == "deb" {
                    i = 2
                    if ($i ~ /^\[/) {            # [ option=value ... ] may hold spaces
                        while (i <= NF && $i !~ /\]$/) i++
                        i++
                    }
                    if (i + 1 <= NF) print $i, $(i + 1)
                }'
        done
        for f in /etc/apt/sources.list.d/*.sources; do
            [ -f "$f" ] || continue
            # Paragraph mode: one record per stanza. Comment lines are dropped; a line starting
            # with white space continues the field before it.
            awk 'BEGIN { RS = ""; FS = "\n" }
                {
                    delete v; key = ""
                    for (n = 1; n <= NF; n++) {
                        line = $n
                        if (line ~ /^#/) continue
                        if (line ~ /^[ \t]/ && key != "") { v[key] = v[key] " " line; continue }
                        p = index(line, ":")
                        if (p == 0) continue
                        key = tolower(substr(line, 1, p - 1))
                        v[key] = substr(line, p + 1)
                    }
                    if (tolower(v["enabled"]) ~ /no/) next
                    if (v["types"] !~ /(^|[ \t])deb([ \t]|$)/) next
                    ns = split(v["suites"], s, /[ \t]+/)
                    first = ""
                    for (j = 1; j <= ns; j++) if (s[j] != "") { first = s[j]; break }
                    nu = split(v["uris"], u, /[ \t]+/)
                    for (j = 1; j <= nu; j++) if (u[j] != "") print u[j], first
                }' "$f"
        done
    } | while read -r uri first; do
        # mirror+file:///path (Debian's cloud images): the first mirror the file lists.
        case $uri in
            mirror+file:*)
                f=${uri#mirror+file:}
                f=/${f#"${f%%[!/]*}"}
                uri=$(sed -e 's/#.*//' "$f" 2>/dev/null | awk 'NF { print $1; exit }')
                ;;
        esac
        [ -n "$uri" ] && echo "$uri $first"
    done | awk '{ uri = $1; sub(/\/+$/, "", uri)
               if (uri ~ /\/debian$/ && $2 !~ /-security$/) { print uri; exit } }'
}

# --- Mounts, undone on every exit ---------------------------------------------------------------
# mounted: what this run mounted, in order; the trap unmounts it in reverse on any exit (success,
# failure, signal). Mounts that were already there are left alone: ours go on top of them. /dev
# and /sys are bound recursively (/dev/pts, /dev/shm too) and made slaves, so that nothing done
# inside reaches the host.
mounted=""
mount_at() { # mount_at TARGET MOUNT-ARGS...
    target=$1
    shift
    mount "$@" "$target"
    mounted="$target $mounted"
}
mounts_under_root() {
    # Mount points under the root from the kernel's own table, deepest first.
    awk -v r="$root" '$5 == r || index($5, r "/") == 1 { print $5 }' /proc/self/mountinfo | sort -r
}
# Before the root is removed or made anew: everything under it goes, whoever mounted it (an
# interrupted debootstrap leaves its /proc and /sys). rm must never meet a bind mount: a bind of
# the same file system is not stopped by --one-file-system.
unmount_all_under_root() {
    for m in $(mounts_under_root); do
        umount "$m" 2>/dev/null || umount -R "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
    done
    [ -z "$(mounts_under_root)" ]
}
creating=0
cleanup() {
    for m in $mounted; do
        umount -R "$m" 2>/dev/null || umount -l "$m" 2>/dev/null ||
            echo "trixie-leg: could not unmount $m" >&2
    done
    mounted=""
    if [ "$creating" = 1 ]; then unmount_all_under_root || true; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

mount_all() {
    mount_at "$root/proc" -t proc proc
    mount_at "$root/dev" --rbind /dev
    mount --make-rslave "$root/dev"
    # lavapipe and LLVM read the CPU topology from /sys.
    mount_at "$root/sys" --rbind /sys
    mount --make-rslave "$root/sys"
    mkdir -p "$root/src"
    mount_at "$root/src" --bind "$repo"
    # apt inside needs the host's name resolution.
    cp -L /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
}

# The Vulkan driver: lavapipe only, through its ICD file inside the root (found once the packages
# are in, below).
icd=

# inroot CMD ARGS: run CMD inside the root at /src, in a clean environment: PATH, HOME, LANG and
# the loader's driver selection, plus the caller's CI and VKATTN_* variables (VKATTN_TEST_QUICK,
# ...) other than this script's own VKATTN_TRIXIE_*; nothing else of the host's environment
# reaches the root. Mesa's shader cache then lives in the root's /root/.cache and survives between
# runs, like the root itself.
inroot() (
    for name in $(env | sed -n 's/^\([A-Za-z_][A-Za-z0-9_]*\)=.*/\1/p'); do
        case $name in
            VKATTN_TRIXIE_*) unset "$name" 2>/dev/null || true ;;
            VKATTN_* | CI) ;;
            *) unset "$name" 2>/dev/null || true ;;
        esac
    done
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
    HOME=/root
    LANG=C.UTF-8
    LC_ALL=C.UTF-8
    DEBIAN_FRONTEND=noninteractive
    # VK_DRIVER_FILES for the loader of trixie, VK_ICD_FILENAMES for older ones: lavapipe only.
    VK_DRIVER_FILES=$icd
    VK_ICD_FILENAMES=$icd
    export PATH HOME LANG LC_ALL DEBIAN_FRONTEND VK_DRIVER_FILES VK_ICD_FILENAMES
    exec chroot "$root" /bin/sh -c 'cd /src && exec "$@"' sh "$@" 9>&-
)

# --- 1. The root --------------------------------------------------------------------------------
# Stamp files: .vkattn-bootstrapped once debootstrap finished, .vkattn-packages holding the
# package list once everything below is installed. A root without the first is a leftover of an
# interrupted run and is made anew.
# clang and its runtimes are not used by the default steps, but cost only about 30 MB here (they
# share Mesa's libllvm19) and let scripts/fuzz.sh or the sanitizer builds run in this root too.
packages="gcc g++ meson ninja-build pkg-config git libvulkan-dev glslc glslang-tools
vulkan-validationlayers vulkan-tools check libcjson-dev libpng-dev python3 clang libclang-rt-dev"
# The stamp also records the release that Mesa comes from, so that changing it reinstalls.
# shellcheck disable=SC2086 # the list is words
want_stamp=$(printf '%s\n' $packages "mesa-vulkan-drivers/$suite-backports")

t0=$(now)
if [ ! -f "$root/.vkattn-bootstrapped" ]; then
    if ! command -v debootstrap >/dev/null 2>&1; then
        apt-get update -q
        apt-get install -y -q --no-install-recommends debootstrap
    fi
    mirror=$(host_mirror)
    if [ -z "$mirror" ]; then
        echo "trixie-leg: no Debian archive in the host's apt sources" >&2
        exit 2
    fi
    creating=1
    if ! unmount_all_under_root; then
        echo "trixie-leg: refusing to remove $root while something is mounted in it:" >&2
        mounts_under_root >&2
        exit 1
    fi
    rm -rf --one-file-system "$root"
    mkdir -p "$(dirname "$root")"
    echo "== trixie leg: debootstrap $suite into $root"
    # minbase: apt and the essentials only; the rest comes from apt below.
    debootstrap --variant=minbase --components=main --include=ca-certificates \
        "$suite" "$root" "$mirror"
    printf '%s\n' "$mirror" >"$root/.vkattn-mirror"
    touch "$root/.vkattn-bootstrapped"
    creating=0
fi
phase creation $(($(now) - t0))

mount_all

# --- 2. Packages --------------------------------------------------------------------------------
t0=$(now)
if [ "${VKATTN_TRIXIE_REFRESH:-0}" = 1 ] || [ ! -f "$root/.vkattn-packages" ] ||
    [ "$(cat "$root/.vkattn-packages")" != "$want_stamp" ]; then
    mirror=$(host_mirror)
    [ -n "$mirror" ] || mirror=$(cat "$root/.vkattn-mirror")
    # The release, its updates and its backports, from the host's mirror (debootstrap's one-line
    # sources.list is replaced).
    rm -f "$root/etc/apt/sources.list"
    cat >"$root/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $mirror
Suites: $suite $suite-updates $suite-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
    # The validation layer must be trixie's own, whatever the backports hold.
    cat >"$root/etc/apt/preferences.d/vkattn" <<EOF
Package: vulkan-validationlayers
Pin: release n=$suite
Pin-Priority: 1001
EOF
    # No daemon may start inside the root.
    printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
    chmod 755 "$root/usr/sbin/policy-rc.d"
    rm -f "$root/.vkattn-packages"
    inroot apt-get update -q
    inroot apt-get -y -q dist-upgrade
    # shellcheck disable=SC2086 # the list is words
    inroot apt-get install -y -q --no-install-recommends $packages
    # Mesa from the backports (-t: its dependencies come from there too where it needs newer ones).
    inroot apt-get install -y -q --no-install-recommends -t "$suite-backports" mesa-vulkan-drivers
    inroot apt-get clean
    printf '%s\n' "$want_stamp" >"$root/.vkattn-packages"
fi
phase packages $(($(now) - t0))

# What this leg runs against. Mesa 26.x is the target (VK_KHR_cooperative_matrix on lavapipe); an
# older one is reported, not refused.
# shellcheck disable=SC2016 # ${Version} is dpkg-query's
mesa=$(inroot dpkg-query -W -f '${Version}' mesa-vulkan-drivers)
# shellcheck disable=SC2016
echo "== trixie leg: Mesa $mesa, $(inroot glslc --version | head -n 1)," \
    "validation layer $(inroot dpkg-query -W -f '${Version}' vulkan-validationlayers)"
case $mesa in
    26.*) ;;
    *) echo "trixie leg: warning: Mesa $mesa, not 26.x, from $suite-backports" ;;
esac
# Its ICD file: lvp_icd.<arch>.json in older packaging, lvp_icd.json (a library name that the
# dynamic linker resolves per architecture) in Mesa 26's.
for f in "lvp_icd.$(uname -m).json" lvp_icd.json; do
    if [ -f "$root/usr/share/vulkan/icd.d/$f" ]; then
        icd=/usr/share/vulkan/icd.d/$f
        break
    fi
done
if [ -z "$icd" ]; then
    echo "trixie-leg: no lavapipe ICD file in the root's /usr/share/vulkan/icd.d" >&2
    exit 1
fi
echo "== trixie leg: Vulkan driver $icd (lavapipe only)"

# --- 3. Build -----------------------------------------------------------------------------------
t0=$(now)
if [ -d build-trixie/meson-private ]; then
    inroot meson setup --reconfigure build-trixie >/dev/null
else
    inroot meson setup build-trixie >/dev/null
fi
inroot ninja -C build-trixie
phase build $(($(now) - t0))

# --- 4. Tests, or the caller's command ------------------------------------------------------------
t0=$(now)
if [ $# -gt 0 ]; then
    status=0
    inroot "$@" || status=$?
    phase command $(($(now) - t0))
    echo "== trixie leg: $times; total $(($(now) - t_start)) s"
    exit "$status"
fi

passed=0
failed=0
# step NAME CMD ARGS: one vkattn step; a failure is counted and the next step runs regardless.
step() {
    name=$1
    shift
    echo "== trixie leg: $name"
    if inroot "$@"; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        echo "== trixie leg: $name FAILED"
    fi
}

# The meson tests, counted one by one from meson's summary. (A pipeline's status is tee's in POSIX
# sh, so meson's own comes back through a file.)
log=build-trixie/test-summary.log
{ inroot meson test -C build-trixie --print-errorlogs --num-processes 2; echo $? >"$log.rc"; } 2>&1 |
    tee "$log"
ok=$(sed -n 's/^Ok: *\([0-9]*\).*/\1/p' "$log")
fail=$(sed -n 's/^Fail: *\([0-9]*\).*/\1/p' "$log")
timeout=$(sed -n 's/^Timeout: *\([0-9]*\).*/\1/p' "$log")
if [ -z "$ok" ]; then
    failed=$((failed + 1))
else
    passed=$((passed + ok))
    failed=$((failed + ${fail:-0} + ${timeout:-0}))
    # A nonzero status with no failure in the summary (meson itself failed) still fails.
    if [ "$(cat "$log.rc")" != 0 ] && [ $((${fail:-0} + ${timeout:-0})) -eq 0 ]; then
        failed=$((failed + 1))
    fi
fi
rm -f "$log.rc"

step "vkattn info" build-trixie/tools/vkattn info
step "vkattn test" build-trixie/tools/vkattn test --validation
# The cooperative-matrix kernel: the reason for this leg. Runs whatever the steps before gave.
step "vkattn test --kernel coopmat" build-trixie/tools/vkattn test --kernel coopmat --validation
phase tests $(($(now) - t0))

echo "== trixie leg: $times; total $(($(now) - t_start)) s"
echo "trixie: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
