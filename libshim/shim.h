/* SPDX-License-Identifier: MIT */
/* libshim internals: process state, records, error reporting. */
#ifndef NPU_MEM_SHIM_H
#define NPU_MEM_SHIM_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "acl/acl.h"

/* Devices this library handles (the width of a peer-access bitmask). */
#define SHIM_MAX_DEV	64

/*
 * A physical handle of this process.  Callers see its token (shim_handle_ptr),
 * never the record's address: tokens are never reused, so a stale handle
 * cannot name a record that was allocated later at the same address.
 */
struct shim_handle {
	struct shim_handle *next;
	uint64_t token;
	uint64_t kid;			/* the driver's handle id */
	uint64_t mmap_offset;		/* ... and the offset that maps it */
	size_t size;
	int32_t dev;
	aclrtPhysicalMemProp prop;
	unsigned int ref;		/* create/import 1, +1 per map and retain */
	unsigned int map_ref;		/* live mappings */
	uint64_t share;			/* exported value, or the value imported */
};

/*
 * Who made a reservation.  Only the user's own are the VMM calls' to map
 * into, unmap and release; the others hold one whole allocation each, made
 * and torn down by the call that owns them.
 */
enum shim_resv_owner {
	SHIM_RESV_USER,		/* aclrtReserveMemAddress */
	SHIM_RESV_MALLOC,	/* aclrtMalloc: aclrtFree tears it down */
	SHIM_RESV_IPC,		/* aclrtIpcMemImportByKey: aclrtIpcMemClose does */
};

/*
 * A range from aclrtReserveMemAddress (or one of the calls above).  Broken: a failed map left
 * [hole, hole + hole_size) unmapped and the placeholder could not be put
 * back, so that range may belong to someone else now: no more maps, and
 * release and teardown unmap everything but the hole.
 */
struct shim_resv {
	struct shim_resv *next;
	uintptr_t base;
	size_t size;
	unsigned int nmaps;
	enum shim_resv_owner owner;
	bool broken;
	uintptr_t hole;
	size_t hole_size;
};

/* A mapping from aclrtMapMem / aclrtMemMapNoAccess. */
struct shim_map {
	struct shim_map *next;
	uintptr_t va;
	size_t size;
	struct shim_handle *h;
	struct shim_resv *r;
	uint8_t acc_host;		/* aclrtMemAccessFlags for the host */
	uint8_t acc_dev[SHIM_MAX_DEV];	/* ... and for each device */
};

/*
 * Work queued on a stream behind an aclrtValueWait that still waits
 * (shim_stream.c).  Everything else runs at once, in the caller.
 */
enum shim_task_op {
	SHIM_TASK_WAIT,
	SHIM_TASK_WRITE,
	SHIM_TASK_COPY,
};

struct shim_task {
	struct shim_task *next;
	struct shim_stream *s;		/* while the worker runs it; NULL once the stream is gone */
	enum shim_task_op op;
	void *addr;			/* WAIT, WRITE: a device address; COPY: dst */
	uint64_t value;
	uint32_t flag;
	const void *src;		/* COPY */
	size_t destMax;
	size_t count;
	aclrtMemcpyKind kind;
	void *buf;			/* COPY from a buffer the task owns (HOST_TO_BUF_TO_DEVICE) */
};

struct shim_stream {
	struct shim_stream *next;
	uint64_t token;			/* what aclrtStream is, as for handles */
	int32_t dev;
	/*
	 * The queue and what the worker ran last: under the shared lock and
	 * shim_stream_mu (shim_stream.c), or under the exclusive lock.
	 */
	struct shim_task *head, *tail;
	struct shim_task *running;	/* a COPY the worker runs without the lock */
	aclError err;			/* the first failure of queued work, for the next sync */
	char errmsg[256];
};

struct shim_host {
	struct shim_host *next;
	void *p;
};

/* An IPC key: 64 lowercase hex digits and a NUL, as CANN's (its len must be >= 65). */
#define SHIM_IPC_KEY_LEN	64

/*
 * An IPC key this process exported (the aclrtMalloc mapping @m carries it) or
 * imported (@m is the import's own mapping).  @count: exports of the same
 * allocation with the same flags share one key, as imports of one key in one
 * process share one mapping; each aclrtIpcMemClose takes one back.
 */
