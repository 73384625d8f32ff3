// SPDX-License-Identifier: MIT
/*
 * libshim core: process state and its lock, fork handling, error messages,
 * aclInit/aclFinalize, devices, streams, host memory and copies.
 */
#define _GNU_SOURCE	/* PTHREAD_RWLOCK_WRITER_NONRECURSIVE_INITIALIZER_NP */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "npu_dev.h"
#include "shim.h"

/*
 * Writers first: a thread that keeps querying (read lock) must not starve
 * threads that allocate and map (write lock).  glibc's default prefers readers.
 */
#ifdef PTHREAD_RWLOCK_WRITER_NONRECURSIVE_INITIALIZER_NP
#define SHIM_RWLOCK_INIT PTHREAD_RWLOCK_WRITER_NONRECURSIVE_INITIALIZER_NP
#else
#define SHIM_RWLOCK_INIT PTHREAD_RWLOCK_INITIALIZER
#endif

struct shim_state shim = {
	.lock = SHIM_RWLOCK_INIT,
	.fd = -1,
};

/* ---- error messages (per thread) ---- */

static _Thread_local char err_msg[512];
static _Thread_local char err_ret[512];
static _Thread_local bool err_set;

aclError shim_fail(const char *func, aclError code, const char *fmt, ...)
{
	va_list ap;
	int n;

	n = snprintf(err_msg, sizeof(err_msg), "%s: ", func);
	if (n < 0 || (size_t)n >= sizeof(err_msg))
		n = 0;
	va_start(ap, fmt);
	vsnprintf(err_msg + n, sizeof(err_msg) - n, fmt, ap);
	va_end(ap);
	err_set = true;
	return code;
}

void shim_fail_append(const char *fmt, ...)
{
	size_t n = strlen(err_msg);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err_msg + n, sizeof(err_msg) - n, fmt, ap);
	va_end(ap);
}

aclError shim_arg_null(const char *func, const char *name)
{
	return shim_fail(func, ACL_ERROR_INVALID_PARAM, "%s is NULL", name);
}

aclError shim_arg_zero(const char *func, const char *name)
{
	return shim_fail(func, ACL_ERROR_INVALID_PARAM, "%s is 0", name);
}

aclError shim_arg_flags(const char *func, aclError code, uint64_t flags, uint64_t max)
{
	return shim_fail(func, code, "flags is 0x%llx, must be 0%s", (unsigned long long)flags,
			 max ? " or 1" : "");
}

aclError shim_no_host_memory(const char *func)
{
	return shim_fail(func, ACL_ERROR_RT_MEMORY_ALLOCATION, "out of host memory");
}

const char *aclGetRecentErrMsg(void)
{
	if (!err_set)
		return NULL;
	memcpy(err_ret, err_msg, sizeof(err_ret));
	err_set = false;
	return err_ret;
}

/* ---- lock, fork ---- */

static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void atfork_prepare(void)
{
	pthread_rwlock_wrlock(&shim.lock);
}

static void atfork_parent(void)
{
	pthread_rwlock_unlock(&shim.lock);
}

/*
 * In the child the parent's device file, handles and mappings mean nothing:
 * forget them (the kernel refuses the inherited file anyway) and require a
 * fresh aclInit, which reopens the device.
 */
static void atfork_child(void)
{
	static const pthread_rwlock_t fresh = SHIM_RWLOCK_INIT;

	if (shim.inited)
		shim_release_all(false);
	/* The child starts afresh: its first call opens the device, aclInit is its own. */
	shim.acl_init = false;
	shim_stream_atfork_child();
	/*
	 * glibc ties a write lock to the writer's tid, which differs in the
	 * child: unlocking would corrupt the lock.  The child has one thread
	 * and nobody else can hold it, so start from a fresh lock.
	 */
	memcpy(&shim.lock, &fresh, sizeof(fresh));
}

static void atfork_register(void)
{
	pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
}

/*
 * The cancellation state of the thread that holds the lock, restored by
 * shim_unlock().  A thread cancelled while holding the lock (in open or
 * close, say) would leave it held for ever: cancellation waits until then.
 */
