// SPDX-License-Identifier: GPL-2.0
/*
 * Guessing values is metered per user: a user who fails more lookups (IMPORT
 * or SET_PIDS of values that do not exist) than the module's guess_budget
 * allows gets EAGAIN for every lookup, right ones included, until the budget
 * has refilled; another user is not affected; and the kernel log names the
 * user once.
 */
#define _GNU_SOURCE
#include <grp.h>
#include <stdio.h>
#include <sys/random.h>
#include <time.h>

#include "harness.h"
#include "npu.h"

#define BUDGET_PARAM	"/sys/module/npu_mem/parameters/guess_budget"
#define BUDGET		50
#define GUESSER_UID	1000

static int read_param(char *buf, size_t size)
{
	FILE *f = fopen(BUDGET_PARAM, "re");
	int ok = f && fgets(buf, size, f);

	if (f)
		fclose(f);
	return ok ? 0 : -1;
}

static int write_param(const char *s)
{
	FILE *f = fopen(BUDGET_PARAM, "we");
	int ok = f && fputs(s, f) >= 0;

	if (f && fclose(f))
		ok = 0;
	return ok ? 0 : -1;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A random value: live with probability (live values) / 2^64. */
static uint64_t guess(void)
{
	uint64_t v = 0;

	while (getrandom(&v, sizeof(v), 0) != sizeof(v) || !v)
		;
	return v;
}

/* Does the kernel log have a line with both @a and @b? */
static int kmsg_has(const char *a, const char *b)
{
	char rec[1024];
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC), found = 0;
	ssize_t n;

	if (fd < 0)
		return 0;
	while (!found && ((n = read(fd, rec, sizeof(rec) - 1)) > 0 || (n < 0 && errno == EPIPE)))
		if (n > 0) {
			rec[n] = '\0';
			found = strstr(rec, a) && strstr(rec, b);
		}
	close(fd);
	return found;
}

FIXTURE(budget) {
	char saved[32];
	int fd;
	uint64_t value;	/* exported without pid validation: anyone may import */
};

FIXTURE_SETUP(budget)
{
	char b[16];
	uint32_t h;

	ASSERT_EQ(0, read_param(self->saved, sizeof(self->saved)))
		TH_LOG("no module parameter %s", BUDGET_PARAM);
	snprintf(b, sizeof(b), "%d", BUDGET);
	ASSERT_EQ(0, write_param(b));
	self->fd = npu_open();
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(0, npu_alloc(self->fd, 0, 2 * MIB, &h, NULL));
	ASSERT_EQ(0, npu_export(self->fd, h, NPU_MEM_EXPORT_DISABLE_PID_VALIDATION,
				&self->value));
}

FIXTURE_TEARDOWN(budget)
{
	close(self->fd);
	write_param(self->saved);
}

/*
 * A process of uid 1000 guesses until refused; it reports through its exit
 * status and the pipe: how many guesses failed with ENOENT before the first
 * EAGAIN, and how long that took.
 */
static void guesser(struct __test_metadata *_metadata, uint64_t value, int ctl[2])
{
	int fd = npu_open(), misses = 0, i, r = 0, bound;
	double t0, elapsed;
	int32_t pid = 1;
	uint32_t h;
	char c;

	close(ctl[0]);
	/* Opened as root: the node's permissions are not what is tested. */
	if (fd < 0 || setgroups(0, NULL) ||
	    setresgid(GUESSER_UID, GUESSER_UID, GUESSER_UID) ||
	    setresuid(GUESSER_UID, GUESSER_UID, GUESSER_UID)) {
		EXPECT_TRUE(0) TH_LOG("open, then become uid %d: %s", GUESSER_UID,
				      strerror(errno));
		_exit(_metadata->exit_code);
	}
	t0 = now_s();
	for (i = 0; i < 100000; i++) {
		r = neg_errno(npu_import(fd, guess(), 0, &h, NULL));
		if (r != -ENOENT)
			break;
		misses++;
	}
	elapsed = now_s() - t0;
	EXPECT_EQ(-EAGAIN, r);
	/* The burst is one second's worth, plus what the loop's time earned. */
	bound = BUDGET + (int)(BUDGET * elapsed) + 1;
	TH_LOG("%d misses in %.3f s, then EAGAIN", misses, elapsed);
	EXPECT_LE(BUDGET, misses);
	EXPECT_GE(bound, misses);
	/* Spent: every lookup fails fast, a right one and SET_PIDS included. */
	EXPECT_EQ(-EAGAIN, neg_errno(npu_import(fd, value, 0, &h, NULL)));
	EXPECT_EQ(-EAGAIN, neg_errno(npu_set_pids(fd, guess(), &pid, 1)));
	/* Let the parent check another user meanwhile, then wait for a refill. */
	EXPECT_EQ(1, write(ctl[1], "s", 1));
	usleep(1200 * 1000);
	EXPECT_EQ(0, neg_errno(npu_import(fd, value, 0, &h, NULL)));
	EXPECT_EQ(-ENOENT, neg_errno(npu_import(fd, guess(), 0, &h, NULL)));
	c = 'd';
	EXPECT_EQ(1, write(ctl[1], &c, 1));
	_exit(_metadata->exit_code);
}

TEST_F(budget, trips_for_one_user_and_recovers)
{
	uint32_t h;
	int ctl[2];
	pid_t pid;
	char c;

	ASSERT_EQ(0, pipe(ctl));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0)
		guesser(_metadata, self->value, ctl);
	close(ctl[1]);
	/* uid 1000 is refused now; root is not: its guess is just wrong. */
	if (read(ctl[0], &c, 1) == 1)
		EXPECT_EQ(-ENOENT, neg_errno(npu_import(self->fd, guess(), 1, &h, NULL)));
	EXPECT_EQ(0, reap(pid));
	close(ctl[0]);
	EXPECT_TRUE(kmsg_has("npu_mem: uid 1000", "guess_budget"));
}

TEST_HARNESS_MAIN
