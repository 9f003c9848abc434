#!/bin/bash
# Build qemu-system-x86_64 from Debian's qemu source package, for `seoib lab`.
#
#   tools/build-qemu.sh [--patch FILE [--origin TEXT]] [--source DIR] [--jobs N] OUTDIR
#
# OUTDIR gets src/ (the unpacked source, Debian's own patches applied, then
# FILE if given), build/ (the binary: build/qemu-system-x86_64) and
# BUILD-INFO (package version, the patch's file name, digest and --origin - where
# it was published: subject, date, message id - and the configure line), which
# `seoib lab` copies into its evidence as the binary's provenance.
#
# The source comes from `apt-get source qemu`: add a deb-src line for the
# suite that carries the release you want (Debian 13 "trixie" has 10.0.x) and
# run `apt-get update`, or pass --source with a directory already unpacked by
# dpkg-source. Only what the lab needs is configured: the x86_64 system
# emulator on KVM (no TCG, docs, GUI, audio or network back ends), the log
# trace back end (`-trace` events), pixman for the default VGA devices; every device
# model Debian's x86 build has, so machine types start as they do there. The
# +ds source ships no firmware: the binary reads Debian's (seabios, ipxe,
# qemu-system-data) from the paths Debian's own build uses.
# Meson >= 1.5 is installed from PyPI into OUTDIR/tools when the system one is
# older (Debian 12 has 1.0). Expect 20-40 minutes on two shared cores.
set -euo pipefail

patch_file=""
origin=""
source_dir=""
jobs=2
while [ $# -gt 1 ]; do
    case "$1" in
        --patch) patch_file=$(realpath "$2"); shift 2 ;;
        --origin) origin="$2"; shift 2 ;;
        --source) source_dir=$(realpath "$2"); shift 2 ;;
        --jobs) jobs="$2"; shift 2 ;;
        *) echo "build-qemu.sh: unknown option $1" >&2; exit 3 ;;
    esac
done
[ $# -eq 1 ] || { echo "usage: build-qemu.sh [--patch FILE [--origin TEXT]] [--source DIR] [--jobs N] OUTDIR" >&2; exit 3; }
out=$(realpath -m "$1")
mkdir -p "$out"

if [ -z "$source_dir" ]; then
    mkdir -p "$out/download"
    (cd "$out/download" && apt-get source --download-only qemu)
    dsc=$(ls "$out"/download/qemu_*.dsc | sort -V | tail -1)
    rm -rf "$out/src"
    dpkg-source -x "$dsc" "$out/src"
else
    rm -rf "$out/src"
    cp -a "$source_dir" "$out/src"
fi

if [ -n "$patch_file" ]; then
    patch -d "$out/src" -p1 --forward < "$patch_file"
fi

# QEMU 10.x needs meson >= 1.5; the +ds source carries no bundled wheels.
python=python3
if ! python3 -c 'import mesonbuild.coredata as c, sys; v=tuple(map(int,c.version.split(".")[:2])); sys.exit(v < (1, 5))' 2>/dev/null; then
    [ -x "$out/tools/bin/python3" ] || python3 -m venv --system-site-packages "$out/tools"
    "$out/tools/bin/pip" install -q 'meson>=1.5,<2'
    python="$out/tools/bin/python3"
fi

configure_args=(--target-list=x86_64-softmmu --without-default-features
    --enable-kvm --disable-tcg --enable-pixman --enable-trace-backends=log
    --disable-docs --disable-werror --disable-download --disable-install-blobs
    --firmwarepath=/usr/share/qemu:/usr/share/seabios:/usr/lib/ipxe/qemu --python="$python")
rm -rf "$out/build"
mkdir -p "$out/build"
(cd "$out/build" && ../src/configure "${configure_args[@]}")
make -C "$out/build" -j"$jobs" qemu-system-x86_64

version=$(dpkg-parsechangelog -l "$out/src/debian/changelog" -S Version 2>/dev/null || cat "$out/src/VERSION")
{
    echo "package: qemu $version (Debian source package)"
    echo "upstream: $(cat "$out/src/VERSION")"
    if [ -n "$patch_file" ]; then
        echo "patch: $(basename "$patch_file") sha256 $(sha256sum "$patch_file" | cut -d' ' -f1)"
        [ -z "$origin" ] || echo "origin: $origin"
    else
        echo "patch: none"
    fi
    echo "configure: ${configure_args[*]}"
    echo "built: $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(uname -r)"
} > "$out/BUILD-INFO"
echo "built $out/build/qemu-system-x86_64"
