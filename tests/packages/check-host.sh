#!/usr/bin/env bash
# The packages, checked on the host (tests/run-all packages): build the .deb files and
# lintian them; build npu_mem.ko with dkms from npu-mem-dkms's source against Debian's
# 6.1 and 6.12 headers; build a CANN-style CMake project and a pkg-config one against
# npu-mem-acl and npu-mem-acl-dev.  Everything comes from the .deb files as unpacked by
# dpkg-deb -x, never from the build tree.  One "ok" / "not ok" line per check.
set -uo pipefail
. "$(dirname "$0")/../../scripts/common.sh"
cd "$NPU_TOP"

debs=$NPU_BUILD/deb
work=$NPU_BUILD/packages
root=$work/root
rc=0
pass() { echo "ok - packages: $1"; }
fail() { echo "not ok - packages: $1"; rc=1; }
check() {	# check NAME CMD...
	local name=$1
	shift
	if "$@"; then pass "$name"; else fail "$name"; fi
}
quiet() { "$@" >/dev/null; }

need_pkgs lintian dkms pkg-config gcc "$(headers_pkg_61)" "$(headers_pkg_612)"
rm -rf "$work"
mkdir -p "$root"

check "dpkg-buildpackage -b -us -uc builds the packages (make deb)" \
	quiet scripts/build-debs.sh "$debs" || exit 1
for p in npu-mem-dkms npu-mem-acl npu-mem-acl-dev npu-mem-tools; do
	f=$(ls "$debs/${p}"_*.deb 2>/dev/null)
	check "$p was built" test -n "$f" && dpkg-deb -x "$f" "$root"
done

# Overridden tags are listed with "O:"; each override says why in its file.
run_lintian() {
	lintian --fail-on error,warning --show-overrides "$debs"/*.deb >"$work/lintian.log" 2>&1
	local st=$?
	grep -v 'running with root privileges' "$work/lintian.log" | sed 's/^/# /'
	return $st
}
check "lintian: no error and no warning" run_lintian

src=$(ls -d "$root"/usr/src/npu-mem-*)
check "npu-mem-dkms ships dkms.conf, driver/ and uapi/ only (no KUnit suites)" \
	test "$(cd "$src" && echo *)" = "dkms.conf driver uapi"
check "no package puts libascendcl anywhere but /usr/lib/npu-mem/lib64 (a real CANN stays first)" \
	test -z "$(find "$root" -name 'libascendcl*' ! -path "$root/usr/lib/npu-mem/lib64/*")"

stamp=$work/stamp
touch "$stamp"
for v in 61 612; do
	kdir=$("headers_dir_$v")
	check "dkms build: npu_mem.ko from npu-mem-dkms against $(basename "$kdir")" \
		quiet scripts/dkms-build.sh "$root/usr/src" "$kdir" "$work/dkms-$v"
done
check "dkms used its scratch tree only: /var/lib/dkms is untouched" \
	test -z "$(find /var/lib/dkms -newer "$stamp" 2>/dev/null)"

acl=$root/usr/lib/npu-mem
check "a CANN-style CMake project builds after 'source set_env.sh' (npu-mem-acl, -dev)" \
	tests/packages/build-cann-sample.sh "$acl" "$work/cann-sample"
linked_ours() {
	(. "$acl/set_env.sh" && ldd "$work/cann-sample/share_sample") |
		grep -q "libascendcl.so => $acl/lib64/libascendcl.so "
}
check "it runs on npu-mem-acl's libascendcl.so, found through set_env.sh" linked_ours
# Huawei's sample run.sh scripts source $ASCEND_HOME_PATH/bin/setenv.bash, as in CANN.
setenv_bash_sets_home() {
	[ -L "$acl/bin/setenv.bash" ] &&
		[ "$(bash -c '. "$1/bin/setenv.bash" && echo "$ASCEND_HOME_PATH"' sh "$acl")" = "$acl" ]
}
check "bin/setenv.bash (a link to set_env.sh, as CANN's) points ASCEND_HOME_PATH at the tree" \
	setenv_bash_sets_home

with_pkg_config() {
	local pc flags
	pc=$root/usr/lib/$(dpkg-architecture -qDEB_HOST_MULTIARCH)/pkgconfig
	flags=$(PKG_CONFIG_PATH=$pc PKG_CONFIG_SYSROOT_DIR=$root \
		pkg-config --cflags --libs npu-mem-acl) &&
		gcc -Wall -Werror -o "$work/pc-demo" tools/npu-mem-demo.c $flags
}
check "pkg-config npu-mem-acl: an ACL program compiles and links with its flags" with_pkg_config
check "the ABI headers in /usr/include/npu_mem compile on their own" \
	gcc -fsyntax-only -I"$root/usr/include" -x c - <<<'#include <npu_mem/npu_mem.h>
#include <npu_mem/npu_mem_netlink.h>'
# make install and make install-dkms on their own, as outside Debian: everything below
# DESTDIR, and no DESTDIR in what the files say.
dest=$work/destdir
check "make install install-dkms DESTDIR=... (PREFIX=/usr/local) succeeds" \
	quiet make -s -C "$NPU_TOP" BUILD="$work/make-build" DESTDIR="$dest" install install-dkms
installed_right() {
	local f
	for f in usr/local/bin/npu-mem usr/local/bin/npu-mem-demo usr/local/share/man/man1/npu-mem-demo.1 \
		usr/local/lib/npu-mem/lib64/libascendcl.so usr/local/lib/npu-mem/include/acl/acl.h \
		usr/local/lib/pkgconfig/npu-mem-acl.pc etc/udev/rules.d/60-npu-mem.rules \
		etc/sysusers.d/npu-mem.conf etc/modprobe.d/npu-mem.conf "usr/src/npu-mem-$(make -s version)/dkms.conf"; do
		[ -f "$dest/$f" ] || { echo "# missing: $f"; return 1; }
	done
	! grep -rl "$dest" "$dest" && grep -q '^npu_mem_home=/usr/local/lib/npu-mem$' \
		"$dest/usr/local/lib/npu-mem/set_env.sh"
}
check "make install: tools, CANN-shaped tree, pkg-config, udev, sysusers.d, modprobe.d, DKMS source; no file names DESTDIR" \
	installed_right
exit $rc
