// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suite for the reserves of zeroed chunks (driver/zero_reserve.c).
 *
 * Every case builds a private machine whose devices keep a reserve of
 * KZ_RESERVE bytes, and drives its refill work by hand (flush_delayed_work()
 * runs it now and waits).  Cases run in a kthread: their memory cgroup is the
 * root one, which is the key the cases use.
 */
#include <kunit/test.h>
#include <linux/delay.h>
#include <linux/memcontrol.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/page_counter.h>
#include <linux/string.h>

#include "driver/compat.h"
#include "driver/npu_mem.h"
#include "kunit_util.h"

#define KZ_DEV_SIZE	(16ULL << 20)
#define KZ_CHUNK	(PAGE_SIZE << NPU_MEM_CHUNK_ORDER)
#define KZ_RESERVE	(2 * KZ_CHUNK)

static int kz_init(struct kunit *test)
{
	struct npu_mem_sys *sys;

	sys = npu_mem_sys_create(1, KZ_DEV_SIZE, NPU_MEM_GRANULARITY, KZ_RESERVE,
				 &npu_mem_host_backend);
	KUNIT_ASSERT_FALSE(test, IS_ERR(sys));
	test->priv = sys;
	return 0;
}

static void kz_exit(struct kunit *test)
{
	npu_mem_sys_destroy(test->priv);
}

static struct npu_mem_zero_pool *kz_pool(struct kunit *test)
{
	return &((struct npu_mem_sys *)test->priv)->devs[0].zero;
}

static struct npu_mem_obj *kz_alloc(struct kunit *test, u64 size)
{
	struct npu_mem_obj *obj;

	obj = kt_obj_create(test->priv, 0, size, NPU_MEM_PAGE_NORMAL);
	KUNIT_ASSERT_FALSE(test, IS_ERR(obj));
	return obj;
}

/* Is all of @obj's memory zero?  Then dirty it for whoever gets it next. */
static bool kz_zero_then_dirty(struct npu_mem_obj *obj)
{
	struct page *page;
	bool zero = true;
	unsigned long i;

	list_for_each_entry(page, &obj->pages, lru) {
		for (i = 0; i < 1UL << compound_order(page); i++) {
			void *p = page_address(page + i);

			zero &= !memchr_inv(p, 0, PAGE_SIZE);
			memset(p, 0x5a, PAGE_SIZE);
		}
	}
	return zero;
}

static void npu_mem_zero_reserve_fills_after_first_use(struct kunit *test)
{
	struct npu_mem_zero_pool *zp = kz_pool(test);
	struct npu_mem_obj *obj;

	/* Nothing is kept for a cgroup that has not allocated here. */
	flush_delayed_work(&zp->refill);
	KUNIT_EXPECT_EQ(test, npu_mem_zero_pool_chunks(zp), 0);

	obj = kz_alloc(test, KZ_CHUNK);
	flush_delayed_work(&zp->refill);
	KUNIT_EXPECT_EQ(test, npu_mem_zero_pool_chunks(zp), KZ_RESERVE / KZ_CHUNK);
	npu_mem_obj_unhold(obj);
	/* Freed chunks go back to the page allocator, not to the reserve. */
	KUNIT_EXPECT_EQ(test, npu_mem_zero_pool_chunks(zp), KZ_RESERVE / KZ_CHUNK);
}

static void npu_mem_zero_reserve_hands_out_zeroed_chunks(struct kunit *test)
{
	struct npu_mem_zero_pool *zp = kz_pool(test);
	struct npu_mem_obj *obj;
	int round;

	/* Each round dirties what it got: recycled memory would show. */
	for (round = 0; round < 6; round++) {
		obj = kz_alloc(test, 2 * KZ_CHUNK);
		KUNIT_EXPECT_TRUE_MSG(test, kz_zero_then_dirty(obj), "round %d", round);
		npu_mem_obj_unhold(obj);
		flush_delayed_work(&zp->refill);
		KUNIT_EXPECT_LE(test, npu_mem_zero_pool_chunks(zp), KZ_RESERVE / KZ_CHUNK);
	}
}

