/* SPDX-License-Identifier: GPL-2.0 */
/*
 * npu_mem: internal interfaces shared by the driver's files and its KUnit suites.
 *
 * Objects and counts
 *
 *   struct npu_mem_sys     the simulated machine: devices and the table of
 *                          shareable values.  The module has one; KUnit builds
 *                          private ones.
 *   struct npu_mem_dev     one simulated device: capacity and a backend.
 *   struct npu_mem_obj     a physical object.  @ref (kref) keeps the struct;
 *                          @holders counts who keeps the *memory*: the
 *                          allocating handle, each importing handle and each
 *                          mapping.  The last holder frees the backing memory,
 *                          returns the capacity and kills the shareable value.
 *   struct npu_mem_share   an export record (the shareable value), with the
 *                          exporter's identity, the whitelist and the importers.
 *   struct npu_mem_ctx     one open file: the owner's identity and its handles.
 *   struct npu_mem_handle  a per-file handle: one holder of one object.
 *
 * Registries, for the netlink dumps (netlink.c): npu_mem_sys.objs (live
 * objects by global id) and npu_mem_sys.ctxs (open files), and per object the
 * list of its handles.
 *
 * Lock order (outer to inner):
 *
 *   mmap_lock -> npu_mem_ctx.lock -> npu_mem_share.lock
 *             -> { xa_lock(&npu_mem_sys.shares), npu_mem_dev.lock,
 *                  npu_mem_obj.lock, xa_lock(&npu_mem_sys.objs) }
 *   npu_mem_sys.ctx_lock -> npu_mem_ctx.lock
 *   { npu_mem_zero_charge_lock, npu_mem_zero_pools_lock }
 *             -> the pools' list_lru locks (leaves: zero_reserve.c)
 *
 * Dropping a holder may free memory and take the innermost locks, so it
 * may be called with any of the outer ones held.  User memory is never
 * touched with npu_mem_ctx.lock held (mmap() takes it under mmap_lock).
 * Netlink events are sent (GFP_KERNEL) with no spinlock held, possibly under
 * the mutexes above; nothing of ours is taken inside netlink.
 */
#ifndef _NPU_MEM_H
#define _NPU_MEM_H

#include <linux/kconfig.h>
#include <linux/kref.h>
#include <linux/list.h>
#include <linux/list_lru.h>
#include <linux/mmu_notifier.h>
#include <linux/mutex.h>
#include <linux/refcount.h>
#include <linux/sched.h>
#include <linux/siphash.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/uidgid.h>
#include <linux/workqueue.h>
#include <linux/xarray.h>

#include "uapi/npu_mem.h"
#include "uapi/npu_mem_netlink.h"

#define NPU_MEM_MAX_DEVICES	64

struct mem_cgroup;
struct npu_mem_dev;
struct npu_mem_event;
struct npu_mem_obj;
struct page_counter;
struct vm_area_struct;

/*
 * The host backend's memory: 2 MiB-contiguous chunks where the page allocator
 * can give them (large orders neither retry nor warn: the system heap's
 * policy), zeroed and charged to the allocating process's memory cgroup.
 * Single pages, the last resort, may reclaim but never call the OOM killer
 * (of the host or of the cgroup): ALLOC reports ENOMEM instead of killing
 * the caller or a bystander for memory it asked for.
 */
#define NPU_MEM_CHUNK_SHIFT	21
#define NPU_MEM_CHUNK_SIZE	(1UL << NPU_MEM_CHUNK_SHIFT)
#define NPU_MEM_CHUNK_ORDER	(NPU_MEM_CHUNK_SHIFT - PAGE_SHIFT)
#define NPU_MEM_HOST_GFP	(GFP_USER | __GFP_ZERO | __GFP_ACCOUNT)
#define NPU_MEM_HOST_GFP_HIGH	(NPU_MEM_HOST_GFP | __GFP_COMP | __GFP_NORETRY | \
				 __GFP_NOWARN)
#define NPU_MEM_HOST_GFP_PAGE	(NPU_MEM_HOST_GFP | __GFP_RETRY_MAYFAIL)
/* A reserve of zeroed chunks unused this long is given back. */
#define NPU_MEM_RESERVE_IDLE	(30 * HZ)

