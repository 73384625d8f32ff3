#!/usr/bin/env bash
# Build the Debian packages with dpkg-buildpackage -b -us -uc into OUTDIR (make deb).
# dpkg-buildpackage writes the .deb files next to the source tree, so it runs in a copy
# of the tree, OUTDIR/src: nothing is written outside OUTDIR (CI's clone has ../shared
# beside it).  The copy holds the files git knows, committed or not, or, outside a git
# checkout, everything but build/.
#
#   scripts/build-debs.sh OUTDIR      prints the .deb files built, one a line
set -euo pipefail
. "$(dirname "$0")/common.sh"

out=$1
need_pkgs build-essential dpkg-dev debhelper dh-dkms pkg-config libnl-genl-3-dev rsync git

rm -rf "$out"
mkdir -p "$out/src"
out=$(cd "$out" && pwd)
if git -C "$NPU_TOP" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	git -C "$NPU_TOP" ls-files -z --cached --others --exclude-standard |
		while IFS= read -r -d '' f; do
			[ -e "$NPU_TOP/$f" ] && printf '%s\0' "$f"	# not deleted since
		done | rsync -a --from0 --files-from=- "$NPU_TOP/" "$out/src/"
else
	rsync -a --exclude /build --exclude /.git "$NPU_TOP/" "$out/src/"
fi

if ! (cd "$out/src" && run_logged "$out/build.log" "dpkg-buildpackage" \
	dpkg-buildpackage -b -us -uc); then
	die "dpkg-buildpackage failed (log: $out/build.log)"
fi
ls "$out"/*.deb
