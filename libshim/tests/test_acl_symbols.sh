#!/bin/sh
# SPDX-License-Identifier: MIT
# Symbol visibility of libascendcl: the .so exports the 46 acl* functions and nothing
# else; the .a defines no other global either, so a program may use any other name
# (shim, shim_lock, npu_dev_open, ...) for itself, with -fno-common or -fcommon.
# Installed by make with @STAGE@ and @CC@ filled in.
stage=@STAGE@
cc=${CC:-@CC@}
failed=0

result() {	# result OK NAME WHY
	if [ "$1" -eq 0 ]; then
		echo "ok - $2"
	else
		echo "not ok - $2: $3"
		failed=1
	fi
}

# Global defined names, one per line: nm prints "address type name".
globals() { nm "$@" | awk 'NF == 3 { print $3 }' | sort -u; }

others=$(globals -g --defined-only "$stage/lib/libascendcl.a" | grep -v '^acl' | tr '\n' ' ')
[ -z "$others" ]
result $? "symbols: libascendcl.a defines no global but acl*" "also defines: $others"

so=$(globals -D --defined-only "$stage/lib/libascendcl.so")
n=$(printf '%s\n' "$so" | grep -c '^acl')
others=$(printf '%s\n' "$so" | grep -v '^acl' | tr '\n' ' ')
[ "$n" -eq 46 ] && [ -z "$others" ]
result $? "symbols: libascendcl.so exports the 46 acl* functions only" \
	"$n acl* functions; also: $others"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat >"$tmp/own.c" <<'EOF'
#include <unistd.h>
#include "acl/acl.h"

/* Names the library uses internally; this program's own. */
int shim[64];
int shim_lock(void) { return 7; }
int npu_dev_open(void) { return 8; }

int main(void)
{
	aclError r;

	alarm(10);
	shim[0] = 1;
	r = aclInit(NULL);	/* no device on the host: 207004 */
	if (r == ACL_SUCCESS)
		aclFinalize();
	return (r == ACL_SUCCESS || r == ACL_ERROR_RT_NO_DEVICE) && shim[0] == 1 &&
	       shim_lock() == 7 && npu_dev_open() == 8 ? 0 : 1;
}
EOF
for common in -fno-common -fcommon; do
	name="symbols: a program with its own shim, shim_lock and npu_dev_open links libascendcl.a ($common)"
	if ! $cc $common -I"$stage/include" -o "$tmp/own" "$tmp/own.c" "$stage/lib/libascendcl.a" \
		-lpthread >"$tmp/log" 2>&1; then
		result 1 "$name" "link failed: $(head -n 3 "$tmp/log" | tr '\n' ' ')"
	elif [ -s "$tmp/log" ]; then
		result 1 "$name" "link warnings: $(head -n 3 "$tmp/log" | tr '\n' ' ')"
	else
		"$tmp/own"
		st=$?
		result $st "$name" "it exited with status $st"
	fi
done
exit $failed