/**
 * struct npu_mem_backend_ops - how a device provides memory
 * @alloc: give @obj backing memory of @obj->size bytes, charged to the caller
 *	(the device's capacity has already been reserved); 0 or -errno, and on
 *	error nothing is left allocated
 * @free: release what @alloc gave @obj
 * @pfn: the page frame backing byte @off (page aligned, below @obj->size) of
 *	@obj, and in *@contig the bytes from @off to the end of the physically
 *	contiguous chunk holding it.  A chunk is naturally aligned, in the
 *	object and in physical memory, so a PMD (PUD) may map it whole when it
 *	is 2 MiB (1 GiB) or more.  Called from page faults, while @obj's memory
 *	is held.
 *
 * The simulated backend uses host pages; a real HBM backend would hand out
 * device physical ranges instead.
 */
struct npu_mem_backend_ops {
	int (*alloc)(struct npu_mem_dev *dev, struct npu_mem_obj *obj);
	void (*free)(struct npu_mem_dev *dev, struct npu_mem_obj *obj);
	unsigned long (*pfn)(struct npu_mem_obj *obj, u64 off, u64 *contig);
};

/**
 * struct npu_mem_zero_pool - a device's reserves of zeroed chunks (zero_reserve.c)
 * @lock: protects @reserves
 * @reserves: one struct npu_mem_reserve per memory cgroup allocating here
 * @chunks: the zeroed chunks, one list per memory cgroup (memcg-aware list_lru)
 * @target: chunks each reserve is refilled to; 0: no reserves
 * @idle: jiffies after which an unused reserve is given back
 * @refill: fills the reserves and frees idle ones; the only freer of reserves
 * @node: entry in the list of every pool, for the shrinker
 */
struct npu_mem_zero_pool {
	spinlock_t lock;		/* protects reserves */
	struct list_head reserves;
	struct list_lru chunks;
	unsigned int target;
	unsigned long idle;
	struct delayed_work refill;
	struct list_head node;
};

/**
 * struct npu_mem_dev - a simulated device
 * @id: device id
 * @total: capacity in bytes
 * @ops: backend
 * @lock: protects @used
 * @used: bytes reserved by live objects
 * @nr_objs: live objects whose memory is on this device
 * @nr_exports: live shareable values of those objects
 * @zero: zeroed chunks kept ready for the host backend
 */
struct npu_mem_dev {
	u32 id;
	u64 total;
	const struct npu_mem_backend_ops *ops;
	spinlock_t lock;		/* protects used */
	u64 used;
	atomic_t nr_objs;
	atomic_t nr_exports;
	struct npu_mem_zero_pool zero;
};

/**
 * struct npu_mem_sys - the simulated machine
 * @num_devices: number of entries in @devs
 * @devs: the devices
 * @granularity: granularity of NORMAL and HUGE objects (NPU_MEM_GRANULARITY,
 *	or smaller for tests)
 * @shares: export index (npu_mem_value_decode() of a value) -> struct
 *	npu_mem_share.  Lookups run under RCU and take their share reference
 *	there (kref_get_unless_zero); records are freed after a grace period.
 * @next_index: last export index handed out; indexes are never reused
 * @value_key: the key of the permutation from indexes to values (value.c)
 * @instance: random bytes drawn at load that name this machine in fabric
 *	handles (struct npu_mem_fabric_handle)
 * @guess_budgets: uid -> struct npu_mem_guess_budget (guess_budget.c)
 * @nr_objs: physical objects not yet freed (for leak checks)
 * @objs: object id -> struct npu_mem_obj whose memory is live.  Its xa_lock
 *	protects the mapping; lookups take their kref inside it.
 * @next_obj_id: cursor of the cyclic id allocation in @objs
 * @ctx_lock: protects @ctxs, and keeps every context in it alive while held
 * @ctxs: context id -> struct npu_mem_ctx, every context of this machine
 */
struct npu_mem_sys {
	unsigned int num_devices;
	struct npu_mem_dev *devs;
	u64 granularity;
	struct xarray shares;
	atomic64_t next_index;
	siphash_key_t value_key;
	u8 instance[16];
	struct xarray guess_budgets;
	atomic_t nr_objs;
	struct xarray objs;
	u32 next_obj_id;
	struct mutex ctx_lock;		/* protects ctxs, pins its contexts */
	struct xarray ctxs;
};

