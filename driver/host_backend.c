// SPDX-License-Identifier: GPL-2.0
/*
 * npu_mem: the host backend.  A simulated device's memory is host pages owned
 * by the driver (see NPU_MEM_HOST_GFP).  Whole 2 MiB chunks come from the
 * device's reserve of zeroed ones when it has some for the caller's memory
 * cgroup; the rest from the page allocator, charged to that same cgroup, and
 * order 0 may reclaim.  A real HBM backend would implement the same three
 * operations over device physical ranges.
 */
#include <linux/gfp.h>
#include <linux/memcontrol.h>
#include <linux/mm.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <kunit/visibility.h>

#include "npu_mem.h"

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