static _Thread_local int lock_cancel_state;

void shim_lock_nocheck(bool write)
{
	int old;

	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old);
	if (write)
		pthread_rwlock_wrlock(&shim.lock);
	else
		pthread_rwlock_rdlock(&shim.lock);
	lock_cancel_state = old;
}

void shim_unlock(void)
{
	int old = lock_cancel_state;

	pthread_rwlock_unlock(&shim.lock);
	pthread_setcancelstate(old, NULL);
}

static aclError open_device(const char *func);

aclError shim_lock(const char *func, bool write)
{
	aclError e;

	for (;;) {
		shim_lock_nocheck(write);
		if (shim.inited)
			return ACL_SUCCESS;
		shim_unlock();
		/*
		 * The first call of the process (or the first after aclFinalize,
		 * or in a fork child) opens the device: CANN's runtime calls do
		 * not need aclInit either.  Then take the lock as asked.
		 */
		shim_lock_nocheck(true);
		e = open_device(func);
		shim_unlock();
		if (e)
			return e;
	}
}

uint64_t shim_new_token(void)
{
	return ++shim.last_token;
}

/* ---- lookups (caller holds the lock) ---- */

struct shim_handle *shim_find_handle(const void *p)
{
	struct shim_handle *h;

	for (h = shim.handles; h; h = h->next)
		if (h->token == (uintptr_t)p)
			return h;
	return NULL;
}

/* Is [addr, addr + len) inside [base, base + size)? */
static bool inside(uintptr_t base, size_t size, uintptr_t addr, size_t len)
{
	return addr >= base && addr - base < size && len <= size - (addr - base);
}

struct shim_map *shim_find_map(uintptr_t addr, size_t len)
{
	struct shim_map *m = shim.maps;

	while (m && !inside(m->va, m->size, addr, len))
		m = m->next;
	return m;
}

struct shim_resv *shim_find_resv(uintptr_t addr, size_t len)
{
	struct shim_resv *r = shim.resvs;

	while (r && !inside(r->base, r->size, addr, len))
		r = r->next;
	return r;
}

void shim_resv_unmap(const struct shim_resv *r)
{
	uintptr_t end = r->base + r->size;

	if (!r->broken) {
		munmap((void *)r->base, r->size);
		return;
	}
	if (r->hole > r->base)
		munmap((void *)r->base, r->hole - r->base);
	if (r->hole + r->hole_size < end)
		munmap((void *)(r->hole + r->hole_size), end - (r->hole + r->hole_size));
}

/*
 * aclFinalize (kernel = true): unmap, free and release everything.  After
 * fork (kernel = false) the same without the driver (the child's file is
 * refused) and without freeing aclrtMallocHost memory, which the child may
 * still read.  Tokens are never reused, so no handle or stream of before
 * names one created after.
 */
void shim_release_all(bool kernel)
{
	struct shim_resv *r, *rn;
	struct shim_map *m, *mn;
	struct shim_handle *h, *hn;
	struct shim_stream *s, *sn;
	struct shim_host *hp, *hpn;
	struct shim_ipc *k, *kn;
	int i;

	for (k = shim.ipcs; k; k = kn) {
		kn = k->next;
		free(k);
	}
	for (m = shim.maps; m; m = mn) {
		mn = m->next;
		free(m);
	}
	for (r = shim.resvs; r; r = rn) {
		rn = r->next;
		shim_resv_unmap(r);
		free(r);
	}
	for (h = shim.handles; h; h = hn) {
		hn = h->next;
		if (kernel)
			npu_dev_free(shim.fd, h->kid);
		free(h);
	}
	for (s = shim.streams; s; s = sn) {
		sn = s->next;
		shim_stream_free(s);
	}
	shim_stream_reset_default(-1);
	for (hp = shim.hosts; hp; hp = hpn) {
		hpn = hp->next;
		if (kernel)
			free(hp->p);
		free(hp);
	}
	shim.maps = NULL;
	shim.resvs = NULL;
	shim.handles = NULL;
	shim.streams = NULL;
	shim.hosts = NULL;
	shim.ipcs = NULL;
	for (i = 0; i < SHIM_MAX_DEV; i++) {
		shim.dev_ref[i] = 0;
		shim.dev_gen[i]++;
		shim.peer[i] = 0;
	}
	if (shim.fd >= 0)
		npu_dev_close(shim.fd);
	shim.fd = -1;
	shim.ndev = 0;
	shim.inited = false;
}

