// SPDX-License-Identifier: GPL-2.0
/*
 * npu_mem: reserves of zeroed 2 MiB chunks, so that allocating does not wait
 * for memory to be cleared.
 *
 * Clearing dominates an allocation: 2 MiB takes longer to zero than the rest
 * of a share does in all.  A real device scrubs its memory with a DMA engine,
 * off the critical path; the host backend does the same with a worker that
 * keeps, per device and per memory cgroup, a reserve of zeroed chunks and
 * refills it as soon as an allocation takes from it (so a large allocation
 * and the worker zero side by side).
 *
 * Charging stays exact.  A module cannot move a page's charge, so the worker
 * allocates each chunk under set_active_memcg() of the cgroup whose reserve
 * it fills, and a chunk is handed only to an allocation from that cgroup.
 * The price: a reserve counts against its cgroup's limit while idle.  It is
 * bounded (zero_reserve_mb per device), filled without reclaiming anything,
 * given back after NPU_MEM_RESERVE_IDLE without use or when its cgroup goes
 * offline, and to the shrinker under memory pressure.  Freed chunks go
 * straight back to the page allocator (and out of their cgroup).
 *
 * Only whole 2 MiB chunks are reserved; smaller ones, and allocations that
 * find their reserve empty, are zeroed by the page allocator as before.
 */
#include <linux/gfp.h>
#include <linux/jiffies.h>
#include <linux/memcontrol.h>
#include <linux/mm.h>
#include <linux/sched/mm.h>
#include <linux/shrinker.h>
#include <linux/slab.h>
#include <linux/workqueue.h>
#include <kunit/visibility.h>

#include "compat.h"
#include "npu_mem.h"

/**
 * struct npu_mem_reserve - one memory cgroup's zeroed chunks on one device
 * @node: entry in npu_mem_zero_pool.reserves
 * @memcg: the cgroup (a css reference; NULL without memcg)
 * @chunks: zeroed NPU_MEM_CHUNK_ORDER pages charged to @memcg, by page->lru
 * @nr: chunks on @chunks
 * @used: jiffies of the last allocation from this cgroup
 */
struct npu_mem_reserve {
	struct list_head node;
	struct mem_cgroup *memcg;
	struct list_head chunks;
	unsigned int nr;
	unsigned long used;
};

#ifdef CONFIG_MEMCG
static void npu_mem_memcg_get(struct mem_cgroup *memcg)
{
	if (memcg)
		css_get(&memcg->css);
}
#else
static void npu_mem_memcg_get(struct mem_cgroup *memcg)
{
}
#endif

/* Every pool, for the shrinker. */
static LIST_HEAD(npu_mem_zero_pools);
static DEFINE_SPINLOCK(npu_mem_zero_pools_lock);	/* protects npu_mem_zero_pools */

static void npu_mem_reserve_free(struct npu_mem_reserve *r)
{
	struct page *page, *tmp;

	list_for_each_entry_safe(page, tmp, &r->chunks, lru)
		__free_pages(page, NPU_MEM_CHUNK_ORDER);
	mem_cgroup_put(r->memcg);
	kfree(r);
}

/* Called with @zp->lock held. */
static struct npu_mem_reserve *npu_mem_reserve_find(struct npu_mem_zero_pool *zp,
						    struct mem_cgroup *memcg)
{
	struct npu_mem_reserve *r;

	list_for_each_entry(r, &zp->reserves, node)
		if (r->memcg == memcg)
			return r;
	return NULL;
}

/* Is @r to be given back: unused for @zp->idle, or its cgroup is gone? */
static bool npu_mem_reserve_stale(struct npu_mem_zero_pool *zp,
				  struct npu_mem_reserve *r)
{
	return !time_before(jiffies, r->used + zp->idle) ||
	       (r->memcg && !mem_cgroup_online(r->memcg));
}

/*
 * Give back stale reserves, then fill the others up to their target.  Runs
 * when an allocation took from a reserve, and again after @zp->idle while any
 * reserve exists.  Filling never reclaims: a reserve is a cache, not worth
 * evicting anything for, and a cgroup at its limit simply keeps less.
 */
