// SPDX-License-Identifier: GPL-2.0
/*
 * Who may open /dev/npu_mem.  The driver creates the node root-only (0600);
 * the packages' udev rule (dist/udev/60-npu-mem.rules) gives it to a group
 * (root:npu 0660), and the VM harness applies that rule as udev would.  A
 * member of the group opens it; anyone else gets EACCES, whatever the file
 * mode asked.  (That the node is 0600 root without the rule is checked by
 * tests/run-all's harness stage, which loads the module without the rule.)
 */
#define _GNU_SOURCE
#include <sys/stat.h>

#include "harness.h"
#include "npu.h"

#define NODE "/dev/" NPU_MEM_DEVICE_NAME
#define MEMBER_UID 1000
#define OUTSIDER_UID 1001

TEST(node_is_not_world_accessible)
{
	struct stat st;

	ASSERT_EQ(0, stat(NODE, &st)) TH_LOG("stat " NODE ": %s", strerror(errno));
	printf("# " NODE ": mode %04o, uid %u, gid %u\n", st.st_mode & 07777, st.st_uid, st.st_gid);
	EXPECT_EQ(0, st.st_uid) TH_LOG(NODE " belongs to root");
	EXPECT_EQ(0, st.st_mode & 0007) TH_LOG(NODE " gives others no access");
	EXPECT_NE(0, st.st_gid) TH_LOG("the harness gave " NODE " a group, as udev would");
}

/* In a child: become @uid with @groups; open the node with @flags: 0 or -errno. */
static int open_as(uid_t uid, int in_group, int flags)
{
	pid_t pid = fork();

	if (pid == 0) {
		int fd;

		if (in_group ? npu_drop_to_user(uid) :
		    setgroups(0, NULL) || setgid(uid) || setuid(uid))
			_exit(100);
		fd = open(NODE, flags | O_CLOEXEC);
		if (fd < 0)
			_exit(errno);
		if (flags == O_RDWR) {	/* a member can use it, not only open it */
			uint32_t h;

			if (npu_alloc(fd, 0, 2 * MIB, &h, NULL) || npu_free(fd, h))
				_exit(101);
		}
		_exit(0);
	}
	return -reap(pid);
}

TEST(outsider_gets_eacces)
{
	EXPECT_EQ(-EACCES, open_as(OUTSIDER_UID, 0, O_RDWR))
		TH_LOG("uid %d, in no group, opens " NODE " read-write", OUTSIDER_UID);
	EXPECT_EQ(-EACCES, open_as(OUTSIDER_UID, 0, O_RDONLY))
		TH_LOG("uid %d, in no group, opens " NODE " read-only", OUTSIDER_UID);
	EXPECT_EQ(-EACCES, open_as(MEMBER_UID, 0, O_RDWR))
		TH_LOG("uid %d without its group opens " NODE, MEMBER_UID);
}

TEST(group_member_opens)
{
	EXPECT_EQ(0, open_as(MEMBER_UID, 1, O_RDWR))
		TH_LOG("uid %d in the node's group opens " NODE ", allocates and frees", MEMBER_UID);
}

TEST_HARNESS_MAIN
