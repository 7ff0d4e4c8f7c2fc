#!/bin/sh
# A program written outside the project, built against the installed vkattn: installs the build
# into a temporary DESTDIR, checks what was installed, copies examples/engine.c out of the tree,
# compiles it with cc and `pkg-config --cflags --libs vkattn` (and its own shader with glslc),
# and runs it against the installed shared library.
# Usage: test_consumer.sh BUILDDIR engine.c prepare.comp [GLSLC]
# Exit: 0 pass; 1 fail; 77 skip (no cc, pkg-config, meson or glslc here, or no Vulkan device).
set -u
build=${1:?usage: test_consumer.sh BUILDDIR engine.c prepare.comp [GLSLC]}
engine_c=${2:?usage: test_consumer.sh BUILDDIR engine.c prepare.comp [GLSLC]}
prepare=${3:?usage: test_consumer.sh BUILDDIR engine.c prepare.comp [GLSLC]}
glslc=${4:-glslc}

for tool in cc pkg-config meson "$glslc"; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "skip: $tool not found"
        exit 77
    fi
done

d=$(mktemp -d "${TMPDIR:-/tmp}/test_consumer.XXXXXX") || exit 1
trap 'rm -rf "$d"' EXIT
trap 'exit 130' INT TERM
dest=$d/dest
fail=0

ok() { echo "ok   $*"; }
bad() { fail=1; echo "FAIL $*"; }
die() { echo "FAIL $*"; exit 1; }

if ! meson install -C "$build" --destdir "$dest" --no-rebuild --quiet >"$d/install.log" 2>&1; then
    cat "$d/install.log"
    die "meson install -C $build --destdir ... failed"
fi
ok "meson install into a DESTDIR"

# The .pc file names the real prefix (e.g. /usr/local); the sysroot maps its paths into DESTDIR.
pc=$(find "$dest" -path '*/pkgconfig/vkattn.pc' | head -n 1)
[ -n "$pc" ] || die "no pkgconfig/vkattn.pc installed"
PKG_CONFIG_PATH=$(dirname "$pc")
PKG_CONFIG_SYSROOT_DIR=$dest
export PKG_CONFIG_PATH PKG_CONFIG_SYSROOT_DIR
ok "installed ${pc#"$dest"}"
includedir=$dest$(pkg-config --variable=includedir vkattn | sed "s|^$dest||")
libdir=$dest$(pkg-config --variable=libdir vkattn | sed "s|^$dest||")

for f in "$includedir/vkattn/vkattn.h" "$includedir/vkattn/vkattn_version.h" \
    "$libdir/libvkattn.so" "$libdir/libvkattn.a"; do
    if [ -e "$f" ]; then ok "installed ${f#"$dest"}"; else bad "not installed: ${f#"$dest"}"; fi
done
# Versioned names (libvkattn.so.N) appear once library() is given a version / soversion.
for f in "$libdir"/libvkattn.so.*; do
    [ -e "$f" ] && ok "installed ${f#"$dest"}"
done
[ "$fail" -eq 0 ] || exit 1

# Out of the tree, nothing of the project's build around: the source, its shader, pkg-config.
mkdir "$d/app" || exit 1
cp "$engine_c" "$d/app/engine.c" || exit 1
"$glslc" --target-env=vulkan1.1 -O -mfmt=c -o "$d/app/prepare.spv.h" "$prepare" ||
    die "glslc $prepare"
flags=$(pkg-config --cflags --libs vkattn) || die "pkg-config --cflags --libs vkattn"
echo "pkg-config --cflags --libs vkattn: $flags"
# shellcheck disable=SC2086 # the flags are words
if ! cc -std=c11 -Wall -Wextra -pedantic -Werror -o "$d/app/engine" "$d/app/engine.c" $flags \
    -pthread -lm; then
    die "cc engine.c \$(pkg-config --cflags --libs vkattn)"
fi
ok "compiled engine.c against the installed vkattn.pc"

LD_LIBRARY_PATH=$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export LD_LIBRARY_PATH
if command -v ldd >/dev/null 2>&1; then
    resolved=$(ldd "$d/app/engine" | grep libvkattn)
    case $resolved in
    *"$dest"*) ok "runs with the installed ${resolved#*=> }" ;;
    *) die "libvkattn does not resolve into the DESTDIR: $resolved" ;;
    esac
fi
"$d/app/engine"
rc=$?
case $rc in
0) ok "engine (installed build)" ;;
77) echo "skip: engine found no usable Vulkan device"; exit 77 ;;
*) die "engine exited $rc" ;;
esac
exit 0
