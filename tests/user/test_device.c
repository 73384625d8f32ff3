// SPDX-License-Identifier: GPL-2.0
/* /dev/npu_mem opens and closes, reports its ABI, and rejects bad ioctls. */
#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "tap.h"
#include "uapi/npu_mem.h"

int main(void)
{
	struct npu_mem_version ver = { 0 };
	int fd, fd2;

	fd = open("/dev/" NPU_MEM_DEVICE_NAME, O_RDWR | O_CLOEXEC);
	TAP_CHECK("device opens", fd >= 0);
	if (fd < 0)
		return tap_done();

	TAP_CHECK("VERSION ioctl succeeds", ioctl(fd, NPU_MEM_IOCTL_VERSION, &ver) == 0);
	TAP_CHECK("ABI major matches the header", ver.abi_major == NPU_MEM_ABI_MAJOR);
	TAP_CHECK("ABI minor matches the header", ver.abi_minor == NPU_MEM_ABI_MINOR);
	TAP_CHECK("default device count is 2", ver.num_devices == 2);

	ver.flags = 1;
	TAP_ERRNO("VERSION with unknown flags is EINVAL",
		  ioctl(fd, NPU_MEM_IOCTL_VERSION, &ver), EINVAL);
	TAP_ERRNO("VERSION with a bad pointer is EFAULT",
		  ioctl(fd, NPU_MEM_IOCTL_VERSION, (void *)8), EFAULT);
	TAP_ERRNO("unknown ioctl is ENOTTY",
		  ioctl(fd, _IOWR(NPU_MEM_IOCTL_BASE, 0x7f, struct npu_mem_version), &ver),
		  ENOTTY);

	fd2 = open("/dev/" NPU_MEM_DEVICE_NAME, O_RDWR | O_CLOEXEC);
	TAP_CHECK("a second open of the device works", fd2 >= 0);
	TAP_CHECK("the second file closes", fd2 >= 0 && close(fd2) == 0);
	TAP_CHECK("the first file closes", close(fd) == 0);
	return tap_done();
}