/* ---- init ---- */

/* Read each device's granularity into shim: 0 or a negative errno (*bad: which device). */
static int read_granularity(int fd, uint32_t ndev, uint32_t *bad)
{
	struct npu_dev_info info;
	uint32_t d;
	int ret;

	for (d = 0; d < ndev; d++) {
		ret = npu_dev_device_info(fd, d, &info);
		if (ret) {
			*bad = d;
			return ret;
		}
		shim.gran[d] = info.granularity;
		shim.gran_1g[d] = info.granularity_huge1g;
	}
	return 0;
}

/*
 * Open the device and read each device's granularity, unless that is done
 * (caller holds the lock for writing): 0 or the aclError.
 */
static aclError open_device(const char *func)
{
	struct shim_errctx c = { 0 };
	uint32_t ndev, bad = 0;
	int fd, ret;

	if (shim.inited)
		return ACL_SUCCESS;
	/* Before anything is open: a fork child must forget what its parent opens. */
	pthread_once(&atfork_once, atfork_register);
	ret = npu_dev_open(&fd, &ndev);
	if (ret)
		return shim_fail_errno(func, SHIM_OP_OPEN, -ret, NULL);
	ndev = ndev > SHIM_MAX_DEV ? SHIM_MAX_DEV : ndev;
	ret = read_granularity(fd, ndev, &bad);
	if (ret) {
		npu_dev_close(fd);
		c.dev = (int32_t)bad;
		return shim_fail_errno(func, SHIM_OP_INFO, -ret, &c);
	}
	shim.fd = fd;
	shim.ndev = ndev;
	shim.pid = getpid();
	shim.inited = true;
	return ACL_SUCCESS;
}

aclError aclInit(const char *configPath)
{
	aclError e = ACL_SUCCESS;

	if (configPath && access(configPath, R_OK) != 0)
		return FAIL(ACL_ERROR_INVALID_FILE, "cannot read config file \"%s\": %s",
			    configPath, strerror(errno));
	shim_lock_nocheck(true);
	if (shim.acl_init) {
		e = FAIL(ACL_ERROR_REPEAT_INITIALIZE, "aclInit was already called");
		goto out;
	}
	/* The device may be open already: calls before aclInit open it. */
	e = open_device(__func__);
	if (!e)
		shim.acl_init = true;
out:
	shim_unlock();
	return e;
}

aclError aclFinalize(void)
{
	aclError e = ACL_SUCCESS;

	shim_lock_nocheck(true);
	if (shim.acl_init) {
		if (shim.inited)
			shim_release_all(true);
		shim.acl_init = false;
	} else {
		e = FAIL(ACL_ERROR_REPEAT_FINALIZE, "aclInit has not been called, or aclFinalize already was");
	}
	shim_unlock();
	return e;
}

/* ---- devices ---- */

static _Thread_local int32_t cur_dev = -1;
static _Thread_local unsigned int cur_gen;

int32_t shim_current_device(void)
{
	if (cur_dev < 0 || (uint32_t)cur_dev >= shim.ndev || !shim.dev_ref[cur_dev] ||
	    shim.dev_gen[cur_dev] != cur_gen)
		return -1;
	return cur_dev;
}

aclError shim_need_device(const char *func, int32_t *dev)
{
	*dev = shim_current_device();
	if (*dev >= 0)
		return ACL_SUCCESS;
	return shim_fail(func, ACL_ERROR_RT_CONTEXT_NULL,
			 "no current device in this thread: call aclrtSetDevice first");
}

