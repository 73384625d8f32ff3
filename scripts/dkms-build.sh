#!/usr/bin/env bash
# Build npu_mem.ko with dkms, as a host would after installing npu-mem-dkms, but in a
# scratch DKMS tree: SRC is a source tree holding npu-mem-VERSION/dkms.conf (the
# package's /usr/src), KDIR a kernel headers or build directory.  dkms's tree, install
# tree and signing key all live under WORK; /var/lib/dkms and /lib/modules are left
# alone.  Prints the built module's path.
#
#   scripts/dkms-build.sh SRC KDIR WORK
set -euo pipefail
. "$(dirname "$0")/common.sh"

src=$(cd "$1" && pwd)
kdir=$(cd "$2" && pwd)
work=$3
need_pkgs dkms openssl

mkdir -p "$work"
work=$(cd "$work" && pwd)
ver=$(basename "$(ls -d "$src"/npu-mem-*)")
ver=${ver#npu-mem-}
# The kernel release the headers are for (Debian's 6.1 headers' Makefile says otherwise).
kver=$(sed -n 's/^#define UTS_RELEASE "\(.*\)"$/\1/p' "$kdir/include/generated/utsrelease.h")
[ -n "$kver" ] || die "no kernel release in $kdir/include/generated/utsrelease.h"

rm -rf "$work/tree" "$work/install"
mkdir -p "$work/tree" "$work/install"
# dkms takes its signing key from the environment before /var/lib/dkms/mok.key.
export mok_signing_key=$work/mok.key mok_certificate=$work/mok.pub
trees=(--dkmstree "$work/tree" --sourcetree "$src" --installtree "$work/install")
log=$work/dkms.log
if ! { dkms add -m npu-mem -v "$ver" "${trees[@]}" &&
	dkms build -m npu-mem -v "$ver" -k "$kver" --kernelsourcedir "$kdir" "${trees[@]}"
	} >"$log" 2>&1; then
	cat "$log" "$work/tree/npu-mem/$ver/build/make.log" >&2 2>/dev/null || true
	die "dkms build of npu-mem $ver against $kdir failed"
fi
ls "$work/tree/npu-mem/$ver/$kver"/*/module/npu_mem.ko*
