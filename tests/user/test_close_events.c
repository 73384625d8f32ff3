// SPDX-License-Identifier: GPL-2.0
/*
 * Which event reports a handle that goes without FREE: close() of the file
 * (its last reference) while the opener lives reports "freed"; the opener's
 * death (exit, SIGKILL, execve: its address space goes while the file is
 * open) reports "holder-died".  Each test runs `npu-mem --json watch`, lets
 * a child process act, and checks the events of that child in order.
 */
#define _GNU_SOURCE
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "harness.h"
#include "npu.h"
#include "npu_tool.h"

#define SZ (2 * MIB)
#define OUT_MAX 65536

struct watcher {
	pid_t pid;
	int out;
	char buf[OUT_MAX];
};

/* Start `npu-mem --json watch --count @count`; 0 once it listens. */
static int watch_start(struct watcher *w, int count)
{
	char n[16], err[256] = "";
	int o[2], e[2];
	FILE *ef;

	snprintf(n, sizeof(n), "%d", count);
	if (pipe(o) || pipe(e))
		return -1;
	w->pid = fork();
	if (w->pid == 0) {
		dup2(o[1], 1);
		dup2(e[1], 2);
		close(o[0]);
		close(e[0]);
		execl(npu_mem_bin(), "npu-mem", "--json", "watch", "--count", n, (char *)NULL);
		_exit(127);
	}
	close(o[1]);
	close(e[1]);
	w->out = o[0];
	w->buf[0] = '\0';
	ef = fdopen(e[0], "r");
	/* It says so on stderr once it has joined the multicast group. */
	if (!ef || !fgets(err, sizeof(err), ef) || !strstr(err, "listening"))
		return -1;
	fclose(ef);
	return 0;
}

/*
 * Collect the watcher's events until it exits by itself (after its count);
 * a watcher that gets no data for 10 s is killed (a hang guard: the check
 * then fails on the missing events, not on time).
 */
static void watch_collect(struct watcher *w)
{
	struct pollfd pfd = { .fd = w->out, .events = POLLIN };
	size_t n = 0;
	ssize_t r;

	while (n + 1 < sizeof(w->buf) && poll(&pfd, 1, 10000) > 0) {
		r = read(w->out, w->buf + n, sizeof(w->buf) - 1 - n);
		if (r <= 0)
			break;
		n += r;
	}
	w->buf[n] = '\0';
	close(w->out);
	kill(w->pid, SIGKILL);
	reap(w->pid);
}

/* The number after "key": in @line (up to its end), or -1. */
static long long json_num(const char *line, const char *key)
{
	char pat[64];
	const char *p, *nl = strchr(line, '\n');

	snprintf(pat, sizeof(pat), "\"%s\":", key);
	p = strstr(line, pat);
	return p && (!nl || p < nl) ? strtoll(p + strlen(pat), NULL, 10) : -1;
}

/*
 * The watcher saw exactly the events @want[0..@n) about @tgid, in that order,
 * all for one object.
 */
#define check_events(w, tgid, ...) \
	__check_events(_metadata, w, tgid, (const char *[]){ __VA_ARGS__, NULL })
static void __check_events(struct __test_metadata *_metadata, struct watcher *w,
			   pid_t tgid, const char **want)
{
	const char *p = w->buf;
	long long obj = -1;
	int i = 0;

	printf("# events:\n");
	for (; *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : p + strlen(p)) {
		char type[32] = "";
		const char *t = strstr(p, "\"event\":\"");
		int len = strchrnul(p, '\n') - p;

		printf("#   %.*s\n", len, p);
		if (json_num(p, "tgid") != tgid || !t || t > p + len)
			continue;
		sscanf(t + 9, "%31[^\"]", type);
		if (!want[i]) {
			EXPECT_TRUE(0) TH_LOG("an event beyond the expected ones: %s", type);
			continue;
		}
		EXPECT_STREQ(want[i], type) TH_LOG("event %d about pid %d", i + 1, tgid);
		if (obj == -1)
			obj = json_num(p, "object");
		EXPECT_EQ(obj, json_num(p, "object")) TH_LOG("event %d is about the same object", i + 1);
		i++;
	}
	EXPECT_EQ(NULL, want[i]) TH_LOG("event %d about pid %d, %s, was not reported",
					 i + 1, tgid, want[i] ? want[i] : "");
}

/* Fork a child running @fn; it reports through its exit status. */
static pid_t child(int (*fn)(void *), void *arg)
{
	pid_t pid = fork();

	if (pid == 0)
		_exit(fn(arg));
	return pid;
}

FIXTURE(close_events) {
	struct watcher w;
};

FIXTURE_SETUP(close_events)
{
	self->w.pid = 0;
}

FIXTURE_TEARDOWN(close_events)
{
	if (self->w.pid > 0) {
		kill(self->w.pid, SIGKILL);
		reap(self->w.pid);
	}
}

/* open, ALLOC, close: the handle is freed (by close), then released. */
static int open_alloc_close(void *unused)
{
	uint32_t h;
	int fd = npu_open();

	if (fd < 0 || npu_alloc(fd, 0, SZ, &h, NULL))
		return 2;
	return close(fd) ? 2 : 0;
}

