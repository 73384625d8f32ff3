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

#define BUDGET		50
#define GUESSER_UID	1000

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
	uint32_t h;

	ASSERT_EQ(0, npu_param_read("guess_budget", self->saved, sizeof(self->saved)))
		TH_LOG("no module parameter guess_budget");
	self->fd = npu_open();
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(0, npu_alloc(self->fd, 0, 2 * MIB, &h, NULL));
	ASSERT_EQ(0, npu_export(self->fd, h, NPU_MEM_EXPORT_DISABLE_PID_VALIDATION,
				&self->value));
}

FIXTURE_TEARDOWN(budget)
{
	close(self->fd);
	npu_param_write("guess_budget", self->saved);
}

/* Fork a child that opens the node as root, becomes @uid and runs @fn. */
static pid_t as_user(struct __test_metadata *_metadata, uid_t uid, uint64_t value,
		     int ctl[2], void (*fn)(struct __test_metadata *, int, uint64_t, int))
{
	pid_t pid;
	int fd;

	if (pipe(ctl))
		return -1;
	pid = fork();
	if (pid)
		return pid;
	close(ctl[0]);
	/* Opened as root: the node's permissions are not what is tested. */
	fd = npu_open();
	if (fd < 0 || setgroups(0, NULL) || setresgid(uid, uid, uid) ||
	    setresuid(uid, uid, uid)) {
		EXPECT_TRUE(0) TH_LOG("open, then become uid %d: %s", uid, strerror(errno));
		_exit(_metadata->exit_code);
	}
	fn(_metadata, fd, value, ctl[1]);
	_exit(_metadata->exit_code);
}

/*
 * Guess until refused: the misses before the first EAGAIN are the burst
 * (one second's worth) plus what the loop's own time earned.
 */
static void guess_until_refused(struct __test_metadata *_metadata, int fd,
				uint64_t value, int ctl)
{
	int misses = 0, i, r = 0, bound;
	double t0, elapsed;
	uint32_t h;

	t0 = now_s();
	for (i = 0; i < 100000; i++) {
		r = neg_errno(npu_import(fd, guess(), 0, &h, NULL));
		if (r != -ENOENT)
			break;
		misses++;
	}
	elapsed = now_s() - t0;
	bound = BUDGET + (int)(BUDGET * elapsed) + 1;
	TH_LOG("%d misses in %.3f s, then %s", misses, elapsed, strerror(-r));
	EXPECT_EQ(-EAGAIN, r);
	EXPECT_LE(BUDGET, misses);
	EXPECT_GE(bound, misses);
}

TEST_F(budget, burst_is_one_seconds_worth)
{
	char b[16];
	int ctl[2];
	pid_t pid;

	snprintf(b, sizeof(b), "%d", BUDGET);
	ASSERT_EQ(0, npu_param_write("guess_budget", b));
	pid = as_user(_metadata, GUESSER_UID, self->value, ctl, guess_until_refused);
	ASSERT_LT(0, pid);
	close(ctl[1]);
	EXPECT_EQ(0, reap(pid));
	close(ctl[0]);
	EXPECT_TRUE(kmsg_has("npu_mem: uid 1000", "guess_budget"));
}

/*
 * With a budget of one a second: one miss spends it; then every lookup of
 * that user fails with EAGAIN, a right one and SET_PIDS included, while
 * another user is not affected; a second later the right one succeeds.
 */
static void spend_and_wait(struct __test_metadata *_metadata, int fd, uint64_t value,
			   int ctl)
{
	int32_t pid = 1;
	uint32_t h;

	EXPECT_EQ(-ENOENT, neg_errno(npu_import(fd, guess(), 0, &h, NULL)));
	EXPECT_EQ(-EAGAIN, neg_errno(npu_import(fd, guess(), 0, &h, NULL)));
	EXPECT_EQ(-EAGAIN, neg_errno(npu_import(fd, value, 0, &h, NULL)));
	EXPECT_EQ(-EAGAIN, neg_errno(npu_set_pids(fd, guess(), &pid, 1)));
	EXPECT_EQ(1, write(ctl, "s", 1));
	usleep(1200 * 1000);
	EXPECT_EQ(0, neg_errno(npu_import(fd, value, 0, &h, NULL)));
}

/* Another user's one guess is just wrong. */
static void guess_once(struct __test_metadata *_metadata, int fd, uint64_t value, int ctl)
{
	uint32_t h;

	EXPECT_EQ(-ENOENT, neg_errno(npu_import(fd, guess(), 0, &h, NULL)));
}

TEST_F(budget, spent_budget_refuses_every_lookup_then_refills)
{
	int ctl[2], ctl2[2];
	pid_t pid, other;
	char c;

	ASSERT_EQ(0, npu_param_write("guess_budget", "1"));
	/* Other uids than the other case's: budgets of their own, full. */
	pid = as_user(_metadata, GUESSER_UID + 1, self->value, ctl, spend_and_wait);
	ASSERT_LT(0, pid);
	close(ctl[1]);
	/* While that user is refused, another is not. */
	if (read(ctl[0], &c, 1) == 1) {
		other = as_user(_metadata, GUESSER_UID + 2, self->value, ctl2, guess_once);
		ASSERT_LT(0, other);
		close(ctl2[1]);
		EXPECT_EQ(0, reap(other));
		close(ctl2[0]);
	}
	EXPECT_EQ(0, reap(pid));
	close(ctl[0]);
}

TEST_HARNESS_MAIN
