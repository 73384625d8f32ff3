#!/usr/bin/env bash
# Build (or find in the cache) a test kernel from Debian's linux-source-SERIES.
#
#   scripts/build-test-kernel.sh [debug|perf|coverage] [6.12|6.1]
#
# debug (the default): tests/vm/kernel.config: KUnit plus the debug options that catch
#   our kind of bug (KASAN, lockdep, kmemleak, ...); every test runs on it.
# perf: the same with tests/vm/kernel-perf.config on top, which turns the debug options
#   off again, for benchmarks.
# coverage: tests/vm/kernel-coverage.config on top: GCOV_KERNEL, for npu_mem.ko built with
#   GCOV_PROFILE (make coverage); keeps fault injection, drops the slow sanitizers.
# SERIES (default 6.12): the Debian source package linux-source-SERIES.  Where an option
#   is spelt differently or has other dependencies in a series, tests/vm/kernel-SERIES.config
#   (applied after kernel.config, before the perf overlay) says so explicitly.
#
# Prints the build directory on stdout: it holds arch/x86/boot/bzImage and everything an
# external module build needs (make -C DIR M=...); DIR/source is the kernel source, and
# DIR/include/config/kernel.release its version.  Each series and variant is cached
# apart; the key hashes the fragments, this script, the compiler and the source package
# and its version, so editing any of them rebuilds.
set -euo pipefail
. "$(dirname "$0")/common.sh"

variant=${1:-debug}
series=${2:-6.12}
case $series in
6.1|6.12) ;;
*) die "unknown kernel series '$series' (6.12 or 6.1)" ;;
esac
fragments=("$NPU_TOP/tests/vm/kernel.config")
if [ -f "$NPU_TOP/tests/vm/kernel-$series.config" ]; then
	fragments+=("$NPU_TOP/tests/vm/kernel-$series.config")
fi
case $variant in
debug) ;;
perf|coverage) fragments+=("$NPU_TOP/tests/vm/kernel-$variant.config") ;;
*) die "unknown kernel variant '$variant' (debug, perf or coverage)" ;;
esac
src_pkg=linux-source-$series

need_pkgs build-essential bc flex bison libelf-dev libssl-dev cpio kmod python3 rsync
# The unpacked source is shared by every variant of one source version.
src=$(kernel_source "$series")
src_ver=$(dpkg-query -W -f='${Version}' "$src_pkg")
key=$( { echo "$src_pkg $src_ver"; cat "${fragments[@]}" "$0"; gcc --version | head -n 1; } |
	sha256sum | cut -c1-16)
dir=$NPU_CACHE/kernel-$series-$variant-$key
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

say "$series $variant test kernel $key: not cached, building from $src_pkg $src_ver (about 5-10 minutes)"

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
t0=$(date +%s)
run_logged "$dir/build.log" "$series $variant kernel build" \
	make -C "$src" O="$out" -j"$(nproc)" bzImage modules modules_prepare
echo $(( $(date +%s) - t0 )) >"$dir/build-seconds"
touch "$dir/done"
say "$series $variant test kernel $(cat "$out/include/config/kernel.release") built in $(cat "$dir/build-seconds")s: $out"
echo "$out"
