// SPDX-License-Identifier: GPL-2.0
/*
 * npu_mem: simulated NPU device memory shared between processes.
 *
 * This file holds the module's entry points and the /dev/npu_mem misc device.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/uaccess.h>
#include <kunit/visibility.h>

#include "compat.h"
#include "npu_mem.h"

unsigned int npu_mem_num_devices = 2;
EXPORT_SYMBOL_IF_KUNIT(npu_mem_num_devices);
module_param_named(num_devices, npu_mem_num_devices, uint, 0444);
MODULE_PARM_DESC(num_devices, "number of simulated NPU devices (1-64, default 2)");

/* Fill the answer to NPU_MEM_IOCTL_VERSION; rejects unknown input flags. */
VISIBLE_IF_KUNIT int npu_mem_version_fill(struct npu_mem_version *ver)
{
	if (ver->flags)
		return -EINVAL;
	ver->abi_major = NPU_MEM_ABI_MAJOR;
	ver->abi_minor = NPU_MEM_ABI_MINOR;
	ver->num_devices = npu_mem_num_devices;
	return 0;
}
EXPORT_SYMBOL_IF_KUNIT(npu_mem_version_fill);

static long npu_mem_ioctl_version(void __user *uarg)
{
	struct npu_mem_version ver;
	int ret;

	if (copy_from_user(&ver, uarg, sizeof(ver)))
		return -EFAULT;
	ret = npu_mem_version_fill(&ver);
	if (ret)
		return ret;
	if (copy_to_user(uarg, &ver, sizeof(ver)))
		return -EFAULT;
	return 0;
}

static long npu_mem_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	void __user *uarg = (void __user *)arg;

	switch (cmd) {
	case NPU_MEM_IOCTL_VERSION:
		return npu_mem_ioctl_version(uarg);
	default:
		return -ENOTTY;
	}
}

static const struct file_operations npu_mem_fops = {
	.owner = THIS_MODULE,
	.unlocked_ioctl = npu_mem_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
};

static struct miscdevice npu_mem_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = NPU_MEM_DEVICE_NAME,
	.fops = &npu_mem_fops,
	.mode = 0666,
};

static int __init npu_mem_init(void)
{
	int ret;

	if (npu_mem_num_devices < 1 || npu_mem_num_devices > NPU_MEM_MAX_DEVICES) {
		pr_err("num_devices=%u is out of range 1-%d\n",
		       npu_mem_num_devices, NPU_MEM_MAX_DEVICES);
		return -EINVAL;
	}

	ret = misc_register(&npu_mem_misc);
	if (ret) {
		pr_err("cannot register /dev/%s: %d\n", NPU_MEM_DEVICE_NAME, ret);
		return ret;
	}
	pr_info("%u simulated devices, ABI %d.%d\n", npu_mem_num_devices,
		NPU_MEM_ABI_MAJOR, NPU_MEM_ABI_MINOR);
	return 0;
}

static void __exit npu_mem_exit(void)
{
	misc_deregister(&npu_mem_misc);
}

module_init(npu_mem_init);
module_exit(npu_mem_exit);

MODULE_DESCRIPTION("Simulated NPU device memory with cross-process sharing");
MODULE_LICENSE("GPL");
