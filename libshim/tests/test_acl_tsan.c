// SPDX-License-Identifier: MIT
/*
 * Thread safety under ThreadSanitizer: libshim's sources and the stand-in
 * device (npu_dev_fake.c) built with -fsanitize=thread.  One thread cycles
 * aclInit/aclFinalize while others fail on missing devices (messages that
 * name the device count or the pid of aclInit), and allocate, map, copy and
 * unmap.  Each race runs in a child process: ThreadSanitizer makes its exit
 * status 66 when it reports anything (the report is on stderr).
 */
#include <sched.h>
#include <stdatomic.h>

#include "npu_dev_fake.h"
#include "tests/user/acl_util.h"

#define G (2UL << 20)
#define ROUNDS 2000

static atomic_int started, stop;

static void *cycler(void *arg)
{
	int i;

	(void)arg;
	while (!atomic_load(&started))
		sched_yield();
	for (i = 0; i < ROUNDS; i++) {
		aclInit(NULL);
		aclFinalize();
	}
	atomic_store(&stop, 1);
	return NULL;
}

/* Failures whose messages mention shared state: device count, aclInit's pid. */
static void *bad_devices(void *arg)
{
	aclrtPhysicalMemProp prop = acl_dev_prop(99, ACL_HBM_MEM_HUGE);
	aclrtDrvMemHandle h;
	int32_t can;
	uint32_t n;

	(void)arg;
	atomic_store(&started, 1);
	while (!atomic_load(&stop)) {
		aclrtSetDevice(99);
		aclrtResetDevice(99);
		aclrtDeviceCanAccessPeer(&can, 0, 99);
		aclrtMallocPhysical(&h, G, &prop, 0);
		if (aclrtSetDevice(0) == ACL_SUCCESS)
			aclrtDeviceEnablePeerAccess(99, 0);
		aclrtGetDeviceCount(&n);
		aclGetRecentErrMsg();
	}
	return NULL;
}

static void *mapper(void *arg)
{
	aclrtPhysicalMemProp prop = acl_dev_prop(0, ACL_HBM_MEM_HUGE);
	aclrtDrvMemHandle h;
	char buf[64] = "tsan";
	void *va;

	(void)arg;
	atomic_store(&started, 1);
	while (!atomic_load(&stop)) {
		aclrtSetDevice(0);
		if (aclrtMallocPhysical(&h, G, &prop, 0))
			continue;
		if (!aclrtReserveMemAddress(&va, G, 0, NULL, 0)) {
			if (!aclrtMapMem(va, G, 0, h, 0)) {
				aclrtMemcpy(va, sizeof(buf), buf, sizeof(buf), ACL_MEMCPY_HOST_TO_DEVICE);
				aclrtMemcpy(buf, sizeof(buf), va, sizeof(buf), ACL_MEMCPY_DEVICE_TO_HOST);
				/* Not aclrtMemset: va is host memory to it once aclFinalize has unmapped it. */
				aclrtMemcpy(va, G, (char *)va + G / 2, G / 2, ACL_MEMCPY_DEVICE_TO_DEVICE);
				aclrtUnmapMem(va);
			}
			aclrtReleaseMemAddress(va);
		}
		aclrtFreePhysical(h);
		aclGetRecentErrMsg();
	}
	return NULL;
}

static int race(void *(*other)(void *))
{
	pthread_t a, b;

	pthread_create(&a, NULL, cycler, NULL);
	pthread_create(&b, NULL, other, NULL);
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	return 0;
}

static void in_child(const char *name, void *(*other)(void *))
{
	pid_t pid;
	int st;

	fflush(stdout);
	pid = fork();
	if (pid == 0)
		exit(race(other));	/* exit, not _exit: ThreadSanitizer sets the status at exit */
	st = wait_child(pid);
	tap_result(st == 0, name, st == 66 ? "ThreadSanitizer reported a race (stderr has the report)" :
		   "the child exited with status %d", st);
}

int main(void)
{
	in_child("tsan: failures naming the device count or pid race aclInit/aclFinalize cleanly",
		 bad_devices);
	in_child("tsan: allocate, map, copy, unmap race aclInit/aclFinalize cleanly", mapper);
	return tap_done();
}
