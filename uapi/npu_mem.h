/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * npu_mem: the ioctl ABI of /dev/npu_mem.
 *
 * Rules that hold for every ioctl:
 *  - each argument is a fixed-size struct with explicit padding;
 *  - @flags bits not defined for that ioctl, and non-zero reserved/padding
 *    fields, are rejected with EINVAL;
 *  - every ioctl fails with ENOTTY if its number is unknown;
 *  - EFAULT means the argument pointer could not be read or written.
 */
#ifndef _UAPI_NPU_MEM_H
#define _UAPI_NPU_MEM_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define NPU_MEM_DEVICE_NAME	"npu_mem"

/*
 * ABI version: the major number changes when an existing ioctl changes
 * meaning; the minor number when ioctls or fields are added.
 */
#define NPU_MEM_ABI_MAJOR	0
#define NPU_MEM_ABI_MINOR	1

#define NPU_MEM_IOCTL_BASE	'N'

/**
 * struct npu_mem_version - NPU_MEM_IOCTL_VERSION argument
 * @abi_major: out: NPU_MEM_ABI_MAJOR of the loaded module
 * @abi_minor: out: NPU_MEM_ABI_MINOR of the loaded module
 * @num_devices: out: number of simulated devices
 * @flags: in: must be 0
 *
 * Errors: EINVAL if @flags is not 0.
 */
struct npu_mem_version {
	__u32 abi_major;
	__u32 abi_minor;
	__u32 num_devices;
	__u32 flags;
};

#define NPU_MEM_IOCTL_VERSION \
	_IOWR(NPU_MEM_IOCTL_BASE, 0x00, struct npu_mem_version)

#endif /* _UAPI_NPU_MEM_H */
