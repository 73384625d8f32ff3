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

# 6.1's boot leaks ACPI's kmem_caches (see the scanner): not ours, not flagged...
boot_leak='kmemleak: 1 new suspected memory leaks (see /sys/kernel/debug/kmemleak)
unreferenced object 0xff11000000171500 (size 216):
  comm "swapper/0", pid 0, jiffies 4294892296
  hex dump (first 32 bytes):
    70 9f 03 00 00 00 00 00 00 00 00 48 00 00 00 00  p..........H....
  backtrace:
    [<(____ptrval____)>] kmem_cache_create+0xd/0x10
    [<(____ptrval____)>] acpi_os_create_cache+0x14/0x30
    [<(____ptrval____)>] acpi_early_init+0x85/0x16b
    [<(____ptrval____)>] start_kernel+0x299/0x311'
printf '%s\n%s\n' "$clean" "$boot_leak" >"$tmp"
if ! "$scan" "$tmp" 2>/dev/null; then
	echo "a leak of ACPI's early init was flagged"
	bad=1
fi
# ...but a leak reported beside it is.
printf '%s\n%s\n%s\n' "$clean" "$boot_leak" 'unreferenced object 0xff11000000171640 (size 64):
  comm "insmod", pid 90, jiffies 4294900000
  backtrace:
    [<(____ptrval____)>] npu_mem_obj_alloc+0x1/0x2' >"$tmp"
if "$scan" "$tmp" 2>/dev/null; then
	echo "a leak reported after a boot leak was not flagged"
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
