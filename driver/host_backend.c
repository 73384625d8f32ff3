// SPDX-License-Identifier: GPL-2.0
/*
 * npu_mem: the host backend.  A simulated device's memory is host pages owned
 * by the driver (see NPU_MEM_HOST_GFP).  Whole 2 MiB chunks come from the
 * device's reserve of zeroed ones when it has some for the caller's memory
 * cgroup; the rest from the page allocator, charged to that same cgroup;
 * single pages may reclaim, but not OOM-kill.  A real HBM backend would
 * implement the same three operations over device physical ranges.
 *
 * Each chunk sits at an offset of the object that is a multiple of its size,
 * as the page allocator aligns its physical address: so every 2 MiB window
 * of the object starts with a chunk (obj->windows finds it), and a 2 MiB
 * chunk is one PMD's worth.
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
	kvfree(obj->windows);
	obj->windows = NULL;
}

/* Can a chunk of @order sit at offset @done, with @left bytes to go? */
static bool npu_mem_host_fits(unsigned int order, u64 done, u64 left)
{
	u64 size = PAGE_SIZE << order;

	return left >= size && IS_ALIGNED(done, size);
}

static struct page *npu_mem_host_alloc_chunk(u64 done, u64 left)
{
	unsigned int i, order;
	struct page *page;

	for (i = 0; i < ARRAY_SIZE(npu_mem_host_orders); i++) {
		order = npu_mem_host_orders[i];
		if (!npu_mem_host_fits(order, done, left))
			continue;
		page = alloc_pages(order ? NPU_MEM_HOST_GFP_HIGH : NPU_MEM_HOST_GFP_PAGE,
				   order);
		if (page)
			return page;
	}
	return NULL;
}

/*
 * The chunk at offset @done, of at most @left bytes, charged to @memcg: a
 * zeroed one from the device's reserve if it has one, else a new one.
 */
static struct page *npu_mem_host_chunk(struct npu_mem_dev *dev,
				       struct mem_cgroup *memcg, u64 done, u64 left)
{
	struct mem_cgroup *old;
	struct page *page = NULL;

	if (npu_mem_host_fits(NPU_MEM_CHUNK_ORDER, done, left))
		page = npu_mem_zero_pool_take(&dev->zero, memcg);
	if (!page) {
		old = set_active_memcg(memcg);
		page = npu_mem_host_alloc_chunk(done, left);
		set_active_memcg(old);
	}
	return page;
}

static int npu_mem_host_alloc(struct npu_mem_dev *dev, struct npu_mem_obj *obj)
{
	struct mem_cgroup *memcg;
	struct page *page;
	u64 done, len;

	obj->windows = kvcalloc(DIV_ROUND_UP(obj->size, NPU_MEM_CHUNK_SIZE),
				sizeof(*obj->windows), GFP_KERNEL_ACCOUNT);
	if (!obj->windows)
		return -ENOMEM;
	memcg = get_mem_cgroup_from_mm(current->mm);
	for (done = 0; done < obj->size; done += len) {
		if (fatal_signal_pending(current))
			break;
		page = npu_mem_host_chunk(dev, memcg, done, obj->size - done);
		if (!page)
			break;
		list_add_tail(&page->lru, &obj->pages);
		len = PAGE_SIZE << compound_order(page);
		if (IS_ALIGNED(done, NPU_MEM_CHUNK_SIZE))
			obj->windows[done >> NPU_MEM_CHUNK_SHIFT] = page;
		if (len == NPU_MEM_CHUNK_SIZE)
			obj->pmd_bytes += len;
		cond_resched();
	}
	mem_cgroup_put(memcg);
	if (done == obj->size)
		return 0;
	npu_mem_host_free(dev, obj);
	return -ENOMEM;
}

/*
 * The chunk holding byte @off starts its 2 MiB window or follows, in list
 * order, the one that does: at most 511 steps, and one for 2 MiB chunks.
 */
static unsigned long npu_mem_host_pfn(struct npu_mem_obj *obj, u64 off,
				      u64 *contig)
{
	u64 start = round_down(off, NPU_MEM_CHUNK_SIZE), len;
	struct page *page = obj->windows[off >> NPU_MEM_CHUNK_SHIFT];

	for (;;) {
		len = PAGE_SIZE << compound_order(page);
		if (off < start + len)
			break;
		start += len;
		page = list_next_entry(page, lru);
	}
	*contig = start + len - off;
	return page_to_pfn(page) + ((off - start) >> PAGE_SHIFT);
}

const struct npu_mem_backend_ops npu_mem_host_backend = {
	.alloc = npu_mem_host_alloc,
	.free = npu_mem_host_free,
	.pfn = npu_mem_host_pfn,
};
EXPORT_SYMBOL_IF_KUNIT(npu_mem_host_backend);
