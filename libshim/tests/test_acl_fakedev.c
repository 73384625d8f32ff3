// SPDX-License-Identifier: MIT
/*
 * libshim against a stand-in device (npu_dev_fake.c: memfds, real mmaps), for
 * what needs aclInit to succeed but no driver.  Built from the library's
 * sources with LeakSanitizer (not AddressSanitizer: its quarantine would hide
 * the reuse of freed records).  Checks that can crash or hang the library run
 * in a child process.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>

#include "npu_dev_fake.h"
#include "tests/user/acl_util.h"

/* LeakSanitizer's, when the program is built with it (-fsanitize=leak). */
int __lsan_do_recoverable_leak_check(void) __attribute__((weak));

static int leaks(void)
{
	return __lsan_do_recoverable_leak_check ? __lsan_do_recoverable_leak_check() : 0;
}

#define G (2UL << 20)
#define PAGE 4096UL

static aclrtPhysicalMemProp prop0(void)
{
	return acl_dev_prop(0, ACL_HBM_MEM_HUGE);
}

/* ---- cycles ---- */

static void cycles(void)
{
	aclrtPhysicalMemProp prop = prop0();
	aclrtDrvMemHandle h;
	aclrtStream s;
	void *va, *host;
	int i, bad = 0;

	aclFinalize();
	for (i = 0; i < 20; i++) {
		bad |= aclInit(NULL) || aclrtSetDevice(0) || aclrtMallocPhysical(&h, G, &prop, 0) ||
		       aclrtReserveMemAddress(&va, 2 * G, 0, NULL, 0) || aclrtMapMem(va, G, 0, h, 0) ||
		       aclrtCreateStream(&s) || aclrtMallocHost(&host, 100);
		bad |= aclFinalize();
	}
	TAP_CHECK("cycles: 20 x aclInit, allocate, map, aclFinalize", !bad);
	TAP_CHECK("cycles: the stand-in holds no handle afterwards", npu_dev_fake_handles() == 0);
	TAP_CHECK("cycles: nothing leaked (LeakSanitizer)", !leaks());
}

int main(void)
{
	ACL_OK("aclInit with the stand-in device", aclInit(NULL));
	ACL_OK("SetDevice(0)", aclrtSetDevice(0));
	cycles();
	return tap_done();
}
