#!/usr/bin/env bash
# Scan a test VM's kernel log for anything that must fail a run: BUG, WARNING, Oops,
# panics, KASAN/KFENCE/UBSAN reports, lockdep splats, kmemleak leaks, KUnit failures and
# the VM init's own FAIL notes.  Prints the offending lines; exits 1 if there are any.
#
#   scripts/scan-kernel-log.sh LOG
set -u
log=$1
patterns=(
	'BUG:' 'WARNING:' 'Oops' 'Kernel panic' 'general protection fault'
	'KASAN' 'KFENCE:' 'UBSAN:'
	'possible recursive locking' 'possible circular locking' 'inconsistent lock state'
	'suspicious RCU usage' 'INFO: task .* blocked' 'INFO: possible irq lock inversion'
	'unreferenced object' 'new suspected memory leaks'
	'sleeping function called from invalid context'
	'list_add corruption' 'list_del corruption'
	'^[[:space:]]*not ok [0-9]'
	'# Totals: pass:[0-9]+ fail:[1-9]'
	'npu_mem-vm: FAIL'
)
re=$(IFS='|'; echo "${patterns[*]}")
# Leaks of the kernel's own boot, before any test ran: kmemleak reports of objects
# allocated through these functions are not ours, and neither is the scan's count line
# when nothing else is reported.  acpi_early_init: 6.1's ACPI, unable to load this
# guest's tables, destroys its kmem_caches before slab sysfs is up, which never frees
# them (6.12 does not leak them).  Their lines are blanked, so line numbers still hold.
boot_leaks='acpi_early_init'
without_boot_leaks() {
	awk -v boot="[[:space:]](${boot_leaks})\\+" '
	function flush(keep) {
		for (i = 1; i <= n; i++)
			out[first + i - 1] = keep ? blk[i] : ""
		if (n && keep)
			reported++
		if (n && !keep)
			dropped++
		n = known = 0
	}
	/^unreferenced object / { flush(!known); first = NR; blk[n = 1] = $0; next }
	n && /^[[:space:]]/ { blk[++n] = $0; if ($0 ~ boot) known = 1; next }
	{ flush(!known); out[NR] = $0 }
	END {
		flush(!known)
		for (i = 1; i <= NR; i++) {
			if (dropped && !reported && out[i] ~ /new suspected memory leaks/)
				out[i] = ""
			print out[i]
		}
	}'
}
# Console lines may carry a printk timestamp and CRs from the serial port.
hits=$(tr -d '\r' <"$log" | sed -E 's/^\[ *[0-9]+\.[0-9]+\] //' | without_boot_leaks | grep -E -n "$re" |
	grep -v -E 'lockdep: (fixing up|DEBUG_LOCKS)|RCU lockdep checking is enabled|Lock dependency validator|KASAN: (not|disabled)|kmemleak: Kernel memory leak detector initialized' |
	head -n 40)
if [ -n "$hits" ]; then
	echo "kernel log problems in $log:" >&2
	echo "$hits" >&2
	exit 1
fi
exit 0
