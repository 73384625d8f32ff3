#!/usr/bin/env bash
# make coverage: which lines of driver/ the tests execute.
#
#   scripts/coverage.sh [--min PCT]
#
# Builds the coverage test kernel (6.12, tests/vm/kernel-coverage.config: GCOV_KERNEL, no
# sanitizers) and npu_mem.ko against it with gcov counters (NPU_MEM_GCOV=y, driver/Kbuild),
# boots it once and runs the commands listed in vm_commands below, unloads npu_mem.ko (its
# counters outlive it: gcov_persist) and brings its .gcda files out over the console (a
# base64 tar between marker lines).  lcov and genhtml then make the report on the host:
#
#   build/coverage/index.html      the HTML report (genhtml)
#   build/coverage/driver.info     the lcov tracefile, driver/ sources only
#   build/coverage/uncovered.txt   every line never executed: file:line, function, source
#   build/coverage/vm.out          the VM run's output (the tests' KTAP)
#
# Ends with the line "driver/: lines X%, functions Y%".  Exits non-zero when a test
# failed, the kernel log shows a problem, no counters came back, or lines are below
# --min PCT (default: 0, no floor).
set -euo pipefail
. "$(dirname "$0")/common.sh"

min=0
while [ $# -gt 0 ]; do
	case $1 in
	--min) min=$2; shift 2 ;;
	-h|--help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
	*) die "unknown argument $1 (see --help)" ;;
	esac
done
case $min in ''|*[!0-9.]*) die "--min takes a percentage, e.g. 95" ;; esac

stage=$NPU_BUILD/stage
out=$NPU_BUILD/coverage
need_pkgs lcov
[ -x "$stage/bin/npu-mem-vm-tests" ] ||
	die "the programs are missing: run 'make userspace' (or make coverage)"

# ---- what runs in the VM, in this order; one shell command each.
# The whole suite (KUnit, every test program, test_fail_nth's fault injection), then a
# fuzz run and a stress run, then the granularity reload that tests/run-all also runs
# (last: it leaves npu_mem.ko loaded with other parameters).
# NPU_MEM_TEST_LOAD_NTH=1: test_cov_modload's fault injection into module load, which
# make check skips (see the test).
vm_commands=(
	"NPU_MEM_TEST_LOAD_NTH=1 npu-mem-vm-tests"
	"npu-mem-fuzz --ops 20000"
	"npu-mem-stress --duration 30"
	"npu-mem-vm-tests --reload test_granularity_kb=64 test_acl_granularity test_huge_map"
)

# ---- the kernel and the module with counters
"$NPU_TOP/scripts/prepare-vm.sh" coverage 6.12
kbuild=$(cat "$NPU_BUILD/vm/6.12-coverage.kernel")
objdir=$(vm_module_dir "$kbuild")/driver
ls "$objdir"/*.gcno >/dev/null 2>&1 ||
	die "no .gcno files in $objdir: npu_mem.ko was built without gcov"

# ---- the VM run
rm -rf "$out"
mkdir -p "$out/vm"
{
	echo '#!/bin/sh'
	echo '# Written by scripts/coverage.sh: the coverage run, then the counters out.'
	echo 'rc=0'
	for c in "${vm_commands[@]}"; do
		printf 'echo "### coverage: %s"\n' "$c"
		printf '%s || { echo "### coverage: failed: %s"; rc=1; }\n' "$c" "$c"
	done
	cat <<'EOF'
# Unloaded first, so that its exit path counts; gcov keeps an unloaded module's counters.
grep -q '^npu_mem ' /proc/modules && rmmod npu_mem
# debugfs reports the files' size as 0: read them, do not archive them in place.
g=/sys/kernel/debug/gcov
n=0
for f in $(find $g -path '*/driver/*.gcda'); do
	cat "$f" >/tmp/gcov-$(basename "$f") && n=$((n + 1))
done
echo "### coverage: $n .gcda files"
[ $n -gt 0 ] || rc=1
echo NPU_MEM_GCOV_BEGIN
(cd /tmp && tar -czf - gcov-*.gcda | base64)
echo NPU_MEM_GCOV_END
exit $rc
EOF
} >"$out/vm/run.sh"

say "coverage run in the VM: ${#vm_commands[@]} commands"
vm_rc=0
t0=$(date +%s)
# The console carries the counters: keep it all in vm.out, show everything else.
"$NPU_TOP/tools/vm-run" --kernel coverage --timeout 3600 --log "$out/kernel.log" \
	--add "$out/vm" -- sh run.sh | tee "$out/vm.out" |
	sed -u '/^NPU_MEM_GCOV_BEGIN$/,/^NPU_MEM_GCOV_END$/d' || vm_rc=$?
say "VM run: $(( $(date +%s) - t0 ))s, exit status $vm_rc"

# ---- the counters, next to the module's .gcno files
rm -f "$objdir"/*.gcda
mkdir -p "$out/gcda"
sed -n '/^NPU_MEM_GCOV_BEGIN$/,/^NPU_MEM_GCOV_END$/{/^NPU_MEM_GCOV_/d;p}' "$out/vm.out" |
	base64 -d | tar -xzf - -C "$out/gcda" ||
	die "no counters came back from the VM (see $out/vm.out)"
for f in "$out"/gcda/gcov-*.gcda; do
	[ -f "$f" ] || die "no .gcda files came back from the VM (see $out/vm.out)"
	cp "$f" "$objdir/$(basename "${f#*/gcov-}")"