aclError shim_check_dev(const char *func, const char *what, int64_t d)
{
	if (d < 0)	/* without reading shim.ndev: callers need not hold the lock */
		return shim_fail(func, ACL_ERROR_RT_INVALID_DEVICEID, "%s %lld does not exist",
				 what, (long long)d);
	if (d < shim.ndev)
		return ACL_SUCCESS;
	return shim_fail(func, ACL_ERROR_RT_INVALID_DEVICEID, "%s %lld does not exist (%u devices)",
			 what, (long long)d, shim.ndev);
}

aclError aclrtGetDeviceCount(uint32_t *count)
{
	aclError e;

	if (!count)
		return shim_arg_null(__func__, "count");
	e = shim_lock(__func__, false);
	if (e)
		return e;
	*count = shim.ndev;
	shim_unlock();
	return ACL_SUCCESS;
}

aclError aclrtSetDevice(int32_t deviceId)
{
	aclError e = shim_lock(__func__, true);

	if (e)
		return e;
	e = shim_check_dev(__func__, "device", deviceId);
	if (!e) {
		/* Each call binds the thread and counts once, as in CANN. */
		shim.dev_ref[deviceId]++;
		cur_dev = deviceId;
		cur_gen = shim.dev_gen[deviceId];
	}
	shim_unlock();
	return e;
}

aclError aclrtGetDevice(int32_t *deviceId)
{
	aclError e;
	int32_t d;

	if (!deviceId)
		return shim_arg_null(__func__, "deviceId");
	e = shim_lock(__func__, false);
	if (e)
		return e;
	e = shim_need_device(__func__, &d);
	shim_unlock();
	if (!e)
		*deviceId = d;
	return e;
}

static void destroy_streams_of(int32_t dev)
{
	struct shim_stream **pp = &shim.streams, *s;

	while ((s = *pp)) {
		if (s->dev == dev) {
			*pp = s->next;
			shim_stream_free(s);
		} else {
			pp = &s->next;
		}
	}
	shim_stream_reset_default(dev);
}

static aclError reset_device(const char *func, int32_t dev, bool force)
{
	aclError e = shim_lock(func, true);

	if (e)
		return e;
	e = shim_check_dev(func, "device", dev);
	if (!e && shim.dev_ref[dev] && (force || --shim.dev_ref[dev] == 0)) {
		shim.dev_ref[dev] = 0;
		shim.dev_gen[dev]++;
		shim.peer[dev] = 0;
		destroy_streams_of(dev);
	}
	shim_unlock();
	return e;
}

aclError aclrtResetDevice(int32_t deviceId)
{
	return reset_device(__func__, deviceId, false);
}

aclError aclrtResetDeviceForce(int32_t deviceId)
{
	return reset_device(__func__, deviceId, true);
}

static bool attr_is_ddr(aclrtMemAttr a)
{
	return a == ACL_DDR_MEM || a == ACL_DDR_MEM_HUGE || a == ACL_DDR_MEM_NORMAL ||
	       a == ACL_DDR_MEM_P2P_HUGE || a == ACL_DDR_MEM_P2P_NORMAL;
}

aclError aclrtGetMemInfo(aclrtMemAttr attr, size_t *free_, size_t *total)
{
	struct npu_dev_info info = { 0 };	/* DDR: simulated devices have HBM only */
	struct shim_errctx c = { 0 };
	aclError e;
	int ret;

	if (!free_)
		return shim_arg_null(__func__, "free");
	if (!total)
		return shim_arg_null(__func__, "total");
	if ((unsigned int)attr > ACL_MEM_P2P_HUGE1G)
		return FAIL(ACL_ERROR_INVALID_PARAM, "attr %d is not an aclrtMemAttr", (int)attr);
	e = shim_lock(__func__, false);
	if (e)
		return e;
	e = shim_need_device(__func__, &c.dev);
	if (e || attr_is_ddr(attr))
		goto out;
	ret = npu_dev_device_info(shim.fd, (uint32_t)c.dev, &info);
	if (ret)
		e = FAIL_ERRNO(SHIM_OP_INFO, -ret, &c);
out:
	shim_unlock();
	if (!e) {
		*free_ = info.free;
		*total = info.total;
	}
	return e;
}

