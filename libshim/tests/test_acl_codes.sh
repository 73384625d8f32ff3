#!/bin/sh
# SPDX-License-Identifier: MIT
# libascendcl's error codes against CANN's: every name of acl_codes.txt (extracted
# from CANN's rt_error_codes.h and acl_base_rt.h, see its header) is declared by the
# installed headers with CANN's value and kind (macro or static const int), in C and
# in C++; each public header compiles on its own; every ACL_ERROR_* name libshim's
# sources return is one of CANN's.  Installed by make with @...@ filled in.
stage=@STAGE@
codes=@CODES@
src=@SRC@
cc=${CC:-@CC@}
cxx=${CXX:-@CXX@}
failed=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

result() {	# result OK NAME WHY
	if [ "$1" -eq 0 ]; then
		echo "ok - $2"
	else
		echo "not ok - $2: $3"
		failed=1
	fi
}

# name value kind, without comments
grep -v '^#' "$codes" | awk 'NF == 3' >"$tmp/list"
n=$(wc -l <"$tmp/list")
[ "$n" -gt 200 ]
result $? "codes: the list has CANN's names ($n)" "$codes has only $n"

for h in acl/acl.h acl/acl_rt.h acl/acl_base.h acl/acl_base_rt.h acl/error_codes/rt_error_codes.h; do
	printf '#include "%s"\n' "$h" >"$tmp/one.c"
	log=$("$cc" -std=gnu11 -Wall -Wextra -Werror -I"$stage/include" -fsyntax-only "$tmp/one.c" 2>&1) &&
		log=$("$cxx" -x c++ -std=c++11 -Wall -Wextra -Werror -I"$stage/include" -fsyntax-only \
			"$tmp/one.c" 2>&1)
	result $? "codes: <$h> compiles alone in C and C++" "$log"
done

# One check per name: a missing name does not compile; a macro must be one, a
# constant must not be (CANN declares it as static const int).
{
	echo '#include <stdio.h>'
	echo '#include "acl/acl.h"'
	echo 'static int bad;'
	echo 'static void check(const char *name, long got, long want)'
	echo '{'
	echo '	if (got != want) {'
	printf '%s\n' '		printf("not ok - codes: %s is %ld, CANN says %ld\n", name, got, want);'
	echo '		bad = 1;'
	echo '	}'
	echo '}'
	awk '$3 == "macro" { printf "#ifndef %s\n#error %s is not a macro (CANN: #define)\n#endif\n", $1, $1 }
	     $3 == "const" { printf "#ifdef %s\n#error %s is a macro (CANN: static const int)\n#endif\n", $1, $1 }' \
		"$tmp/list"
	echo 'int main(void)'
	echo '{'
	awk '{ printf "\tcheck(\"%s\", (long)%s, %sL);\n", $1, $1, $2 }' "$tmp/list"
	awk '$3 == "const" { printf "\tcheck(\"sizeof %s\", (long)sizeof(%s), (long)sizeof(int));\n", $1, $1 }' \
		"$tmp/list"
	echo '	return bad;'
	echo '}'
} >"$tmp/codes.c"

log=$("$cc" -std=gnu11 -Wall -Wextra -Werror -I"$stage/include" -o "$tmp/codes_c" "$tmp/codes.c" 2>&1)
result $? "codes: every name of the list is declared, with its kind (C)" "$(printf '%s\n' "$log" | head -20)"
if [ -x "$tmp/codes_c" ]; then
	"$tmp/codes_c"
	result $? "codes: every value is CANN's (C)" "see above"
fi
log=$("$cxx" -x c++ -std=c++11 -Wall -Wextra -Werror -I"$stage/include" -o "$tmp/codes_cxx" \
	"$tmp/codes.c" 2>&1)
result $? "codes: every name of the list is declared, with its kind (C++)" "$(printf '%s\n' "$log" | head -20)"
if [ -x "$tmp/codes_cxx" ]; then
	"$tmp/codes_cxx"
	result $? "codes: every value is CANN's (C++)" "see above"
fi

# The codes the library returns: each name it uses is one of CANN's (so has CANN's value).
cut -d' ' -f1 "$tmp/list" | sort -u >"$tmp/names"
grep -ohE '\bACL_(ERROR_[A-Z0-9_]+|RT_SUCCESS|SUCCESS)\b' "$src"/*.c "$src"/*.h | sort -u >"$tmp/used"
unknown=$(comm -23 "$tmp/used" "$tmp/names" | tr '\n' ' ')
[ -s "$tmp/used" ] && [ -z "$unknown" ]
result $? "codes: the $(wc -l <"$tmp/used") codes libshim's sources name are all CANN's" "not CANN's: $unknown"

exit $failed
