// SPDX-License-Identifier: GPL-2.0
/*
 * npu_mem: simulated devices, their capacity, and the host-memory backend.
 */
#include <linux/gfp.h>
#include <linux/memcontrol.h>
#include <linux/mm.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <kunit/visibility.h>

#include "npu_mem.h"

/**
 * npu_mem_sys_create - build a simulated machine
 * @num_devices: 1 .. NPU_MEM_MAX_DEVICES
 * @dev_size: capacity of each device, a multiple of NPU_MEM_GRANULARITY
 * @zero_reserve: bytes of zeroed chunks each device keeps ready per memory
 *	cgroup that allocates on it (0: none)
 * @ops: backend of every device
 *
 * Return: the machine or an ERR_PTR().
 */
struct npu_mem_sys *npu_mem_sys_create(unsigned int num_devices, u64 dev_size,
				       u64 zero_reserve,
				       const struct npu_mem_backend_ops *ops)
{
	struct npu_mem_sys *sys;
	unsigned int i;

	if (!num_devices || num_devices > NPU_MEM_MAX_DEVICES ||
	    !dev_size || !IS_ALIGNED(dev_size, NPU_MEM_GRANULARITY))
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
	for (i = 0; i < num_devices; i++) {
		struct npu_mem_dev *dev = &sys->devs[i];

		dev->id = i;
		dev->total = dev_size;
		dev->ops = ops;
		spin_lock_init(&dev->lock);
		atomic_set(&dev->nr_objs, 0);
		atomic_set(&dev->nr_exports, 0);
		npu_mem_zero_pool_init(&dev->zero, zero_reserve,
				       NPU_MEM_RESERVE_IDLE);
	}
	/* Index 0 is never handed out: a zeroed value names nothing. */
	xa_init(&sys->shares);
	atomic64_set(&sys->next_index, 0);
	atomic_set(&sys->nr_objs, 0);
	xa_init_flags(&sys->objs, XA_FLAGS_ALLOC1);
	mutex_init(&sys->ctx_lock);
	xa_init_flags(&sys->ctxs, XA_FLAGS_ALLOC1);
	return sys;
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

/* Fill the answer to NPU_MEM_IOCTL_DEVICE_INFO. */
int npu_mem_device_info(struct npu_mem_sys *sys, struct npu_mem_device_info *info)
{
	struct npu_mem_dev *dev;

	if (info->flags)
		return -EINVAL;
	dev = npu_mem_sys_dev(sys, info->device);
	if (!dev)
		return -ENODEV;
	info->total = dev->total;
	info->free = npu_mem_dev_free_bytes(dev);
	info->granularity = npu_mem_page_kind_granularity(NPU_MEM_PAGE_NORMAL);
	info->granularity_huge1g = NPU_MEM_GRANULARITY_HUGE1G;
	return 0;
}
EXPORT_SYMBOL_IF_KUNIT(npu_mem_device_info);

/*
 * The host backend: device memory is host pages owned by the driver (see
 * NPU_MEM_HOST_GFP).  Whole 2 MiB chunks come from the device's reserve of
 * zeroed ones when it has some for the caller's memory cgroup; the rest from
 * the page allocator, charged to that same cgroup, and order 0 may reclaim.
 */
static const unsigned int npu_mem_host_orders[] = { NPU_MEM_CHUNK_ORDER, 4, 0 };

static void npu_mem_host_free(struct npu_mem_dev *dev, struct npu_mem_obj *obj)
{
	struct page *page, *tmp;

	list_for_each_entry_safe(page, tmp, &obj->pages, lru) {
		list_del(&page->lru);
		__free_pages(page, compound_order(page));
	}
}

static struct page *npu_mem_host_alloc_chunk(u64 left)
{
	unsigned int i, order;
	struct page *page;

	for (i = 0; i < ARRAY_SIZE(npu_mem_host_orders); i++) {
		order = npu_mem_host_orders[i];
		if (left < (PAGE_SIZE << order))
			continue;
		page = alloc_pages(order ? NPU_MEM_HOST_GFP_HIGH : NPU_MEM_HOST_GFP,
				   order);
		if (page)
			return page;
	}
	return NULL;
}

/*
 * The next chunk of at most @left bytes, charged to @memcg: a zeroed one from
 * the device's reserve if it has one, else a new one.
 */
static struct page *npu_mem_host_chunk(struct npu_mem_dev *dev,
				       struct mem_cgroup *memcg, u64 left)
{
	struct mem_cgroup *old;
	struct page *page = NULL;

	if (left >= PAGE_SIZE << NPU_MEM_CHUNK_ORDER)
		page = npu_mem_zero_pool_take(&dev->zero, memcg);
	if (!page) {
		old = set_active_memcg(memcg);
		page = npu_mem_host_alloc_chunk(left);
		set_active_memcg(old);
	}
	return page;
}

static int npu_mem_host_alloc(struct npu_mem_dev *dev, struct npu_mem_obj *obj)
{
	struct mem_cgroup *memcg = get_mem_cgroup_from_mm(current->mm);
	u64 left = obj->size;
	struct page *page;

	while (left) {
		page = npu_mem_host_chunk(dev, memcg, left);
		if (!page)
			break;
		list_add_tail(&page->lru, &obj->pages);
		left -= PAGE_SIZE << compound_order(page);
		if (fatal_signal_pending(current))
			break;
		cond_resched();
	}
	mem_cgroup_put(memcg);
	if (!left)
		return 0;
	npu_mem_host_free(dev, obj);
	return -ENOMEM;
}

/* Map eagerly, one remap_pfn_range() per contiguous chunk. */
static int npu_mem_host_map(struct npu_mem_obj *obj, struct vm_area_struct *vma)
{
	unsigned long addr = vma->vm_start;
	struct page *page;
	unsigned long len;
	int ret;

	list_for_each_entry(page, &obj->pages, lru) {
		len = PAGE_SIZE << compound_order(page);
		ret = remap_pfn_range(vma, addr, page_to_pfn(page), len,
				      vma->vm_page_prot);
		if (ret)
			return ret;
		addr += len;
	}
	return 0;
}

const struct npu_mem_backend_ops npu_mem_host_backend = {
	.alloc = npu_mem_host_alloc,
	.free = npu_mem_host_free,
	.map = npu_mem_host_map,
};
EXPORT_SYMBOL_IF_KUNIT(npu_mem_host_backend);