aclError aclrtDeviceGetBareTgid(int32_t *pid)
{
	aclError e;
	int ret;

	if (!pid)
		return shim_arg_null(__func__, "pid");
	e = shim_lock(__func__, false);
	if (e)
		return e;
	ret = npu_dev_bare_tgid(shim.fd, pid);
	if (ret)
		e = FAIL_ERRNO(SHIM_OP_TGID, -ret, NULL);
	shim_unlock();
	return e;
}

aclError aclrtDeviceCanAccessPeer(int32_t *canAccessPeer, int32_t deviceId, int32_t peerDeviceId)
{
	aclError e;

	if (!canAccessPeer)
		return shim_arg_null(__func__, "canAccessPeer");
	e = shim_lock(__func__, false);
	if (e)
		return e;
	e = shim_check_dev(__func__, "device", deviceId);
	if (!e)
		e = shim_check_dev(__func__, "device", peerDeviceId);
	if (!e && deviceId == peerDeviceId)
		e = FAIL(ACL_ERROR_RT_PARAM_INVALID, "deviceId and peerDeviceId are both %d", (int)deviceId);
	shim_unlock();
	/* Simulated devices all share one memory: every pair can access each other. */
	if (!e)
		*canAccessPeer = 1;
	return e;
}

static aclError peer_access(const char *func, int32_t peer, bool enable)
{
	aclError e = shim_lock(func, true);
	int32_t dev;

	if (e)
		return e;
	e = shim_need_device(func, &dev);
	if (!e)
		e = shim_check_dev(func, "peer device", peer);
	if (e)
		goto out;
	if (peer == dev) {
		e = shim_fail(func, ACL_ERROR_RT_PARAM_INVALID, "peer device %d is the current device",
			      (int)peer);
		goto out;
	}
	if (enable)
		shim.peer[dev] |= 1ULL << peer;
	else
		shim.peer[dev] &= ~(1ULL << peer);
out:
	shim_unlock();
	return e;
}

aclError aclrtDeviceEnablePeerAccess(int32_t peerDeviceId, uint32_t flags)
{
	if (flags)
		return shim_arg_flags(__func__, ACL_ERROR_INVALID_PARAM, flags, 0);
	return peer_access(__func__, peerDeviceId, true);
}

aclError aclrtDeviceDisablePeerAccess(int32_t peerDeviceId)
{
	return peer_access(__func__, peerDeviceId, false);
}

/*
 * ---- streams: the simulated devices finish every operation at once, but
 * for work queued behind an aclrtValueWait (shim_stream.c) ----
 */

/* The link to stream @p in the list, or 107000 (caller holds the lock). */
static aclError lookup_stream(const char *func, aclrtStream p, struct shim_stream ***ppp)
{
	struct shim_stream **pp;

	for (pp = &shim.streams; *pp; pp = &(*pp)->next)
		if ((*pp)->token == (uintptr_t)p)
			break;
	*ppp = pp;
	if (*pp)
		return ACL_SUCCESS;
	return shim_fail(func, ACL_ERROR_RT_PARAM_INVALID, "stream %p is not a live stream of this process",
			 p);
}

aclError shim_lookup_stream(const char *func, aclrtStream p, struct shim_stream **s)
{
	struct shim_stream **pp;
	aclError e = lookup_stream(func, p, &pp);

	*s = *pp;
	return e;
}

aclError aclrtCreateStream(aclrtStream *stream)
{
	struct shim_stream *s;
	uint64_t token = 0;
	aclError e;
	int32_t dev;

	if (!stream)
		return shim_arg_null(__func__, "stream");
	e = shim_lock(__func__, true);
	if (e)
		return e;
	e = shim_need_device(__func__, &dev);
	if (e)
		goto out;
	s = calloc(1, sizeof(*s));
	if (!s) {
		e = shim_no_host_memory(__func__);
		goto out;
	}
	s->token = token = shim_new_token();
	s->dev = dev;
	s->next = shim.streams;
	shim.streams = s;
out:
	shim_unlock();
	if (!e)
		*stream = (aclrtStream)(uintptr_t)token;
	return e;
}

