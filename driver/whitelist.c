// SPDX-License-Identifier: GPL-2.0
/*
 * npu_mem: a shareable value's whitelist of pids.
 *
 * An array of (tgid, time set) sorted by tgid: 16 bytes an entry however
 * sparse the pids are (a radix tree keyed by pid took a node of its own for
 * each far-apart pid), found by binary search, grown by doubling, allocated
 * with GFP_KERNEL_ACCOUNT so that the exporter's memory cgroup pays for it.
 * At most NPU_MEM_MAX_PIDS entries: when a SET_PIDS would go past that,
 * entries that can no longer authorize anyone are dropped first.  Not
 * locked: the share's lock protects it.
 */
#include <linux/bsearch.h>
#include <linux/pid.h>
#include <linux/pid_namespace.h>
#include <linux/rcupdate.h>
#include <linux/sched.h>
#include <linux/slab.h>

#include "npu_mem.h"

void npu_mem_whitelist_init(struct npu_mem_whitelist *wl)
{
	wl->entries = NULL;
	wl->nr = 0;
	wl->cap = 0;
}

void npu_mem_whitelist_destroy(struct npu_mem_whitelist *wl)
{
	kvfree(wl->entries);
	npu_mem_whitelist_init(wl);
}

static int npu_mem_pid_entry_cmp(const void *key, const void *elt)
{
	s32 tgid = *(const s32 *)key;
	const struct npu_mem_pid_entry *e = elt;

	return tgid < e->tgid ? -1 : tgid > e->tgid;
}

/* Return: @wl's entry for @tgid, or NULL. */
const struct npu_mem_pid_entry *npu_mem_whitelist_find(const struct npu_mem_whitelist *wl,
						       pid_t tgid)
{
	s32 key = tgid;

	return bsearch(&key, wl->entries, wl->nr, sizeof(*wl->entries),
		       npu_mem_pid_entry_cmp);
}

/*
 * Can @e still authorize anyone?  Only a process with its tgid that had
 * started by the time it was set (npu_mem_share_may_import()): one that is
 * running now.  If none is, none ever will be: a later process with that
 * tgid starts later.
 */
static bool npu_mem_pid_entry_live(const struct npu_mem_pid_entry *e)
{
	struct task_struct *leader;
	bool live = false;

	rcu_read_lock();
	leader = pid_task(find_pid_ns(e->tgid, &init_pid_ns), PIDTYPE_TGID);
	if (leader)
		live = leader->start_time <= e->set_ns;
	rcu_read_unlock();
	return live;
}

/* Drop the entries that can no longer authorize anyone. */
static void npu_mem_whitelist_prune(struct npu_mem_whitelist *wl)
{
	u32 i, kept = 0;

	for (i = 0; i < wl->nr; i++)
		if (npu_mem_pid_entry_live(&wl->entries[i]))
			wl->entries[kept++] = wl->entries[i];
	wl->nr = kept;
}

/* Is @pids[@i] a pid to add: non-zero and not a repeat of the one before? */
static bool npu_mem_pid_first(const s32 *pids, u32 i)
{
	return pids[i] && (i == 0 || pids[i] != pids[i - 1]);
}

/* Pids of @pids (sorted) that @wl does not hold yet. */
static u32 npu_mem_whitelist_count_new(const struct npu_mem_whitelist *wl,
				       const s32 *pids, u32 count)
{
	u32 i, added = 0;

	for (i = 0; i < count; i++)
		if (npu_mem_pid_first(pids, i) && !npu_mem_whitelist_find(wl, pids[i]))
			added++;
	return added;
}

/**
 * npu_mem_whitelist_set - add or refresh pids
 * @wl: the whitelist
 * @pids: @count pids from 0 to PID_MAX_LIMIT - 1, sorted; 0s are skipped
 * @count: number of @pids
 * @now: the time to record in each entry (monotonic ns)
 *
 * All or nothing, except that entries which can authorize nobody may have
 * been dropped to make room.
 *
 * Return: 0, -E2BIG (more than NPU_MEM_MAX_PIDS live entries), -ENOMEM.
 */
int npu_mem_whitelist_set(struct npu_mem_whitelist *wl, const s32 *pids,
			  u32 count, u64 now)
{
	struct npu_mem_pid_entry *grown;
	u32 added, k, o, cap;
	int j;

	added = npu_mem_whitelist_count_new(wl, pids, count);
	if (wl->nr + added > NPU_MEM_MAX_PIDS) {
		npu_mem_whitelist_prune(wl);
		added = npu_mem_whitelist_count_new(wl, pids, count);
		if (wl->nr + added > NPU_MEM_MAX_PIDS)
			return -E2BIG;
	}
	if (wl->nr + added > wl->cap) {
		cap = clamp_t(u32, max(2 * wl->cap, 8U), wl->nr + added, NPU_MEM_MAX_PIDS);
		grown = kvmalloc_array(cap, sizeof(*grown), GFP_KERNEL_ACCOUNT);
		if (!grown)
			return -ENOMEM;
		if (wl->nr)
			memcpy(grown, wl->entries, wl->nr * sizeof(*grown));
		kvfree(wl->entries);
		wl->entries = grown;
		wl->cap = cap;
	}

	/* Merge from the back: old entries move up to make room for new ones. */
	o = wl->nr;
	k = wl->nr + added;
	for (j = count - 1; j >= 0; j--) {
		if (!npu_mem_pid_first(pids, j))
			continue;
		while (o && wl->entries[o - 1].tgid > pids[j])
			wl->entries[--k] = wl->entries[--o];
		if (o && wl->entries[o - 1].tgid == pids[j])
			wl->entries[--k] = wl->entries[--o];
		else
			wl->entries[--k].tgid = pids[j];
		wl->entries[k].set_ns = now;
	}
	wl->nr += added;
	return 0;
}