/* Pages in @memcg's reserves on every device and node: what the shrinker sees. */
static unsigned long kz_count(struct mem_cgroup *memcg)
{
	unsigned long n = 0;
	int nid;

	for_each_node_state(nid, N_NORMAL_MEMORY)
		n += npu_mem_zero_pools_count(nid, memcg);
	return n;
}

/*
 * The reserve is the cgroup's own list, which the memcg-aware shrinker counts
 * and from which an allocation by that cgroup takes.  (Keeping cgroups apart
 * is the kernel's list_lru, keyed by the charge of each chunk's record;
 * test_memcg case 4 checks it with two real cgroups.  This case runs in the
 * root cgroup, whose list is the global one, as NULL's is.)
 */
static void npu_mem_zero_reserve_take_is_per_cgroup(struct kunit *test)
{
	struct mem_cgroup *memcg = get_mem_cgroup_from_mm(current->mm);
	struct npu_mem_zero_pool *zp = kz_pool(test);
	unsigned long before;
	struct page *page;

	before = kz_count(memcg);
	npu_mem_obj_unhold(kz_alloc(test, KZ_CHUNK));
	flush_delayed_work(&zp->refill);
	KUNIT_ASSERT_EQ(test, npu_mem_zero_pool_chunks(zp), KZ_RESERVE / KZ_CHUNK);
	KUNIT_EXPECT_EQ(test, kz_count(memcg) - before, KZ_RESERVE >> PAGE_SHIFT);

	page = npu_mem_zero_pool_take(zp, memcg);
	KUNIT_ASSERT_NOT_NULL(test, page);
	KUNIT_EXPECT_EQ(test, compound_order(page), NPU_MEM_CHUNK_ORDER);
	/* Nothing of the list's bookkeeping is left in what goes to userspace. */
	KUNIT_EXPECT_NULL(test, memchr_inv(page_address(page), 0, KZ_CHUNK));
	__free_pages(page, NPU_MEM_CHUNK_ORDER);
	mem_cgroup_put(memcg);
}

static void npu_mem_zero_reserve_shrinks(struct kunit *test)
{
	struct mem_cgroup *memcg = get_mem_cgroup_from_mm(current->mm);
	struct npu_mem_zero_pool *zp = kz_pool(test);
	unsigned long before, freed = 0;
	int nid;

	npu_mem_obj_unhold(kz_alloc(test, KZ_CHUNK));
	flush_delayed_work(&zp->refill);
	KUNIT_ASSERT_EQ(test, npu_mem_zero_pool_chunks(zp), KZ_RESERVE / KZ_CHUNK);
	before = kz_count(memcg);
	/* The newest pool is scanned first: this case's.  One page: one chunk. */
	for_each_node_state(nid, N_NORMAL_MEMORY) {
		freed = npu_mem_zero_pools_shrink(nid, memcg, 1);
		if (freed)
			break;
	}
	KUNIT_EXPECT_EQ(test, freed, 1UL << NPU_MEM_CHUNK_ORDER);
	KUNIT_EXPECT_EQ(test, npu_mem_zero_pool_chunks(zp), KZ_RESERVE / KZ_CHUNK - 1);
	KUNIT_EXPECT_EQ(test, before - kz_count(memcg), 1UL << NPU_MEM_CHUNK_ORDER);
	mem_cgroup_put(memcg);
}

#ifdef CONFIG_MEMCG
/*
 * The refill's room check: one more chunk must fit under memory.high and
 * memory.max of the cgroup and of each ancestor.
 */