/*
 * aclrtDestroyStream waits for the stream's work to finish; the Force variant
 * discards it (CANN's docs/zh/api_ref/06_stream_management.md).  An error of
 * that work is not the destroy's: the stream goes either way.
 */
static aclError destroy_stream(const char *func, aclrtStream stream, bool force)
{
	struct shim_stream **pp, *s;
	aclError e;

	if (!stream)
		return shim_arg_null(func, "stream");
	if (!force && shim_stream_sync(func, stream, -1))
		aclGetRecentErrMsg();	/* a failure is the lookup's below, or not the destroy's */
	e = shim_lock(func, true);
	if (e)
		return e;
	e = lookup_stream(func, stream, &pp);
	if (!e) {
		s = *pp;
		*pp = s->next;
		shim_stream_free(s);
	}
	shim_unlock();
	return e;
}

aclError aclrtDestroyStream(aclrtStream stream)
{
	return destroy_stream(__func__, stream, false);
}

aclError aclrtDestroyStreamForce(aclrtStream stream)
{
	return destroy_stream(__func__, stream, true);
}

/* NULL is the default stream of the current device. */
static aclError check_stream(const char *func, aclrtStream stream)
{
	struct shim_stream **pp;
	int32_t dev;

	return stream ? lookup_stream(func, stream, &pp) : shim_need_device(func, &dev);
}

aclError aclrtSynchronizeStream(aclrtStream stream)
{
	return shim_stream_sync(__func__, stream, -1);
}

/* ---- host memory ---- */

aclError aclrtMallocHost(void **hostPtr, size_t size)
{
	struct shim_host *hp;
	aclError e;
	void *p = NULL;

	if (!hostPtr)
		return shim_arg_null(__func__, "hostPtr");
	if (!size)
		return shim_arg_zero(__func__, "size");
	e = shim_lock(__func__, true);
	if (e)
		return e;
	hp = malloc(sizeof(*hp));
	if (!hp || posix_memalign(&p, 4096, size)) {
		free(hp);
		e = shim_no_host_memory(__func__);
		goto out;
	}
	hp->p = p;
	hp->next = shim.hosts;
	shim.hosts = hp;
out:
	shim_unlock();
	if (!e)
		*hostPtr = p;
	return e;
}

aclError aclrtFreeHost(void *hostPtr)
{
	struct shim_host **pp, *hp;
	aclError e;

	if (!hostPtr)
		return shim_arg_null(__func__, "hostPtr");
	e = shim_lock(__func__, true);
	if (e)
		return e;
	for (pp = &shim.hosts; (hp = *pp); pp = &hp->next)
		if (hp->p == hostPtr)
			break;
	if (hp) {
		*pp = hp->next;
		free(hp->p);
		free(hp);
	} else {
		e = FAIL(ACL_ERROR_RT_PARAM_INVALID, "%p was not allocated by aclrtMallocHost", hostPtr);
	}
	shim_unlock();
	return e;
}

/* ---- copies ---- */

/*
 * Bytes a copy between host memory and a mapping moves per turn of the lock
 * (on the stack).
 */
#define SHIM_BOUNCE 4096

/* Does [a, a + n) overlap a reservation?  n > 0 and a + n does not wrap. */
static bool overlaps_resv(uintptr_t a, size_t n)
{
	struct shim_resv *r;

	for (r = shim.resvs; r; r = r->next)
		if (a < r->base + r->size && r->base < a + n)
			return true;
	return false;
}

/*
 * Check one side of a copy (caller holds the lock).  A device side, and any
 * range that overlaps a reservation, must lie in one mapping that grants the
 * access: *mapped is then true.  Anything else is host memory, which copies
 * touch only without the lock, as it can fault and wait (userfaultfd, FUSE).
 */