struct shim_ipc {
	struct shim_ipc *next;
	char key[SHIM_IPC_KEY_LEN + 1];
	uint64_t value;
	struct shim_map *m;
	bool imported;
	bool no_validation;
	unsigned int count;
};

struct shim_state {
	pthread_rwlock_t lock;
	bool inited;			/* the device is open: the fields below are valid */
	bool acl_init;			/* aclInit was called (and not aclFinalize since) */
	pid_t pid;			/* the process that opened the device */
	int fd;
	uint32_t ndev;
	unsigned int dev_ref[SHIM_MAX_DEV];	/* aclrtSetDevice count */
	unsigned int dev_gen[SHIM_MAX_DEV];	/* bumped when a device is reset */
	uint64_t peer[SHIM_MAX_DEV];		/* enabled peer-access bitmask */
	size_t gran[SHIM_MAX_DEV];		/* DEVICE_INFO: NORMAL and HUGE granularity */
	size_t gran_1g[SHIM_MAX_DEV];		/* ... and HUGE1G */
	struct shim_handle *handles;
	struct shim_resv *resvs;
	struct shim_map *maps;
	struct shim_stream *streams;
	struct shim_host *hosts;
	struct shim_ipc *ipcs;
	uint64_t last_token;		/* survives aclFinalize and fork */
};

extern struct shim_state shim;