static void npu_mem_zero_refill(struct work_struct *work)
{
	struct npu_mem_zero_pool *zp = container_of(to_delayed_work(work),
						    struct npu_mem_zero_pool, refill);
	struct npu_mem_reserve *r, *tmp;
	struct mem_cgroup *old;
	struct page *page;
	LIST_HEAD(stale);
	bool more;

	spin_lock(&zp->lock);
	list_for_each_entry_safe(r, tmp, &zp->reserves, node) {
		if (!npu_mem_reserve_stale(zp, r))
			continue;
		list_move(&r->node, &stale);
		zp->nr_chunks -= r->nr;
	}
	spin_unlock(&zp->lock);
	list_for_each_entry_safe(r, tmp, &stale, node)
		npu_mem_reserve_free(r);

	for (;;) {
		spin_lock(&zp->lock);
		more = false;
		list_for_each_entry(r, &zp->reserves, node) {
			more = r->nr < zp->target;
			if (more)
				break;
		}
		spin_unlock(&zp->lock);
		/* Only this work frees reserves: @r stays valid unlocked. */
		if (!more)
			break;
		old = set_active_memcg(r->memcg);
		page = alloc_pages(NPU_MEM_HOST_GFP_HIGH & ~__GFP_DIRECT_RECLAIM,
				   NPU_MEM_CHUNK_ORDER);
		set_active_memcg(old);
		if (!page)
			break;
		spin_lock(&zp->lock);
		list_add(&page->lru, &r->chunks);
		r->nr++;
		zp->nr_chunks++;
		spin_unlock(&zp->lock);
		cond_resched();
	}

	spin_lock(&zp->lock);
	more = !list_empty(&zp->reserves);
	spin_unlock(&zp->lock);
	if (more)
		queue_delayed_work(system_unbound_wq, &zp->refill, zp->idle);
}

/**
 * npu_mem_zero_pool_init - set up a device's reserves
 * @zp: the pool
 * @size: bytes of zeroed chunks to keep per memory cgroup (0: none)
 * @idle: jiffies after which an unused reserve is given back
 */
void npu_mem_zero_pool_init(struct npu_mem_zero_pool *zp, u64 size,
			    unsigned long idle)
{
	spin_lock_init(&zp->lock);
	INIT_LIST_HEAD(&zp->reserves);
	zp->target = size >> (PAGE_SHIFT + NPU_MEM_CHUNK_ORDER);
	zp->nr_chunks = 0;
	zp->idle = idle;
	INIT_DELAYED_WORK(&zp->refill, npu_mem_zero_refill);
	spin_lock(&npu_mem_zero_pools_lock);
	list_add(&zp->node, &npu_mem_zero_pools);
	spin_unlock(&npu_mem_zero_pools_lock);
}
EXPORT_SYMBOL_IF_KUNIT(npu_mem_zero_pool_init);

/* Give everything back.  Nobody may allocate from @zp any more. */
void npu_mem_zero_pool_destroy(struct npu_mem_zero_pool *zp)
{
	struct npu_mem_reserve *r, *tmp;

	spin_lock(&npu_mem_zero_pools_lock);
	list_del(&zp->node);
	spin_unlock(&npu_mem_zero_pools_lock);
	cancel_delayed_work_sync(&zp->refill);
	list_for_each_entry_safe(r, tmp, &zp->reserves, node)
		npu_mem_reserve_free(r);
	INIT_LIST_HEAD(&zp->reserves);
	zp->nr_chunks = 0;
}
EXPORT_SYMBOL_IF_KUNIT(npu_mem_zero_pool_destroy);

/* Start refilling @zp's reserves now. */
void npu_mem_zero_pool_kick(struct npu_mem_zero_pool *zp)
{
	if (zp->target)
		mod_delayed_work(system_unbound_wq, &zp->refill, 0);
}
EXPORT_SYMBOL_IF_KUNIT(npu_mem_zero_pool_kick);

/**
 * npu_mem_zero_pool_take - a zeroed chunk for an allocation from @memcg
 * @zp: the pool
 * @memcg: the allocating cgroup
 *
 * Notes that @memcg allocates here (its reserve is created, or kept from
 * going idle), and starts refilling its reserve.  May sleep.
 *
 * Return: a zeroed NPU_MEM_CHUNK_ORDER page charged to @memcg, or NULL.
 */
struct page *npu_mem_zero_pool_take(struct npu_mem_zero_pool *zp,
				    struct mem_cgroup *memcg)
{
	struct npu_mem_reserve *r, *new = NULL;
	struct page *page = NULL;