static aclError check_side(const char *func, const char *what, const void *p, size_t n,
			   bool device, bool write, bool *mapped)
{
	uintptr_t a = (uintptr_t)p;
	struct shim_map *m;
	unsigned int need = write ? ACL_RT_MEM_ACCESS_FLAGS_READWRITE : ACL_RT_MEM_ACCESS_FLAGS_READ;
	unsigned int have;
	uint32_t i;

	*mapped = false;
	if (n - 1 > UINTPTR_MAX - a)
		return shim_fail(func, ACL_ERROR_RT_PARAM_INVALID,
				 "%s range [%p, +%zu) wraps around the address space", what, p, n);
	if (!device && !overlaps_resv(a, n))
		return ACL_SUCCESS;
	m = shim_find_map(a, n);
	if (!m)
		return shim_fail(func, ACL_ERROR_RT_PARAM_INVALID,
				 "%s range [%p, +%zu) is not inside one mapped device range", what, p, n);
	have = m->acc_host;
	for (i = 0; i < shim.ndev; i++)
		have |= m->acc_dev[i];
	if ((have & need) != need)
		return shim_fail(func, ACL_ERROR_RT_PARAM_INVALID,
				 "%s range at %p is mapped without %s access (see aclrtMemSetAccess)",
				 what, p, write ? "write" : "read");
	*mapped = true;
	return ACL_SUCCESS;
}

aclError shim_check_dev_range(const char *func, const char *what, const void *p, size_t n, bool write)
{
	bool mapped;

	return check_side(func, what, p, n, true, write, &mapped);
}

/*
 * ACL_MEMCPY_HOST_TO_BUF_TO_DEVICE: the source must not be device memory
 * (CANN's api_error.cc MemcpyAsyncCheckExLocation: 107000).
 */
static aclError check_buf_src(const char *func, const void *src, size_t count)
{
	bool mapped = false;
	aclError e = shim_lock(func, false);

	if (e)
		return e;
	e = check_side(func, "src", src, count, false, false, &mapped);
	if (!e && mapped)
		e = shim_fail(func, ACL_ERROR_RT_PARAM_INVALID,
			      "src %p of ACL_MEMCPY_HOST_TO_BUF_TO_DEVICE is device memory", src);
	shim_unlock();
	return e;
}

/*
 * Copy between host memory and a mapping through a buffer, a piece at a
 * time: host memory without the lock, the mapping under it (checked again
 * for each piece, as it may have been unmapped in between).
 */
static aclError copy_bounce(const char *func, char *dst, const char *src, size_t count, bool to_dev)
{
	char buf[SHIM_BOUNCE];
	size_t off, n;
	bool mapped;
	aclError e;

	for (off = 0; off < count; off += n) {
		n = count - off < sizeof(buf) ? count - off : sizeof(buf);
		if (to_dev)
			memcpy(buf, src + off, n);
		e = shim_lock(func, false);
		if (e)
			return e;
		if (to_dev)
			e = check_side(func, "dst", dst + off, n, true, true, &mapped);
		else
			e = check_side(func, "src", src + off, n, true, false, &mapped);
		if (!e)
			memcpy(to_dev ? dst + off : buf, to_dev ? buf : src + off, n);
		shim_unlock();
		if (e)
			return e;
		if (!to_dev)
			memcpy(dst + off, buf, n);
	}
	return ACL_SUCCESS;
}