TEST_F(close_events, close_reports_freed)
{
	pid_t pid;

	ASSERT_EQ(0, watch_start(&self->w, 3)) TH_LOG("npu-mem watch listens");
	pid = child(open_alloc_close, NULL);
	EXPECT_EQ(0, reap(pid)) TH_LOG("the child opens, allocates and closes");
	watch_collect(&self->w);
	check_events(&self->w, pid, "allocated", "freed", "released");
}

/*
 * open, ALLOC, mmap, close, munmap: the mapping keeps the file, so its last
 * reference goes at munmap, while the process lives: "freed" again.
 */
static int close_then_munmap(void *unused)
{
	uint64_t off;
	uint32_t h;
	void *va;
	int fd = npu_open();

	if (fd < 0 || npu_alloc(fd, 0, SZ, &h, &off) || !(va = npu_map(fd, off, SZ)))
		return 2;
	if (close(fd))
		return 2;
	return munmap(va, SZ) ? 2 : 0;
}

TEST_F(close_events, last_munmap_after_close_reports_freed)
{
	pid_t pid;

	ASSERT_EQ(0, watch_start(&self->w, 3)) TH_LOG("npu-mem watch listens");
	pid = child(close_then_munmap, NULL);
	EXPECT_EQ(0, reap(pid)) TH_LOG("the child allocates, maps, closes and unmaps");
	watch_collect(&self->w);
	check_events(&self->w, pid, "allocated", "freed", "released");
}

/* A forked child keeps the file; its close, while the opener lives, is a close. */
static int close_in_forked_child(void *unused)
{
	int go[2], fd = npu_open();
	uint32_t h;
	pid_t c;

	if (fd < 0 || npu_alloc(fd, 0, SZ, &h, NULL) || pipe(go))
		return 2;
	c = fork();
	if (c == 0) {	/* holds the inherited copy until the opener has closed its own */
		get64(go[0]);
		_exit(0);
	}
	if (c < 0 || close(fd))
		return 2;
	put64(go[1], 1);
	/* The opener lives on until its child's exit has closed the last copy. */
	return reap(c) ? 2 : 0;
}

TEST_F(close_events, last_close_by_a_forked_child_reports_freed)
{
	pid_t pid;

	ASSERT_EQ(0, watch_start(&self->w, 3)) TH_LOG("npu-mem watch listens");
	pid = child(close_in_forked_child, NULL);
	EXPECT_EQ(0, reap(pid)) TH_LOG("the opener closes, its child exits with the last copy");
	watch_collect(&self->w);
	check_events(&self->w, pid, "allocated", "freed", "released");
}

/* open, ALLOC, exit with the file open: the holder died. */
static int open_alloc_exit(void *unused)
{
	uint32_t h;
	int fd = npu_open();

	return fd < 0 || npu_alloc(fd, 0, SZ, &h, NULL) ? 2 : 0;
}

TEST_F(close_events, exit_reports_holder_died)
{
	pid_t pid;

	ASSERT_EQ(0, watch_start(&self->w, 3)) TH_LOG("npu-mem watch listens");
	pid = child(open_alloc_exit, NULL);
	EXPECT_EQ(0, reap(pid)) TH_LOG("the child opens, allocates and exits");
	watch_collect(&self->w);
	check_events(&self->w, pid, "allocated", "holder-died", "released");
}

/* open, ALLOC, tell the parent, wait to be killed. */
static int open_alloc_pause(void *arg)
{
	int *ready = arg;
	uint32_t h;
	int fd = npu_open();

	put64(ready[1], fd < 0 || npu_alloc(fd, 0, SZ, &h, NULL) ? 2 : 0);
	pause();
	return 0;
}

TEST_F(close_events, sigkill_reports_holder_died)
{
	int ready[2];
	pid_t pid;

	ASSERT_EQ(0, pipe(ready));
	ASSERT_EQ(0, watch_start(&self->w, 3)) TH_LOG("npu-mem watch listens");
	pid = child(open_alloc_pause, ready);
	EXPECT_EQ(0, get64(ready[0])) TH_LOG("the child opens and allocates");
	kill(pid, SIGKILL);
	EXPECT_EQ(128 + SIGKILL, reap(pid)) TH_LOG("the child is SIGKILLed");
	watch_collect(&self->w);
	check_events(&self->w, pid, "allocated", "holder-died", "released");
}

/* open (O_CLOEXEC), ALLOC, execve: the address space went, the holder died. */
static int open_alloc_exec(void *unused)
{
	uint32_t h;
	int fd = npu_open();

	if (fd < 0 || npu_alloc(fd, 0, SZ, &h, NULL))
		return 2;
	execl("/bin/true", "true", (char *)NULL);
	return 3;
}

TEST_F(close_events, execve_reports_holder_died)
{
	pid_t pid;

	ASSERT_EQ(0, watch_start(&self->w, 3)) TH_LOG("npu-mem watch listens");
	pid = child(open_alloc_exec, NULL);
	EXPECT_EQ(0, reap(pid)) TH_LOG("the child opens, allocates and execs /bin/true");
	watch_collect(&self->w);
	check_events(&self->w, pid, "allocated", "holder-died", "released");
}

TEST_HARNESS_MAIN
