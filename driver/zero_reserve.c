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
 * bounded (zero_reserve_mb per device), filled without reclaiming anything
 * and never past the cgroup's memory.high or memory.max, given back after
 * NPU_MEM_RESERVE_IDLE without use or when its cgroup goes offline, and to
 * reclaim: the shrinker is memcg-aware, so the cgroup's own reclaim
 * (memory.high, memory.max, memory.reclaim) frees its chunks as global
 * reclaim does.  Freed chunks go straight back to the page allocator (and out
 * of their cgroup).
 *
 * A device's chunks live on a memcg-aware list_lru, which keeps one list per
 * cgroup (and NUMA node): a cgroup's list is its reserve.  Each chunk has a
 * small record on that list, allocated with kmem_cache_alloc_lru() under the
 * same active memcg as the chunk.  That is the one way a module can make
 * list_lru set up a cgroup's list (memcg_list_lru_alloc() is not exported),
 * and it lets list_lru_add_obj() find the cgroup from the record's charge on
 * 6.1 and 6.12 alike.  When a cgroup goes offline the kernel moves its lists
 * to its parent, as it moves its charges: a list holds only chunks charged to
 * its cgroup.
 *
 * Only whole 2 MiB chunks are reserved; smaller ones, and allocations that
 * find their reserve empty, are zeroed by the page allocator as before.
 */
#include <linux/gfp.h>
#include <linux/jiffies.h>
#include <linux/list_lru.h>
#include <linux/memcontrol.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/page_counter.h>
#include <linux/sched/mm.h>
#include <linux/shrinker.h>
#include <linux/slab.h>
#include <linux/workqueue.h>
#include <kunit/visibility.h>

#include "compat.h"
#include "npu_mem.h"

#define NPU_MEM_CHUNK_PAGES	(1UL << NPU_MEM_CHUNK_ORDER)

/**
 * struct npu_mem_reserve - one memory cgroup's zeroed chunks on one device
 * @node: entry in npu_mem_zero_pool.reserves
 * @memcg: the cgroup (a css reference; NULL without memcg)
 * @used: jiffies of the last allocation from this cgroup
 * @stale: being given back (refill work only)
 * @filled: this refill has been at it (refill work only)
 *
 * The chunks are on the pool's list_lru, in @memcg's list.
 */
struct npu_mem_reserve {
	struct list_head node;
	struct mem_cgroup *memcg;
	unsigned long used;
	bool stale;
	bool filled;
};

/**
 * struct npu_mem_zero_chunk - a zeroed chunk on its pool's list_lru
 * @lru: entry in npu_mem_zero_pool.chunks (under its node's lock)
 * @page: the chunk, NPU_MEM_CHUNK_ORDER pages charged to @r's cgroup
 * @r: the reserve it was allocated for (it outlives its chunks), so that a
 *	reserve given back finds its chunks wherever reparenting put them
 */
struct npu_mem_zero_chunk {
	struct list_head lru;
	struct page *page;
	struct npu_mem_reserve *r;
};

static struct kmem_cache *npu_mem_zero_chunk_cache;

/* Every pool, for the shrinker. */
static LIST_HEAD(npu_mem_zero_pools);
static DEFINE_SPINLOCK(npu_mem_zero_pools_lock);	/* protects npu_mem_zero_pools */

/*
 * Serializes the refills' "does one more chunk fit?" and its charge, across
 * all pools: two devices refilling for one cgroup must not both take its last
 * room under memory.high.
 */
static DEFINE_MUTEX(npu_mem_zero_charge_lock);

static struct shrinker *npu_mem_zero_shrinker;

#ifdef CONFIG_MEMCG
static void npu_mem_memcg_get(struct mem_cgroup *memcg)
{
	if (memcg)
		css_get(&memcg->css);
}

/**
 * npu_mem_charge_fits - may @nr_pages more be charged without reclaim?
 * @c: a cgroup's memory counter
 * @nr_pages: pages to charge
 *
 * The charge path itself refuses to cross memory.max without reclaim, but
 * lets a charge cross memory.high and leaves the reclaim to the charging
 * task's return to userspace, which a kworker never makes: the cgroup's own
 * tasks would then be throttled and reclaimed for our cache.  So the refill
 * asks first, and of memory.max too: a charge that fails there fails only
 * after the page allocator has zeroed the chunk.  Nothing is exported for
 * this, but nothing needs to be: usage, memory.high and memory.max are
 * fields of struct page_counter (memcg->memory) on 6.1 and 6.12 alike, read
 * as mm/memcontrol.c reads them, with page_counter_read() and READ_ONCE().
 * The walk covers the ancestors' limits, as a charge does.
 *
 * Return: true if every counter from @c up stays within its high and max.
 */
