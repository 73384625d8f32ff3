// SPDX-License-Identifier: GPL-2.0
/*
 * open() of /dev/npu_mem in a process that has never opened it, with its N-th
 * allocation failing (fail-nth, N = 1, 2, ... until an open reaches no N-th
 * site; see test_fail_nth.c): it fails with ENOMEM or succeeds, and the same
 * process then opens the node, allocates, maps and frees as if nothing had
 * happened.  A process's first open registers the mmu_notifier that ties its
 * context to its mm, and only the first one allocates for it, which
 * test_fail_nth (whose process has opened the node before) never fails.  Each
 * N runs in a new child: a fresh mm.  kmemleak (debug kernels) reports what a
 * failed open leaked.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "harness.h"
#include "fail_nth.h"
#include "npu.h"

#define MAX_NTH		200
#define SZ		(2 * MIB)
#define SEED		0x6f70656e
/* A child's verdicts, besides 0 (a fault failed the open cleanly). */
#define DONE		10	/* no N-th site: the plain open */
#define TOLERATED	11	/* a fault was injected and the open succeeded anyway */

/* The device works for this process: open, allocate, map, write, read, free. */
static int device_works(void)
{
	int fd = npu_open(), ok;
	uint64_t off;
	uint32_t h;
	void *p;

	if (fd < 0 || npu_alloc(fd, 0, SZ, &h, &off))
		return 0;
	p = npu_map(fd, off, SZ);
	ok = p != NULL;
	if (p) {
		fill(p, SZ, SEED);
		ok = check(p, SZ, SEED);
		munmap(p, SZ);
	}
	ok = !npu_free(fd, h) && ok;
	close(fd);
	return ok;
}

/* In a new child: open with the @n-th fault site failing; the verdict is its status. */
static int child(unsigned int n)
{
	int nth = open("/proc/thread-self/fail-nth", O_RDWR | O_CLOEXEC), fd, e;
	char buf[16];
	int len = snprintf(buf, sizeof(buf), "%u", n);

	if (nth < 0 || pwrite(nth, buf, len, 0) != len)
		return 2;
	fd = npu_open();
	e = errno;
	memset(buf, 0, sizeof(buf));
	if (pread(nth, buf, sizeof(buf) - 1, 0) <= 0 || pwrite(nth, "0", 1, 0) != 1)
		return 2;
	if (fd >= 0) {
		close(fd);
		if (strtoul(buf, NULL, 10) != 0)
			return device_works() ? DONE : 4;
		return device_works() ? TOLERATED : 4;
	}
	if (e != ENOMEM) {
		printf("# nth %u: open failed with %s, not ENOMEM\n", n, strerror(e));
		return 3;
	}
	return device_works() ? 0 : 4;
}

TEST(first_open_fails_cleanly_at_each_allocation)
{
	unsigned int n, failed = 0, tolerated = 0;
	int st = -1;

	if (access("/proc/thread-self/fail-nth", W_OK) || getuid() != 0 || fault_attrs_setup())
		SKIP(return, "needs root, fail-nth, failslab and fail_page_alloc");
	for (n = 1; n <= MAX_NTH; n++) {
		pid_t pid;

		fflush(stdout);
		pid = fork();
		ASSERT_LE(0, pid);
		if (pid == 0)
			_exit(child(n));
		st = reap(pid);
		if (st == DONE)
			break;
		if (st == TOLERATED) {
			tolerated++;
			continue;
		}
		EXPECT_EQ(0, st) TH_LOG("nth %u: %s", n, st == 4 ?
					"the device did not work after the failed open" :
					"the open misbehaved (above)");
		if (st != 0)
			break;
		failed++;
	}
	TH_LOG("fail-nth: %u sites, %u failed opens, %u tolerated", n - 1, failed, tolerated);
	EXPECT_EQ(DONE, st) TH_LOG("no plain open within %d sites", MAX_NTH);
	EXPECT_NE(0, failed);
}

TEST_HARNESS_MAIN
