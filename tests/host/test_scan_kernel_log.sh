#!/usr/bin/env bash
# The kernel-log scanner must flag every kind of splat and pass a clean boot log.
set -u
scan=$(dirname "$0")/../../scripts/scan-kernel-log.sh
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
bad=0

clean='[    0.000000] Linux version 6.12.117 (gcc)
[    0.100000] Lock dependency validator: Copyright (c) 2006 Red Hat, Inc., Ingo Molnar
[    0.100000] rcu: 	RCU lockdep checking is enabled.
[    0.200000] kmemleak: Kernel memory leak detector initialized (mem pool available: 15851)
[    1.000000] npu_mem: 2 simulated devices, ABI 0.1
    # Subtest: npu_mem_version
    ok 1 npu_mem_version_reports_abi
# Totals: pass:1 fail:0 skip:0 total:1
ok 1 npu_mem_version'
printf '%s\n' "$clean" >"$tmp"
if ! "$scan" "$tmp" 2>/dev/null; then
	echo "clean log was flagged"
	bad=1
fi

while IFS= read -r line; do
	printf '%s\n%s\n' "$clean" "$line" >"$tmp"
	if "$scan" "$tmp" 2>/dev/null; then
		echo "not flagged: $line"
		bad=1
	fi
done <<'EOF2'
[    2.0] BUG: KASAN: slab-use-after-free in npu_mem_free+0x10/0x20
[    2.0] WARNING: CPU: 0 PID: 1 at driver/npu_mem_main.c:10 npu_mem_init+0x5/0x10
[    2.0] BUG: sleeping function called from invalid context at mm/slub.c:1
[    2.0] WARNING: possible circular locking dependency detected
[    2.0] WARNING: possible recursive locking detected
[    2.0] BUG: KFENCE: out-of-bounds read in npu_mem_x+0x1/0x2
unreferenced object 0xffff888003a4c000 (size 64):
[    9.0] kmemleak: 1 new suspected memory leaks (see /sys/kernel/debug/kmemleak)
    not ok 2 npu_mem_import_refuses_self
# Totals: pass:3 fail:1 skip:0 total:4
[    3.0] Oops: general protection fault, probably for non-canonical address
[    3.0] Kernel panic - not syncing: Fatal exception
[    3.0] npu_mem-vm: FAIL: rmmod npu_mem refused: something still holds it
[    3.0] list_add corruption. prev->next should be next
EOF2
exit $bad
