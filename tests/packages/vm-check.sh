#!/bin/sh
# Runs inside the test VM (tests/packages/run-vm.sh, busybox sh, as root): put the files
# unpacked from the .deb packages (./root) at their own paths, as dpkg would, remove the
# build tree's copies (/opt/npu_mem), and use only what the packages ship: the module
# dkms built from npu-mem-dkms's source, the udev rule's group and mode, npu-mem, the
# demo and a CANN-style CMake program on npu-mem-acl's libascendcl.so via set_env.sh.
rc=0
check() {	# check NAME CMD...
	name=$1
	shift
	if "$@"; then echo "ok - packages-vm: $name"; else echo "not ok - packages-vm: $name"; rc=1; fi
}
as_user() { su -s /bin/sh -c "$1" "${2:-user}" </dev/null; }

rm -rf /opt/npu_mem
export PATH=/usr/bin:/bin
unset LD_LIBRARY_PATH
cp -a root/. /

check "insmod the npu_mem.ko that dkms built from npu-mem-dkms's source" insmod ./npu_mem.ko

# busybox has no udev and no systemd-sysusers: apply the packaged rule and entry by hand.
group=$(sed -n 's/^g \([^ ]*\) .*/\1/p' /usr/lib/sysusers.d/npu-mem.conf)
rule=/lib/udev/rules.d/60-npu-mem.rules
rgroup=$(sed -n 's/^KERNEL=="npu_mem".*GROUP="\([^"]*\)".*/\1/p' $rule)
rmode=$(sed -n 's/^KERNEL=="npu_mem".*MODE="\([0-7]*\)".*/\1/p' $rule)
check "the udev rule gives /dev/npu_mem to the sysusers.d group npu, mode 0660" \
	test "$group:$rgroup:$rmode" = "npu:npu:0660"
# tools/vm-run made user (uid 1000) a member of group npu already: add what is missing.
grep -q '^user:' /etc/passwd || echo "user:x:1000:1000:user:/tmp:/bin/sh" >>/etc/passwd
grep -q '^user:' /etc/group || echo "user:x:1000:" >>/etc/group
echo "other:x:1001:1001:other:/tmp:/bin/sh" >>/etc/passwd
echo "other:x:1001:" >>/etc/group
grep -q "^$group:" /etc/group || echo "$group:x:999:user" >>/etc/group
chgrp "$rgroup" /dev/npu_mem && chmod "$rmode" /dev/npu_mem

for c in info devices; do
	as_user "npu-mem $c" >/tmp/out 2>&1
	st=$?
	sed 's/^/# /' /tmp/out
	check "npu-mem $c, as a member of group npu" test $st -eq 0
done

. /usr/lib/npu-mem/set_env.sh
check "set_env.sh points ASCEND_HOME_PATH at the CANN-shaped tree" \
	test "$ASCEND_HOME_PATH" = /usr/lib/npu-mem
check "npu-mem-demo loads npu-mem-acl's /usr/lib/npu-mem/lib64/libascendcl.so" \
	sh -c 'LD_TRACE_LOADED_OBJECTS=1 npu-mem-demo | grep -q "libascendcl.so => /usr/lib/npu-mem/lib64/libascendcl.so "'
as_user '. /usr/lib/npu-mem/set_env.sh && npu-mem-demo' >/tmp/demo.out 2>&1
sed 's/^/# /' /tmp/demo.out
check "npu-mem-demo, as a member of group npu: DEMO OK" grep -q '^DEMO OK' /tmp/demo.out
as_user '. /usr/lib/npu-mem/set_env.sh && ./share_sample' >/tmp/sample.out 2>&1
sed 's/^/# /' /tmp/sample.out
check "the CANN-style CMake program: SAMPLE OK" grep -q '^SAMPLE OK' /tmp/sample.out
outsider_refused() { ! as_user npu-mem-demo other >/dev/null 2>&1; }
check "npu-mem-demo, as a user outside group npu: refused" outsider_refused

# The same without the packaged library: nothing else in the VM may stand in for it.
mv /usr/lib/npu-mem/lib64/libascendcl.so /tmp/
check "without npu-mem-acl's libascendcl.so, neither program starts" \
	sh -c '! npu-mem-demo >/dev/null 2>&1 && ! ./share_sample >/dev/null 2>&1'
mv /tmp/libascendcl.so /usr/lib/npu-mem/lib64/
exit $rc