/**
 * struct npu_mem_owner - identity of a process
 * @tgid: tgid in the initial pid namespace (the "bare tgid")
 * @start_time: the process's start time (task->start_time, CLOCK_MONOTONIC ns)
 * @comm: its command name when the identity was taken (for display only)
 * @uid: its effective uid then: whose it is for netlink's unprivileged view
 *
 * A tgid alone can be reused; tgid and start time together cannot.
 */
struct npu_mem_owner {
	pid_t tgid;
	u64 start_time;
	char comm[TASK_COMM_LEN];
	kuid_t uid;
};

/**
 * struct npu_mem_obj - a physical object
 * @ref: lifetime of this struct
 * @holders: holders of the backing memory (see the top of this file)
 * @sys: the machine
 * @dev: the device the memory is on
 * @size: bytes
 * @page_kind: NPU_MEM_PAGE_*
 * @pages: backend-private: the host backend's chunks, in order
 * @windows: backend-private: the host backend's chunk at the start of each
 *	2 MiB window of the object
 * @pmd_bytes: bytes of the backing in chunks a PMD can map (netlink); set
 *	by the backend's alloc, before the object is visible, and never changed
 * @id: global id, the key in npu_mem_sys.objs; stays set after the erase
 * @owner: the allocating process
 * @lock: protects @share, @handles, @imports and @last_link
 * @share: the export record, set once by the exporter while it holds a
 *	holder; holds a reference on it that the last holder drops (clearing
 *	the pointer first)
 * @handles: the allocating struct npu_mem_handle (by @obj_node)
 * @imports: the importing ones; a list apart, so that an import or a free
 *	touches no other process's handle (a list neighbour)
 * @last_link: last npu_mem_handle.link_seq given out (protected by @lock)
 * @nr_maps: live mappings (each is also a holder)
 */
struct npu_mem_obj {
	struct kref ref;
	refcount_t holders;
	struct npu_mem_sys *sys;
	struct npu_mem_dev *dev;
	u64 size;
	u32 page_kind;
	struct list_head pages;
	struct page **windows;
	u64 pmd_bytes;
	u32 id;
	struct npu_mem_owner owner;
	spinlock_t lock;		/* protects share, handles, imports, last_link */
	struct npu_mem_share *share;
	struct list_head handles;
	struct list_head imports;
	unsigned long last_link;
	atomic_t nr_maps;
};

/**
 * struct npu_mem_pid_entry - a whitelist entry
 * @tgid: the bare tgid it lets import
 * @set_ns: when it was set (monotonic ns): it authorizes only a process
 *	with @tgid that had started by then
 */
struct npu_mem_pid_entry {
	s32 tgid;
	u64 set_ns;
};

/**
 * struct npu_mem_whitelist - a value's whitelist (whitelist.c)
 * @entries: @nr entries sorted by tgid, room for @cap
 * @nr: entries in use, at most NPU_MEM_MAX_PIDS
 * @cap: entries allocated
 */
struct npu_mem_whitelist {
	struct npu_mem_pid_entry *entries;
	u32 nr;
	u32 cap;
};

/**
 * struct npu_mem_share - an export record
 * @ref: lifetime of this struct
 * @value: the 64-bit shareable value
 * @index: its export index, the key in npu_mem_sys.shares
 * @obj: the exported object (holds a kref, not a holder)
 * @exporter: the exporting process
 * @kind: NPU_MEM_SHARE_IPC_KEY, NPU_MEM_SHARE_FABRIC, or 0 for a VMM value;
 *	lookups find a value only as its own kind
 * @no_validation: exported with NPU_MEM_EXPORT_DISABLE_PID_VALIDATION
 * @lock: protects @whitelist and @importers
 * @whitelist: the pids that may import
 * @importers: the importing handles (by npu_mem_handle.share_node), one per
 *	process (the one-to-one rule).  A list: importers are few, and a keyed
 *	structure cost node allocations on every import.
 * @rcu: frees the struct after lookups that may still see it are done
 */
