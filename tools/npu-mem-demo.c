// SPDX-License-Identifier: GPL-2.0
/*
 * npu-mem-demo: the project's main demonstration.
 *
 * For now it shows what the loaded module reports (ABI version and simulated
 * devices); the two-process sharing flow arrives with the driver core.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "uapi/npu_mem.h"

int main(void)
{
	struct npu_mem_version ver = { 0 };
	int fd;

	fd = open("/dev/" NPU_MEM_DEVICE_NAME, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "npu-mem-demo: cannot open /dev/%s: %s (is npu_mem.ko loaded?)\n",
			NPU_MEM_DEVICE_NAME, strerror(errno));
		return 1;
	}
	if (ioctl(fd, NPU_MEM_IOCTL_VERSION, &ver)) {
		fprintf(stderr, "npu-mem-demo: VERSION ioctl failed: %s\n", strerror(errno));
		close(fd);
		return 1;
	}
	printf("npu_mem ABI %u.%u, %u simulated device(s)\n",
	       ver.abi_major, ver.abi_minor, ver.num_devices);
	for (unsigned int i = 0; i < ver.num_devices; i++)
		printf("  device %u\n", i);
	close(fd);
	return 0;
}
