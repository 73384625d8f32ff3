#!/usr/bin/env bash
# vm-run takes its VM down when it is killed while the guest boots: SIGTERM to
# vm-run alone, SIGINT to its process group (Ctrl-C in a terminal), SIGKILL to
# its process group (a CI time-out that does not wait).  Run by tests/run-all's
# harness stage, once the test kernel is built.
set -u
. "$(dirname "$0")/../../scripts/common.sh"
# Our qemu is the one booting this checkout's initramfs.
ours=$NPU_BUILD/vm/initramfs.cpio.gz
bad=0

qemu_running() { pgrep -f -- "-initrd $ours" >/dev/null; }

# try SIGNAL TARGET: start vm-run, wait for its qemu, signal it, expect no qemu left.
try() {
	local sig=$1 target=$2 pid i
	# A process group of its own, with SIGINT as a terminal's foreground job has it
	# (a script's background job would inherit it ignored).
	setsid env --default-signal=INT "$NPU_TOP/tools/vm-run" --no-module -- sleep 600 \
		>/dev/null 2>&1 &
	pid=$!
	for i in $(seq 1 600); do
		qemu_running && break
		sleep 0.2
	done
	if ! qemu_running; then
		echo "vm-run never started qemu"
		kill -KILL -- -"$pid" 2>/dev/null
		return 1
	fi
	sleep 1	# mid-boot
	if [ "$target" = group ]; then kill -"$sig" -- -"$pid"; else kill -"$sig" "$pid"; fi
	{ wait "$pid"; } 2>/dev/null	# a killed job is no news here
	for i in $(seq 1 50); do
		qemu_running || return 0
		sleep 0.2
	done
	echo "qemu still runs 10 s after SIG$sig to vm-run's $target"
	pkill -KILL -f -- "-initrd $ours"
	return 1
}

try TERM process || bad=1
try INT group || bad=1
try KILL group || bad=1
exit $bad
