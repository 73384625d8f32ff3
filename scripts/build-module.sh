#!/usr/bin/env bash
# Build npu_mem.ko (and npu_mem_kunit.ko where the kernel has KUnit) against KDIR in
# OUTDIR, a private copy of the module sources, so that builds for several kernels do
# not overwrite each other's objects.  Any compiler warning fails the build.
#
#   scripts/build-module.sh KDIR OUTDIR [extra kbuild arguments, e.g. C=2]
set -euo pipefail
. "$(dirname "$0")/common.sh"

kdir=$(cd "$1" && pwd)
out=$2
shift 2
[ -f "$kdir/Makefile" ] || die "$kdir is not a kernel build or headers directory"
need_pkgs rsync make gcc

mkdir -p "$out"
out=$(cd "$out" && pwd)
rsync -a "$NPU_TOP/Kbuild" "$out/"
rsync -a "$NPU_TOP/driver" "$NPU_TOP/uapi" "$out/"
mkdir -p "$out/tests"
rsync -a "$NPU_TOP/tests/kunit" "$out/tests/"

log=$out/build.log
if ! make -C "$kdir" M="$out" W=1 -j"$(nproc)" "$@" modules >"$log" 2>&1; then
	cat "$log" >&2
	die "module build against $kdir failed"
fi
if grep -E 'warning:|error:' "$log" >&2; then
	die "module build against $kdir has warnings"
fi
