#!/usr/bin/env bash
# tests/run-all's count_output() counts KTAP: each harness program's top-level results
# (a missing planned result is a failure), each KUnit suite once, "ok - " lines.
set -u
eval "$(sed -n '/^count_output() {/,/^}/p' "$(dirname "$0")/../run-all")"
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
bad=0

# want "PASSED FAILED SKIPPED" OUTPUT
want() {
	local passed=0 failed=0 skipped=0 failures=()
	printf '%s\n' "$2" | sed 's/$/\r/' >"$tmp"	# the VM's console adds CRs
	count_output "$tmp"
	if [ "$passed $failed $skipped" != "$1" ]; then
		echo "counted '$passed $failed $skipped', want '$1' in:"
		cat "$tmp"
		bad=1
	fi
}

kunit='KTAP version 1
1..1
    KTAP version 1
    # Subtest: npu_mem_share
    1..2
    ok 1 npu_mem_share_a
    not ok 2 npu_mem_share_b
# npu_mem_share: pass:1 fail:1 skip:0 total:2
# Totals: pass:1 fail:1 skip:0 total:2
not ok 1 npu_mem_share
KTAP version 1
1..1
    KTAP version 1
    # Subtest: npu_mem_version
    1..1
    ok 1 npu_mem_version_reports_abi
ok 1 npu_mem_version'
ksft='TAP version 13
1..4
# Starting 4 tests from 2 test cases.
#  RUN           global.a ...
ok 1 global.a
not ok 2 share.b
ok 3 share.c # SKIP no memory controller
ok 4 ioctl.VERSION.d
# FAILED: 3 / 4 tests passed.
# Totals: pass:2 fail:1 xfail:0 xpass:0 skip:1 error:0'

want "2 1 0" "=== kunit
$kunit"
want "2 1 1" "=== test_x
$ksft"
want "4 2 1" "=== kunit
$kunit
=== test_x
$ksft"
# A program killed after one of three results: two are missing, plus its exit line.
want "1 3 0" "=== test_y
TAP version 13
1..3
ok 1 global.a
Killed
not ok - test_y exited with status 137"
# Killed before its plan.
want "0 1 0" "=== test_z
TAP version 13"
# Other stages' own lines (run-all's checks, npu-mem-vm-tests' verdicts).
want "2 1 1" "ok - one
ok - two
not ok - three: why
ok - four # SKIP no reason"
exit $bad
