#!/usr/bin/env bash
# Build (or find in the cache) a test kernel from Debian's linux-source-6.12.
#
#   scripts/build-test-kernel.sh [debug|perf]
#
# debug (the default): tests/vm/kernel.config: KUnit plus the debug options that catch
#   our kind of bug (KASAN, lockdep, kmemleak, ...); every test runs on it.
# perf: the same with tests/vm/kernel-perf.config on top, which turns the debug options
#   off again, for benchmarks.
#
# Prints the build directory on stdout: it holds arch/x86/boot/bzImage and everything an
# external module build needs (make -C DIR M=...); DIR/source is the kernel source.  The
# cache key hashes the fragments, this script, the compiler and the source package
# version, so editing any of them rebuilds.
set -euo pipefail
. "$(dirname "$0")/common.sh"

variant=${1:-debug}
fragments=("$NPU_TOP/tests/vm/kernel.config")
case $variant in
debug) ;;
perf) fragments+=("$NPU_TOP/tests/vm/kernel-perf.config") ;;
*) die "unknown kernel variant '$variant' (debug or perf)" ;;
esac

need_pkgs build-essential bc flex bison libelf-dev libssl-dev cpio kmod python3 rsync
# The unpacked source is shared by every variant of one source version.
src=$(kernel_source_612)
src_ver=$(dpkg-query -W -f='${Version}' linux-source-6.12)
key=$( { echo "$src_ver"; cat "${fragments[@]}" "$0"; gcc --version | head -n 1; } |
	sha256sum | cut -c1-16)
dir=$NPU_CACHE/kernel-$variant-$key
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

say "$variant test kernel $key: not cached, building from linux-source-6.12 $src_ver (about 5-10 minutes)"

rm -rf "$out"
mkdir -p "$out"
make -s -C "$src" O="$out" tinyconfig >/dev/null

# The fragments in order: a later line about an option overrides an earlier one.
declare -A want=()
while IFS= read -r line; do
	case $line in
	CONFIG_*=y) o=${line%=y}; want[${o#CONFIG_}]=y ;;
	CONFIG_*=m) o=${line%=m}; want[${o#CONFIG_}]=m ;;
	"# CONFIG_"*" is not set") o=${line#\# CONFIG_}; want[${o% is not set}]=n ;;
	esac
done < <(cat "${fragments[@]}")

apply_fragments() {
	local o args=()
	for o in "${!want[@]}"; do
		case ${want[$o]} in
		y) args+=(--enable "$o") ;;
		m) args+=(--module "$o") ;;
		n) args+=(--disable "$o") ;;
		esac
	done
	"$src/scripts/config" --file "$out/.config" "${args[@]}"
	make -s -C "$src" O="$out" olddefconfig >/dev/null
}
# Some options only appear once their dependencies are on: apply until stable.
apply_fragments
apply_fragments
apply_fragments

dropped=""
for o in "${!want[@]}"; do
	case ${want[$o]} in
	y|m) grep -qx "CONFIG_$o=${want[$o]}" "$out/.config" || dropped+=" $o" ;;
	n) grep -q "^CONFIG_$o=" "$out/.config" && dropped+=" !$o" ;;
	esac
done
[ -z "$dropped" ] || die "options olddefconfig did not honour (missing dependencies?):$dropped"

say "building bzImage and module support with $(nproc) jobs (log: $dir/build.log)"
run_logged "$dir/build.log" "$variant kernel build" \
	make -C "$src" O="$out" -j"$(nproc)" bzImage modules modules_prepare
touch "$dir/done"
say "$variant test kernel ready: $out"
echo "$out"