static void npu_mem_zero_reserve_charge_fits(struct kunit *test)
{
	const unsigned long chunk = 1UL << NPU_MEM_CHUNK_ORDER, used = 100;
	struct page_counter *parent, *child;

	parent = kunit_kzalloc(test, sizeof(*parent), GFP_KERNEL);
	child = kunit_kzalloc(test, sizeof(*child), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, parent);
	KUNIT_ASSERT_NOT_NULL(test, child);
	child->parent = parent;
	parent->high = parent->max = PAGE_COUNTER_MAX;
	child->high = child->max = PAGE_COUNTER_MAX;
	atomic_long_set(&parent->usage, used);
	atomic_long_set(&child->usage, used);
	KUNIT_EXPECT_TRUE(test, npu_mem_charge_fits(child, chunk));

	child->high = used + chunk;
	KUNIT_EXPECT_TRUE(test, npu_mem_charge_fits(child, chunk));
	KUNIT_EXPECT_FALSE(test, npu_mem_charge_fits(child, chunk + 1));
	child->high = PAGE_COUNTER_MAX;

	child->max = used + chunk - 1;
	KUNIT_EXPECT_FALSE(test, npu_mem_charge_fits(child, chunk));
	child->max = PAGE_COUNTER_MAX;

	parent->high = used + chunk - 1;
	KUNIT_EXPECT_FALSE(test, npu_mem_charge_fits(child, chunk));
	parent->high = PAGE_COUNTER_MAX;

	parent->max = used + chunk - 1;
	KUNIT_EXPECT_FALSE(test, npu_mem_charge_fits(child, chunk));
}
#endif

static void npu_mem_zero_reserve_idle_is_given_back(struct kunit *test)
{
	struct npu_mem_zero_pool *zp = kz_pool(test);

	npu_mem_zero_pool_destroy(zp);
	KUNIT_ASSERT_EQ(test, npu_mem_zero_pool_init(zp, KZ_RESERVE, 1), 0);
	npu_mem_obj_unhold(kz_alloc(test, KZ_CHUNK));
	flush_delayed_work(&zp->refill);
	msleep(jiffies_to_msecs(3));
	npu_mem_zero_pool_kick(zp);
	flush_delayed_work(&zp->refill);
	KUNIT_EXPECT_EQ(test, npu_mem_zero_pool_chunks(zp), 0);
	KUNIT_EXPECT_TRUE(test, list_empty(&zp->reserves));
}

static void npu_mem_zero_reserve_disabled(struct kunit *test)
{
	struct npu_mem_zero_pool *zp = kz_pool(test);

	npu_mem_zero_pool_destroy(zp);
	KUNIT_ASSERT_EQ(test, npu_mem_zero_pool_init(zp, 0, NPU_MEM_RESERVE_IDLE), 0);
	npu_mem_obj_unhold(kz_alloc(test, 2 * KZ_CHUNK));
	flush_delayed_work(&zp->refill);
	KUNIT_EXPECT_EQ(test, npu_mem_zero_pool_chunks(zp), 0);
	KUNIT_EXPECT_TRUE(test, list_empty(&zp->reserves));
}

static struct kunit_case npu_mem_zero_reserve_cases[] = {
	KUNIT_CASE(npu_mem_zero_reserve_fills_after_first_use),
	KUNIT_CASE(npu_mem_zero_reserve_hands_out_zeroed_chunks),
	KUNIT_CASE(npu_mem_zero_reserve_take_is_per_cgroup),
	KUNIT_CASE(npu_mem_zero_reserve_shrinks),
#ifdef CONFIG_MEMCG
	KUNIT_CASE(npu_mem_zero_reserve_charge_fits),
#endif
	KUNIT_CASE(npu_mem_zero_reserve_idle_is_given_back),
	KUNIT_CASE(npu_mem_zero_reserve_disabled),
	{}
};

static struct kunit_suite npu_mem_zero_reserve_suite = {
	.name = "npu_mem_zero_reserve",
	.init = kz_init,
	.exit = kz_exit,
	.test_cases = npu_mem_zero_reserve_cases,
};

kunit_test_suites(&npu_mem_zero_reserve_suite);

MODULE_DESCRIPTION("KUnit tests for npu_mem's reserves of zeroed chunks");
MODULE_LICENSE("GPL");
NPU_MEM_MODULE_IMPORT_NS(EXPORTED_FOR_KUNIT_TESTING);
