/* SPDX-License-Identifier: GPL-2.0 */
/*
 * npu_mem: the one place where kernel API differences between the supported
 * kernels (Debian 6.1 and 6.12) are absorbed.
 *
 * The code is written against the newest API; each shim below is keyed on a
 * NPU_MEM_HAVE_* macro from conftest.h, which Kbuild generates (conftest.mk)
 * by compiling the probes in driver/conftest/ against the target kernel.
 * Version numbers are never tested: distro kernels carry backports.
 */
#ifndef _NPU_MEM_COMPAT_H
#define _NPU_MEM_COMPAT_H

#include <linux/err.h>
#include <linux/list_lru.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/sched.h>
#include <linux/shrinker.h>
#include <linux/slab.h>
#include <linux/swap.h>

/*
 * <>, not "": the conftest.h of the directory being built (-I$(obj)), never
 * the one beside this file, which a parallel build of driver/ may be
 * regenerating while tests/kunit/ compiles.
 */
#include <conftest.h>

/* vm_flags_set() and a const vm_flags: Linux v6.3. */
#ifndef NPU_MEM_HAVE_VM_FLAGS_SET
static inline void vm_flags_set(struct vm_area_struct *vma, vm_flags_t flags)
{
	vma->vm_flags |= flags;
}
#endif

/* MODULE_IMPORT_NS() takes a string literal from Linux v6.13 on. */
#ifdef NPU_MEM_HAVE_MODULE_IMPORT_NS_IDENTIFIER
#define NPU_MEM_MODULE_IMPORT_NS(ns) MODULE_IMPORT_NS(ns)
#else
#define NPU_MEM_MODULE_IMPORT_NS(ns) MODULE_IMPORT_NS(__stringify(ns))
#endif

typedef unsigned long (*npu_mem_shrink_fn)(struct shrinker *s,
					  struct shrink_control *sc);

/*
 * A registered shrinker with @flags (SHRINKER_*), or an ERR_PTR().
 * shrinker_alloc() replaced register_shrinker() of a caller-owned struct in
 * Linux v6.7.  Either way a SHRINKER_MEMCG_AWARE one has its id, which
 * list_lru_init_memcg() takes, once this returns.
 */
#ifdef NPU_MEM_HAVE_SHRINKER_ALLOC
static inline struct shrinker *npu_mem_shrinker_create(unsigned int flags,
							const char *name,
							npu_mem_shrink_fn count,
							npu_mem_shrink_fn scan)
{
	struct shrinker *s = shrinker_alloc(flags, "%s", name);

	if (!s)
		return ERR_PTR(-ENOMEM);
	s->count_objects = count;
	s->scan_objects = scan;
	shrinker_register(s);
	return s;
}

static inline void npu_mem_shrinker_destroy(struct shrinker *s)
{
	shrinker_free(s);
}
#else
static inline struct shrinker *npu_mem_shrinker_create(unsigned int flags,
							const char *name,
							npu_mem_shrink_fn count,
							npu_mem_shrink_fn scan)
{
	struct shrinker *s = kzalloc(sizeof(*s), GFP_KERNEL);
	int ret;

	if (!s)
		return ERR_PTR(-ENOMEM);
	s->count_objects = count;
	s->scan_objects = scan;
	s->seeks = DEFAULT_SEEKS;
	s->flags = flags;
	ret = register_shrinker(s, "%s", name);
	if (ret) {
		kfree(s);
		return ERR_PTR(ret);
	}
	return s;
}

static inline void npu_mem_shrinker_destroy(struct shrinker *s)
{
	unregister_shrinker(s);
	kfree(s);
}
#endif

/*
 * Add @item to the list of the memory cgroup and node of the slab object it
 * is in.  Linux v6.8 renamed list_lru_add(lru, item), which did that, to
 * list_lru_add_obj() and gave list_lru_add() explicit nid and memcg.
 */
#ifndef NPU_MEM_HAVE_LIST_LRU_ADD_OBJ
static inline bool list_lru_add_obj(struct list_lru *lru, struct list_head *item)
{
	return list_lru_add(lru, item);
}
#endif

/*
 * Count pages freed outside the LRU as reclaim's progress: Linux v6.4; before
 * it, shrinkers added to reclaim_state->reclaimed_slab (as fs/inode.c did).
 */
#ifndef NPU_MEM_HAVE_MM_ACCOUNT_RECLAIMED_PAGES
static inline void mm_account_reclaimed_pages(unsigned long pages)
{
	if (current->reclaim_state)
		current->reclaim_state->reclaimed_slab += pages;
}
#endif

#endif /* _NPU_MEM_COMPAT_H */
