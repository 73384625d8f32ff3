# Shared helpers for the npu_mem build and test scripts.  Source it; do not run it.
# shellcheck shell=bash

NPU_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# Kernel builds, unpacked sources and VM images live outside the work tree so that a
# fresh clone (CI) reuses them.  Keyed by content hashes below this directory.
NPU_CACHE=${NPU_MEM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/npu_mem}
NPU_BUILD=${NPU_MEM_BUILD:-$NPU_TOP/build}

say() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { say "error: $*"; exit 1; }

# Install Debian packages that are missing; one apt-get update per run at most.
need_pkgs() {
	local missing=() p
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	[ "$(id -u)" -eq 0 ] || die "packages missing (${missing[*]}); run as root or install them"
	say "installing: ${missing[*]}"
	if [ -z "${NPU_APT_UPDATED:-}" ]; then
		apt-get -o DPkg::Lock::Timeout=600 update -qq >&2 || die "apt-get update failed"
		export NPU_APT_UPDATED=1
	fi
	# Wait for the dpkg lock: another checkout's run may be installing too.
	DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
		--no-install-recommends "${missing[@]}" >&2 || die "apt-get install ${missing[*]} failed"
}

# Run a long command with its output in a log, printing a heartbeat line every 30 s
# and the log's tail if it fails.
run_logged() {
	local log=$1 what=$2 pid start rc tick=0
	shift 2
	start=$(date +%s)
	"$@" >"$log" 2>&1 &
	pid=$!
	while kill -0 "$pid" 2>/dev/null; do
		sleep 1
		tick=$((tick + 1))
		[ $((tick % 30)) -eq 0 ] &&
			say "$what: $(( $(date +%s) - start ))s, $(wc -l <"$log") lines of log"
	done
	wait "$pid"
	rc=$?
	if [ $rc -ne 0 ]; then
		tail -n 40 "$log" >&2
		say "$what failed (exit $rc); full log: $log"
	fi
	return $rc
}

# Debian's linux-source-6.12 (installed if missing), unpacked once per package version into
# the cache: the test kernels are built from it (O= builds never write into it) and the
# userspace tests take the kselftest harness from its tools/testing/selftests/.  Prints
# the directory.
# The directory npu_mem.ko is built in for the test kernel built in $1: one per
# kernel build (its cache key), since Kbuild's dependency files name the kernel's
# headers by path and a directory reused for another build would keep stale objects.
vm_module_dir() { echo "$NPU_BUILD/modules/test-$(basename "$(dirname "$1")")"; }

# kernel_source SERIES: the directory of Debian's linux-source-SERIES (6.12 or 6.1),
# unpacked once in the cache (installing the package first if need be).
kernel_source() {
	local pkg=linux-source-$1 ver src
	need_pkgs "$pkg" xz-utils
	ver=$(dpkg-query -W -f='${Version}' "$pkg")
	src=$NPU_CACHE/src-$pkg-$ver
	if [ ! -f "$src/.unpacked" ]; then
		mkdir -p "$NPU_CACHE"
		(
			flock 8
			if [ ! -f "$src/.unpacked" ]; then
				say "unpacking /usr/src/$pkg.tar.xz"
				rm -rf "$src"
				mkdir -p "$src"
				tar -xf "/usr/src/$pkg.tar.xz" -C "$src" --strip-components=1
				touch "$src/.unpacked"
			fi
		) 8>"$NPU_CACHE/src.lock" || return 1
	fi
	echo "$src"
}

# The Debian header package directories for the two supported kernel series.
headers_pkg_61() { echo linux-headers-amd64; }
headers_dir_61() {
	ls -d /usr/src/linux-headers-6.1.* 2>/dev/null |
		grep -E '/linux-headers-6\.1\.[0-9]+-[0-9]+-amd64$' | sort -V | tail -n 1
}
headers_pkg_612() {
	local pkg
	pkg=$(apt-cache pkgnames linux-headers-6.12. 2>/dev/null |
		grep -E '^linux-headers-6\.12\.[0-9]+\+deb[0-9]+-amd64$' | sort -V | tail -n 1)
	if [ -z "$pkg" ] && [ -z "${NPU_APT_UPDATED:-}" ]; then	# a fresh machine's lists are empty
		apt-get update -qq >&2 && export NPU_APT_UPDATED=1
		pkg=$(headers_pkg_612)
	fi
	[ -n "$pkg" ] || die "no linux-headers-6.12.*-amd64 package found"
	echo "$pkg"
}
headers_dir_612() {
	ls -d /usr/src/linux-headers-6.12.* 2>/dev/null |
		grep -E '/linux-headers-6\.12\.[0-9]+\+deb[0-9]+-amd64$' | sort -V | tail -n 1
}
