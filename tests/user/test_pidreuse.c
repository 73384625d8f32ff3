// SPDX-License-Identifier: GPL-2.0
/*
 * A whitelist entry authorizes only the process that held the pid when the
 * entry was set.  Whitelist pid X, let X die, then make the next process get
 * pid X again (clone3() with set_tid, which needs CAP_CHECKPOINT_RESTORE; the
 * test kernel has no CONFIG_PID_NS, hence no ns_last_pid): its import is refused
 * (EACCES) until the exporter sets the pid again, after which it succeeds.
 */
#include <linux/sched.h>
#include <stdio.h>
#include <sys/syscall.h>

#include "harness.h"
#include "npu.h"

#define SZ (2 * MIB)

/* fork() into pid @pid: 0 in the child, the pid in the parent, -1 on error. */
static pid_t fork_as(pid_t pid)
{
	struct clone_args args = {
		.exit_signal = SIGCHLD,
		.set_tid = (uintptr_t)&pid,
		.set_tid_size = 1,
	};

	return syscall(SYS_clone3, &args, sizeof(args));
}

TEST(a_process_reusing_a_whitelisted_pid_is_refused)
{
	uint64_t free0 = npu_dev_free(0), value = 0;
	int fd = npu_open(), to_child[2], to_parent[2], attempt;
	int32_t x = 0;
	uint32_t h = 0;
	pid_t pid = -1;

	ASSERT_EQ(0, npu_alloc(fd, 0, SZ, &h, NULL)) TH_LOG("exporter allocates");
	ASSERT_EQ(0, npu_export(fd, h, 0, &value)) TH_LOG("exporter exports with the whitelist on");

	for (attempt = 0; attempt < 5; attempt++) {
		/* A process that whitelisted pid X belonged to, now gone. */
		pid = fork();
		if (pid == 0)
			_exit(0);
		reap(pid);
		x = pid;
		pid = -1;
		EXPECT_EQ(0, npu_set_pids(fd, value, &x, 1))
			TH_LOG("exporter whitelists a pid whose process has exited");
		usleep(10000);	/* the entry is clearly older than what comes next */

		if (pipe(to_child) || pipe(to_parent))
			break;
		pid = fork_as(x);
		if (pid < 0) {
			EXPECT_LE(0, pid) TH_LOG("clone3() with set_tid: %s", strerror(errno));
			break;
		}
		if (pid == 0) {
			int cfd = npu_open();
			uint32_t ch = 0;

			close(to_child[1]);
			close(to_parent[0]);
			put64(to_parent[1], (uint64_t)npu_bare_tgid(cfd));
			if (!get64(to_child[0]))
				_exit(0);	/* did not get pid X: retry */
			EXPECT_EQ(-EACCES, neg_errno(npu_import(cfd, value, 0, &ch, NULL)))
				TH_LOG("a process reusing a whitelisted pid is refused (EACCES)");
			put64(to_parent[1], 1);
			get64(to_child[0]);	/* the exporter refreshed the entry */
			EXPECT_EQ(0, npu_import(cfd, value, 0, &ch, NULL))
				TH_LOG("after the exporter sets the pid again, the import succeeds");
			EXPECT_EQ(0, npu_free(cfd, ch)) TH_LOG("the importer frees its handle");
			_exit(_metadata->exit_code);
		}
		close(to_child[0]);
		close(to_parent[1]);
		if ((pid_t)get64(to_parent[0]) == x)
			break;
		put64(to_child[1], 0);
		reap(pid);
		close(to_child[1]);
		close(to_parent[0]);
		pid = -1;
	}
	EXPECT_LT(0, pid) TH_LOG("a new process got the whitelisted pid again");
	if (pid > 0) {
		put64(to_child[1], 1);
		get64(to_parent[0]);
		EXPECT_EQ(0, npu_set_pids(fd, value, &x, 1)) TH_LOG("exporter refreshes the entry");
		put64(to_child[1], 1);
		EXPECT_EQ(0, reap(pid)) TH_LOG("the reusing process exits cleanly");
	}
	EXPECT_EQ(0, npu_free(fd, h)) TH_LOG("exporter frees");
	close(fd);
	EXPECT_EQ(free0, npu_dev_free(0)) TH_LOG("device 0 free memory is back to its start");
}

TEST_HARNESS_MAIN
