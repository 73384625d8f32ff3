// SPDX-License-Identifier: MIT
/*
 * Thread safety under ThreadSanitizer: libshim's sources and the stand-in
 * device (npu_dev_fake.c) built with -fsanitize=thread.  One thread cycles
 * aclInit/aclFinalize while others fail on missing devices (messages that
 * name the device count or the pid of aclInit), and allocate, map, copy and
 * unmap.  Each race runs in a child process that ends with exit(), not
 * _exit(): ThreadSanitizer makes the exit status 66 at exit when it reported
 * anything (the report is on stderr), and the test checks that status.
 */
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>

#include "npu_dev_fake.h"
#include "tests/user/harness.h"
#include "tests/user/acl_util.h"

/* A race takes a second or so even on a loaded machine: a deadlock fails the test after 60 s. */
#undef TEST_TIMEOUT_DEFAULT
#define TEST_TIMEOUT_DEFAULT 60

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

/* @other against the aclInit/aclFinalize cycler, in a child (see above). */
static void race(struct __test_metadata *_metadata, void *(*other)(void *))
{
	pthread_t a, b;
	int ra, rb, st;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	ASSERT_LE(0, pid) TH_LOG("fork: %s", strerror(errno));
	if (pid == 0) {
		ra = pthread_create(&a, NULL, cycler, NULL);
		rb = pthread_create(&b, NULL, other, NULL);
		EXPECT_EQ(0, ra) TH_LOG("pthread_create (cycler)");
		EXPECT_EQ(0, rb) TH_LOG("pthread_create (the other thread)");
		if (ra || rb) {		/* the one that started must not wait for the other */
			atomic_store(&started, 1);
			atomic_store(&stop, 1);
		}
		if (!ra)
			pthread_join(a, NULL);
		if (!rb)
			pthread_join(b, NULL);
		exit(_metadata->exit_code);	/* exit, not _exit: see above */
	}
	st = wait_child(pid);
	EXPECT_EQ(0, st) TH_LOG("%s (status %d)", st == 66 ? "ThreadSanitizer reported a race (the report is above)" :
				st > 128 ? "the child was killed by a signal (128 + N)" : "the child failed", st);
}

TEST(failures_naming_the_device_count_or_pid_race_aclInit_aclFinalize_cleanly)
{
	race(_metadata, bad_devices);
}

TEST(allocate_map_copy_unmap_race_aclInit_aclFinalize_cleanly)
{
	race(_metadata, mapper);
}

TEST_HARNESS_MAIN
