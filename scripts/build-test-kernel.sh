#!/usr/bin/env bash
# Build (or find in the cache) the KUnit + debug test kernel from Debian's linux-source-6.12.
#
# Prints the build directory on stdout: it holds arch/x86/boot/bzImage and everything an
# external module build needs (make -C DIR M=...).  The cache key hashes the config fragment,
# this script and the source package version, so editing any of them rebuilds.
set -euo pipefail
. "$(dirname "$0")/common.sh"

fragment=$NPU_TOP/tests/vm/kernel.config
src_pkg=linux-source-6.12

need_pkgs $src_pkg build-essential bc flex bison libelf-dev libssl-dev cpio kmod xz-utils python3 rsync
src_ver=$(dpkg-query -W -f='${Version}' $src_pkg)
tarball=$(ls /usr/src/linux-source-6.12.tar.xz)
key=$( { echo "$src_ver"; cat "$fragment" "$0"; gcc --version | head -n 1; } | sha256sum | cut -c1-16)
dir=$NPU_CACHE/kernel-$key
out=$dir/build

if [ -f "$dir/done" ]; then
	echo "$out"
	exit 0
fi

mkdir -p "$dir"
exec 9>"$dir/lock"
flock 9
if [ -f "$dir/done" ]; then	# another run finished it while we waited
	echo "$out"
	exit 0
fi

say "test kernel $key: not cached, building from $src_pkg $src_ver (about 5-10 minutes)"
if [ ! -d "$dir/src" ]; then
	say "unpacking $tarball"
	rm -rf "$dir/src.tmp"
	mkdir -p "$dir/src.tmp"
	tar -xf "$tarball" -C "$dir/src.tmp" --strip-components=1
	mv "$dir/src.tmp" "$dir/src"
fi

rm -rf "$out"
mkdir -p "$out"
make -s -C "$dir/src" O="$out" tinyconfig >/dev/null

# Apply the fragment: "=y" lines enable, "=m" lines make modules, "is not set" disable.
enables=$(sed -n 's/^CONFIG_\([A-Za-z0-9_]*\)=y$/\1/p' "$fragment")
modules=$(sed -n 's/^CONFIG_\([A-Za-z0-9_]*\)=m$/\1/p' "$fragment")
disables=$(sed -n 's/^# CONFIG_\([A-Za-z0-9_]*\) is not set$/\1/p' "$fragment")
apply_fragment() {
	local o args=()
	for o in $enables; do args+=(--enable "$o"); done
	for o in $modules; do args+=(--module "$o"); done
	for o in $disables; do args+=(--disable "$o"); done
	"$dir/src/scripts/config" --file "$out/.config" "${args[@]}"
	make -s -C "$dir/src" O="$out" olddefconfig >/dev/null
}
# Some options only appear once their dependencies are on: apply until stable.
apply_fragment
apply_fragment
apply_fragment

dropped=""
for o in $enables; do
	grep -qx "CONFIG_$o=y" "$out/.config" || dropped+=" $o"
done
for o in $modules; do
	grep -qx "CONFIG_$o=m" "$out/.config" || dropped+=" $o"
done
[ -z "$dropped" ] || die "options dropped by olddefconfig (missing dependencies?):$dropped"

say "building bzImage and module support with $(nproc) jobs (log: $dir/build.log)"
run_logged "$dir/build.log" "kernel build" \
	make -C "$dir/src" O="$out" -j"$(nproc)" bzImage modules modules_prepare
touch "$dir/done"
say "test kernel ready: $out"
echo "$out"