struct npu_mem_share {
	struct kref ref;
	u64 value;
	u64 index;
	struct npu_mem_obj *obj;
	struct npu_mem_owner exporter;
	u32 kind;
	bool no_validation;
	struct mutex lock;		/* protects whitelist, importers */
	struct npu_mem_whitelist whitelist;
	struct list_head importers;
	struct rcu_head rcu;
};

/**
 * struct npu_mem_handle - one process's handle on an object
 * @id: id in the owning context's table
 * @device: device the handle is bound to (the import target for imports)
 * @imported: made by import
 * @obj: the object; the handle is one of its holders
 * @share: the value it was exported as or imported from (holds a reference),
 *	or NULL
 * @tgid: bare tgid of the owning context's process
 * @uid: effective uid of that process (see struct npu_mem_owner)
 * @obj_node: entry in @obj's handles (or, imported, imports) list, under its
 *	lock; empty until the handle has become a holder
 * @link_seq: when it joined that list (@obj's last_link then): the lists are
 *	in this order, and a netlink dump resumes a list after a given value
 * @share_node: for an imported handle, entry in @share's importers list,
 *	under its lock
 */
struct npu_mem_handle {
	u32 id;
	u32 device;
	bool imported;
	struct npu_mem_obj *obj;
	struct npu_mem_share *share;
	pid_t tgid;
	kuid_t uid;
	struct list_head obj_node;
	unsigned long link_seq;
	struct list_head share_node;
};

/* Handles one open file may hold (ids stay below 2^31, as the ABI says). */
#define NPU_MEM_MAX_HANDLES	(1U << 30)

/**
 * struct npu_mem_htab - a context's handles by id (handle_table.c)
 * @slots: id - 1 -> handle, or NULL
 * @used: bitmap of the non-NULL @slots
 * @size: slots in @slots and bits in @used
 * @next: no slot below it is free
 *
 * Not locked: its context's lock protects it.
 */
struct npu_mem_htab {
	struct npu_mem_handle **slots;
	unsigned long *used;
	u32 size;
	u32 next;
};

#define npu_mem_htab_for_each(t, id, h) \
	for ((id) = 1; ((h) = npu_mem_htab_next((t), &(id))); (id)++)

/**
 * struct npu_mem_ctx - one open of /dev/npu_mem
 * @sys: the machine
 * @owner: the opening process
 * @mm: the owner's mm (file contexts only; pinned by the mmu notifier)
 * @mn: mmu notifier whose .release tears the context down at process death
 * @lock: protects @handles and @dead
 * @handles: handle id -> struct npu_mem_handle
 * @dead: torn down; every operation fails
 * @id: key in npu_mem_sys.ctxs
 * @nr_maps: live mappings made through this file
 */
struct npu_mem_ctx {
	u32 id;
	atomic_t nr_maps;
	struct npu_mem_sys *sys;
	struct npu_mem_owner owner;
	struct mm_struct *mm;
	struct mmu_notifier mn;
	struct mutex lock;		/* protects handles, dead */
	struct npu_mem_htab handles;
	bool dead;
};

/* host_backend.c */
extern const struct npu_mem_backend_ops npu_mem_host_backend;

/* device.c */
struct npu_mem_sys *npu_mem_sys_create(unsigned int num_devices, u64 dev_size,
				       u64 granularity, u64 zero_reserve,
				       const struct npu_mem_backend_ops *ops);
void npu_mem_sys_destroy(struct npu_mem_sys *sys);
struct npu_mem_dev *npu_mem_sys_dev(struct npu_mem_sys *sys, u32 id);
int npu_mem_dev_reserve(struct npu_mem_dev *dev, u64 size);
void npu_mem_dev_unreserve(struct npu_mem_dev *dev, u64 size);
u64 npu_mem_dev_free_bytes(struct npu_mem_dev *dev);
int npu_mem_sys_device_info(struct npu_mem_sys *sys, struct npu_mem_device_info *info);

/* zero_reserve.c */
int npu_mem_zero_pool_init(struct npu_mem_zero_pool *zp, u64 size,
			   unsigned long idle);
