// SPDX-License-Identifier: GPL-2.0
/*
 * npu_mem: the simulated machine, its devices and their capacity.  Where a
 * device's memory comes from is its backend's business (host_backend.c).
 */
#include <linux/mm.h>
#include <linux/slab.h>
#include <kunit/visibility.h>

#include "npu_mem.h"

/**
 * npu_mem_sys_create - build a simulated machine
 * @num_devices: 1 .. NPU_MEM_MAX_DEVICES
 * @dev_size: capacity of each device, a multiple of NPU_MEM_GRANULARITY
 * @granularity: granularity of NORMAL and HUGE objects: a power of 2 from
 *	PAGE_SIZE to NPU_MEM_GRANULARITY
 * @zero_reserve: bytes of zeroed chunks each device keeps ready per memory
 *	cgroup that allocates on it (0: none)
 * @ops: backend of every device
 *
 * Return: the machine or an ERR_PTR().
 */
struct npu_mem_sys *npu_mem_sys_create(unsigned int num_devices, u64 dev_size,
				       u64 granularity, u64 zero_reserve,
				       const struct npu_mem_backend_ops *ops)
{
	struct npu_mem_sys *sys;
	unsigned int i;
	int ret;

	if (!num_devices || num_devices > NPU_MEM_MAX_DEVICES ||
	    !dev_size || !IS_ALIGNED(dev_size, NPU_MEM_GRANULARITY) ||
	    granularity < PAGE_SIZE || granularity > NPU_MEM_GRANULARITY ||
	    !is_power_of_2(granularity))
		return ERR_PTR(-EINVAL);

	sys = kzalloc(sizeof(*sys), GFP_KERNEL);
	if (!sys)
		return ERR_PTR(-ENOMEM);
	sys->devs = kcalloc(num_devices, sizeof(*sys->devs), GFP_KERNEL);
	if (!sys->devs) {
		kfree(sys);
		return ERR_PTR(-ENOMEM);
	}
	sys->num_devices = num_devices;
	sys->granularity = granularity;
	for (i = 0; i < num_devices; i++) {
		struct npu_mem_dev *dev = &sys->devs[i];

		dev->id = i;
		dev->total = dev_size;
		dev->ops = ops;
		spin_lock_init(&dev->lock);
		atomic_set(&dev->nr_objs, 0);
		atomic_set(&dev->nr_exports, 0);
		ret = npu_mem_zero_pool_init(&dev->zero, zero_reserve,
					     NPU_MEM_RESERVE_IDLE);
		if (ret)
			goto err_destroy_pools;
	}
	xa_init(&sys->shares);
	atomic64_set(&sys->next_index, 0);
	npu_mem_value_key_init(sys);
	npu_mem_fabric_init(sys);
	xa_init(&sys->guess_budgets);
	atomic_set(&sys->nr_objs, 0);
	xa_init_flags(&sys->objs, XA_FLAGS_ALLOC1);
	mutex_init(&sys->ctx_lock);
	xa_init_flags(&sys->ctxs, XA_FLAGS_ALLOC1);
	return sys;

err_destroy_pools:
	while (i--)
		npu_mem_zero_pool_destroy(&sys->devs[i].zero);
	kfree(sys->devs);
	kfree(sys);
	return ERR_PTR(ret);
}
EXPORT_SYMBOL_IF_KUNIT(npu_mem_sys_create);

/*
 * Every context of @sys must be gone: then no object, hence no share, is left.
 */
void npu_mem_sys_destroy(struct npu_mem_sys *sys)
{
	unsigned int i;

	WARN_ON(atomic_read(&sys->nr_objs));
	WARN_ON(!xa_empty(&sys->shares));
	WARN_ON(!xa_empty(&sys->objs));
	WARN_ON(!xa_empty(&sys->ctxs));
	for (i = 0; i < sys->num_devices; i++) {
		WARN_ON(sys->devs[i].used);
		npu_mem_zero_pool_destroy(&sys->devs[i].zero);
	}
	xa_destroy(&sys->shares);
	npu_mem_guess_budgets_destroy(sys);
	xa_destroy(&sys->objs);
	xa_destroy(&sys->ctxs);
	mutex_destroy(&sys->ctx_lock);
	kfree(sys->devs);
	kfree(sys);
}
EXPORT_SYMBOL_IF_KUNIT(npu_mem_sys_destroy);

/* Return: device @id of @sys, or NULL if there is none. */
struct npu_mem_dev *npu_mem_sys_dev(struct npu_mem_sys *sys, u32 id)
{
	if (id >= sys->num_devices)
		return NULL;
	return &sys->devs[id];
}

/* Take @size bytes of @dev's capacity: 0, or -ENOMEM and nothing changed. */
int npu_mem_dev_reserve(struct npu_mem_dev *dev, u64 size)
{
	int ret = -ENOMEM;

	spin_lock(&dev->lock);
	if (size <= dev->total - dev->used) {
		dev->used += size;
		ret = 0;
	}
	spin_unlock(&dev->lock);
	return ret;
}

void npu_mem_dev_unreserve(struct npu_mem_dev *dev, u64 size)
{
	spin_lock(&dev->lock);
	if (!WARN_ON(size > dev->used))
		dev->used -= size;
	spin_unlock(&dev->lock);
}

u64 npu_mem_dev_free_bytes(struct npu_mem_dev *dev)
{
	u64 free;

	spin_lock(&dev->lock);
	free = dev->total - dev->used;
	spin_unlock(&dev->lock);
	return free;
}
EXPORT_SYMBOL_IF_KUNIT(npu_mem_dev_free_bytes);

/* Fill the answer to NPU_MEM_IOCTL_DEVICE_INFO.  Return: 0 or -ENODEV. */
int npu_mem_sys_device_info(struct npu_mem_sys *sys, struct npu_mem_device_info *info)
{
	struct npu_mem_dev *dev;

	dev = npu_mem_sys_dev(sys, info->device);
	if (!dev)
		return -ENODEV;
	info->total = dev->total;
	info->free = npu_mem_dev_free_bytes(dev);
	info->granularity = npu_mem_page_kind_granularity(sys, NPU_MEM_PAGE_NORMAL);
	info->granularity_huge1g = NPU_MEM_GRANULARITY_HUGE1G;
	return 0;
}
EXPORT_SYMBOL_IF_KUNIT(npu_mem_sys_device_info);