done

# ---- the report.  The module is built from a copy of driver/ in the object directory;
# the tracefile names the sources in the work tree instead, and keeps only driver/ (the
# kernel headers' inline functions are counted too, but they are not ours).
# (Debian's lcov 1.16 loads geninfo twice, which makes perl warn about every subroutine.)
lcov --quiet --capture --directory "$objdir" --base-directory "$objdir" \
	--gcov-tool gcov --output-file "$out/raw.info" 2>&1 |
	{ grep -v '^Subroutine .* redefined at ' || true; } >&2
moddir=$(dirname "$objdir")
sed "s|^SF:$moddir/|SF:$NPU_TOP/|" "$out/raw.info" >"$out/mapped.info"
lcov --quiet --extract "$out/mapped.info" "$NPU_TOP/driver/*" --output-file "$out/driver.info"
genhtml --quiet --title "npu_mem driver/" --prefix "$NPU_TOP" \
	--output-directory "$out" "$out/driver.info"

# Each uncovered line with the function it is in (the last function starting above it).
awk -v top="$NPU_TOP/" '
	/^SF:/ { file = substr($0, 4); sub("^" top, "", file); nfn = 0; delete fl; delete fn; next }
	/^FN:/ { split(substr($0, 4), a, ","); nfn++; fl[nfn] = a[1] + 0; fn[nfn] = a[2]; next }
	/^DA:/ {
		split(substr($0, 4), a, ",")
		if (a[2] != 0) next
		line = a[1] + 0; f = "?"; best = 0
		for (i = 1; i <= nfn; i++)
			if (fl[i] <= line && fl[i] > best) { best = fl[i]; f = fn[i] }
		src = ""
		path = top file
		for (j = 0; j < line && (getline s < path) > 0; j++) src = s
		close(path)
		gsub(/^[ \t]+/, "", src)
		printf "%s:%d\t%s\t%s\n", file, line, f, src
	}' "$out/driver.info" >"$out/uncovered.txt"

summary=$(lcov --summary "$out/driver.info" 2>&1)
lines=$(sed -n 's/^ *lines\.*: \([0-9.]*\)%.*/\1/p' <<<"$summary")
funcs=$(sed -n 's/^ *functions\.*: \([0-9.]*\)%.*/\1/p' <<<"$summary")
[ -n "$lines" ] && [ -n "$funcs" ] || die "lcov gave no summary: $summary"
say "report: $out/index.html; $(wc -l <"$out/uncovered.txt") uncovered lines in $out/uncovered.txt"
echo "driver/: lines $lines%, functions $funcs%"

rc=0
if [ "$vm_rc" -ne 0 ]; then
	say "FAIL: the VM run failed (exit $vm_rc): a test failed or the kernel log shows a problem"
	rc=1
fi
if awk -v l="$lines" -v m="$min" 'BEGIN { exit !(l < m) }'; then
	say "FAIL: driver/ line coverage $lines% is below the floor of $min%"
	rc=1
fi
exit $rc