void npu_mem_zero_pool_destroy(struct npu_mem_zero_pool *zp);
struct page *npu_mem_zero_pool_take(struct npu_mem_zero_pool *zp,
				    struct mem_cgroup *memcg);
void npu_mem_zero_pool_kick(struct npu_mem_zero_pool *zp);
unsigned long npu_mem_zero_pool_chunks(struct npu_mem_zero_pool *zp);
unsigned long npu_mem_zero_pools_count(int nid, struct mem_cgroup *memcg);
unsigned long npu_mem_zero_pools_shrink(int nid, struct mem_cgroup *memcg,
					unsigned long nr_pages);
#ifdef CONFIG_MEMCG
bool npu_mem_charge_fits(struct page_counter *c, unsigned long nr_pages);
#endif
int npu_mem_zero_pools_register(void);
void npu_mem_zero_pools_unregister(void);

/* object.c */
u64 npu_mem_page_kind_granularity(struct npu_mem_sys *sys, u32 page_kind);
struct npu_mem_obj *npu_mem_obj_alloc(struct npu_mem_sys *sys,
				      const struct npu_mem_owner *owner,
				      u32 device, u64 size, u32 page_kind);
struct npu_mem_obj *npu_mem_obj_find(struct npu_mem_sys *sys, unsigned long *id);
void npu_mem_obj_link(struct npu_mem_obj *obj, struct npu_mem_handle *h);
void npu_mem_obj_unlink(struct npu_mem_obj *obj, struct npu_mem_handle *h);
bool npu_mem_obj_visible(struct npu_mem_obj *obj, bool admin, kuid_t uid);
void npu_mem_obj_event(struct npu_mem_event *ev, u32 type,
		       const struct npu_mem_obj *obj,
		       const struct npu_mem_owner *who);
void npu_mem_obj_hold(struct npu_mem_obj *obj);
void npu_mem_obj_unhold(struct npu_mem_obj *obj);
void npu_mem_obj_abort(struct npu_mem_obj *obj);
void npu_mem_obj_get(struct npu_mem_obj *obj);
void npu_mem_obj_put(struct npu_mem_obj *obj);

/* value.c */
void npu_mem_value_key_init(struct npu_mem_sys *sys);
u64 npu_mem_value_encode(const struct npu_mem_sys *sys, u64 index);
u64 npu_mem_value_decode(const struct npu_mem_sys *sys, u64 value);

/* guess_budget.c */
struct npu_mem_guess_budget;
struct npu_mem_guess_budget *npu_mem_guess_check(struct npu_mem_sys *sys);
void npu_mem_guess_failed(struct npu_mem_guess_budget *b);
void npu_mem_guess_budgets_destroy(struct npu_mem_sys *sys);

/* whitelist.c */
void npu_mem_whitelist_init(struct npu_mem_whitelist *wl);
void npu_mem_whitelist_destroy(struct npu_mem_whitelist *wl);
const struct npu_mem_pid_entry *npu_mem_whitelist_find(const struct npu_mem_whitelist *wl,
						       pid_t tgid);
int npu_mem_whitelist_set(struct npu_mem_whitelist *wl, const s32 *pids,
			  u32 count, u64 now);

/* share.c */
struct npu_mem_share *npu_mem_share_get(struct npu_mem_sys *sys, u64 value);
void npu_mem_share_put(struct npu_mem_share *share);
void npu_mem_share_kill(struct npu_mem_share *share);
int npu_mem_ctx_export(struct npu_mem_ctx *ctx, u32 handle, u32 flags, u64 *value);
int npu_mem_ctx_set_pids(struct npu_mem_ctx *ctx, u64 value, u32 kind,
			 s32 *pids, u32 count);
int npu_mem_ctx_import(struct npu_mem_ctx *ctx, u64 value, u32 kind, u32 device,
		       u32 *handle);
int npu_mem_ctx_unexport(struct npu_mem_ctx *ctx, u32 handle);
void npu_mem_obj_unshare(struct npu_mem_obj *obj, struct npu_mem_share *share);
void npu_mem_fabric_init(struct npu_mem_sys *sys);
void npu_mem_fabric_fill(struct npu_mem_sys *sys, u64 value,
			 struct npu_mem_fabric_handle *fh);
