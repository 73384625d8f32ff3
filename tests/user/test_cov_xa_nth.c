// SPDX-License-Identifier: GPL-2.0
/*
 * Fail-nth (see test_fail_nth.c) over open, ALLOC and EXPORT when each has to
 * grow the machine-wide xarray it registers in: the context, object and share
 * ids.  An xarray allocates a node only for an index no live node covers:
 * here nothing else is live (each round closes what it made, so each id is
 * stored into an empty array), and the rounds go on until the object ids and
 * share indexes, which only grow, have crossed into new 64-entry nodes too.
 * test_fail_nth keeps objects and files open, so it never reaches these
 * sites.  A failed call must fail with ENOMEM and take no device memory; a
 * call that succeeds although a fault was injected must work.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>

#include "harness.h"
#include "npu.h"

#define SZ		(2 * MIB)
#define ROUNDS		70	/* past one 64-entry node */
#define MAX_NTH		100

static int nth_fd = -1;

static int dbg_write(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, val, strlen(val));
	close(fd);
	return n == (ssize_t)strlen(val) ? 0 : -1;
}

static int fault_attrs_setup(void)
{
	static const char *const w[][2] = {
		{ "/sys/kernel/debug/failslab/ignore-gfp-wait", "N" },
		{ "/sys/kernel/debug/failslab/verbose", "0" },
		{ "/sys/kernel/debug/fail_page_alloc/ignore-gfp-wait", "N" },
		{ "/sys/kernel/debug/fail_page_alloc/verbose", "0" },
		{ "/sys/kernel/debug/fail_page_alloc/min-order", "1" },
	};

	for (size_t i = 0; i < sizeof(w) / sizeof(w[0]); i++)
		if (dbg_write(w[i][0], w[i][1]))
			return -1;
	return 0;
}

static int nth_set(unsigned int n)
{
	char buf[16];
	int len = snprintf(buf, sizeof(buf), "%u", n);

	return pwrite(nth_fd, buf, len, 0) == len ? 0 : -1;
}

static unsigned int nth_get(void)
{
	char buf[16] = "";

	if (pread(nth_fd, buf, sizeof(buf) - 1, 0) <= 0)
		return ~0u;
	return strtoul(buf, NULL, 10);
}

struct call {
	const char *what;
	int fd;
	uint32_t handle;
	uint64_t value;
};

static int do_open(struct call *c)
{
	c->fd = npu_open();
	return c->fd < 0 ? -1 : 0;
}

static int do_alloc(struct call *c)
{
	return npu_alloc(c->fd, 0, SZ, &c->handle, NULL);
}

static int do_export(struct call *c)
{
	return npu_export(c->fd, c->handle, 0, &c->value);
}

struct counts {
	unsigned int failed, tolerated;
};

/*
 * @fn with its N-th fault site failing, N = 1, 2, ... until it succeeds;
 * each failure must be ENOMEM and leave device 0's free bytes at @free.
 * Return: 0 once @fn succeeded, -1 if it misbehaved.
 */
static int nth_loop(struct __test_metadata *_metadata, int (*fn)(struct call *),
		    struct call *c, uint64_t free, struct counts *cnt)
{
	for (unsigned int n = 1; n <= MAX_NTH; n++) {
		unsigned int left;
		int r, e;

		if (nth_set(n))
			return -1;
		r = fn(c);
		e = errno;
		left = nth_get();
		if (nth_set(0))
			return -1;
		if (r == 0) {
			cnt->tolerated += left == 0;
			return 0;
		}
		cnt->failed++;
		EXPECT_EQ(ENOMEM, e) TH_LOG("%s, nth %u: %s", c->what, n, strerror(e));
		EXPECT_EQ(free, npu_dev_free(0)) TH_LOG("%s, nth %u: device memory taken", c->what, n);
		if (e != ENOMEM)
			return -1;
	}
	TH_LOG("%s: no success within %d sites", c->what, MAX_NTH);
	return -1;
}

TEST(growing_the_id_arrays_fails_cleanly)
{
	struct counts cnt = { 0 };
	uint64_t before = npu_dev_free(0);
	int round;

	nth_fd = open("/proc/thread-self/fail-nth", O_RDWR | O_CLOEXEC);
	if (nth_fd < 0 || getuid() != 0 || fault_attrs_setup())
		SKIP(return, "needs root, fail-nth, failslab and fail_page_alloc");
	ASSERT_NE(UINT64_MAX, before);

	for (round = 0; round < ROUNDS; round++) {
		struct call c = { .fd = -1 };

		c.what = "open";
		if (nth_loop(_metadata, do_open, &c, before, &cnt))
			break;
		c.what = "ALLOC";
		if (nth_loop(_metadata, do_alloc, &c, before, &cnt)) {
			close(c.fd);
			break;
		}
		c.what = "EXPORT";
		if (nth_loop(_metadata, do_export, &c, before - SZ, &cnt)) {
			close(c.fd);
			break;
		}
		EXPECT_EQ(0, npu_free(c.fd, c.handle));
		close(c.fd);
		EXPECT_EQ(before, npu_dev_free(0)) TH_LOG("round %d: the memory came back", round);
		if (_metadata->exit_code != KSFT_PASS)
			break;
	}
	close(nth_fd);
	TH_LOG("%d rounds: %u failed calls, %u tolerated", round, cnt.failed, cnt.tolerated);
	EXPECT_EQ(ROUNDS, round);
	EXPECT_NE(0, cnt.failed);
}

TEST_HARNESS_MAIN
