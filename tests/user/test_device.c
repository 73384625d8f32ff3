// SPDX-License-Identifier: GPL-2.0
/* /dev/npu_mem opens and closes, reports its ABI, and rejects bad ioctls. */
#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "harness.h"
#include "uapi/npu_mem.h"

static int dev_open(void)
{
	return open("/dev/" NPU_MEM_DEVICE_NAME, O_RDWR | O_CLOEXEC);
}

FIXTURE(device) {
	int fd;
};

FIXTURE_SETUP(device)
{
	self->fd = dev_open();
	ASSERT_LE(0, self->fd) TH_LOG("device opens: %s", strerror(errno));
}

FIXTURE_TEARDOWN(device)
{
	EXPECT_EQ(0, close(self->fd)) TH_LOG("the file closes");
}

TEST_F(device, version_reports_the_abi)
{
	struct npu_mem_version ver = { 0 };

	ASSERT_EQ(0, ioctl(self->fd, NPU_MEM_IOCTL_VERSION, &ver)) TH_LOG("VERSION ioctl succeeds");
	EXPECT_EQ(NPU_MEM_ABI_MAJOR, ver.abi_major) TH_LOG("ABI major matches the header");
	EXPECT_EQ(NPU_MEM_ABI_MINOR, ver.abi_minor) TH_LOG("ABI minor matches the header");
	EXPECT_EQ(2, ver.num_devices) TH_LOG("default device count is 2");
}

TEST_F(device, version_with_unknown_flags_is_einval)
{
	struct npu_mem_version ver = { .flags = 1 };

	EXPECT_EQ(-EINVAL, neg_errno(ioctl(self->fd, NPU_MEM_IOCTL_VERSION, &ver)));
}

TEST_F(device, version_with_a_bad_pointer_is_efault)
{
	EXPECT_EQ(-EFAULT, neg_errno(ioctl(self->fd, NPU_MEM_IOCTL_VERSION, (void *)8)));
}

TEST_F(device, unknown_ioctl_is_enotty)
{
	struct npu_mem_version ver = { 0 };

	EXPECT_EQ(-ENOTTY, neg_errno(ioctl(self->fd, _IOWR(NPU_MEM_IOCTL_BASE, 0x7f,
							     struct npu_mem_version), &ver)));
}

TEST_F(device, a_second_open_works)
{
	int fd2 = dev_open();

	ASSERT_LE(0, fd2) TH_LOG("a second open of the device works: %s", strerror(errno));
	EXPECT_EQ(0, close(fd2)) TH_LOG("the second file closes");
}

TEST_HARNESS_MAIN