bool npu_mem_charge_fits(struct page_counter *c, unsigned long nr_pages)
{
	for (; c; c = c->parent) {
		unsigned long limit = min(READ_ONCE(c->high), READ_ONCE(c->max));

		if (page_counter_read(c) + nr_pages > limit)
			return false;
	}
	return true;
}
EXPORT_SYMBOL_IF_KUNIT(npu_mem_charge_fits);

/* Does one more chunk fit in @memcg (NULL: no memory cgroups)? */
static bool npu_mem_chunk_fits(struct mem_cgroup *memcg)
{
	/*
	 * The chunk, and the record's charge, which may precharge a batch
	 * into the per-cpu stock.
	 */
	return !memcg || npu_mem_charge_fits(&memcg->memory, NPU_MEM_CHUNK_PAGES +
					     MEMCG_CHARGE_BATCH);
}
#else
static void npu_mem_memcg_get(struct mem_cgroup *memcg)
{
}

static bool npu_mem_chunk_fits(struct mem_cgroup *memcg)
{
	return true;
}
#endif

/* list_lru walk: move every chunk walked to the list @arg. */
static enum lru_status npu_mem_zero_isolate(struct list_head *item,
					    struct list_lru_one *list,
					    spinlock_t *lock, void *arg)
{
	list_lru_isolate_move(list, item, arg);
	return LRU_REMOVED;
}

/* list_lru walk: move the chunks of stale reserves to the list @arg. */
static enum lru_status npu_mem_zero_isolate_stale(struct list_head *item,
						  struct list_lru_one *list,
						  spinlock_t *lock, void *arg)
{
	struct npu_mem_zero_chunk *c = container_of(item, struct npu_mem_zero_chunk, lru);

	if (!c->r->stale)
		return LRU_SKIP;
	list_lru_isolate_move(list, item, arg);
	return LRU_REMOVED;
}

/* Free the chunks on @chunks.  Return: pages freed. */
static unsigned long npu_mem_zero_chunks_free(struct list_head *chunks)
{
	struct npu_mem_zero_chunk *c, *tmp;
	unsigned long freed = 0;

	list_for_each_entry_safe(c, tmp, chunks, lru) {
		__free_pages(c->page, NPU_MEM_CHUNK_ORDER);
		kmem_cache_free(npu_mem_zero_chunk_cache, c);
		freed += NPU_MEM_CHUNK_PAGES;
	}
	return freed;
}

/* Free the chunks of @zp that @isolate picks, in every cgroup's list. */
static void npu_mem_zero_pool_drain(struct npu_mem_zero_pool *zp,
				    list_lru_walk_cb isolate)
{
	unsigned long nr;
	LIST_HEAD(chunks);
	int nid;

	for_each_node_state(nid, N_NORMAL_MEMORY) {
		nr = ULONG_MAX;
		list_lru_walk_node(&zp->chunks, nid, isolate, &chunks, &nr);
	}
	npu_mem_zero_chunks_free(&chunks);
}

/* Chunks in @memcg's list of @zp (its reserve, and its dead children's). */
static unsigned long npu_mem_zero_count(struct npu_mem_zero_pool *zp,
					struct mem_cgroup *memcg)
{
	unsigned long n = 0;
	int nid;

	for_each_node_state(nid, N_NORMAL_MEMORY)
		n += list_lru_count_one(&zp->chunks, nid, memcg);
	return n;
}

/*
 * Add a chunk to @r, charged to its cgroup.  The charge never reclaims (a
 * reserve is a cache, not worth evicting anything for) and the caller checked
 * that it fits.  Return: false if there was no memory.
 */
static bool npu_mem_zero_chunk_add(struct npu_mem_zero_pool *zp,
				   struct npu_mem_reserve *r)
{
	struct npu_mem_zero_chunk *c = NULL;
	struct mem_cgroup *old;
	struct page *page;

	old = set_active_memcg(r->memcg);
	page = alloc_pages(NPU_MEM_HOST_GFP_HIGH & ~__GFP_DIRECT_RECLAIM,
			   NPU_MEM_CHUNK_ORDER);
	if (page)
		c = kmem_cache_alloc_lru(npu_mem_zero_chunk_cache, &zp->chunks,
					 GFP_NOWAIT | __GFP_ACCOUNT | __GFP_NOWARN);
	set_active_memcg(old);
	if (!c) {
		if (page)
			__free_pages(page, NPU_MEM_CHUNK_ORDER);
		return false;
	}
	INIT_LIST_HEAD(&c->lru);
	c->page = page;
	c->r = r;
	list_lru_add_obj(&zp->chunks, &c->lru);
	return true;
}

