// SPDX-License-Identifier: GPL-2.0
/*
 * Process death releases everything the process held: SIGKILL of the exporter,
 * of an importer, and of both while their mappings are live; and the death of
 * a process whose forked child still holds an inherited copy of its fd.
 * After each case the devices' free memory is back where it started and the
 * shareable value is dead.  One test per case.
 */
#include <sys/prctl.h>

#include "harness.h"
#include "npu.h"

#define SZ (2 * MIB)

/*
 * Exporter process: allocate on device 0, map, fill, export without pid
 * validation, report the value, then wait until killed; or, with @fork_holder,
 * fork a child that keeps the fd, report its pid and exit.
 */
static pid_t start_exporter(int *value_fd, uint64_t *value_out, int fork_holder, pid_t *holder)
{
	int p[2], q[2];
	pid_t pid;

	if (pipe(p) || pipe(q))
		exit(2);
	pid = fork();
	if (pid == 0) {
		int fd = npu_open();
		uint64_t off = 0, value = 0;
		uint32_t h = 0;
		void *va;

		close(p[0]);
		close(q[0]);
		if (npu_alloc(fd, 0, SZ, &h, &off) || !(va = npu_map(fd, off, SZ)))
			_exit(2);
		fill(va, SZ, 0x77);
		if (npu_export(fd, h, NPU_MEM_EXPORT_DISABLE_PID_VALIDATION, &value))
			_exit(2);
		put64(p[1], value);
		if (fork_holder) {
			pid_t c = fork();

			if (c == 0) {	/* holds the inherited fd, does nothing */
				put64(q[1], 1);
				pause();
				_exit(0);
			}
			put64(p[1], (uint64_t)c);
			_exit(0);	/* the exporter exits; its child keeps the fd */
		}
		pause();
		_exit(0);
	}
	close(p[1]);
	close(q[1]);
	*value_out = get64(p[0]);
	if (fork_holder) {
		*holder = (pid_t)get64(p[0]);
		get64(q[0]);	/* the holder is running */
	}
	*value_fd = p[0];
	return pid;
}

/* Importer process: import @value onto device 1, map, check, report, wait. */
static pid_t start_importer(uint64_t value, int *ready_fd)
{
	int p[2];
	pid_t pid;

	if (pipe(p))
		exit(2);
	pid = fork();
	if (pid == 0) {
		int fd = npu_open();
		uint64_t off = 0;
		uint32_t h = 0;
		void *va;

		close(p[0]);
		if (npu_import(fd, value, 1, &h, &off) || !(va = npu_map(fd, off, SZ)))
			_exit(2);
		put64(p[1], check(va, SZ, 0x77));
		for (;;) {
			pause();
			/* keep reading so the mapping is used */
			if (!check(va, SZ, 0x77))
				_exit(4);
		}
	}
	close(p[1]);
	*ready_fd = p[0];
	return pid;
}

static int value_dead(uint64_t value)
{
	int fd = npu_open();
	uint32_t h = 0;
	int dead;

	dead = npu_import(fd, value, 0, &h, NULL) == -1 && errno == ENOENT;
	close(fd);
	return dead;
}

FIXTURE(death) {
	uint64_t free0, free1;
};

FIXTURE_SETUP(death)
{
	/* Orphans (the fork holder) are reparented to us, so we can reap them. */
	ASSERT_EQ(0, prctl(PR_SET_CHILD_SUBREAPER, 1));
	self->free0 = npu_dev_free(0);
	self->free1 = npu_dev_free(1);
}

FIXTURE_TEARDOWN(death)
{
	EXPECT_EQ(self->free0, npu_dev_free(0)) TH_LOG("device 0 free memory is back to its start");
	EXPECT_EQ(self->free1, npu_dev_free(1)) TH_LOG("device 1 free memory is back to its start");
}