static aclError do_memcpy(const char *func, void *dst, size_t destMax, const void *src, size_t count,
			  aclrtMemcpyKind kind, bool async, aclrtStream stream)
{
	bool sdev, ddev, smap = false, dmap = false, queued = false;
	void *buf = NULL;
	aclError e;

	/* As in CANN: nothing to copy succeeds before any other check. */
	if (!count)
		return ACL_SUCCESS;
	if (!dst)
		return shim_arg_null(func, "dst");
	if (!src)
		return shim_arg_null(func, "src");
	if ((unsigned int)kind > ACL_MEMCPY_INTER_DEVICE_TO_DEVICE)
		return shim_fail(func, ACL_ERROR_INVALID_PARAM, "kind %d is not an aclrtMemcpyKind",
				 (int)kind);
	/* CANN's MemcpyKindTranslate (aclrt_impl/memory.cpp) takes kinds 0-5 only. */
	if (kind == ACL_MEMCPY_INNER_DEVICE_TO_DEVICE || kind == ACL_MEMCPY_INTER_DEVICE_TO_DEVICE)
		return shim_fail(func, ACL_ERROR_INVALID_PARAM,
				 "kind %d is for descriptor copies only: use ACL_MEMCPY_DEVICE_TO_DEVICE (3), within a device or between devices",
				 (int)kind);
	/* CANN's runtime checks this one (107000), after the ACL layer's checks. */
	if (count > destMax)
		return shim_fail(func, ACL_ERROR_RT_PARAM_INVALID, "count %zu is larger than destMax %zu",
				 count, destMax);
	if (kind == ACL_MEMCPY_HOST_TO_BUF_TO_DEVICE && count) {
		e = check_buf_src(func, src, count);
		if (e)
			return e;
		/* The runtime's own copy of the source: the caller may reuse it at once. */
		if (async) {
			buf = malloc(count);
			if (!buf)
				return shim_no_host_memory(func);
			memcpy(buf, src, count);
			src = buf;
		}
	}
	e = shim_lock(func, false);
	if (e) {
		free(buf);
		return e;
	}
	if (async)
		e = check_stream(func, stream);
	sdev = kind == ACL_MEMCPY_DEVICE_TO_HOST || kind == ACL_MEMCPY_DEVICE_TO_DEVICE;
	ddev = kind == ACL_MEMCPY_HOST_TO_DEVICE || kind == ACL_MEMCPY_DEVICE_TO_DEVICE ||
	       kind == ACL_MEMCPY_HOST_TO_BUF_TO_DEVICE;
	if (!e)
		e = check_side(func, "src", src, count, sdev, false, &smap);
	if (!e)
		e = check_side(func, "dst", dst, count, ddev, true, &dmap);
	/* Behind a wait that still waits: the stream's worker copies later. */
	if (!e && count && async)
		e = shim_stream_queue_copy(func, stream, dst, destMax, src, count, kind, buf, &queued);
	if (queued)
		buf = NULL;	/* the task's now */
	/* Mappings on both sides: device memory never waits on a fault. */
	if (!e && !queued && smap && dmap)
		memmove(dst, src, count);
	shim_unlock();
	if (e || queued || (smap && dmap)) {
		free(buf);
		return e;
	}
	if (smap || dmap)
		e = copy_bounce(func, dst, src, count, dmap);
	else
		memmove(dst, src, count);	/* host memory on both sides */
	free(buf);
	return e;
}

aclError aclrtMemcpy(void *dst, size_t destMax, const void *src, size_t count, aclrtMemcpyKind kind)
{
	return do_memcpy(__func__, dst, destMax, src, count, kind, false, NULL);
}

aclError aclrtMemcpyAsync(void *dst, size_t destMax, const void *src, size_t count,
			  aclrtMemcpyKind kind, aclrtStream stream)
{
	return do_memcpy(__func__, dst, destMax, src, count, kind, true, stream);
}

aclError aclrtMemset(void *devPtr, size_t maxCount, int32_t value, size_t count)
{
	bool mapped = false;
	aclError e;

	/* As in CANN: nothing to set succeeds before any other check. */
	if (!count)
		return ACL_SUCCESS;
	if (!devPtr)
		return shim_arg_null(__func__, "devPtr");
	/* CANN's driver checks this one (107000). */
	if (count > maxCount)
		return FAIL(ACL_ERROR_RT_PARAM_INVALID, "count %zu is larger than maxCount %zu", count, maxCount);
	e = shim_lock(__func__, false);
	if (e)
		return e;
	e = check_side(__func__, "devPtr", devPtr, count, false, true, &mapped);
	if (!e && mapped)
		memset(devPtr, value, count);
	shim_unlock();
	if (!e && !mapped)
		memset(devPtr, value, count);	/* host memory: may fault, so not under the lock */
	return e;
}
