// SPDX-License-Identifier: GPL-2.0
/*
 * SIGKILL in the middle of a large ALLOC: the allocation loop stops at the
 * fatal signal and gives back what it had taken, and the process's death
 * releases the rest.  A child allocates and frees half of device 0 in a loop
 * (nearly all its time is in ALLOC, taking and zeroing pages) and is killed
 * after a delay that varies from round to round; after each death device 0's
 * free bytes are back where they were.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

#include "harness.h"
#include "npu.h"

#define ROUNDS		12
#define GRANULE		(2 * MIB)

/* Device 0's free bytes, once they are back at @want (the release may lag the reap). */
static uint64_t free_settled(uint64_t want)
{
	uint64_t now = npu_dev_free(0);

	for (int i = 0; i < 100 && now != want; i++) {
		usleep(20000);
		now = npu_dev_free(0);
	}
	return now;
}

TEST(sigkill_during_alloc_leaks_nothing)
{
	struct npu_mem_device_info info = { .device = 0 };
	uint64_t before, size;
	int fd = npu_open();

	ASSERT_LE(0, fd) TH_LOG("open: %s", strerror(errno));
	ASSERT_EQ(0, ioctl(fd, NPU_MEM_IOCTL_DEVICE_INFO, &info));
	close(fd);
	before = info.free;
	size = before / 2 / GRANULE * GRANULE;
	ASSERT_LT(0, size);

	for (int round = 0; round < ROUNDS; round++) {
		struct timespec delay = { 0, (20 + 37 * round) * 1000000L };
		int p[2];
		char c;
		pid_t pid;

		ASSERT_EQ(0, pipe(p));
		pid = fork();
		ASSERT_LE(0, pid);
		if (pid == 0) {
			int cfd = npu_open();
			uint32_t h;

			close(p[0]);
			if (cfd < 0 || write(p[1], "r", 1) != 1)
				_exit(2);
			for (;;) {
				if (npu_alloc(cfd, 0, size, &h, NULL))
					_exit(3);
				if (npu_free(cfd, h))
					_exit(4);
			}
		}
		close(p[1]);
		EXPECT_EQ(1, read(p[0], &c, 1)) TH_LOG("round %d: the child is ready", round);
		close(p[0]);
		nanosleep(&delay, NULL);
		kill(pid, SIGKILL);
		EXPECT_EQ(128 + SIGKILL, reap(pid)) TH_LOG("round %d: the child died of SIGKILL", round);
		EXPECT_EQ(before, free_settled(before))
			TH_LOG("round %d: device 0's memory came back", round);
	}
}

TEST_HARNESS_MAIN