/* SIGKILL the exporter while an importer maps the memory. */
TEST_F(death, kill_exporter)
{
	uint64_t value;
	int vfd, rfd;
	pid_t exp, imp;

	exp = start_exporter(&vfd, &value, 0, NULL);
	imp = start_importer(value, &rfd);
	EXPECT_EQ(1, get64(rfd)) TH_LOG("kill exporter: importer reads the pattern");
	kill(exp, SIGKILL);
	EXPECT_EQ(128 + SIGKILL, reap(exp)) TH_LOG("kill exporter: exporter died of SIGKILL");
	EXPECT_EQ(self->free0 - SZ, npu_dev_free(0))
		TH_LOG("kill exporter: memory still in use by the importer");
	EXPECT_FALSE(value_dead(value)) TH_LOG("kill exporter: value still alive");
	kill(imp, SIGKILL);
	reap(imp);
	EXPECT_EQ(self->free0, npu_dev_free(0))
		TH_LOG("kill exporter, then importer: device 0 memory is back");
	EXPECT_TRUE(value_dead(value)) TH_LOG("kill exporter, then importer: value is dead");
	close(vfd);
	close(rfd);
}

/* SIGKILL the importer while mapped; the exporter keeps the memory. */
TEST_F(death, kill_importer)
{
	uint64_t value;
	int vfd, rfd;
	pid_t exp, imp;

	exp = start_exporter(&vfd, &value, 0, NULL);
	imp = start_importer(value, &rfd);
	EXPECT_EQ(1, get64(rfd)) TH_LOG("kill importer: importer reads the pattern");
	kill(imp, SIGKILL);
	EXPECT_EQ(128 + SIGKILL, reap(imp)) TH_LOG("kill importer: importer died of SIGKILL");
	EXPECT_EQ(self->free0 - SZ, npu_dev_free(0))
		TH_LOG("kill importer: memory still in use by the exporter");
	close(rfd);
	imp = start_importer(value, &rfd);
	EXPECT_EQ(1, get64(rfd))
		TH_LOG("kill importer: the importer can be replaced (its import was released)");
	kill(imp, SIGKILL);
	reap(imp);
	kill(exp, SIGKILL);
	reap(exp);
	EXPECT_EQ(self->free0, npu_dev_free(0))
		TH_LOG("kill importer, then exporter: device 0 memory is back");
	close(vfd);
	close(rfd);
}

/* SIGKILL both at once while both map the memory. */
TEST_F(death, kill_both)
{
	uint64_t value;
	int vfd, rfd;
	pid_t exp, imp;

	exp = start_exporter(&vfd, &value, 0, NULL);
	imp = start_importer(value, &rfd);
	EXPECT_EQ(1, get64(rfd)) TH_LOG("kill both: importer reads the pattern");
	kill(imp, SIGKILL);
	kill(exp, SIGKILL);
	reap(imp);
	reap(exp);
	EXPECT_EQ(self->free0, npu_dev_free(0)) TH_LOG("kill both: device 0 memory is back");
	EXPECT_TRUE(value_dead(value)) TH_LOG("kill both: value is dead");
	close(vfd);
	close(rfd);
}

/* The exporter dies while its forked child holds the inherited fd. */
TEST_F(death, exporter_exits_while_its_forked_child_holds_the_fd)
{
	uint64_t value;
	pid_t exp, holder;
	int vfd;

	exp = start_exporter(&vfd, &value, 1, &holder);
	EXPECT_EQ(0, reap(exp)) TH_LOG("fork holder: exporter exited while the child holds its fd");
	EXPECT_EQ(0, kill(holder, 0)) TH_LOG("fork holder: the child is still alive");
	EXPECT_EQ(self->free0, npu_dev_free(0))
		TH_LOG("fork holder: device 0 memory is back although the fd lives on");
	EXPECT_TRUE(value_dead(value)) TH_LOG("fork holder: value is dead");
	kill(holder, SIGKILL);
	reap(holder);
	close(vfd);
}

TEST_HARNESS_MAIN
