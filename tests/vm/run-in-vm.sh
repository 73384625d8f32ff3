#!/bin/sh
# npu-mem-vm-tests: the in-VM half of `make check` (run by tools/vm-run).
# Loads the KUnit module and prints each suite's KTAP, then runs every userspace test
# program.  tests/run-all counts the results; this script only reports them.
#
#   npu-mem-vm-tests [TEST...]    run only the named userspace tests (e.g. test_device)
#   npu-mem-vm-tests --reload P=V TEST...
#                                 first load npu_mem.ko again with module parameter P=V
#                                 (a VM boot fewer than vm-run --param)
tests=/opt/npu_mem/tests
rc=0

if [ "$1" = --reload ]; then
	echo "# npu_mem.ko again, with $2"
	if ! rmmod npu_mem || ! insmod /lib/npu_mem/npu_mem.ko "$2" $(cat /modparams); then
		echo "not ok - reload npu_mem.ko with $2"
		exit 1
	fi
	# The node as the driver makes it: nothing applies the udev rule again.
	stat -c "# /dev/npu_mem after the reload: %a %U %G" /dev/npu_mem
	shift 2
fi

if [ $# -eq 0 ]; then
	echo "=== kunit"
	# One module at a time: the results glob then sees only its suites.  6.1 and
	# 6.12 both run a module's suites at insmod and keep KTAP in debugfs, with
	# each suite's "# Totals:" line (what tests/run-all counts); 6.1 keeps only
	# the first 512 bytes of each case's log there (a chatty case may lose its
	# own "ok" line), so the console (kernel log) has the complete KTAP.
	for k in npu_mem_kunit npu_mem_nl_kunit npu_mem_zero_kunit; do
		if [ -f /lib/npu_mem/$k.ko ]; then
			insmod /lib/npu_mem/$k.ko || { echo "not ok - insmod $k.ko"; rc=1; }
			for r in /sys/kernel/debug/kunit/npu_mem*/results; do
				[ -f "$r" ] && cat "$r"
			done
			rmmod $k
		else
			echo "not ok - $k.ko is missing"
			rc=1
		fi
	done
	set -- $(cd $tests && ls)
fi

for t in "$@"; do
	echo "=== $t"
	t0=$(date +%s)
	"$tests/$t"
	st=$?
	# Where a VM run's time goes (make check's budget).
	echo "# $t took $(($(date +%s) - t0)) s"
	# 1 is a test's own verdict (its "not ok" lines say why); anything else is a crash.
	[ $st -gt 1 ] && echo "not ok - $t exited with status $st"
	[ $st -ne 0 ] && rc=1
done
exit $rc
