// SPDX-License-Identifier: GPL-2.0
/*
 * npu-mem-stress: many processes hammer /dev/npu_mem at once while a killer
 * SIGKILLs them; at the end nothing may be lost or leaked.
 *
 * The model.  The main process (root) forks K workers (--workers, default 8):
 * even ones stay root, odd ones become uid 1000; every third one also runs
 * two- and three-thread races on its one fd (FREE against mmap and munmap,
 * two IMPORTs of one value).  Workers live in two memory cgroups, one with a
 * low memory.high (its reclaim runs the zero reserves' shrinker).  Each worker
 * loops over random operations: ALLOC on a random device, size and page kind
 * (sometimes the device's whole capacity, and in "device-full" phases all that
 * is free), mmap and fill with the object's pattern, EXPORT with or without
 * pid validation, SET_PIDS (live workers, stale pids of killed workers, an
 * exited child, pid 0, and invalid pids that must be refused), IMPORT of
 * published values (then map and verify the pattern), of values it already
 * holds (EEXIST), of its own (ELOOP), of retracted ones and of guessed ones,
 * munmap/mmap, partial munmap, partial mprotect and mremap (all must fail and
 * leave the mapping intact), madvise of every kind (then verify), fork (the
 * child must see no mapping and get EBADFD on the inherited fd), execve (the
 * same, across exec), close of the fd with mappings alive, FREE while mapped,
 * and invalid requests that must be refused.
 *
 * Values travel through the board (stress.h), a MAP_SHARED anonymous region:
 * an exporter publishes value, kind, size, pattern seed and whitelist there;
 * any worker may import it.  The exporter writes the pattern before exporting,
 * importers only read and verify it.  Kinds (ABI 2.1): a third of the exports
 * are IPC keys, a third fabric handles; a tenth of the imports name another
 * kind (must be ENOENT) or another instance's fabric handle (EXDEV).  IPC keys
 * die at UNEXPORT or FREE (off the board first, then among the dead values as
 * "withdrawn": nobody may import them, the exporter gets ENOENT, not ELOOP)
 * or with their killed exporter; importers keep and verify their memory.
 *
 * The main process is the killer: every 0.3-1.5 s it SIGKILLs a random
 * worker, a third of the time the exporter of a value being imported right
 * now, reaps it and respawns it.  Alongside run `npu-mem --json watch`, a
 * dumper (npu-mem objects/devices/procs/info every half second, as root and
 * as uid 1000), and a memory hog that every few seconds takes host memory
 * until less than 64 MiB is available, holds it and lets go.
 *
 * "lost" counts: a pattern mismatch (a byte of an object is not what its
 * exporter wrote, whoever reads it, whenever: after import, after FREE while
 * mapped, after close, after madvise or a refused split), a worker that dies
 * by a signal the killer did not send (SIGBUS/SIGSEGV on a mapping), a dump
 * or watch that fails, and an operation that must succeed but failed: FREE,
 * EXPORT, SET_PIDS of one's own handle or value, mmap of one's own handle
 * other than ENOMEM/EAGAIN, and IMPORT of a published value whose exporter is
 * alive, has not retracted it, and whose whitelist admits the importer (the
 * importer is on it and was started before the entry was set).  ENOMEM of
 * ALLOC, IMPORT or mmap, and EAGAIN of the guess budget (now and then a
 * worker guesses 400 values at once, past the default 256 a second: its
 * uid's IMPORTs and SET_PIDS then fail with EAGAIN for a while) are allowed and
 * counted.  "violations" count operations that must fail but did not (a
 * guessed value imported, a split or move of a mapping, a mapping inherited
 * by a child, an inherited fd that works, a second import of one value, an
 * import a whitelist refuses, a bad argument accepted) and wrong errnos.
 *
 * "leaked" counts, once every process is gone: bytes of device memory not
 * free, objects, values (exports) and contexts (procs) still in the netlink
 * dumps, a module that does not unload (then it is loaded again, with
 * /modparams' parameters), and kmemleak reports naming npu_mem.
 *
 * The verdict: "ok - stress: ..." / "not ok - stress: ..." lines (KTAP, as
 * tests/run-all counts them), then "stress: N ops, K kills, L lost, M leaked";
 * the exit status is 0 only if nothing was lost, violated or leaked.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/user/npu.h"
#include "tests/user/cgroup.h"
#include "tests/user/npu_tool.h"
#include "stress.h"

#undef MIB	/* npu.h's is unsigned long long: one type for printf */
#define MIB ((uint64_t)1 << 20)

#define CG_A		CGROUP_ROOT "/npu-stress-a"
#define CG_B		CGROUP_ROOT "/npu-stress-b"
#define CG_B_HIGH	"134217728"	/* 128 MiB */
#define CG_B_CAP	(192 * MIB)	/* what a cgroup-b worker allocates at most */
#define MAX_OBJS	12
#define PAGE		4096UL
#define USER_UID	1000
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

static struct board *B;
static int verbose;
static uint64_t seed;