/* Fill @r up to its target, as far as its cgroup has room. */
static void npu_mem_reserve_fill(struct npu_mem_zero_pool *zp,
				 struct npu_mem_reserve *r)
{
	bool added;

	while (npu_mem_zero_count(zp, r->memcg) < zp->target) {
		mutex_lock(&npu_mem_zero_charge_lock);
		added = npu_mem_chunk_fits(r->memcg) &&
			npu_mem_zero_chunk_add(zp, r);
		mutex_unlock(&npu_mem_zero_charge_lock);
		if (!added)
			break;
		cond_resched();
	}
}

static void npu_mem_reserve_free(struct npu_mem_reserve *r)
{
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
 * reserve exists.
 */
static void npu_mem_zero_refill(struct work_struct *work)
{
	struct npu_mem_zero_pool *zp = container_of(to_delayed_work(work),
						    struct npu_mem_zero_pool, refill);
	struct npu_mem_reserve *r, *tmp;
	LIST_HEAD(stale);
	bool more;

	spin_lock(&zp->lock);
	list_for_each_entry_safe(r, tmp, &zp->reserves, node) {
		r->filled = false;
		if (!npu_mem_reserve_stale(zp, r))
			continue;
		r->stale = true;
		list_move(&r->node, &stale);
	}
	spin_unlock(&zp->lock);
	if (!list_empty(&stale)) {
		/* Their chunks may be in an ancestor's list by now: walk all. */
		npu_mem_zero_pool_drain(zp, npu_mem_zero_isolate_stale);
		list_for_each_entry_safe(r, tmp, &stale, node)
			npu_mem_reserve_free(r);
	}

	for (;;) {
		spin_lock(&zp->lock);
		more = false;
		list_for_each_entry(r, &zp->reserves, node) {
			more = !r->filled;
			if (more)
				break;
		}
		spin_unlock(&zp->lock);
		/* Only this work frees reserves: @r stays valid unlocked. */
		if (!more)
			break;
		npu_mem_reserve_fill(zp, r);
		r->filled = true;
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
 *
 * Needs the shrinker (npu_mem_zero_pools_register()).
 *
 * Return: 0 or -ENOMEM.
 */
int npu_mem_zero_pool_init(struct npu_mem_zero_pool *zp, u64 size,
			   unsigned long idle)
{
	int ret;

	ret = list_lru_init_memcg(&zp->chunks, npu_mem_zero_shrinker);
	if (ret)
		return ret;
	spin_lock_init(&zp->lock);
	INIT_LIST_HEAD(&zp->reserves);
	zp->target = size >> (PAGE_SHIFT + NPU_MEM_CHUNK_ORDER);
	zp->idle = idle;
	INIT_DELAYED_WORK(&zp->refill, npu_mem_zero_refill);
	spin_lock(&npu_mem_zero_pools_lock);
	list_add(&zp->node, &npu_mem_zero_pools);
	spin_unlock(&npu_mem_zero_pools_lock);
	return 0;
}
EXPORT_SYMBOL_IF_KUNIT(npu_mem_zero_pool_init);

/* Give everything back.  Nobody may allocate from @zp any more. */
void npu_mem_zero_pool_destroy(struct npu_mem_zero_pool *zp)
{
	struct npu_mem_reserve *r, *tmp;

	/* After this, the shrinker is not walking @zp, and never will. */
	spin_lock(&npu_mem_zero_pools_lock);
	list_del(&zp->node);
	spin_unlock(&npu_mem_zero_pools_lock);
	cancel_delayed_work_sync(&zp->refill);
	npu_mem_zero_pool_drain(zp, npu_mem_zero_isolate);
	list_for_each_entry_safe(r, tmp, &zp->reserves, node)
		npu_mem_reserve_free(r);
	INIT_LIST_HEAD(&zp->reserves);
	list_lru_destroy(&zp->chunks);
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
	struct npu_mem_zero_chunk *c;
	struct page *page = NULL;
	unsigned long nr;
	LIST_HEAD(got);
	int nid;

	if (!zp->target)
		return NULL;
	spin_lock(&zp->lock);
	r = npu_mem_reserve_find(zp, memcg);
	if (!r) {
		spin_unlock(&zp->lock);
		new = kzalloc(sizeof(*new), GFP_KERNEL_ACCOUNT);
		if (!new)
			return NULL;
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
	spin_unlock(&zp->lock);
	if (new)
		npu_mem_reserve_free(new);

	/* Anything on @memcg's list is charged to @memcg. */
	for_each_node_state(nid, N_NORMAL_MEMORY) {
		nr = 1;
		if (list_lru_walk_one(&zp->chunks, nid, memcg, npu_mem_zero_isolate,
				      &got, &nr))
			break;
	}
	c = list_first_entry_or_null(&got, struct npu_mem_zero_chunk, lru);
	if (c) {
		page = c->page;
		kmem_cache_free(npu_mem_zero_chunk_cache, c);
	}
	/*
	 * Refill now, not after the allocation: while a large one zeroes its
	 * next chunk itself, the worker zeroes another on some other CPU.
	 */
	npu_mem_zero_pool_kick(zp);
	return page;
}
EXPORT_SYMBOL_IF_KUNIT(npu_mem_zero_pool_take);

/* Return: the chunks @zp holds, in all cgroups. */
unsigned long npu_mem_zero_pool_chunks(struct npu_mem_zero_pool *zp)
{
	return list_lru_count(&zp->chunks);
}
EXPORT_SYMBOL_IF_KUNIT(npu_mem_zero_pool_chunks);

/**
 * npu_mem_zero_pools_count - reclaimable pages of one cgroup on one node
 * @nid: the node
 * @memcg: the cgroup (NULL or the root: the global lists)
 *
 * Return: pages in @memcg's reserves on @nid, on all devices.
 */
unsigned long npu_mem_zero_pools_count(int nid, struct mem_cgroup *memcg)
{
	struct npu_mem_zero_pool *zp;
	unsigned long n = 0;

	spin_lock(&npu_mem_zero_pools_lock);
	list_for_each_entry(zp, &npu_mem_zero_pools, node)
		n += list_lru_count_one(&zp->chunks, nid, memcg);
	spin_unlock(&npu_mem_zero_pools_lock);
	return n * NPU_MEM_CHUNK_PAGES;
}
EXPORT_SYMBOL_IF_KUNIT(npu_mem_zero_pools_count);

/**
 * npu_mem_zero_pools_shrink - give back reserved chunks of one cgroup
 * @nid: the node
 * @memcg: the cgroup (NULL or the root: the global lists)
 * @nr_pages: how many pages to free at least (rounded up to whole chunks)
 *
 * Return: pages freed.
 */
unsigned long npu_mem_zero_pools_shrink(int nid, struct mem_cgroup *memcg,
					unsigned long nr_pages)
{
	unsigned long nr = DIV_ROUND_UP(nr_pages, NPU_MEM_CHUNK_PAGES);
	struct npu_mem_zero_pool *zp;
	LIST_HEAD(chunks);

	spin_lock(&npu_mem_zero_pools_lock);
	list_for_each_entry(zp, &npu_mem_zero_pools, node) {
		if (!nr)
			break;
		list_lru_walk_one(&zp->chunks, nid, memcg, npu_mem_zero_isolate,
				  &chunks, &nr);
	}
	spin_unlock(&npu_mem_zero_pools_lock);
	return npu_mem_zero_chunks_free(&chunks);
}
EXPORT_SYMBOL_IF_KUNIT(npu_mem_zero_pools_shrink);

/* The shrinker: a reserved chunk is NPU_MEM_CHUNK_PAGES reclaimable pages. */
static unsigned long npu_mem_zero_shrink_count(struct shrinker *s,
					       struct shrink_control *sc)
{
	return npu_mem_zero_pools_count(sc->nid, sc->memcg) ?: SHRINK_EMPTY;
}

static unsigned long npu_mem_zero_shrink_scan(struct shrinker *s,
					      struct shrink_control *sc)
{
	unsigned long freed = npu_mem_zero_pools_shrink(sc->nid, sc->memcg,
							sc->nr_to_scan);

	/* Pages freed outside the LRU count as reclaim's progress, as slab's do. */
	mm_account_reclaimed_pages(freed);
	return freed ?: SHRINK_STOP;
}

/* Create the chunks' cache and register the shrinker of every pool (module init). */
int npu_mem_zero_pools_register(void)
{
	npu_mem_zero_chunk_cache = KMEM_CACHE(npu_mem_zero_chunk, SLAB_ACCOUNT);
	if (!npu_mem_zero_chunk_cache)
		return -ENOMEM;
	npu_mem_zero_shrinker = npu_mem_shrinker_create(SHRINKER_MEMCG_AWARE |
							SHRINKER_NUMA_AWARE,
							"npu_mem-zero-reserve",
							npu_mem_zero_shrink_count,
							npu_mem_zero_shrink_scan);
	if (IS_ERR(npu_mem_zero_shrinker)) {
		kmem_cache_destroy(npu_mem_zero_chunk_cache);
		return PTR_ERR(npu_mem_zero_shrinker);
	}
	return 0;
}

/* Every pool is destroyed. */
void npu_mem_zero_pools_unregister(void)
{
	npu_mem_shrinker_destroy(npu_mem_zero_shrinker);
	kmem_cache_destroy(npu_mem_zero_chunk_cache);
}