int npu_mem_fabric_value(struct npu_mem_sys *sys,
			 const struct npu_mem_fabric_handle *fh, u64 *value);
void npu_mem_share_drop_importer(struct npu_mem_share *share,
				 struct npu_mem_handle *h);
int npu_mem_refusal_errno(u32 reason);
#if IS_ENABLED(CONFIG_KUNIT)
u32 npu_mem_share_may_import(struct npu_mem_share *share,
			     const struct npu_mem_owner *owner);
#endif

/* handle_table.c */
void npu_mem_htab_init(struct npu_mem_htab *t);
void npu_mem_htab_destroy(struct npu_mem_htab *t);
int npu_mem_htab_add(struct npu_mem_htab *t, struct npu_mem_handle *h);
struct npu_mem_handle *npu_mem_htab_get(struct npu_mem_htab *t, u64 id);
struct npu_mem_handle *npu_mem_htab_remove(struct npu_mem_htab *t, u64 id);
struct npu_mem_handle *npu_mem_htab_next(struct npu_mem_htab *t, u32 *id);

/* context.c */
int npu_mem_handle_cache_create(void);
void npu_mem_handle_cache_destroy(void);
struct npu_mem_handle *npu_mem_handle_new(void);
void npu_mem_handle_free(struct npu_mem_handle *h);
struct npu_mem_ctx *npu_mem_ctx_create(struct npu_mem_sys *sys,
				       const struct npu_mem_owner *owner);
void npu_mem_ctx_teardown(struct npu_mem_ctx *ctx);
void npu_mem_ctx_close(struct npu_mem_ctx *ctx);
void npu_mem_ctx_destroy(struct npu_mem_ctx *ctx);
struct npu_mem_handle *npu_mem_ctx_handle(struct npu_mem_ctx *ctx, u64 id);
int npu_mem_ctx_add_handle(struct npu_mem_ctx *ctx, struct npu_mem_handle *h);
int npu_mem_ctx_alloc(struct npu_mem_ctx *ctx, u32 device, u64 size, u32 page_kind,
		  u32 *handle);
int npu_mem_ctx_free(struct npu_mem_ctx *ctx, u32 handle);
int npu_mem_ctx_handle_info(struct npu_mem_ctx *ctx, struct npu_mem_handle_info *info);
bool npu_mem_owner_equal(const struct npu_mem_owner *a,
			 const struct npu_mem_owner *b);
void npu_mem_owner_current(struct npu_mem_owner *owner);
bool npu_mem_owner_is_current(const struct npu_mem_owner *owner);
u64 npu_mem_handle_mmap_offset(u32 handle);

/* mmap.c */
int npu_mem_ctx_mmap(struct npu_mem_ctx *ctx, struct vm_area_struct *vma);
unsigned long npu_mem_get_unmapped_area(struct file *file, unsigned long addr,
					unsigned long len, unsigned long pgoff,
					unsigned long flags);

/* npu_mem_main.c */
extern unsigned int npu_mem_guess_budget;
void npu_mem_version_fill(struct npu_mem_sys *sys, struct npu_mem_version *ver);

/**
 * struct npu_mem_event - what netlink.c multicasts to the "events" group
 * @type: NPU_MEM_EVENT_*
 * @obj: object id, or 0 when there is no object (a dead value)
 * @device: device (the memory's, or a handle's binding)
 * @size: bytes, or 0
 * @who: the acting process, or NULL
 * @reason: NPU_MEM_REFUSAL_* for NPU_MEM_EVENT_IMPORT_REFUSED, else 0
 * @pids: pids given to SET_PIDS, else 0
 * @value: the shareable value concerned, or 0
 */
struct npu_mem_event {
	u32 type;
	u32 obj;
	u32 device;
	u64 size;
	const struct npu_mem_owner *who;
	u32 reason;
	u32 pids;
	u64 value;
};

/* netlink.c */
int npu_mem_nl_register(struct npu_mem_sys *sys);
void npu_mem_nl_unregister(void);
void npu_mem_nl_notify(struct npu_mem_sys *sys, const struct npu_mem_event *ev);

#endif /* _NPU_MEM_H */