	if (!zp->target)
		return NULL;
	spin_lock(&zp->lock);
	r = npu_mem_reserve_find(zp, memcg);
	if (!r) {
		spin_unlock(&zp->lock);
		new = kzalloc(sizeof(*new), GFP_KERNEL_ACCOUNT);
		if (!new)
			return NULL;
		INIT_LIST_HEAD(&new->chunks);
		new->memcg = memcg;
		npu_mem_memcg_get(memcg);
		spin_lock(&zp->lock);
		r = npu_mem_reserve_find(zp, memcg);
		if (!r) {
			r = new;
			new = NULL;
			list_add(&r->node, &zp->reserves);
		}
	}
	r->used = jiffies;
	page = list_first_entry_or_null(&r->chunks, struct page, lru);
	if (page) {
		list_del(&page->lru);
		r->nr--;
		zp->nr_chunks--;
	}
	spin_unlock(&zp->lock);
	if (new)
		npu_mem_reserve_free(new);
	/*
	 * Refill now, not after the allocation: while a large one zeroes its
	 * next chunk itself, the worker zeroes another on some other CPU.
	 */
	npu_mem_zero_pool_kick(zp);
	return page;
}
EXPORT_SYMBOL_IF_KUNIT(npu_mem_zero_pool_take);

/* Return: the chunks @zp holds. */
unsigned long npu_mem_zero_pool_chunks(struct npu_mem_zero_pool *zp)
{
	return READ_ONCE(zp->nr_chunks);
}
EXPORT_SYMBOL_IF_KUNIT(npu_mem_zero_pool_chunks);

/* The shrinker: a reserved chunk is NPU_MEM_CHUNK_PAGES reclaimable pages. */
static unsigned long npu_mem_zero_count(struct shrinker *s, struct shrink_control *sc)
{
	struct npu_mem_zero_pool *zp;
	unsigned long n = 0;

	spin_lock(&npu_mem_zero_pools_lock);
	list_for_each_entry(zp, &npu_mem_zero_pools, node)
		n += READ_ONCE(zp->nr_chunks);
	spin_unlock(&npu_mem_zero_pools_lock);
	return n ? n << NPU_MEM_CHUNK_ORDER : SHRINK_EMPTY;
}

/**
 * npu_mem_zero_pools_shrink - give back reserved chunks
 * @nr_pages: how many pages to free at least (rounded up to whole chunks)
 *
 * Return: pages freed.
 */
unsigned long npu_mem_zero_pools_shrink(unsigned long nr_pages)
{
	struct npu_mem_zero_pool *zp;
	struct npu_mem_reserve *r;
	unsigned long freed = 0;
	struct page *page, *tmp;
	LIST_HEAD(victims);

	spin_lock(&npu_mem_zero_pools_lock);
	list_for_each_entry(zp, &npu_mem_zero_pools, node) {
		spin_lock(&zp->lock);
		list_for_each_entry(r, &zp->reserves, node) {
			while (freed < nr_pages && r->nr) {
				list_move(r->chunks.next, &victims);
				r->nr--;
				zp->nr_chunks--;
				freed += 1UL << NPU_MEM_CHUNK_ORDER;
			}
		}
		spin_unlock(&zp->lock);
	}
	spin_unlock(&npu_mem_zero_pools_lock);
	list_for_each_entry_safe(page, tmp, &victims, lru)
		__free_pages(page, NPU_MEM_CHUNK_ORDER);
	return freed;
}
EXPORT_SYMBOL_IF_KUNIT(npu_mem_zero_pools_shrink);

static unsigned long npu_mem_zero_scan(struct shrinker *s, struct shrink_control *sc)
{
	unsigned long freed = npu_mem_zero_pools_shrink(sc->nr_to_scan);

	return freed ?: SHRINK_STOP;
}

static struct shrinker *npu_mem_zero_shrinker;

/* Register the shrinker of every pool (module init). */
int npu_mem_zero_pools_register(void)
{
	npu_mem_zero_shrinker = npu_mem_shrinker_create(0, "npu_mem-zero-reserve",
							npu_mem_zero_count,
							npu_mem_zero_scan);
	return PTR_ERR_OR_ZERO(npu_mem_zero_shrinker);
}

void npu_mem_zero_pools_unregister(void)
{
	npu_mem_shrinker_destroy(npu_mem_zero_shrinker);
}
