#!/usr/bin/env bash
# The packages in the test VM (tests/run-all packages-vm): build the .deb files, unpack
# them with dpkg-deb -x, build npu_mem.ko with dkms from npu-mem-dkms's source against
# the test kernel, build the CANN-style CMake program against the unpacked tree, and run
# vm-check.sh in the VM on exactly those files.  One "ok" / "not ok" line per check.
#
#   tests/packages/run-vm.sh KBUILD       (the test kernel's build directory)
set -uo pipefail
. "$(dirname "$0")/../../scripts/common.sh"
cd "$NPU_TOP"

kbuild=$1
work=$NPU_BUILD/packages-vm
add=$work/pkg
fail() { echo "not ok - packages-vm: $1"; exit 1; }

rm -rf "$work"
mkdir -p "$add/root" "$NPU_BUILD/test-logs"
scripts/build-debs.sh "$NPU_BUILD/deb" >/dev/null || fail "the packages build (make deb)"
for f in "$NPU_BUILD"/deb/*.deb; do
	case $f in *-dbgsym_*) ;; *) dpkg-deb -x "$f" "$add/root" ;; esac
done
ko=$(scripts/dkms-build.sh "$add/root/usr/src" "$kbuild" "$work/dkms") ||
	fail "dkms build: npu_mem.ko from npu-mem-dkms against the test kernel"
case $ko in
*.xz) xz -dc "$ko" >"$add/npu_mem.ko" ;;
*) cp "$ko" "$add/npu_mem.ko" ;;
esac
tests/packages/build-cann-sample.sh "$add/root/usr/lib/npu-mem" "$work/cann-sample" ||
	fail "the CANN-style CMake program builds against the unpacked tree"
cp "$work/cann-sample/share_sample" tests/packages/vm-check.sh "$add/"

tools/vm-run --no-module --add "$add" --log "$NPU_BUILD/test-logs/packages-vm-kernel.log" \
	-- sh ./vm-check.sh