/* Record a failure for aclGetRecentErrMsg() and return @code. */
aclError shim_fail(const char *func, aclError code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Add to the message the last shim_fail() of this thread recorded. */
void shim_fail_append(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
#define FAIL(code, ...) shim_fail(__func__, (code), __VA_ARGS__)

/* The messages more than one call gives, each from one place. */
aclError shim_arg_null(const char *func, const char *name);	/* 100000 "<name> is NULL" */
aclError shim_arg_zero(const char *func, const char *name);	/* 100000 "<name> is 0" */
/* @code for flags above @max (0 or 1). */
aclError shim_arg_flags(const char *func, aclError code, uint64_t flags, uint64_t max);
aclError shim_no_host_memory(const char *func);			/* 207001 */

/* Driver operations whose errnos map to aclErrors (shim_errmap.c). */
enum shim_op {
	SHIM_OP_OPEN,
	SHIM_OP_INFO,
	SHIM_OP_TGID,
	SHIM_OP_ALLOC,
	SHIM_OP_FREE,
	SHIM_OP_PROPS,
	SHIM_OP_EXPORT,
	SHIM_OP_SETPID,
	SHIM_OP_IMPORT,
	SHIM_OP_MAP,
	SHIM_OP_IPC_EXPORT,	/* the IPC key calls: CANN answers them apart */
	SHIM_OP_IPC_SETPID,
	SHIM_OP_IPC_IMPORT,
	SHIM_OP_IPC_CLOSE,
	SHIM_OP_COUNT
};

/* Context a message may mention: {sh} {tgid} {dev} {size} {handle}. */
struct shim_errctx {
	uint64_t sh;
	int32_t tgid;
	int32_t dev;
	uint64_t size;
	const void *handle;
};

/* The aclError for driver errno @err (positive) in operation @op. */
aclError shim_errno_code(enum shim_op op, int err);
/* Map, record the message (prefixed by @func) and return the aclError. */
aclError shim_fail_errno(const char *func, enum shim_op op, int err, const struct shim_errctx *ctx);
#define FAIL_ERRNO(op, err, ctx) shim_fail_errno(__func__, (op), (err), (ctx))

/*
 * The lock is taken with cancellation disabled (open and close, which run
 * under it, are cancellation points) and shim_unlock() restores it.
 */
void shim_lock_nocheck(bool write);
/*
 * Take the lock (write or read) with the device open, opening it first if
 * nobody has (as CANN's runtime, no call needs aclInit); on error nothing is
 * held.
 */
aclError shim_lock(const char *func, bool write);
void shim_unlock(void);

/* A new token for a handle or stream (caller holds the lock for writing). */
uint64_t shim_new_token(void);

static inline aclrtDrvMemHandle shim_handle_ptr(const struct shim_handle *h)
{
	return (aclrtDrvMemHandle)(uintptr_t)h->token;
}

/* The calling thread's current device or -1 (caller holds the lock). */
int32_t shim_current_device(void);
/* 0 and the current device in *dev, or 107002 (caller holds the lock). */
aclError shim_need_device(const char *func, int32_t *dev);
/*
 * 0, or 107001 if device @d does not exist; @what names @d.  The caller holds
 * the lock, or passes a negative @d.
 */
aclError shim_check_dev(const char *func, const char *what, int64_t d);

/* The record of handle token @p, or NULL. */
struct shim_handle *shim_find_handle(const void *p);
struct shim_map *shim_find_map(uintptr_t addr, size_t len);
struct shim_resv *shim_find_resv(uintptr_t addr, size_t len);
/* Unmap a reservation's address space, all of it but a broken one's hole. */
void shim_resv_unmap(const struct shim_resv *r);
/*
 * Whole allocations (shim_mem.c), for aclrtMalloc and IPC imports; the caller
 * holds the lock for writing.  shim_alloc_handle: ALLOC on @dev, @size rounded
 * up to the granularity of @attr, a new record with one reference.
 * shim_map_whole: map all of @h, read/write for its device, into a new
 * reservation of @owner; the mapping holds a reference of its own.
 * shim_unmap_whole: unmap @m, drop its reservation and its reference.
 */
aclError shim_alloc_handle(const char *func, uint32_t dev, size_t size, aclrtMemAttr attr,
			   struct shim_handle **hp);
aclError shim_map_whole(const char *func, struct shim_handle *h, enum shim_resv_owner owner,
			struct shim_map **mp);
aclError shim_unmap_whole(const char *func, struct shim_map *m);
/*
 * Sharing (shim_mem.c): export @h as @v->kind (fills @v; caller holds the
 * lock for writing); add pids to a value's whitelist (takes the lock); import
 * into a new record with one reference on device @dev (caller holds the
 * lock for writing).
 */
struct npu_dev_value;
aclError shim_export_value(const char *func, enum shim_op op, struct shim_handle *h,
			   bool no_validation, struct npu_dev_value *v);
aclError shim_set_pids_value(const char *func, enum shim_op op, const struct npu_dev_value *v,
			     const int32_t *pid, size_t pidNum);
aclError shim_import_value(const char *func, enum shim_op op, const struct npu_dev_value *v,
			   int32_t dev, struct shim_handle **hp);
/* aclrtFree of @m: forget the IPC keys it was exported as (the driver kills them). */
void shim_ipc_forget(const struct shim_map *m);
/* Drop one reference of @h; at 0 FREE it and forget the record. */
aclError shim_put_handle(const char *func, struct shim_handle *h);

/* Tear down everything (aclFinalize); @kernel false after fork. */
void shim_release_all(bool kernel);

/*
 * 0 if [p, p + n) is device memory this process may read (write: and write),
 * else 107000; @what names the pointer (caller holds the lock).
 */
aclError shim_check_dev_range(const char *func, const char *what, const void *p, size_t n, bool write);

/* 0 and stream @p's record in *s, or 107000 (caller holds the lock). */
aclError shim_lookup_stream(const char *func, aclrtStream p, struct shim_stream **s);

/* shim_stream.c: stream queues. */
/* Free a stream record and the work still queued on it (caller holds the lock exclusively). */
void shim_stream_free(struct shim_stream *s);
/* Discard the default stream of @dev, or of every device for -1 (exclusive lock). */
void shim_stream_reset_default(int32_t dev);
/* After fork: no worker thread, a fresh mutex. */
void shim_stream_atfork_child(void);
/* Wait until @stream (NULL: the current device's default) has run its work. */
aclError shim_stream_sync(const char *func, aclrtStream stream, int32_t timeout_ms);
/*
 * Queue a copy behind the work already waiting on @stream (caller holds the
 * shared lock and has checked the arguments): *queued says whether it did.
 * @buf, if set, is the task's own copy of the source, freed with it.
 */
aclError shim_stream_queue_copy(const char *func, aclrtStream stream, void *dst, size_t destMax,
				const void *src, size_t count, aclrtMemcpyKind kind, void *buf,
				bool *queued);


#endif /* NPU_MEM_SHIM_H */