/* ---- small helpers */

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static void msleep(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

static uint64_t rng_state;

static uint64_t rnd(void)
{
	uint64_t x = rng_state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return rng_state = x;
}

/* Uniform in [0, n). */
static uint32_t rnd_n(uint32_t n)
{
	return n ? (uint32_t)(rnd() % n) : 0;
}

static void rng_seed(uint64_t a, uint64_t b)
{
	rng_state = (a ^ (b * 0x9e3779b97f4a7c15ull)) | 1;
	for (int i = 0; i < 8; i++)
		rnd();
}

static void count(uint64_t *c)
{
	__atomic_add_fetch(c, 1, __ATOMIC_RELAXED);
}

static void countn(uint64_t *c, uint64_t n)
{
	__atomic_add_fetch(c, n, __ATOMIC_RELAXED);
}

static int my_worker = -1;

/*
 * Keep the first failures on the board too: a process the killer hits while
 * it writes its message to a slow console would take the message with it.
 */
static void note(const char *msg)
{
	uint32_t i = __atomic_fetch_add(&B->nnotes, 1, __ATOMIC_RELAXED);

	/* A long message is cut to the note's size (the full one goes to stderr). */
	if (i < NNOTES && snprintf(B->notes[i], sizeof(B->notes[i]), "worker %d, pid %d: %s",
				   my_worker, getpid(), msg) < 0)
		B->notes[i][0] = '\0';
}

/* Note, count in @counter and say at once (whoever says it) a failure of @kind. */
static void say_failure(uint64_t *counter, const char *kind, const char *fmt, va_list ap)
{
	char buf[512];

	vsnprintf(buf, sizeof(buf), fmt, ap);
	note(buf);
	count(counter);
	dprintf(2, "stress: %s (worker %d, pid %d): %s\n", kind, my_worker, getpid(), buf);
}

/* A lost operation or datum. */
static void lost(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	say_failure(&B->lost, "LOST", fmt, ap);
	va_end(ap);
}

/* A rule the driver must enforce and did not, or a wrong errno. */
static void violation(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	say_failure(&B->violations, "VIOLATION", fmt, ap);
	va_end(ap);
}

/*
 * The pattern: in each 4 KiB page, 16 words at its start and one at its end,
 * functions of the object's seed and the page's index.  Every page is touched,
 * so a wrong page anywhere is seen, and a big object is still quick to check.
 */
static uint32_t pat(uint32_t s, uint64_t page, uint32_t i)
{
	uint64_t x = (s * 0x9e3779b97f4a7c15ull) ^ (page << 8) ^ i;

	x ^= x >> 31;
	x *= 0xbf58476d1ce4e5b9ull;
	return (uint32_t)(x ^ (x >> 29));
}

static void pattern_fill(void *va, uint64_t size, uint32_t s)
{
	for (uint64_t p = 0; p < size / PAGE; p++) {
		uint32_t *w = (uint32_t *)((char *)va + p * PAGE);

		for (uint32_t i = 0; i < 16; i++)
			w[i] = pat(s, p, i);
		w[PAGE / 4 - 1] = pat(s, p, 16);
	}
}

/* Verify; on a mismatch count it as lost and return -1. */
static int pattern_check(const void *va, uint64_t size, uint32_t s, const char *what)
{
	for (uint64_t p = 0; p < size / PAGE; p++) {
		const volatile uint32_t *w = (const uint32_t *)((const char *)va + p * PAGE);

		for (uint32_t i = 0; i < 17; i++) {
			uint32_t got = w[i < 16 ? i : PAGE / 4 - 1];

			if (got != pat(s, p, i)) {
				lost("%s: pattern mismatch at page %" PRIu64 " word %u of %" PRIu64
				     " MiB object: %08x, want %08x", what, p, i, size / MIB, got,
				     pat(s, p, i));
				return -1;
			}
		}
	}
	count(&B->checks);
	countn(&B->check_pages, size / PAGE);
	return 0;
}

static const char *ename(int e)
{
	static char buf[16];

	switch (e) {
	case 0: return "success";
	case EPERM: return "EPERM";
	case ENOENT: return "ENOENT";
	case EINVAL: return "EINVAL";
	case ENOMEM: return "ENOMEM";
	case EAGAIN: return "EAGAIN";
	case EACCES: return "EACCES";
	case EEXIST: return "EEXIST";
	case ELOOP: return "ELOOP";
	case EBADFD: return "EBADFD";
	case EXDEV: return "EXDEV";
	case ENODEV: return "ENODEV";
	case EFAULT: return "EFAULT";
	case E2BIG: return "E2BIG";
	}
	snprintf(buf, sizeof(buf), "errno %d", e);
	return buf;
}

/* ---- the board */

static int slot_read(int i, struct slot *copy)
{
	struct slot *s = &B->slots[i];
	uint64_t v1 = __atomic_load_n(&s->value, __ATOMIC_ACQUIRE);

	if (!v1)
		return 0;
	memcpy(copy, s, sizeof(*copy));
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	return v1 == __atomic_load_n(&s->value, __ATOMIC_RELAXED) && copy->value == v1;
}

/* A published value, from a random place on: its index, or -1 if none. */
static int slot_pick(struct slot *copy)
{
	int start = rnd_n(NSLOTS);

	for (int k = 0; k < NSLOTS; k++)
		if (slot_read((start + k) % NSLOTS, copy))
			return (start + k) % NSLOTS;
	return -1;
}

static int dead_read(uint32_t i, struct dead *copy);

static void dead_push(uint64_t value, uint64_t size, uint32_t s, uint32_t kind, int withdrawn)
{
	uint32_t i = __atomic_fetch_add(&B->dead_next, 1, __ATOMIC_RELAXED) % NDEAD;
	struct dead *d = &B->dead[i];

	__atomic_store_n(&d->value, 0, __ATOMIC_RELEASE);
	d->size = size;
	d->seed = s;
	d->kind = kind;
	d->withdrawn = withdrawn;
	__atomic_store_n(&d->value, value, __ATOMIC_RELEASE);
}

/* Is @v an IPC key its exporter has certainly killed (as far as the board remembers)? */
static int withdrawn_key(uint64_t v)
{
	struct dead d;

	for (uint32_t i = 0; i < NDEAD; i++)
		if (dead_read(i, &d) && d.value == v && d.withdrawn)
			return 1;
	return 0;
}

static int dead_read(uint32_t i, struct dead *copy)
{
	struct dead *d = &B->dead[i % NDEAD];
	uint64_t v1 = __atomic_load_n(&d->value, __ATOMIC_ACQUIRE);

	if (!v1)
		return 0;
	memcpy(copy, d, sizeof(*copy));
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	return v1 == __atomic_load_n(&d->value, __ATOMIC_RELAXED) && copy->value == v1;
}

/*
 * Take a published value off the board (owner, or main for a dead owner);
 * @push: into the dead values (else the caller does, once the key is killed).
 */
static void slot_retract(int i, int push)
{
	struct slot *s = &B->slots[i];
	uint64_t v = __atomic_exchange_n(&s->value, 0, __ATOMIC_ACQ_REL);

	if (v && push)
		dead_push(v, s->size, s->seed, s->kind, 0);
	__atomic_store_n(&s->importing, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&s->owner, 0, __ATOMIC_RELEASE);
}

/* ---- a worker's objects */

struct obj {
	int used;
	uint32_t handle;
	uint64_t off, size;
	uint32_t device;
	void *va;		/* mapped here, or NULL */
	int imported, exported, validated;
	uint32_t kind;		/* NPU_MEM_SHARE_* of the value exported or imported */
	uint64_t value;
	uint32_t seed;
	int slot;		/* board slot it is published in, or -1 */
};

struct worker {
	int idx, fd, threads, uid, cg_b;
	pid_t pid;
	uint64_t start_ns, last_guess_ns;
	struct obj o[MAX_OBJS];
};

static struct obj *obj_new(struct worker *w)
{
	for (int i = 0; i < MAX_OBJS; i++)
		if (!w->o[i].used) {
			memset(&w->o[i], 0, sizeof(w->o[i]));
			w->o[i].used = 1;
			w->o[i].slot = -1;
			return &w->o[i];
		}
	return NULL;
}

static struct obj *obj_pick(struct worker *w, int mapped, int exported_by_me)
{
	int start = rnd_n(MAX_OBJS);

	for (int k = 0; k < MAX_OBJS; k++) {
		struct obj *o = &w->o[(start + k) % MAX_OBJS];

		if (!o->used)
			continue;
		if (mapped >= 0 && !!o->va != mapped)
			continue;
		if (exported_by_me >= 0 && (o->exported && !o->imported) != exported_by_me)
			continue;
		return o;
	}
	return NULL;
}

static int obj_count(struct worker *w)
{
	int n = 0;

	for (int i = 0; i < MAX_OBJS; i++)
		n += w->o[i].used;
	return n;
}

static uint64_t obj_bytes(struct worker *w)
{
	uint64_t n = 0;

	for (int i = 0; i < MAX_OBJS; i++)
		if (w->o[i].used && !w->o[i].imported)
			n += w->o[i].size;
	return n;
}

static struct obj *obj_by_value(struct worker *w, uint64_t v)
{
	for (int i = 0; i < MAX_OBJS; i++)
		if (w->o[i].used && w->o[i].value == v)
			return &w->o[i];
	return NULL;
}

static void obj_unpublish(struct obj *o)
{
	if (o->slot >= 0)
		slot_retract(o->slot, 1);
	o->slot = -1;
}

/* Our IPC key: it dies with the handle (FREE) or at UNEXPORT. */
static int own_key(const struct obj *o)
{
	return o->exported && !o->imported && o->kind == NPU_MEM_SHARE_IPC_KEY;
}

/* ---- the ioctls of a value kind */

/* With NPU_MEM_SHARE_FABRIC @value travels in @fh (@foreign: another instance's). */
static void name_value(struct npu_mem_fabric_handle *fh, __u64 *shareable, uint64_t value,
		       uint32_t kind, int foreign)
{
	if (kind != NPU_MEM_SHARE_FABRIC) {
		*shareable = value;
		return;
	}
	memcpy(fh->magic, NPU_MEM_FABRIC_MAGIC, sizeof(fh->magic));
	memcpy(fh->instance, B->instance, sizeof(fh->instance));
	if (foreign)
		fh->instance[rnd_n(16)] ^= 1 + rnd_n(255);
	fh->shareable = value;
}

/* EXPORT with @flags (a kind among them); a fabric handle must be well formed. */
static int export_k(int fd, uint32_t h, uint32_t flags, uint64_t *value)
{
	struct npu_mem_export e = { .handle = h, .flags = flags };
	static const uint8_t zero[sizeof(e.fabric.reserved)];

	if (ioctl(fd, NPU_MEM_IOCTL_EXPORT, &e))
		return -1;
	*value = e.shareable;
	if ((flags & NPU_MEM_SHARE_FABRIC) &&
	    (memcmp(e.fabric.magic, NPU_MEM_FABRIC_MAGIC, sizeof(e.fabric.magic)) ||
	     memcmp(e.fabric.instance, B->instance, sizeof(e.fabric.instance)) ||
	     e.fabric.shareable != e.shareable || memcmp(e.fabric.reserved, zero, sizeof(zero))))
		violation("EXPORT: a malformed fabric handle for %" PRIx64, *value);
	return 0;
}

static int set_pids_k(int fd, uint64_t value, uint32_t kind, const int32_t *pids, uint32_t n)
{
	struct npu_mem_set_pids sp = { .pids = (uintptr_t)pids, .count = n, .flags = kind };

	name_value(&sp.fabric, &sp.shareable, value, kind, 0);
	return ioctl(fd, NPU_MEM_IOCTL_SET_PIDS, &sp);
}

static int import_k(int fd, uint64_t value, uint32_t kind, int foreign, uint32_t dev,
		    uint32_t *h, uint64_t *off)
{
	struct npu_mem_import im = { .device = dev, .flags = kind };

	name_value(&im.fabric, &im.shareable, value, kind, foreign);
	if (ioctl(fd, NPU_MEM_IOCTL_IMPORT, &im))
		return -1;
	*h = im.handle;
	if (off)
		*off = im.mmap_offset;
	return 0;
}

static int unexport(int fd, uint32_t h)
{
	struct npu_mem_unexport u = { .handle = h };

	return ioctl(fd, NPU_MEM_IOCTL_UNEXPORT, &u);
}

/* A kind other than @k. */
static uint32_t other_kind(uint32_t k)
{
	static const uint32_t kinds[] = { 0, NPU_MEM_SHARE_IPC_KEY, NPU_MEM_SHARE_FABRIC };
	uint32_t i = rnd_n(3);

	return kinds[i] != k ? kinds[i] : kinds[(i + 1) % 3];
}

static int obj_map(struct worker *w, struct obj *o, const char *what)
{
	void *va = npu_map(w->fd, o->off, o->size);

	count(&B->ops[OP_MMAP]);
	if (!va) {
		if (errno == ENOMEM || errno == EAGAIN) {
			count(&B->ex[EX_ENOMEM]);
			return -1;
		}
		lost("%s: mmap of own handle %u (%" PRIu64 " MiB): %s", what, o->handle,
		     o->size / MIB, ename(errno));
		return -1;
	}
	o->va = va;
	return 0;
}

static void obj_unmap(struct obj *o)
{
	if (!o->va)
		return;
	if (munmap(o->va, o->size))
		lost("munmap of a whole mapping: %s", ename(errno));
	count(&B->ops[OP_MUNMAP]);
	o->va = NULL;
}

/*
 * Our IPC key @v has just been killed (by FREE or UNEXPORT; the memory may
 * live on in our mapping or importers): nobody finds it, not even we (not ELOOP).
 */
static void key_gone(struct worker *w, uint64_t v, const char *how)
{
	uint32_t h;

	count(&B->ops[OP_IMPORT_DEAD]);
	if (!import_k(w->fd, v, NPU_MEM_SHARE_IPC_KEY, 0, 0, &h, NULL)) {
		violation("IMPORT of our IPC key after %s succeeded", how);
		npu_free(w->fd, h);
	} else if (errno != ENOENT && errno != EAGAIN) {
		violation("IMPORT of our IPC key after %s: %s, want ENOENT", how, ename(errno));
	}
}

/* FREE (with the mapping kept or not); the object leaves the table. */
static void obj_free(struct worker *w, struct obj *o, int keep_mapping)
{
	int key = own_key(o);

	/* our IPC key dies with the handle: among the dead values once it has */
	if (key && o->slot >= 0) {
		slot_retract(o->slot, 0);
		o->slot = -1;
	}
	obj_unpublish(o);
	if (!keep_mapping)
		obj_unmap(o);
	count(&B->ops[OP_FREE]);
	if (npu_free(w->fd, o->handle))
		lost("FREE of own handle %u: %s", o->handle, ename(errno));
	else if (key) {
		key_gone(w, o->value, "FREE");
		dead_push(o->value, o->size, o->seed, o->kind, 1);
	}
	if (o->va) {
		/* The mapping holds the memory: it is still the object's. */
		pattern_check(o->va, o->size, o->seed, "after FREE, still mapped");
		obj_unmap(o);
	}
	o->used = 0;
}

/* ---- operations */

static uint64_t dev_free(int fd, uint32_t dev)
{
	struct npu_mem_device_info info = { .device = dev };

	return ioctl(fd, NPU_MEM_IOCTL_DEVICE_INFO, &info) ? 0 : info.free;
}

static void op_alloc(struct worker *w)
{
	uint64_t g = B->granule, size;
	uint32_t dev = rnd_n(B->ndev), r = rnd_n(100);
	struct npu_mem_alloc a = { .device = dev, .page_kind = rnd_n(2) ? NPU_MEM_PAGE_HUGE : NPU_MEM_PAGE_NORMAL };
	struct obj *o;

	if (obj_count(w) >= MAX_OBJS) {
		o = obj_pick(w, -1, -1);
		obj_free(w, o, 0);
	}
	if (B->full && r < 50)
		size = dev_free(w->fd, dev) / g * g;	/* take all that is left */
	else if (r < 70)
		size = (1 + rnd_n(4)) * g;
	else if (r < 92)
		size = (5 + rnd_n(28)) * g;
	else if (r < 98)
		size = (1 + rnd_n(B->total[dev] / g)) * g;
	else
		size = B->total[dev];	/* the whole device */
	if (!size)
		size = g;
	/* 1 GiB pages where a device holds one (mem_mb=1024 and up). */
	if (B->total[dev] >= NPU_MEM_GRANULARITY_HUGE1G && rnd_n(50) == 0) {
		a.page_kind = NPU_MEM_PAGE_HUGE1G;
		size = NPU_MEM_GRANULARITY_HUGE1G;
	}
	if (w->cg_b && obj_bytes(w) + size > CG_B_CAP) {
		size = g;
		a.page_kind = NPU_MEM_PAGE_HUGE;
	}
	a.size = size;
	count(&B->ops[OP_ALLOC]);
	if (ioctl(w->fd, NPU_MEM_IOCTL_ALLOC, &a)) {
		if (errno == ENOMEM) {
			count(&B->ex[EX_ENOMEM]);
			return;
		}
		lost("ALLOC %" PRIu64 " MiB on device %u: %s", size / MIB, dev, ename(errno));
		return;
	}
	o = obj_new(w);
	o->handle = a.handle;
	o->off = a.mmap_offset;
	o->size = size;
	o->device = dev;
	o->seed = (uint32_t)rnd() | 1;
	if (obj_map(w, o, "ALLOC")) {
		count(&B->ops[OP_FREE]);
		if (npu_free(w->fd, o->handle))
			lost("FREE of a fresh handle: %s", ename(errno));
		o->used = 0;
		return;
	}
	/* A new object reads as zeroes. */
	for (uint64_t p = 0; p < size; p += 64 * PAGE)
		if (*(volatile uint64_t *)((char *)o->va + p)) {
			lost("new %" PRIu64 " MiB object is not zeroed at %" PRIu64, size / MIB, p);
			break;
		}
	pattern_fill(o->va, o->size, o->seed);
}

/* Requests that must be refused, with their errno. */
static void op_alloc_bad(struct worker *w)
{
	struct npu_mem_alloc a = { .page_kind = NPU_MEM_PAGE_HUGE, .size = B->granule };
	int want;

	switch (rnd_n(5)) {
	case 0:
		a.size = B->granule + PAGE;
		want = EINVAL;
		break;
	case 1:
		a.device = B->ndev;
		want = ENODEV;
		break;
	case 2:
		a.page_kind = NPU_MEM_PAGE_HUGE1G;
		a.size = NPU_MEM_GRANULARITY_HUGE1G;
		if (a.size <= B->total[0])
			return;		/* would fit: not a refusal */
		want = ENOMEM;
		break;
	case 3:
		a.size = B->total[0] + B->granule;
		want = ENOMEM;
		break;
	default:
		a.flags = 1u << rnd_n(32);
		want = EINVAL;
	}
	count(&B->ops[OP_ALLOC_BAD]);
	if (!ioctl(w->fd, NPU_MEM_IOCTL_ALLOC, &a)) {
		violation("bad ALLOC (device %u size %" PRIu64 " kind %u flags %x) succeeded",
			  a.device, (uint64_t)a.size, a.page_kind, a.flags);
		npu_free(w->fd, a.handle);
	} else if (errno != want) {
		violation("bad ALLOC: %s, want %s", ename(errno), ename(want));
	}
}

/* A pid that has just exited (and been reaped). */
static int32_t exited_pid(void)
{
	pid_t c = fork();

	if (c == 0)
		_exit(0);
	if (c > 0)
		waitpid(c, NULL, 0);
	return c > 0 ? c : 0;
}

static void publish(struct worker *w, struct obj *o, const int32_t *pids, uint32_t n, uint64_t t)
{
	int start = rnd_n(NSLOTS);

	for (int k = 0; k < NSLOTS; k++) {
		int i = (start + k) % NSLOTS;
		struct slot *s = &B->slots[i];
		int32_t zero = 0;

		if (!__atomic_compare_exchange_n(&s->owner, &zero, w->pid, 0, __ATOMIC_ACQ_REL,
						 __ATOMIC_RELAXED))
			continue;
		s->worker = w->idx;
		s->seed = o->seed;
		s->device = o->device;
		s->size = o->size;
		s->validated = o->validated;
		s->kind = o->kind;
		s->npids = 0;
		s->overflow = 0;
		s->importing = 0;
		for (uint32_t j = 0; j < n; j++) {
			if (!pids[j])
				continue;
			if (s->npids == SLOT_PIDS) {
				s->overflow = 1;
				break;
			}
			s->pids[s->npids] = pids[j];
			s->pids_ns[s->npids++] = t;
		}
		__atomic_store_n(&s->value, o->value, __ATOMIC_RELEASE);
		o->slot = i;
		return;
	}
}

/* Up to @max pids: live workers, stale pids, an exited child, zeros. */
static uint32_t pick_pids(int32_t *pids, uint32_t max)
{
	uint32_t n = 1 + rnd_n(max);

	for (uint32_t i = 0; i < n; i++) {
		uint32_t r = rnd_n(10);

		if (r < 6)
			pids[i] = __atomic_load_n(&B->w[rnd_n(B->nworkers)].pid, __ATOMIC_RELAXED);
		else if (r < 7)
			pids[i] = exited_pid();
		else if (r < 8)
			pids[i] = 0;
		else
			pids[i] = 2 + rnd_n(32768);	/* stale or someone else */
	}
	pids[0] = pids[0] ? pids[0] : getpid() + 1;	/* never only zeros */
	return n;
}

static void op_export(struct worker *w)
{
	int32_t pids[SLOT_PIDS];
	struct obj *o = NULL;
	uint32_t n = 0;
	uint64_t t = 0;

	for (int k = 0, i0 = rnd_n(MAX_OBJS); k < MAX_OBJS && !o; k++) {
		struct obj *c = &w->o[(i0 + k) % MAX_OBJS];

		if (c->used && c->va && !c->imported && !c->exported)
			o = c;
	}
	if (!o)
		return;
	o->validated = rnd_n(2);
	/* a VMM value, an IPC key or a fabric handle */
	o->kind = (uint32_t[]){ 0, NPU_MEM_SHARE_IPC_KEY, NPU_MEM_SHARE_FABRIC }[rnd_n(3)];
	count(&B->ops[OP_EXPORT]);
	if (export_k(w->fd, o->handle,
		     (o->validated ? 0 : NPU_MEM_EXPORT_DISABLE_PID_VALIDATION) | o->kind,
		     &o->value)) {
		if (errno == ENOMEM) {
			count(&B->ex[EX_ENOMEM]);
			return;
		}
		lost("EXPORT of own handle %u: %s", o->handle, ename(errno));
		return;
	}
	o->exported = 1;
	/* A second EXPORT is refused. */
	{
		uint64_t v2;

		count(&B->ops[OP_EXPORT]);
		if (!export_k(w->fd, o->handle, o->kind, &v2))
			violation("second EXPORT of handle %u succeeded", o->handle);
		else if (errno != EEXIST)
			violation("second EXPORT: %s, want EEXIST", ename(errno));
	}
	if (o->validated && rnd_n(4)) {
		/* Whitelist the workers mostly, so that imports succeed. */
		n = pick_pids(pids, SLOT_PIDS);
		for (uint32_t i = 0; i < n; i++)
			if (rnd_n(2))
				pids[i] = __atomic_load_n(&B->w[rnd_n(B->nworkers)].pid, __ATOMIC_RELAXED);
		t = now_ns();
		count(&B->ops[OP_SET_PIDS]);
		if (set_pids_k(w->fd, o->value, o->kind, pids, n)) {
			if (errno == EINVAL) {	/* only zero pids: fine if so */
				int any = 0;

				for (uint32_t i = 0; i < n; i++)
					any |= pids[i] != 0;
				if (any)
					lost("SET_PIDS (%u pids) of own value: EINVAL", n);
			} else if (errno == ENOMEM) {
				count(&B->ex[EX_ENOMEM]);
			} else if (errno == EAGAIN) {	/* every lookup spends the budget's check */
				count(&B->ex[EX_BUDGET]);
			} else {
				lost("SET_PIDS of own value: %s", ename(errno));
			}
			n = 0;
		}
	}
	publish(w, o, pids, n, t);
}

static void op_set_pids(struct worker *w)
{
	struct obj *o = obj_pick(w, -1, 1);
	int32_t pids[SLOT_PIDS];
	uint32_t n;
	uint64_t t;
	struct slot *s;

	if (!o)
		return;
	n = pick_pids(pids, 4);
	count(&B->ops[OP_SET_PIDS]);
	if (!o->validated) {
		if (!set_pids_k(w->fd, o->value, o->kind, pids, n))
			violation("SET_PIDS of a value exported without validation succeeded");
		else if (errno != EPERM && errno != EAGAIN)
			violation("SET_PIDS of an unvalidated value: %s, want EPERM", ename(errno));
		return;
	}
	if (rnd_n(4) == 0) {	/* invalid pids: all or nothing, refused */
		pids[rnd_n(n)] = rnd_n(2) ? -1 - (int32_t)rnd_n(5) : NPU_MEM_PID_LIMIT + (int32_t)rnd_n(100);
		if (!set_pids_k(w->fd, o->value, o->kind, pids, n))
			violation("SET_PIDS with an invalid pid succeeded");
		else if (errno != EINVAL)
			violation("SET_PIDS with an invalid pid: %s, want EINVAL", ename(errno));
		return;
	}
	/*
	 * Off the board while the whitelist changes, back with a new generation:
	 * an importer whose copy is older cannot know what the whitelist was.
	 */
	s = o->slot >= 0 ? &B->slots[o->slot] : NULL;
	if (s)
		__atomic_store_n(&s->value, 0, __ATOMIC_SEQ_CST);
	t = now_ns();
	if (set_pids_k(w->fd, o->value, o->kind, pids, n)) {
		if (errno == ENOMEM)
			count(&B->ex[EX_ENOMEM]);
		else if (errno == EAGAIN)
			count(&B->ex[EX_BUDGET]);
		else
			lost("SET_PIDS of own value: %s", ename(errno));
		n = 0;
	}
	if (!s)
		return;
	s->gen++;
	for (uint32_t i = 0; i < n; i++) {
		int found = 0;

		if (!pids[i])
			continue;
		for (uint32_t j = 0; j < s->npids; j++)
			if (s->pids[j] == pids[i]) {
				s->pids_ns[j] = t;	/* refreshed */
				found = 1;
			}
		if (found)
			continue;
		if (s->npids == SLOT_PIDS) {
			s->overflow = 1;
			continue;
		}
		s->pids[s->npids] = pids[i];
		s->pids_ns[s->npids++] = t;
	}
	__atomic_store_n(&s->value, o->value, __ATOMIC_RELEASE);
}

/* SET_PIDS on a value of someone else: EACCES (or ENOENT if it has just died). */
static void op_set_pids_foreign(struct worker *w)
{
	struct slot s;
	int32_t pid = getpid();

	if (slot_pick(&s) < 0 || s.owner == w->pid)
		return;
	count(&B->ops[OP_SET_PIDS]);
	if (!set_pids_k(w->fd, s.value, s.kind, &pid, 1))
		violation("SET_PIDS on another process's value succeeded");
	else if (errno != EACCES && errno != ENOENT && errno != EAGAIN)
		violation("SET_PIDS on another process's value: %s, want EACCES", ename(errno));
}

/*
 * May this process import @s?  1 must, 0 must not, -1 either (entries set
 * about when it started, or more entries than the slot remembers).
 */
static int admitted(struct worker *w, const struct slot *s)
{
	int listed = 0;

	if (!s->validated)
		return 1;
	for (uint32_t j = 0; j < s->npids && j < SLOT_PIDS; j++)
		if (s->pids[j] == w->pid) {
			listed = 1;
			if (s->pids_ns[j] > w->start_ns)
				return 1;
		}
	if (listed || s->overflow)
		return -1;
	return 0;
}

/* Map and verify a freshly imported object, keep it. */
static void keep_import(struct worker *w, uint32_t h, uint64_t off, uint64_t value, uint32_t kind,
			uint64_t size, uint32_t s, uint32_t dev, const char *what)
{
	struct obj *o = obj_new(w);
	struct npu_mem_handle_info hi = { .handle = h };

	if (!o) {
		npu_free(w->fd, h);
		return;
	}
	o->handle = h;
	o->off = off;
	o->size = size;
	o->device = dev;
	o->imported = 1;
	o->kind = kind;
	o->value = value;
	o->seed = s;
	count(&B->ops[OP_INFO]);
	if (ioctl(w->fd, NPU_MEM_IOCTL_HANDLE_INFO, &hi))
		lost("HANDLE_INFO of an imported handle: %s", ename(errno));
	else if (hi.size != size || hi.shareable != value || !(hi.info_flags & NPU_MEM_INFO_IMPORTED))
		violation("HANDLE_INFO of an import: size %" PRIu64 " value %" PRIx64 " flags %x",
			  (uint64_t)hi.size, (uint64_t)hi.shareable, hi.info_flags);
	if (!obj_map(w, o, what))
		pattern_check(o->va, o->size, o->seed, what);
}

static void op_import(struct worker *w)
{
	struct slot s;
	int i = slot_pick(&s), must, ret, err, alive;
	uint32_t h = 0, dev = rnd_n(B->ndev);
	uint64_t off = 0;
	struct slot again;
	struct obj *mine;

	if (i < 0)
		return;
	mine = obj_by_value(w, s.value);
	if (mine) {
		/* Own value (ELOOP) or one already held (EEXIST). */
		int want = mine->imported ? EEXIST : ELOOP;

		count(&B->ops[mine->imported ? OP_IMPORT_DUP : OP_IMPORT_SELF]);
		if (!import_k(w->fd, s.value, s.kind, 0, dev, &h, &off)) {
			violation("IMPORT of a value %s succeeded", mine->imported ? "already held" : "exported by self");
			npu_free(w->fd, h);
		} else if (errno == ENOENT && mine->imported && s.kind == NPU_MEM_SHARE_IPC_KEY) {
			count(&B->ex[EX_GONE]);	/* its exporter withdrew the key meanwhile */
		} else if (errno != want && errno != EAGAIN) {
			violation("IMPORT of a value %s: %s, want %s",
				  mine->imported ? "already held" : "exported by self", ename(errno), ename(want));
		}
		return;
	}
	if (rnd_n(10) == 0) {
		/*
		 * As another kind it is not there (ENOENT, as a value that never
		 * was); a fabric handle of another instance has no link (EXDEV).
		 */
		int foreign = s.kind == NPU_MEM_SHARE_FABRIC && rnd_n(2);
		uint32_t k = foreign ? s.kind : other_kind(s.kind);

		count(&B->ops[OP_IMPORT_KIND]);
		if (!import_k(w->fd, s.value, k, foreign, dev, &h, &off)) {
			violation("IMPORT of value %" PRIx64 " (kind %#x) as kind %#x%s succeeded",
				  s.value, s.kind, k, foreign ? " from another instance" : "");
			npu_free(w->fd, h);
		} else if (foreign ? errno != EXDEV : errno != ENOENT && errno != EAGAIN) {
			violation("IMPORT of value %" PRIx64 " (kind %#x) as kind %#x%s: %s, want %s",
				  s.value, s.kind, k, foreign ? " from another instance" : "",
				  ename(errno), foreign ? "EXDEV" : "ENOENT");
		}
		return;
	}
	if (obj_count(w) >= MAX_OBJS)
		obj_free(w, obj_pick(w, -1, -1), 0);
	must = admitted(w, &s);
	__atomic_store_n(&B->slots[i].importing, w->pid, __ATOMIC_RELAXED);
	count(&B->ops[OP_IMPORT]);
	ret = import_k(w->fd, s.value, s.kind, 0, dev, &h, &off);
	err = errno;
	/* The whitelist changed meanwhile: either outcome is right. */
	if (!slot_read(i, &again) || again.gen != s.gen)
		must = -1;
	errno = err;
	if (!ret) {
		__atomic_store_n(&B->slots[i].importing, 0, __ATOMIC_RELAXED);
		if (!must)
			violation("IMPORT of value %" PRIx64 " by pid %d, not on its whitelist, succeeded",
				  s.value, w->pid);
		count(&B->imports_ok);
		keep_import(w, h, off, s.value, s.kind, s.size, s.seed, dev, "IMPORT");
		return;
	}
	__atomic_store_n(&B->slots[i].importing, 0, __ATOMIC_RELAXED);
	switch (errno) {
	case ENOMEM:
		count(&B->ex[EX_ENOMEM]);
		return;
	case EAGAIN:
		count(&B->ex[EX_BUDGET]);
		return;
	case EACCES:
		count(&B->ex[EX_EACCES]);
		if (must == 1)
			lost("IMPORT of value %" PRIx64 " by whitelisted pid %d: EACCES", s.value, w->pid);
		return;
	case ENOENT:
		/*
		 * Fine if the exporter let go or is being killed.  Its state is
		 * read first: the killer's reaper retracts a dead exporter's
		 * values before it clears "dying".
		 */
		alive = !__atomic_load_n(&B->w[s.worker].dying, __ATOMIC_SEQ_CST) &&
			__atomic_load_n(&B->w[s.worker].pid, __ATOMIC_SEQ_CST) == s.owner;
		if (alive && slot_read(i, &again) && again.value == s.value)
			lost("IMPORT of live value %" PRIx64 " (exporter %d alive): ENOENT", s.value, s.owner);
		else
			count(&B->ex[EX_GONE]);
		return;
	}
	lost("IMPORT of published value %" PRIx64 ": %s", s.value, ename(errno));
}

/* A value whose exporter let go: ENOENT, unless someone still holds it. */
static void op_import_dead(struct worker *w)
{
	struct dead d;
	uint32_t h;
	uint64_t off;

	if (!dead_read(rnd_n(NDEAD), &d) || obj_by_value(w, d.value))
		return;
	if (obj_count(w) >= MAX_OBJS)
		return;
	count(&B->ops[OP_IMPORT_DEAD]);
	if (!import_k(w->fd, d.value, d.kind, 0, 0, &h, &off)) {
		if (d.withdrawn)
			violation("IMPORT of IPC key %" PRIx64 " after its exporter's UNEXPORT or FREE "
				  "succeeded", d.value);
		count(&B->ex[EX_DEAD_REVIVED]);
		keep_import(w, h, off, d.value, d.kind, d.size, d.seed, 0, "IMPORT of a retracted value");
		return;
	}
	if (errno == EAGAIN)
		count(&B->ex[EX_BUDGET]);
	else if (d.withdrawn && errno != ENOENT)
		violation("IMPORT of a withdrawn IPC key: %s, want ENOENT", ename(errno));
	else if (errno == ENOMEM)
		count(&B->ex[EX_ENOMEM]);
	else if (errno == ENOENT || errno == EACCES || errno == ELOOP || errno == EEXIST)
		count(&B->ex[EX_GONE]);
	else
		violation("IMPORT of a retracted value: %s", ename(errno));
}

/* A few guesses a second per worker: the uid's budget stays for real imports. */
static void op_guess(struct worker *w)
{
	uint64_t t = now_ns(), v = rnd();
	uint32_t h;

	/* Now and then a burst past the budget: the uid's lookups then fail a while. */
	int n = rnd_n(100) ? 1 : 400;

	if (t - w->last_guess_ns < 500000000ull)
		return;
	w->last_guess_ns = t;
	for (int i = 0; i < n; i++, v = rnd()) {
		count(&B->ops[OP_IMPORT_GUESS]);
		if (!import_k(w->fd, v, (uint32_t[]){ 0, NPU_MEM_SHARE_IPC_KEY,
						      NPU_MEM_SHARE_FABRIC }[rnd_n(3)], 0,
			      rnd_n(B->ndev), &h, NULL)) {
			violation("IMPORT of guessed value %" PRIx64 " succeeded", v);
			npu_free(w->fd, h);
		} else if (errno == EAGAIN) {
			count(&B->ex[EX_BUDGET]);
		} else if (errno != ENOENT) {
			violation("IMPORT of a guessed value: %s, want ENOENT or EAGAIN", ename(errno));
		}
	}
}

static void op_free(struct worker *w)
{
	struct obj *o = obj_pick(w, -1, -1);

	if (o)
		obj_free(w, o, rnd_n(2));
}

static void op_map_toggle(struct worker *w)
{
	struct obj *o = obj_pick(w, -1, -1);

	if (!o)
		return;
	if (o->va) {
		obj_unmap(o);
	} else if (!obj_map(w, o, "mmap again")) {
		pattern_check(o->va, o->size, o->seed, "mmap again");
	}
	/* A mapping of the wrong size, or a private one, is refused. */
	if (rnd_n(4) == 0) {
		void *va = mmap(NULL, o->size + B->granule, PROT_READ, MAP_SHARED, w->fd, o->off);

		count(&B->ops[OP_MMAP]);
		if (va != MAP_FAILED) {
			violation("mmap of %" PRIu64 " MiB of a %" PRIu64 " MiB object succeeded",
				  (o->size + B->granule) / MIB, o->size / MIB);
			munmap(va, o->size + B->granule);
		} else if (errno != EINVAL) {
			violation("mmap of the wrong size: %s, want EINVAL", ename(errno));
		}
		va = mmap(NULL, o->size, PROT_READ, MAP_PRIVATE, w->fd, o->off);
		if (va != MAP_FAILED) {
			violation("MAP_PRIVATE mmap succeeded");
			munmap(va, o->size);
		}
	}
}

/* Partial munmap, partial mprotect, mremap: refused, the mapping intact. */
static void op_partial(struct worker *w)
{
	struct obj *o = obj_pick(w, 1, -1);
	char *va;
	void *r;

	if (!o)
		return;
	va = o->va;
	count(&B->ops[OP_PARTIAL]);
	switch (rnd_n(6)) {
	case 0:
		if (!munmap(va + PAGE * (1 + rnd_n(o->size / PAGE - 1)), PAGE)) {
			violation("partial munmap succeeded");
			obj_unmap(o);	/* what is left of it */
			return;
		}
		if (errno != EINVAL)
			violation("partial munmap: %s, want EINVAL", ename(errno));
		break;
	case 1:
		if (!munmap(va, o->size - PAGE)) {
			violation("munmap of the head of a mapping succeeded");
			munmap(va, o->size);
			o->va = NULL;
			return;
		}
		break;
	case 2:
		if (!mprotect(va + o->size / 2, PAGE, PROT_READ)) {
			violation("partial mprotect succeeded");
			mprotect(va, o->size, PROT_READ | PROT_WRITE);
		} else if (errno != EINVAL) {
			violation("partial mprotect: %s, want EINVAL", ename(errno));
		}
		break;
	case 3:
		/* The whole mapping may change protection. */
		if (mprotect(va, o->size, PROT_READ))
			violation("mprotect of a whole mapping: %s", ename(errno));
		pattern_check(va, o->size, o->seed, "read-only");
		if (mprotect(va, o->size, PROT_READ | PROT_WRITE))
			violation("mprotect back to read-write: %s", ename(errno));
		break;
	case 4:
		r = mremap(va, o->size, o->size + B->granule, MREMAP_MAYMOVE);
		if (r != MAP_FAILED) {
			violation("mremap growing a mapping succeeded");
			o->va = r;
			obj_unmap(o);
			return;
		}
		break;
	default:
		/* A move: to a fresh reservation. */
		r = mmap(NULL, o->size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (r == MAP_FAILED)
			return;
		if (mremap(va, o->size, o->size, MREMAP_MAYMOVE | MREMAP_FIXED, r) != MAP_FAILED) {
			violation("mremap moving a mapping succeeded");
			o->va = r;
			obj_unmap(o);
			return;
		}
		if (errno != EPERM)
			violation("mremap move: %s, want EPERM", ename(errno));
		munmap(r, o->size);
	}
	pattern_check(va, o->size, o->seed, "after a refused split or move");
}

#ifndef MADV_COLD
#define MADV_COLD 20
#endif
#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif
#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif
#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25
#endif

static const int advices[] = {
	MADV_NORMAL, MADV_RANDOM, MADV_SEQUENTIAL, MADV_WILLNEED, MADV_DONTNEED, MADV_FREE,
	MADV_REMOVE, MADV_DONTFORK, MADV_DOFORK, MADV_MERGEABLE, MADV_UNMERGEABLE,
	MADV_HUGEPAGE, MADV_NOHUGEPAGE, MADV_DONTDUMP, MADV_DODUMP, MADV_WIPEONFORK,
	MADV_KEEPONFORK, MADV_COLD, MADV_PAGEOUT, MADV_POPULATE_READ, MADV_POPULATE_WRITE,
	MADV_COLLAPSE,
};

static void op_madvise(struct worker *w)
{
	struct obj *o = obj_pick(w, 1, -1);
	int adv = advices[rnd_n(ARRAY_SIZE(advices))];
	uint64_t off = 0, len;

	if (!o)
		return;
	len = o->size;
	if (rnd_n(3) == 0) {	/* a part of it */
		off = PAGE * rnd_n(o->size / PAGE);
		len = PAGE * (1 + rnd_n((o->size - off) / PAGE));
	}
	count(&B->ops[OP_MADVISE]);
	if (madvise((char *)o->va + off, len, adv))
		count(&B->ex[EX_MADV_FAIL]);
	/* Whatever it did, the memory is the device's: still the object's data. */
	pattern_check(o->va, o->size, o->seed, "after madvise");
}

/*
 * fork: the child inherits no mapping (VM_DONTCOPY, even after MADV_DOFORK)
 * and cannot use the inherited fd; with a fd of its own it may import.
 */
static void op_fork(struct worker *w)
{
	struct obj *o = obj_pick(w, 1, -1);
	struct slot s;
	int have = slot_pick(&s) >= 0 && s.owner != w->pid;
	pid_t c;
	int st;

	if (o)
		madvise(o->va, o->size, MADV_DOFORK);
	count(&B->ops[OP_FORK]);
	c = fork();
	if (c < 0)
		return;
	if (c == 0) {
		unsigned char vec;
		int fd, bad = 0;
		uint32_t h;
		uint64_t off;
		void *va;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		for (int i = 0; i < MAX_OBJS; i++)
			if (w->o[i].used && w->o[i].va &&
			    (!mincore(w->o[i].va, PAGE, &vec) || errno != ENOMEM)) {
				violation("fork: the child has its parent's mapping");
				bad = 1;
			}
		if (npu_bare_tgid(w->fd) >= 0 || errno != EBADFD) {
			violation("fork: the inherited fd works in the child (%s)", ename(errno));
			bad = 1;
		}
		if (have && !s.validated && rnd_n(2)) {
			fd = npu_open();
			va = fd >= 0 && !import_k(fd, s.value, s.kind, 0, 0, &h, &off) ?
			     npu_map(fd, off, s.size) : NULL;
			if (va && pattern_check(va, s.size, s.seed, "IMPORT in a fork child"))
				bad = 1;
			/* exits holding it all: the exit releases it */
		}
		_exit(bad);
	}
	/* Its findings are on the board; a crash is one more. */
	if (waitpid(c, &st, 0) == c && WIFSIGNALED(st))
		lost("fork child: signal %d", WTERMSIG(st));
	if (o && o->used && o->va)
		pattern_check(o->va, o->size, o->seed, "parent after fork");
}

/*
 * execve: a child execs this program with a fd left open across exec; the new
 * image must get EBADFD on it, and may import a value with a fd of its own.
 */
static void op_exec(struct worker *w)
{
	struct slot s;
	char a_fd[16], a_val[32], a_seed[16], a_size[32];
	pid_t c;
	int st;

	/* the exec'd image imports a VMM value (no kind to pass) */
	if (slot_pick(&s) < 0 || s.validated || s.owner == w->pid || s.kind)
		s.value = 0;
	count(&B->ops[OP_EXEC]);
	c = fork();
	if (c < 0)
		return;
	if (c == 0) {
		int fd = open("/dev/" NPU_MEM_DEVICE_NAME, O_RDWR);	/* no O_CLOEXEC */
		uint32_t h;
		uint64_t off;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (fd < 0 || npu_alloc(fd, 0, B->granule, &h, &off))
			_exit(0);	/* nothing to test: device full */
		snprintf(a_fd, sizeof(a_fd), "%d", fd);
		snprintf(a_val, sizeof(a_val), "%" PRIu64, s.value);
		snprintf(a_seed, sizeof(a_seed), "%u", s.seed);
		snprintf(a_size, sizeof(a_size), "%" PRIu64, s.size);
		execl("/proc/self/exe", "npu-mem-stress", "--exec-child", a_fd, a_val, a_seed,
		      a_size, (char *)NULL);
		_exit(2);
	}
	waitpid(c, &st, 0);
	if (!WIFEXITED(st) || WEXITSTATUS(st) > 1)
		lost("exec child: status %#x", st);
	else if (WEXITSTATUS(st) == 1)
		violation("exec child: the fd inherited across execve works");
}

/* The exec'd image: the inherited fd is dead; a new one imports and checks. */
static int exec_child(char **argv)
{
	int fd = atoi(argv[0]), nfd;
	uint64_t value = strtoull(argv[1], NULL, 10), size = strtoull(argv[3], NULL, 10);
	uint32_t s = strtoul(argv[2], NULL, 10), h;
	struct npu_mem_version v = { 0 };
	uint64_t off;
	void *va;

	if (!ioctl(fd, NPU_MEM_IOCTL_VERSION, &v) || errno != EBADFD)
		return 1;
	if (!npu_alloc(fd, 0, NPU_MEM_GRANULARITY, &h, &off) || errno != EBADFD)
		return 1;
	if (!value)
		return 0;
	nfd = npu_open();
	if (nfd < 0 || npu_import(nfd, value, 0, &h, &off))
		return 0;	/* gone, or no memory: fine */
	va = npu_map(nfd, off, size);
	if (!va)
		return 0;
	for (uint64_t p = 0; p < size / PAGE; p++) {
		const uint32_t *wd = (const uint32_t *)((const char *)va + p * PAGE);

		for (uint32_t i = 0; i < 16; i++)
			if (wd[i] != pat(s, p, i)) {
				fprintf(stderr, "stress: LOST: exec child: pattern mismatch at page %" PRIu64 "\n", p);
				return 3;
			}
	}
	return 0;
}

/* close with mappings alive: they keep their memory; then start afresh. */
static void op_close(struct worker *w)
{
	count(&B->ops[OP_CLOSE]);
	for (int i = 0; i < MAX_OBJS; i++)
		if (w->o[i].used)
			obj_unpublish(&w->o[i]);
	close(w->fd);
	for (int i = 0; i < MAX_OBJS; i++) {
		struct obj *o = &w->o[i];

		if (!o->used)
			continue;
		if (o->va) {
			pattern_check(o->va, o->size, o->seed, "after close");
			obj_unmap(o);
		}
		o->used = 0;
	}
	w->fd = npu_open();
	if (w->fd < 0) {
		lost("open /dev/npu_mem: %s", ename(errno));
		_exit(4);
	}
}

static void op_check(struct worker *w)
{
	struct obj *o = obj_pick(w, 1, -1);
	struct npu_mem_device_info info = { .device = rnd_n(B->ndev) };

	/* Mostly an import of an IPC key its exporter has withdrawn, if we hold one. */
	for (int i = 0; i < MAX_OBJS && rnd_n(4); i++) {
		struct obj *c = &w->o[i];

		if (c->used && c->va && c->imported && c->kind == NPU_MEM_SHARE_IPC_KEY &&
		    withdrawn_key(c->value)) {
			o = c;
			break;
		}
	}
	count(&B->ops[OP_CHECK]);
	if (o && o->imported && o->kind == NPU_MEM_SHARE_IPC_KEY && withdrawn_key(o->value)) {
		/* the importer keeps the memory after the key is gone */
		count(&B->ops[OP_CHECK_DEAD_KEY]);
		pattern_check(o->va, o->size, o->seed, "import of a withdrawn IPC key");
	} else if (o) {
		pattern_check(o->va, o->size, o->seed, "re-check");
	}
	count(&B->ops[OP_INFO]);
	if (ioctl(w->fd, NPU_MEM_IOCTL_DEVICE_INFO, &info))
		lost("DEVICE_INFO: %s", ename(errno));
	else if (info.free > info.total || info.total != B->total[info.device])
		violation("DEVICE_INFO: free %" PRIu64 " of total %" PRIu64, (uint64_t)info.free,
			  (uint64_t)info.total);
}

/*
 * UNEXPORT: of our IPC key it succeeds (off the board first, among the dead
 * values after: importers then must get ENOENT, and keep their memory), and
 * the handle may be exported again; of anything else it is refused.
 */
static void op_unexport(struct worker *w)
{
	struct obj *o = obj_pick(w, -1, rnd_n(4) ? 1 : 0);
	int want;

	if (!o)
		return;
	count(&B->ops[OP_UNEXPORT]);
	if (!own_key(o)) {
		want = o->imported ? EPERM : !o->exported ? ENOENT : EINVAL;
		if (!unexport(w->fd, o->handle))
			violation("UNEXPORT of a handle %s succeeded", o->imported ? "imported" :
				  !o->exported ? "not exported" : "exported as no IPC key");
		else if (errno != want)
			violation("UNEXPORT of a handle %s: %s, want %s", o->imported ? "imported" :
				  !o->exported ? "not exported" : "exported as no IPC key",
				  ename(errno), ename(want));
		return;
	}
	if (o->slot >= 0)
		slot_retract(o->slot, 0);
	o->slot = -1;
	if (unexport(w->fd, o->handle)) {
		lost("UNEXPORT of own IPC key: %s", ename(errno));
		return;
	}
	key_gone(w, o->value, "UNEXPORT");
	dead_push(o->value, o->size, o->seed, o->kind, 1);
	o->exported = 0;
	o->value = 0;
	count(&B->ops[OP_UNEXPORT]);
	if (!unexport(w->fd, o->handle))
		violation("a second UNEXPORT succeeded");
	else if (errno != ENOENT)
		violation("a second UNEXPORT: %s, want ENOENT", ename(errno));
}

/* ---- races on one fd (multi-threaded workers) */

struct race {
	struct worker *w;
	pthread_barrier_t bar;
	struct obj o;
	uint64_t value;
	uint32_t kind, dev;
	int res[3], err[3];
	uint32_t h[3];
	uint64_t off[3];
	void *va;
};

static void *race_free(void *p)
{
	struct race *r = p;

	pthread_barrier_wait(&r->bar);
	r->res[0] = npu_free(r->w->fd, r->o.handle);
	r->err[0] = errno;
	return NULL;
}

static void *race_map(void *p)
{
	struct race *r = p;

	pthread_barrier_wait(&r->bar);
	r->va = mmap(NULL, r->o.size, PROT_READ, MAP_SHARED, r->w->fd, r->o.off);
	r->err[1] = errno;
	return NULL;
}

static void *race_unmap(void *p)
{
	struct race *r = p;

	pthread_barrier_wait(&r->bar);
	r->res[2] = munmap(r->o.va, r->o.size);
	r->err[2] = errno;
	return NULL;
}

struct imp_arg {
	struct race *r;
	int i;
};

static void *race_import_one(void *p)
{
	struct imp_arg *a = p;
	struct race *r = a->r;

	pthread_barrier_wait(&r->bar);
	r->res[a->i] = import_k(r->w->fd, r->value, r->kind, 0, r->dev, &r->h[a->i], &r->off[a->i]);
	r->err[a->i] = errno;
	return NULL;
}

/* FREE against mmap and munmap of the same object. */
static void race_free_map(struct worker *w)
{
	struct obj *o = obj_pick(w, -1, -1);
	struct race r = { .w = w };
	pthread_t t[3];
	int n = 0;

	if (!o)
		return;
	obj_unpublish(o);
	r.o = *o;
	o->used = 0;	/* the threads own it now */
	pthread_barrier_init(&r.bar, NULL, r.o.va ? 3 : 2);
	count(&B->ops[OP_RACE]);
	count(&B->ops[OP_FREE]);
	pthread_create(&t[n++], NULL, race_free, &r);
	pthread_create(&t[n++], NULL, race_map, &r);
	if (r.o.va)
		pthread_create(&t[n++], NULL, race_unmap, &r);
	for (int i = 0; i < n; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&r.bar);
	if (r.res[0])
		lost("FREE racing mmap: %s", ename(r.err[0]));
	if (r.o.va && r.res[2])
		lost("munmap racing FREE: %s", ename(r.err[2]));
	if (r.va != MAP_FAILED) {
		pattern_check(r.va, r.o.size, r.o.seed, "mapped while being freed");
		munmap(r.va, r.o.size);
	} else if (r.err[1] == ENOMEM || r.err[1] == EAGAIN) {
		count(&B->ex[EX_ENOMEM]);
	} else if (r.err[1] != ENOENT) {
		lost("mmap racing FREE: %s", ename(r.err[1]));
	}
}

/* Two IMPORTs of one value on one fd: one handle at most. */
static void race_import2(struct worker *w)
{
	struct race r = { .w = w };
	struct imp_arg a[2] = { { &r, 0 }, { &r, 1 } };
	pthread_t t[2];
	struct slot s;
	int ok = 0;

	if (slot_pick(&s) < 0 || obj_by_value(w, s.value) || admitted(w, &s) != 1 ||
	    obj_count(w) >= MAX_OBJS)
		return;
	r.value = s.value;
	r.kind = s.kind;
	r.dev = rnd_n(B->ndev);
	pthread_barrier_init(&r.bar, NULL, 2);
	count(&B->ops[OP_RACE]);
	countn(&B->ops[OP_IMPORT], 2);
	for (int i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, race_import_one, &a[i]);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&r.bar);
	for (int i = 0; i < 2; i++) {
		if (r.res[i] == 0) {
			if (ok++)
				violation("two IMPORTs of one value on one fd both succeeded");
			keep_import(w, r.h[i], r.off[i], s.value, s.kind, s.size, s.seed, r.dev,
				    "IMPORT racing IMPORT");
		} else if (r.err[i] == EEXIST) {
			count(&B->ex[EX_EEXIST]);
		} else if (r.err[i] == ENOENT || r.err[i] == EACCES) {
			count(&B->ex[EX_GONE]);
		} else if (r.err[i] == EAGAIN) {
			count(&B->ex[EX_BUDGET]);
		} else if (r.err[i] == ENOMEM) {
			count(&B->ex[EX_ENOMEM]);
		} else {
			lost("IMPORT racing IMPORT: %s", ename(r.err[i]));
		}
	}
}

/* ---- the worker */

static void worker_cleanup(struct worker *w)
{
	for (int i = 0; i < MAX_OBJS; i++)
		if (w->o[i].used)
			obj_unpublish(&w->o[i]);
	/* Half of them just exit: the exit has to release it all. */
	if (rnd_n(2))
		for (int i = 0; i < MAX_OBJS; i++)
			if (w->o[i].used)
				obj_free(w, &w->o[i], rnd_n(2));
}

static void worker_main(int idx, int gen)
{
	struct worker w = { .idx = idx };
	uint32_t r;

	my_worker = idx;
	w.pid = getpid();
	w.threads = idx % 3 == 2;
	w.uid = idx % 2 ? USER_UID : 0;
	w.cg_b = idx % 4 >= 2;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	/* Not the OOM killer's choice: the hog is. */
	cgroup_write("/proc/self/oom_score_adj", "-500");
	if (cgroup_enter(w.cg_b ? CG_B : CG_A, 0) && verbose)
		dprintf(2, "stress: worker %d: no memory cgroup (%s)\n", idx, strerror(errno));
	if (w.uid && npu_drop_to_user(w.uid)) {
		lost("worker %d cannot become uid %d: %s", idx, w.uid, strerror(errno));
		_exit(4);
	}
	rng_seed(seed, ((uint64_t)idx << 32) | (uint32_t)gen);
	w.start_ns = now_ns();
	B->w[idx].start_ns = w.start_ns;
	__atomic_store_n(&B->w[idx].pid, w.pid, __ATOMIC_RELEASE);
	w.fd = npu_open();
	if (w.fd < 0) {
		lost("worker %d: open /dev/npu_mem: %s", idx, strerror(errno));
		_exit(4);
	}
	while (!__atomic_load_n(&B->stop, __ATOMIC_RELAXED)) {
		r = rnd_n(1000);
		if (r < 150)
			op_alloc(&w);
		else if (r < 170)
			op_alloc_bad(&w);
		else if (r < 270)
			op_export(&w);
		else if (r < 310)
			op_set_pids(&w);
		else if (r < 320)
			op_set_pids_foreign(&w);
		else if (r < 500)
			op_import(&w);
		else if (r < 520)
			op_import_dead(&w);
		else if (r < 540)
			op_guess(&w);
		else if (r < 640)
			op_free(&w);
		else if (r < 700)
			op_map_toggle(&w);
		else if (r < 760)
			op_partial(&w);
		else if (r < 840)
			op_madvise(&w);
		else if (r < 860)
			op_fork(&w);
		else if (r < 868)
			op_exec(&w);
		else if (r < 873)
			op_close(&w);
		else if (r < 930)
			op_check(&w);
		else if (r < 950)
			op_unexport(&w);
		else if (w.threads && r < 975)
			race_free_map(&w);
		else if (w.threads)
			race_import2(&w);
	}
	worker_cleanup(&w);
	_exit(0);
}

/* ---- the helpers: hog, dumper, watch */

static uint64_t mem_available(void)
{
	char buf[4096], *p;
	int fd = open("/proc/meminfo", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);

	if (fd >= 0)
		close(fd);
	if (n <= 0)
		return UINT64_MAX;
	buf[n] = 0;
	p = strstr(buf, "MemAvailable:");
	return p ? strtoull(p + 13, NULL, 10) * 1024 : UINT64_MAX;
}

/* Every 4-12 s take host memory until less than 64 MiB is available, hold it 2-4 s. */
static void hog_main(void)
{
	enum { CHUNK = 8 << 20, MAXC = 256 };
	void *c[MAXC];

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	cgroup_write("/proc/self/oom_score_adj", "1000");
	rng_seed(seed, 0xb0b);
	while (!__atomic_load_n(&B->stop, __ATOMIC_RELAXED)) {
		int n = 0;

		msleep(4000 + rnd_n(8000));
		if (__atomic_load_n(&B->stop, __ATOMIC_RELAXED))
			break;
		count(&B->hog_phases);
		if (verbose)
			printf("# stress: hog: %" PRIu64 " MiB available\n", mem_available() / MIB);
		while (n < MAXC && mem_available() > 64 * MIB) {
			c[n] = mmap(NULL, CHUNK, PROT_READ | PROT_WRITE,
				    MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
			if (c[n] == MAP_FAILED)
				break;
			n++;
			if ((uint64_t)n * 8 > __atomic_load_n(&B->hog_peak_mb, __ATOMIC_RELAXED))
				__atomic_store_n(&B->hog_peak_mb, (uint64_t)n * 8, __ATOMIC_RELAXED);
		}
		msleep(2000 + rnd_n(2000));
		while (n)
			munmap(c[--n], CHUNK);
	}
	_exit(0);
}

/* Run npu-mem with @args (stdout to @out_fd, or /dev/null) as @uid; its exit status. */
static int run_tool(const char *const *args, int out_fd, uid_t uid)
{
	const char *argv[8] = { npu_mem_bin() };
	pid_t c;
	int st, i;

	for (i = 0; args[i] && i < 6; i++)
		argv[i + 1] = args[i];
	argv[i + 1] = NULL;
	c = fork();
	if (c < 0)
		return -1;
	if (c == 0) {
		int null = open("/dev/null", O_RDWR);

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(out_fd >= 0 ? out_fd : null, 1);
		if (uid && npu_drop_to_user(uid))
			_exit(126);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	if (waitpid(c, &st, 0) != c)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void dumper_main(void)
{
	static const char *const cmds[][3] = {
		{ "--json", "objects", NULL }, { "--json", "devices", NULL },
		{ "--json", "procs", NULL }, { "info", NULL, NULL }, { "objects", NULL, NULL },
	};

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	cgroup_write("/proc/self/oom_score_adj", "-500");
	rng_seed(seed, 0xd0d);
	while (!__atomic_load_n(&B->stop, __ATOMIC_RELAXED)) {
		int k = rnd_n(5), rc = run_tool(cmds[k], -1, rnd_n(2) ? USER_UID : 0);

		count(&B->dumps);
		if (rc) {
			count(&B->dumps_failed);
			lost("npu-mem %s %s: exit status %d", cmds[k][0], cmds[k][1] ? cmds[k][1] : "", rc);
		}
		msleep(300 + rnd_n(400));
	}
	_exit(0);
}

static pid_t start_watch(int *rfd)
{
	int p[2];
	pid_t c;

	if (pipe2(p, O_CLOEXEC))
		return -1;
	c = fork();
	if (c == 0) {
		const char *argv[] = { npu_mem_bin(), "--json", "--quiet", "watch", NULL };

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(p[1], 1);
		dup2(p[1], 2);	/* its notes of missed events: counted, not shown */
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(p[1]);
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	*rfd = p[0];
	return c;
}

/* ---- main: spawn, kill, respawn, then the end checks */

static pid_t spawn(int idx, int gen, void (*fn)(void))
{
	pid_t c = fork();

	if (c == 0) {
		if (fn)
			fn();
		worker_main(idx, gen);
	}
	return c;
}

static uint64_t watch_events, watch_notes;

/* Count the JSON lines (events) and the others (notes of missed events). */
static void drain_watch(int fd)
{
	static int line_start = 1, is_event;
	char buf[65536];
	ssize_t n;

	while ((n = read(fd, buf, sizeof(buf))) > 0)
		for (ssize_t i = 0; i < n; i++) {
			if (line_start)
				is_event = buf[i] == '{';
			line_start = buf[i] == '\n';
			if (line_start) {
				watch_events += is_event;
				watch_notes += !is_event;
			}
		}
}

/* Run npu-mem @args as root and capture its stdout into @buf. */
static int capture_tool(const char *const *args, char *buf, size_t size)
{
	char path[] = "/tmp/npu-mem-stress.XXXXXX";
	int fd = mkstemp(path), rc;
	ssize_t n;

	if (fd < 0)
		return -1;
	unlink(path);
	rc = run_tool(args, fd, 0);
	n = pread(fd, buf, size - 1, 0);
	buf[n < 0 ? 0 : n] = 0;
	close(fd);
	return rc;
}

/* Sum of the numbers that follow @key in JSON text @s. */
static uint64_t json_sum(const char *s, const char *key)
{
	uint64_t sum = 0;
	size_t k = strlen(key);

	while ((s = strstr(s, key))) {
		s += k;
		sum += strtoull(s, NULL, 10);
	}
	return sum;
}

static char *read_modparams(void)
{
	static char params[1024];
	int fd = open("/modparams", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? 0 : read(fd, params, sizeof(params) - 1);

	if (fd >= 0)
		close(fd);
	params[n > 0 ? n : 0] = 0;
	for (char *p = params; *p; p++)
		if (*p == '\n')
			*p = ' ';
	return params;
}

/* rmmod, then insmod with the boot's parameters and the node's owner and mode. */
static int reload_module(const char *ko, char *why, size_t why_size)
{
	struct stat st;
	int have_node = !stat("/dev/" NPU_MEM_DEVICE_NAME, &st), fd;

	if (syscall(SYS_delete_module, "npu_mem", O_NONBLOCK)) {
		snprintf(why, why_size, "rmmod npu_mem: %s", strerror(errno));
		return -1;
	}
	fd = open(ko, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || syscall(SYS_finit_module, fd, read_modparams(), 0)) {
		snprintf(why, why_size, "insmod %s: %s", ko, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -2;
	}
	close(fd);
	for (int i = 0; i < 100 && access("/dev/" NPU_MEM_DEVICE_NAME, F_OK); i++)
		msleep(50);
	if (have_node && (chown("/dev/" NPU_MEM_DEVICE_NAME, st.st_uid, st.st_gid) ||
			  chmod("/dev/" NPU_MEM_DEVICE_NAME, st.st_mode & 07777))) {
		snprintf(why, why_size, "restore /dev/npu_mem's owner and mode: %s", strerror(errno));
		return -2;
	}
	return 0;
}

/* kmemleak's reports that name npu_mem (after a scan), or -1 without kmemleak. */
static int kmemleak_npu(void)
{
	const char *kml = "/sys/kernel/debug/kmemleak";
	static char buf[1 << 20];
	int fd = open(kml, O_RDWR | O_CLOEXEC), n = 0;
	ssize_t len, got = 0;
	char *p;

	if (fd < 0)
		return -1;
	if (write(fd, "scan", 4) != 4) {
		close(fd);
		return -1;
	}
	close(fd);
	fd = open(kml, O_RDONLY | O_CLOEXEC);
	while (fd >= 0 && (len = read(fd, buf + got, sizeof(buf) - 1 - got)) > 0)
		got += len;
	if (fd >= 0)
		close(fd);
	buf[got] = 0;
	/* Each report starts "unreferenced object"; count those whose text names us. */
	for (p = strstr(buf, "unreferenced object"); p;) {
		char *next = strstr(p + 1, "unreferenced object");

		if (next)
			*next = 0;
		if (strstr(p, "npu_mem")) {
			n++;
			fprintf(stderr, "%s\n", p);
		}
		if (next)
			*next = 'u';
		p = next;
	}
	return n;
}

static const char *const op_names[NR_OPS] = {
	"alloc", "alloc-bad", "free", "export", "set-pids", "import", "import-dup",
	"import-self", "import-dead", "import-guess", "mmap", "munmap", "split/move",
	"madvise", "fork", "exec", "close", "check", "info", "race", "unexport",
	"import-wrong-kind", "check-after-key-died",
};

static const char *const ex_names[NR_EX] = {
	"ENOMEM", "budget EAGAIN", "value gone", "whitelist EACCES", "race EEXIST",
	"madvise refused", "retracted value still held",
};

static void usage(int rc)
{
	fprintf(rc ? stderr : stdout,
		"usage: npu-mem-stress [--duration S] [--workers K] [--seed N] [--verbose]\n"
		"                      [--no-reload] [--module PATH]\n"
		"Stress /dev/npu_mem with K processes (half of them uid %d) and a killer for\n"
		"S seconds (default 600), then check that nothing was lost or leaked.  As root.\n",
		USER_UID);
	exit(rc);
}

/* What the main process keeps: its children and the run's own counters. */
static struct run {
	unsigned int duration, nworkers;
	pid_t wpid[MAX_WORKERS], hog, dumper, watch;
	int wgen[MAX_WORKERS], watch_fd;
	unsigned int kills, hot_kills, respawns, unexpected, hung, hog_deaths;
	unsigned int samples, full_samples;
	int failed_watch;
	uint64_t ops;
	double secs, stop_secs;
} run = { .duration = 600, .nworkers = 8, .watch_fd = -1 };

/* A child has ended during the run: respawn what must go on. */
static void reaped(pid_t p, int st)
{
	unsigned int i;

	if (p == run.hog) {	/* the OOM killer's choice */
		run.hog_deaths++;
		if (verbose)
			printf("# stress: hog died (%#x), respawned\n", st);
		run.hog = spawn(0, 0, hog_main);
		return;
	}
	if (p == run.watch) {
		lost("npu-mem watch ended: status %#x", st);
		run.failed_watch = 1;
		run.watch = -1;
		return;
	}
	if (p == run.dumper) {
		lost("the dumper ended: status %#x", st);
		run.dumper = -1;
		return;
	}
	for (i = 0; i < run.nworkers && run.wpid[i] != p; i++)
		;
	if (i == run.nworkers)
		return;		/* an orphaned grandchild */
	if (!B->w[i].dying) {
		run.unexpected++;
		lost("worker %u (pid %d) died: %s %d", i, p, WIFSIGNALED(st) ? "signal" : "exit status",
		     WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
	}
	/* Its values off the board before "dying" is cleared: importers rely on it. */
	for (int k = 0; k < NSLOTS; k++)
		if (__atomic_load_n(&B->slots[k].owner, __ATOMIC_ACQUIRE) == p)
			slot_retract(k, 1);
	__atomic_store_n(&B->w[i].pid, 0, __ATOMIC_SEQ_CST);
	__atomic_store_n(&B->w[i].dying, 0, __ATOMIC_SEQ_CST);
	run.wpid[i] = spawn(i, ++run.wgen[i], NULL);
	__atomic_store_n(&B->w[i].pid, run.wpid[i], __ATOMIC_SEQ_CST);
	run.respawns++;
}

/* SIGKILL a worker: a third of the time the exporter of a value being imported. */
static void kill_one(void)
{
	int victim = -1;

	if (rnd_n(3) == 0)
		for (int k = 0; k < NSLOTS && victim < 0; k++) {
			int32_t owner = __atomic_load_n(&B->slots[k].owner, __ATOMIC_RELAXED);

			if (!owner || !__atomic_load_n(&B->slots[k].importing, __ATOMIC_RELAXED))
				continue;
			for (unsigned int i = 0; i < run.nworkers; i++)
				if (run.wpid[i] == owner)
					victim = i;
		}
	if (victim >= 0)
		run.hot_kills++;
	else
		victim = rnd_n(run.nworkers);
	if (B->w[victim].dying)
		return;
	__atomic_store_n(&B->w[victim].dying, 1, __ATOMIC_SEQ_CST);
	kill(run.wpid[victim], SIGKILL);
	run.kills++;
	if (verbose)
		printf("# stress: killed worker %d (pid %d)\n", victim, run.wpid[victim]);
}

/* The run: reap and respawn, kill, switch device-full phases, sample the devices. */
static void supervise(void)
{
	uint64_t t0 = now_ns(), t_end = t0 + run.duration * 1000000000ull;
	uint64_t next_kill = t0 + 300000000ull + rnd_n(1200) * 1000000ull;
	uint64_t next_phase = t0 + 10000000000ull, next_sample = t0;
	int fd = npu_open();

	while (now_ns() < t_end) {
		struct pollfd pfd = { .fd = run.watch_fd, .events = POLLIN };
		uint64_t t = now_ns();
		int st;
		pid_t p;

		poll(&pfd, 1, 20);
		drain_watch(run.watch_fd);
		while ((p = waitpid(-1, &st, WNOHANG)) > 0)
			reaped(p, st);
		if (t >= next_kill) {
			kill_one();
			next_kill = t + 300000000ull + rnd_n(1200) * 1000000ull;
		}
		if (t >= next_phase) {
			B->full = !B->full;
			next_phase = t + (B->full ? 6 : 14) * 1000000000ull;
			if (verbose)
				printf("# stress: device-full phase %s\n", B->full ? "on" : "off");
		}
		if (t >= next_sample && fd >= 0) {
			for (uint32_t d = 0; d < B->ndev; d++) {
				run.samples++;
				run.full_samples += dev_free(fd, d) < B->total[d] / 8;
			}
			next_sample = t + 500000000ull;
		}
	}
	if (fd >= 0)
		close(fd);
	run.secs = (now_ns() - t0) / 1e9;
}

/* The end: workers clean up (or not) and exit, the helpers stop, all are reaped. */
static void stop_all(void)
{
	uint64_t t = now_ns(), deadline = t + 120000000000ull;
	unsigned int left = run.nworkers;
	int st;
	pid_t p;

	__atomic_store_n(&B->stop, 1, __ATOMIC_RELEASE);
	for (int i = 0; i < NR_OPS; i++)
		run.ops += B->ops[i];
	while (left && now_ns() < deadline) {
		drain_watch(run.watch_fd);
		p = waitpid(-1, &st, WNOHANG);
		if (p <= 0) {
			msleep(20);
			continue;
		}
		if (p == run.dumper)
			run.dumper = -1;
		if (p == run.hog)
			run.hog = -1;
		for (unsigned int i = 0; i < run.nworkers; i++) {
			if (run.wpid[i] != p)
				continue;
			run.wpid[i] = 0;
			left--;
			if (!B->w[i].dying && (!WIFEXITED(st) || WEXITSTATUS(st))) {
				run.unexpected++;
				lost("worker %u (pid %d) ended with status %#x", i, p, st);
			}
		}
	}
	for (unsigned int i = 0; i < run.nworkers; i++)
		if (run.wpid[i]) {
			run.hung++;
			lost("worker %u (pid %d) did not stop within 120 s", i, run.wpid[i]);
			kill(run.wpid[i], SIGKILL);
		}
	if (run.hog > 0)
		kill(run.hog, SIGKILL);
	if (run.watch > 0) {
		msleep(500);	/* the last events */
		drain_watch(run.watch_fd);
		kill(run.watch, SIGTERM);
		if (waitpid(run.watch, &st, 0) == run.watch && !(WIFEXITED(st) && !WEXITSTATUS(st))) {
			lost("npu-mem watch: status %#x after SIGTERM", st);
			run.failed_watch = 1;
		}
		drain_watch(run.watch_fd);
	}
	/* Every process gone: grandchildren too (we are their subreaper). */
	while (waitpid(-1, &st, 0) > 0 || errno == EINTR)
		;
	run.stop_secs = (now_ns() - t) / 1e9;
}

struct leaks {
	uint64_t not_free, objs, vals, ctxs;
	int kml, reload;	/* kmemleak reports (-1: none), reload_module()'s result */
	char why[256];
	uint64_t total;
};

/* With every process gone: device memory, netlink's view, kmemleak, the module. */
static void leak_checks(struct leaks *l, int reload, const char *ko)
{
	static const char *const a_objs[] = { "--json", "objects", NULL };
	static const char *const a_procs[] = { "--json", "procs", NULL };
	static const char *const a_devs[] = { "--json", "devices", NULL };
	static char buf[1 << 16];
	int fd = npu_open(), rc;

	/* Releases run as the processes die; give stragglers a few seconds. */
	for (int tries = 0; tries < 100; tries++) {
		l->not_free = 0;
		for (uint32_t d = 0; d < B->ndev; d++)
			l->not_free += B->total[d] - dev_free(fd, d);
		if (!l->not_free)
			break;
		msleep(100);
	}
	close(fd);
	rc = capture_tool(a_objs, buf, sizeof(buf));
	l->objs = rc ? 1 : (uint64_t)count_occ(buf, "\"id\":");
	if (l->objs)
		printf("# stress: objects left: %s\n", buf);
	rc = capture_tool(a_procs, buf, sizeof(buf));
	l->ctxs = rc ? 1 : (uint64_t)count_occ(buf, "\"tgid\":");
	if (l->ctxs)
		printf("# stress: contexts left: %s\n", buf);
	rc = capture_tool(a_devs, buf, sizeof(buf));
	l->vals = rc ? 1 : json_sum(buf, "\"exports\":");
	if (!rc && json_sum(buf, "\"objects\":") > l->objs)
		l->objs = json_sum(buf, "\"objects\":");
	l->kml = kmemleak_npu();	/* before rmmod: its reports still name npu_mem */
	l->reload = reload ? reload_module(ko, l->why, sizeof(l->why)) : 0;
	cgroup_destroy(CG_A);
	cgroup_destroy(CG_B);
	l->total = l->not_free / MIB + l->objs + l->vals + l->ctxs + (l->kml > 0 ? l->kml : 0) +
		   (l->reload == -1);
}

static const char *verdict(int ok)
{
	return ok ? "ok" : "not ok";
}

/* The figures, the KTAP verdicts, the summary line; the exit status. */
static int report(const struct leaks *l, int reload)
{
	int ok_watch = !B->dumps_failed && !run.failed_watch && B->dumps;

	printf("# stress: %" PRIu64 " ops in %.1f s: %.0f ops/s (then %.1f s to stop)\n", run.ops,
	       run.secs, run.ops / run.secs, run.stop_secs);
	printf("# stress: ops by kind:");
	for (int i = 0; i < NR_OPS; i++)
		printf(" %s %" PRIu64 "%s", op_names[i], B->ops[i], i + 1 < NR_OPS ? "," : "\n");
	printf("# stress: allowed failures:");
	for (int i = 0; i < NR_EX; i++)
		printf(" %s %" PRIu64 "%s", ex_names[i], B->ex[i], i + 1 < NR_EX ? "," : "\n");
	printf("# stress: imports of published values that succeeded: %" PRIu64 "\n", B->imports_ok);
	printf("# stress: kills %u (%u of an exporter during an import), respawns %u, unexpected deaths %u\n",
	       run.kills, run.hot_kills, run.respawns, run.unexpected);
	printf("# stress: pattern checks %" PRIu64 " (%" PRIu64 " MiB of objects verified), lost %" PRIu64
	       ", rule violations %" PRIu64 "\n", B->checks, B->check_pages * PAGE / MIB, B->lost,
	       B->violations);
	printf("# stress: netlink: %" PRIu64 " dumps (%" PRIu64 " failed), %" PRIu64 " watch events, %"
	       PRIu64 " notes of missed events\n", B->dumps, B->dumps_failed, watch_events, watch_notes);
	printf("# stress: pressure: devices nearly full in %u of %u samples, %" PRIu64
	       " hog phases (peak %" PRIu64 " MiB, OOM-killed %u times)\n", run.full_samples,
	       run.samples, B->hog_phases, B->hog_peak_mb, run.hog_deaths);
	printf("# stress: at the end: %" PRIu64 " MiB not free, %" PRIu64 " objects, %" PRIu64
	       " values, %" PRIu64 " contexts, kmemleak %d, module %s\n", l->not_free / MIB, l->objs,
	       l->vals, l->ctxs, l->kml,
	       !reload ? "not reloaded" : l->reload ? l->why : "unloaded and loaded again");
	for (uint32_t i = 0; i < B->nnotes && i < NNOTES; i++)
		printf("# stress: failure %u: %s\n", i + 1, B->notes[i]);

	printf("%s - stress: no data lost (%" PRIu64 " pattern checks, %" PRIu64 " lost)\n",
	       verdict(!B->lost), B->checks, B->lost);
	printf("%s - stress: the driver refused what it must (%" PRIu64 " violations)\n",
	       verdict(!B->violations), B->violations);
	printf("%s - stress: %u kills, every worker stopped (%u unexpected deaths, %u hung)\n",
	       verdict(!run.unexpected && !run.hung), run.kills, run.unexpected, run.hung);
	printf("%s - stress: netlink dumps and watch (%" PRIu64 " dumps, %" PRIu64 " events)\n",
	       verdict(ok_watch), B->dumps, watch_events);
	printf("%s - stress: nothing leaked (%" PRIu64 " MiB, %" PRIu64 " objects, %" PRIu64
	       " values, %" PRIu64 " contexts, kmemleak %d)\n", verdict(!l->total),
	       l->not_free / MIB, l->objs, l->vals, l->ctxs, l->kml);
	if (reload)
		printf("%s - stress: module unloads and loads again%s%s\n", verdict(!l->reload),
		       l->reload ? ": " : "", l->why);
	printf("stress: %" PRIu64 " ops, %u kills, %" PRIu64 " lost, %" PRIu64 " leaked", run.ops,
	       run.kills, B->lost, l->total);
	if (B->violations)
		printf(", %" PRIu64 " violations", B->violations);
	printf("\n");
	return B->lost || B->violations || l->total || l->reload || run.unexpected || run.hung ||
	       !ok_watch ? 1 : 0;
}

/* The devices' sizes into the board; 0, or -1 after saying why. */
static int probe_devices(void)
{
	struct npu_mem_version ver = { 0 };
	int fd = npu_open();

	if (fd < 0 || ioctl(fd, NPU_MEM_IOCTL_VERSION, &ver) || !ver.num_devices) {
		printf("not ok - stress: /dev/npu_mem: %s\n", strerror(errno));
		return -1;
	}
	B->ndev = ver.num_devices < MAX_DEVICES ? ver.num_devices : MAX_DEVICES;
	for (uint32_t d = 0; d < B->ndev; d++) {
		struct npu_mem_device_info info = { .device = d };

		if (ioctl(fd, NPU_MEM_IOCTL_DEVICE_INFO, &info)) {
			printf("not ok - stress: DEVICE_INFO %u: %s\n", d, strerror(errno));
			close(fd);
			return -1;
		}
		B->total[d] = info.total;
		B->granule = info.granularity;
		if (info.free != info.total)
			printf("# stress: device %u is not free at the start (%" PRIu64 " of %" PRIu64 ")\n",
			       d, (uint64_t)info.free, (uint64_t)info.total);
	}
	/* This instance's fabric id, for the fabric handles workers make. */
	{
		struct npu_mem_export e = { .flags = NPU_MEM_SHARE_FABRIC };
		uint64_t off;

		if (npu_alloc(fd, 0, B->granule, &e.handle, &off) ||
		    ioctl(fd, NPU_MEM_IOCTL_EXPORT, &e) || npu_free(fd, e.handle)) {
			printf("not ok - stress: a fabric EXPORT: %s\n", strerror(errno));
			close(fd);
			return -1;
		}
		memcpy(B->instance, e.fabric.instance, sizeof(B->instance));
	}
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "duration", required_argument, NULL, 'd' },
		{ "workers", required_argument, NULL, 'w' },
		{ "seed", required_argument, NULL, 's' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "no-reload", no_argument, NULL, 'n' },
		{ "module", required_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *ko = "/lib/npu_mem/npu_mem.ko";
	int reload = 1, seeded = 0, opt;
	struct leaks l = { 0 };

	if (argc == 6 && !strcmp(argv[1], "--exec-child"))
		return exec_child(argv + 2);
	while ((opt = getopt_long(argc, argv, "d:w:s:vnm:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'd':
			run.duration = strtoul(optarg, NULL, 10);
			break;
		case 'w':
			run.nworkers = strtoul(optarg, NULL, 10);
			break;
		case 's':
			seed = strtoull(optarg, NULL, 0);
			seeded = 1;
			break;
		case 'v':
			verbose = 1;
			break;
		case 'n':
			reload = 0;
			break;
		case 'm':
			ko = optarg;
			break;
		case 'h':
			usage(0);
			break;
		default:
			usage(2);
		}
	}
	if (optind != argc || run.nworkers < 2 || run.nworkers > MAX_WORKERS || !run.duration)
		usage(2);
	if (!seeded)
		seed = now_ns() ^ ((uint64_t)getpid() << 32);
	setvbuf(stdout, NULL, _IOLBF, 0);
	B = mmap(NULL, sizeof(*B), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (B == MAP_FAILED || geteuid()) {
		printf("not ok - stress: needs root and memory\n");
		return 1;
	}
	B->nworkers = run.nworkers;
	if (probe_devices())
		return 1;
	printf("# stress: seed %" PRIu64 ", %u workers (%u as uid %d, %u multi-threaded), %u s, "
	       "%u devices x %" PRIu64 " MiB\n", seed, run.nworkers, run.nworkers / 2, USER_UID,
	       run.nworkers / 3, run.duration, B->ndev, B->total[0] / MIB);
	rng_seed(seed, 0x4b1);
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	cgroup_write("/proc/self/oom_score_adj", "-900");
	if (cgroup_create(CG_A) || cgroup_create(CG_B) ||
	    cgroup_write(CG_B "/memory.high", CG_B_HIGH))
		printf("# stress: memory cgroups unavailable (%s): no cgroup pressure\n", strerror(errno));

	run.watch = start_watch(&run.watch_fd);
	run.hog = spawn(0, 0, hog_main);
	run.dumper = spawn(0, 0, dumper_main);
	for (unsigned int i = 0; i < run.nworkers; i++) {
		run.wpid[i] = spawn(i, 0, NULL);
		B->w[i].pid = run.wpid[i];
	}
	supervise();
	stop_all();
	leak_checks(&l, reload, ko);
	return report(&l, reload);
}
