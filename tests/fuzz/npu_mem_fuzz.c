// SPDX-License-Identifier: GPL-2.0
/*
 * npu-mem-fuzz: a seeded, structure-aware fuzzer of /dev/npu_mem and of the
 * "npu_mem" generic netlink family.  Run it as root in the test VM:
 *
 *   npu-mem-fuzz [--seed S] [--ops N] [--procs P] [--race] [--verbose]
 *
 * The model.  The main process forks P workers (default 4; the odd ones drop
 * to uid 1000, an unprivileged user in the device's group) and gives each
 * N / P operations and its own seed, derived from the main seed S, so that
 * "--seed S --ops N" replays the same operations in each worker (the
 * interleaving of the workers is the scheduler's).  A worker keeps two open
 * files of /dev/npu_mem, the handles it knows are live in each (with their
 * size, mmap offset, whether imported or exported, the value's kind), the
 * handles it freed (stale), its IPC keys that died, its mappings of the
 * device, and a generic netlink socket.  Workers share, through an anonymous shared
 * mapping, a pool of recently exported values (so that they import each
 * other's memory) and their pids (for whitelists).  Each operation is one of:
 *
 *  - a structured ioctl: one of the ABI's ioctls with a valid, stale, zero or
 *    never-created handle, a valid, foreign, dead or random value, boundary
 *    sizes, counts and page kinds, and sometimes a random struct size (short,
 *    long with a zero or non-zero tail), unknown flag bits, a non-zero
 *    reserved field, or an argument pointer that is NULL, unmapped,
 *    non-canonical, a kernel address, read-only, or partly mapped (the struct
 *    runs into a PROT_NONE page);
 *  - a raw ioctl: a random ioctl number (any type, or this driver's type with
 *    a random number, direction and size) on random bytes;
 *  - mmap of the device with a live, stale or random offset, exact or wrong
 *    length, random prot and flags (shared, private, fixed into a reserved
 *    range, populate); munmap, mprotect and mremap of such mappings, whole
 *    and partial; touching the mapped memory as its prot allows;
 *  - fork: the child must be refused the inherited file (EBADFD), then opens
 *    its own, allocates, exports, imports, and dies holding it all (or is
 *    killed);
 *  - close and reopen a file (sometimes read-only), dropping its handles;
 *  - a generic netlink message: every command of uapi/npu_mem_netlink.h and
 *    unknown ones, do and dump, random flags, version and reserved bytes,
 *    none, valid, malformed or random attributes, sometimes the wrong family
 *    or a truncated length; joining and leaving the "events" group; closing a
 *    socket in the middle of a dump.
 *
 * With --race each worker also runs a racer thread that looks up handles of
 * the worker's files, maps, reads and unmaps them while the first thread
 * frees, closes and reopens (the racer judges only faults; MAP_FIXED and
 * MREMAP_FIXED are then left out, as their holes would race the racer).
 *
 * Oracles (a violation is a failure): unknown flags and non-zero reserved
 * fields give EINVAL, a struct shorter than its first version EINVAL, a long
 * one with a non-zero tail E2BIG, a bad argument pointer EFAULT, unknown
 * ioctl numbers ENOTTY, an inherited file EBADFD, ALLOC/EXPORT/SET_PIDS on a
 * read-only file EBADF; a handle never created (0, or above any id the
 * driver can hand out) ENOENT; VERSION and BARE_TGID tell the truth; what
 * the worker knows is live succeeds (HANDLE_INFO, EXPORT, FREE, mmap of the
 * whole object) and what it knows is wrong fails with the documented errno
 * (a second EXPORT EEXIST, EXPORT of an import EPERM, importing one's own
 * value ELOOP, a second import EEXIST, a value never exported ENOENT, SET_PIDS
 * on a value exported without pid validation EPERM, a private or wrongly
 * sized mmap, partial munmap/mprotect and any mremap fail); value kinds
 * (ABI 2.1): two kinds, a FABRIC EXPORT too short for its handle, a malformed
 * fabric handle or one with a value in @shareable EINVAL, another instance's
 * EXDEV, a known value named as another kind ENOENT, an IPC key of ours after
 * its UNEXPORT or FREE ENOENT, UNEXPORT of an import EPERM, of a handle not
 * exported ENOENT, of another kind EINVAL, and a fabric EXPORT's handle is
 * well formed (magic, this instance, the value, zeros); a _IOWR ioctl
 * whose argument cannot be written back never reports success; a netlink
 * dump without attributes succeeds, a request with attributes is refused
 * (EINVAL), an unprivileged caller never sees a shareable value and may not
 * join "events"; no process dies of a signal nobody sent.  At the end, with
 * every fuzz process gone: each device's free memory equals its total, the
 * netlink object and process dumps are empty, and the module still
 * allocates, maps and frees.
 *
 * Random value lookups would spend the per-uid guess budget (EAGAIN): as
 * root the fuzzer sets the guess_budget parameter to 0 (unlimited) for the
 * run and restores it.
 *
 * Output: "# " comment lines (seed, ops by kind, errno histogram, ops/s),
 * then "ok - fuzz: N ops, seed S" or "not ok - fuzz: ..." lines; exit 0 or 1.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/user/npu.h"
#include "uapi/npu_mem_netlink.h"

#define MAX_PROCS	16
#define NFILES		2	/* open files per worker */
#define MAX_LIVE	4	/* live handles per file */
#define NSTALE		16
#define NDEAD		16	/* IPC keys this process withdrew or freed */
#define MAX_MAPS	3
#define POOL		64	/* shared pool of exported values */
#define MAX_ERRNO	160
#define MSG_LEN		512
#define BIG_HANDLE	0x80000000u	/* above NPU_MEM_MAX_HANDLES: never a handle */
#define GUESS_BUDGET	"/sys/module/npu_mem/parameters/guess_budget"

enum kind {
	K_IOCTL, K_IOCTL_RAW, K_MMAP, K_MUNMAP, K_MPROTECT, K_MREMAP, K_TOUCH, K_FORK,
	K_REOPEN, K_NETLINK, K_NR
};

static const char *const kind_names[K_NR] = {
	"ioctl", "ioctl-raw", "mmap", "munmap", "mprotect", "mremap", "touch", "fork",
	"reopen", "netlink",
};

/* The value-kind oracles, counted when judged. */
enum { KO_WRONG_KIND, KO_DEAD_KEY, KO_UNEXPORT, KO_FABRIC, KO_NR };
static const char *const ko_names[KO_NR] = {
	"wrong-kind", "dead-key", "unexport", "fabric-handle",
};

/* Per-worker figures and first failure, in memory shared with the main process. */
struct wstats {
	uint64_t kind[K_NR];
	uint64_t ns[K_NR];	/* time spent in each kind */
	uint64_t ioctl_nr[16];
	uint64_t ioctl_ns[16];
	uint64_t err[MAX_ERRNO + 1];	/* [0]: success; [MAX_ERRNO]: larger errnos */
	uint64_t kinds[KO_NR];	/* value-kind oracles judged */
	uint64_t fails;
	uint64_t race_ops;	/* the racer thread's calls (--race) */
	char fail[MSG_LEN];
};

/* A shared value and its kind (the pair may tear: only a generator's hint). */
struct pooled {
	uint64_t value;
	uint32_t kind;
};

struct shared {
	struct pooled pool[POOL];
	uint8_t instance[16];	/* this module instance's fabric id, learnt by main */
	int32_t pids[MAX_PROCS * 2];
	struct wstats ws[MAX_PROCS];
};

struct hnd {
	uint32_t h;
	bool imported, exported, nopid;
	uint32_t kind;		/* NPU_MEM_SHARE_* of the value exported or imported */
	uint64_t size, off, value;
};

#define KINDS	(NPU_MEM_SHARE_IPC_KEY | NPU_MEM_SHARE_FABRIC)

struct file {
	int fd;
	bool rdonly;
	int nlive;
	struct hnd live[MAX_LIVE];
	int nstale;
	uint32_t stale[NSTALE];
};

struct map {
	char *addr;
	size_t len;
	int prot;
};

/* ---- process state: each worker (and fork child) has its own copy ---- */

static uint64_t rng;
static struct shared *sh;
static struct wstats *ws;
static int me;			/* worker index */
static uint64_t op_no;		/* the current op, for failure messages */
static uint64_t main_seed, total_ops;
static bool verbose, budget_off, race;
static uint32_t ndev;
static uint16_t nl_family;
static uint32_t nl_events_grp;
static long page;
static struct file files[NFILES];
static struct map maps[MAX_MAPS];
static int nmaps;
static uint64_t dead[NDEAD];	/* IPC keys of ours that died (UNEXPORT, FREE): for ever */
static int nl_fd = -1;
static bool nl_joined;
static char *arena;		/* page RW, then page PROT_NONE */
static char *ro_w, *ro;		/* one page: writable alias and read-only alias */
static char *reserve;		/* PROT_NONE range for MAP_FIXED mappings */
static char *reserve2;		/* and for mremap(MREMAP_FIXED) */
#define RESERVE_LEN	(64ULL << 20)
static int32_t *pidbuf;		/* NPU_MEM_MAX_PIDS + 1 pids */
static uint8_t nl_buf[32768];

/* ---- random numbers: splitmix64 ---- */

static uint64_t mix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t rnd(void)
{
	return mix(&rng);
}

static uint32_t below(uint32_t n)
{
	return n ? (uint32_t)(rnd() % n) : 0;
}

static bool chance(unsigned int pct)
{
	return below(100) < pct;
}

/* The seed of stream @i of @seed: workers, and fork children of a worker. */
static uint64_t derive(uint64_t seed, uint64_t i)
{
	uint64_t s = seed ^ (i * 0xd1b54a32d192ed03ULL);

	return mix(&s);
}

/* ---- bookkeeping ---- */

static void count_err(int e)
{
	ws->err[e < 0 || e >= MAX_ERRNO ? MAX_ERRNO : e]++;
}

static const char *ename(int e)
{
	const char *n = e ? strerrorname_np(e) : "OK";

	return n ? n : "?";
}

/* Record a failed oracle: the first message is kept for the verdict. */
static void __attribute__((format(printf, 1, 2))) fail(const char *fmt, ...)
{
	char msg[MSG_LEN - 64];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "# FAIL worker %d op %" PRIu64 ": %s\n", me, op_no, msg);
	if (!ws->fails++)
		snprintf(ws->fail, sizeof(ws->fail), "worker %d op %" PRIu64 ": %s", me, op_no,
			 msg);
}

static void __attribute__((format(printf, 1, 2))) trace(const char *fmt, ...)
{
	va_list ap;
	char line[512];
	int n;

	if (!verbose)
		return;
	n = snprintf(line, sizeof(line), "# w%d op %" PRIu64 ": ", me, op_no);
	va_start(ap, fmt);
	n += vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	/* one write: the workers' lines do not interleave */
	if (write(2, line, n) < 0)
		return;
}

/* @got (0 or an errno) must be @want. */
static void expect(const char *what, int want, int got)
{
	if (want != got)
		fail("%s: expected %s, got %s", what, ename(want), ename(got));
}

static void pool_put(uint64_t v, uint32_t kind)
{
	struct pooled *p = &sh->pool[below(POOL)];

	__atomic_store_n(&p->value, v, __ATOMIC_RELAXED);
	__atomic_store_n(&p->kind, kind, __ATOMIC_RELAXED);
}

static uint64_t pool_get(uint32_t *kind)
{
	struct pooled *p = &sh->pool[below(POOL)];

	*kind = __atomic_load_n(&p->kind, __ATOMIC_RELAXED);
	return __atomic_load_n(&p->value, __ATOMIC_RELAXED);
}

static void dead_add(uint64_t v)
{
	dead[below(NDEAD)] = v;
}

static bool is_dead(uint64_t v)
{
	for (int i = 0; i < NDEAD; i++)
		if (v && dead[i] == v)
			return true;
	return false;
}

/* The live handle of files[] that exported @v (certainly live), or NULL. */
static struct hnd *own_live(uint64_t v)
{
	for (int f = 0; f < NFILES; f++)
		for (int i = 0; i < files[f].nlive; i++)
			if (files[f].live[i].exported && !files[f].live[i].imported &&
			    files[f].live[i].value == v)
				return &files[f].live[i];
	return NULL;
}

/* This process's import of @v (in any of its files), or NULL. */
static struct hnd *imported_live(uint64_t v)
{
	for (int f = 0; f < NFILES; f++)
		for (int i = 0; i < files[f].nlive; i++)
			if (files[f].live[i].imported && files[f].live[i].value == v)
				return &files[f].live[i];
	return NULL;
}

static struct hnd *find_live(struct file *f, uint32_t h)
{
	for (int i = 0; i < f->nlive; i++)
		if (f->live[i].h == h)
			return &f->live[i];
	return NULL;
}

/* FREE of handle @h of ours succeeded: an IPC key it was exported as is dead. */
static void freed(const struct hnd *h)
{
	if (h->exported && !h->imported && h->kind == NPU_MEM_SHARE_IPC_KEY)
		dead_add(h->value);
}

static void live_drop(struct file *f, int i)
{
	struct hnd *h = &f->live[i];

	if (f->nstale < NSTALE)
		f->stale[f->nstale++] = h->h;
	else
		f->stale[below(NSTALE)] = h->h;
	f->live[i] = f->live[--f->nlive];
}

static void file_open(struct file *f, bool rdonly)
{
	int fd = open("/dev/" NPU_MEM_DEVICE_NAME, (rdonly ? O_RDONLY : O_RDWR) | O_CLOEXEC);

	/* the racer thread reads it (--race) */
	__atomic_store_n(&f->fd, fd, __ATOMIC_RELAXED);
	f->rdonly = rdonly;
	if (f->fd < 0)
		fail("open /dev/npu_mem: %s", ename(errno));
}

/* Close @f: its handles go (their mappings stay, and keep the memory). */
static void file_reopen(struct file *f, bool rdonly)
{
	while (f->nlive)
		live_drop(f, 0);
	f->nstale = 0;
	if (f->fd >= 0)
		close(f->fd);
	file_open(f, rdonly);
}

/* ---- argument pointers ---- */

enum place { P_OK, P_NULL, P_UNMAPPED, P_PARTIAL, P_RO, P_KERNEL, P_NONCANON, P_NR };
static const char *const place_names[P_NR] = {
	"ok", "NULL", "unmapped", "partly mapped", "read-only", "kernel", "non-canonical"
};

/*
 * Where the argument of @usize bytes at @buf goes; returns the pointer to
 * pass.  P_PARTIAL puts its first bytes at the end of a mapped page, the rest
 * in the PROT_NONE page after it.
 */
static void *place_arg(int pl, const void *buf, size_t usize, void *okbuf)
{
	size_t k;

	switch (pl) {
	case P_NULL:
		return NULL;
	case P_UNMAPPED:
		return arena + page;
	case P_PARTIAL:
		k = usize > 1 ? 1 + below(usize - 1) : 0;
		memcpy(arena + page - k, buf, k);
		return arena + page - k;
	case P_RO:
		memcpy(ro_w, buf, usize < (size_t)page ? usize : (size_t)page);
		return ro;
	case P_KERNEL:
		return (void *)0xffff888000000000ULL;
	case P_NONCANON:
		return (void *)0x8000000000000000ULL;
	default:
		memcpy(okbuf, buf, usize);
		return okbuf;
	}
}

static int pick_place(void)
{
	return chance(88) ? P_OK : 1 + (int)below(P_NR - 1);
}

/* ---- choices ---- */

static struct file *pick_file(void)
{
	return &files[below(NFILES)];
}

static uint32_t pick_dev(void)
{
	switch (below(20)) {
	case 0:
		return ndev;
	case 1:
		return (uint32_t)rnd();
	default:
		return below(ndev);
	}
}

/* A handle for @f: live (returned in *hp), stale, zero, never created or random. */
static uint32_t pick_handle(struct file *f, struct hnd **hp)
{
	*hp = NULL;
	switch (below(10)) {
	case 0:
		return f->nstale ? f->stale[below(f->nstale)] : 1;
	case 1:
		return 0;
	case 2:
		return BIG_HANDLE | (uint32_t)rnd();
	case 3:
		return 1 + below(80);
	default:
		if (!f->nlive)
			return 1 + below(8);
		*hp = &f->live[below(f->nlive)];
		return (*hp)->h;
	}
}

/* A live handle of ours with a value: exported by us or imported, or NULL. */
static struct hnd *held_pick(void)
{
	struct hnd *c[NFILES * MAX_LIVE];
	int n = 0;

	for (int f = 0; f < NFILES; f++)
		for (int i = 0; i < files[f].nlive; i++)
			if (files[f].live[i].exported || files[f].live[i].imported)
				c[n++] = &files[f].live[i];
	return n ? c[below(n)] : NULL;
}

/*
 * A value: one we exported or hold, someone else's, one of our dead IPC keys,
 * random, zero; *kind is the kind it was exported as, as far as we know.
 */
static uint64_t pick_value(bool *random_value, uint32_t *kind, bool *held)
{
	static const uint32_t kinds[] = { 0, NPU_MEM_SHARE_IPC_KEY, NPU_MEM_SHARE_FABRIC };
	struct hnd *h;
	uint64_t v;

	*random_value = *held = false;
	*kind = kinds[below(3)];
	switch (below(11)) {
	case 0:
	case 1:
		h = held_pick();
		if (h) {
			*held = true;
			*kind = h->kind;
			return h->value;
		}
		/* fall through */
	case 2:
	case 3:
	case 4:
	case 5:
		v = pool_get(kind);
		if (v)
			return v;
		/* fall through */
	case 6:
	case 7:
		*random_value = true;
		return rnd() | 1;
	case 8:
		return 0;
	case 9:
		v = dead[below(NDEAD)];
		if (v) {
			*kind = NPU_MEM_SHARE_IPC_KEY;
			return v;
		}
		/* fall through */
	default:
		v = pool_get(kind);
		return v ^ (1ULL << below(64));
	}
}

/*
 * The kind a SET_PIDS or IMPORT names for a value of kind @k: mostly @k;
 * @held: one we exported or hold, whose kind the oracles know.
 */
static uint32_t pick_kind(uint32_t k, bool held)
{
	static const uint32_t kinds[] = { 0, NPU_MEM_SHARE_IPC_KEY, NPU_MEM_SHARE_FABRIC };

	if (chance(held ? 60 : 85))
		return k;
	return chance(85) ? kinds[below(3)] : KINDS;
}

/*
 * With kind FABRIC the value travels in a fabric handle: a good one mostly,
 * else a tampered one.  Returns what the driver must answer for the handle
 * alone (0: it is well formed; EINVAL; EXDEV) in a 2.1-sized struct.
 */
static int pick_fabric(struct npu_mem_fabric_handle *fh, __u64 *shareable, uint64_t v)
{
	memcpy(fh->magic, NPU_MEM_FABRIC_MAGIC, sizeof(fh->magic));
	memcpy(fh->instance, sh->instance, sizeof(fh->instance));
	fh->shareable = v;
	*shareable = 0;
	switch (below(40)) {
	case 0:
		*shareable = v ? v : 1;		/* both places */
		return EINVAL;
	case 1:
		fh->magic[below(8)] ^= 1 + below(255);
		return EINVAL;
	case 2:
		fh->reserved[below(sizeof(fh->reserved))] = 1 + below(255);
		return EINVAL;
	case 3:
		fh->instance[below(16)] ^= 1 + below(255);
		return v ? EXDEV : EINVAL;
	}
	return v ? 0 : EINVAL;
}

/* Without FABRIC the value is @shareable and @fabric is reserved: now and then not zero. */
static int pick_no_fabric(struct npu_mem_fabric_handle *fh, __u64 *shareable, uint64_t v)
{
	*shareable = v;
	if (below(40))
		return 0;
	((uint8_t *)fh)[below(sizeof(*fh))] = 1 + below(255);
	return EINVAL;
}

static uint64_t pick_size(uint32_t *kind)
{
	*kind = chance(90) ? below(2) : (chance(50) ? NPU_MEM_PAGE_HUGE1G : below(16));
	switch (below(40)) {
	case 0:
		return 0;
	case 1:
		return NPU_MEM_GRANULARITY - page;
	case 2:
		return NPU_MEM_GRANULARITY + page;
	case 3:
		return rnd();
	case 4:
		return ~0ULL - NPU_MEM_GRANULARITY + 1;
	case 5:
		return NPU_MEM_GRANULARITY_HUGE1G;
	case 6:
	case 7:
	case 8:
		return 2 * NPU_MEM_GRANULARITY;
	default:
		return *kind == NPU_MEM_PAGE_HUGE1G ? NPU_MEM_GRANULARITY_HUGE1G
						    : NPU_MEM_GRANULARITY;
	}
}

/* ---- structured ioctls ---- */

struct idesc {
	const char *name;
	unsigned long cmd;
	uint32_t ksize, min;
	uint32_t flags_off, valid_flags;
	int reserved_off;	/* -1: none */
	bool write;		/* needs a writable file */
};

static const struct idesc idescs[] = {
	{ "VERSION", NPU_MEM_IOCTL_VERSION, sizeof(struct npu_mem_version),
	  NPU_MEM_VERSION_SIZE_VER0, offsetof(struct npu_mem_version, flags), 0, -1, false },
	{ "DEVICE_INFO", NPU_MEM_IOCTL_DEVICE_INFO, sizeof(struct npu_mem_device_info),
	  NPU_MEM_DEVICE_INFO_SIZE_VER0, offsetof(struct npu_mem_device_info, flags), 0, -1,
	  false },
	{ "ALLOC", NPU_MEM_IOCTL_ALLOC, sizeof(struct npu_mem_alloc), NPU_MEM_ALLOC_SIZE_VER0,
	  offsetof(struct npu_mem_alloc, flags), 0, -1, true },
	{ "FREE", NPU_MEM_IOCTL_FREE, sizeof(struct npu_mem_free), NPU_MEM_FREE_SIZE_VER0,
	  offsetof(struct npu_mem_free, flags), 0, -1, false },
	{ "EXPORT", NPU_MEM_IOCTL_EXPORT, sizeof(struct npu_mem_export),
	  NPU_MEM_EXPORT_SIZE_VER0, offsetof(struct npu_mem_export, flags),
	  NPU_MEM_EXPORT_DISABLE_PID_VALIDATION | KINDS, -1, true },
	{ "SET_PIDS", NPU_MEM_IOCTL_SET_PIDS, sizeof(struct npu_mem_set_pids),
	  NPU_MEM_SET_PIDS_SIZE_VER0, offsetof(struct npu_mem_set_pids, flags), KINDS, -1,
	  true },
	{ "IMPORT", NPU_MEM_IOCTL_IMPORT, sizeof(struct npu_mem_import),
	  NPU_MEM_IMPORT_SIZE_VER0, offsetof(struct npu_mem_import, flags), KINDS,
	  offsetof(struct npu_mem_import, reserved), false },
	{ "BARE_TGID", NPU_MEM_IOCTL_BARE_TGID, sizeof(struct npu_mem_bare_tgid),
	  NPU_MEM_BARE_TGID_SIZE_VER0, offsetof(struct npu_mem_bare_tgid, flags), 0, -1, false },
	{ "HANDLE_INFO", NPU_MEM_IOCTL_HANDLE_INFO, sizeof(struct npu_mem_handle_info),
	  NPU_MEM_HANDLE_INFO_SIZE_VER0, offsetof(struct npu_mem_handle_info, flags), 0, -1,
	  false },
	{ "UNEXPORT", NPU_MEM_IOCTL_UNEXPORT, sizeof(struct npu_mem_unexport),
	  NPU_MEM_UNEXPORT_SIZE_VER0, offsetof(struct npu_mem_unexport, flags), 0, -1, false },
};
#define NIOCTLS	((int)(sizeof(idescs) / sizeof(idescs[0])))

/* One argument, its framing, and what the framing alone decides. */
struct call {
	const struct idesc *d;
	union {
		struct npu_mem_version ver;
		struct npu_mem_device_info di;
		struct npu_mem_alloc al;
		struct npu_mem_free fr;
		struct npu_mem_export ex;
		struct npu_mem_set_pids sp;
		struct npu_mem_import im;
		struct npu_mem_bare_tgid bt;
		struct npu_mem_handle_info hi;
		struct npu_mem_unexport ux;
		uint8_t raw[4096 + 64];
	} a;
	uint32_t usize;
	int place;
	bool bad_flags, tail_nonzero;
};

static uint8_t okbuf[sizeof(((struct call *)0)->a)];

/*
 * Mutate the framing of @c (size, flags, reserved, pointer) and say what the
 * driver must answer for it alone: an errno, or -1 when the semantics decide.
 * The order is the driver's: size below VER0, foreign file, read-only file,
 * unreadable argument, long tail, flags and reserved fields.
 */
static int frame(struct call *c, struct file *f)
{
	const struct idesc *d = c->d;
	uint32_t *flags = (uint32_t *)(c->a.raw + d->flags_off);

	c->usize = d->ksize;
	c->tail_nonzero = c->bad_flags = false;
	switch (below(30)) {
	case 0:
		c->usize = below(d->min);
		break;
	case 1:
		c->usize = d->ksize + 8 * (1 + below(8));
		break;
	case 2:
		c->usize = d->ksize + 1 + below(2048 - d->ksize);
		c->a.raw[d->ksize + below(c->usize - d->ksize)] = 1 + below(255);
		c->tail_nonzero = true;
		break;
	case 3:
		c->usize = d->ksize + 1 + below(64);
		break;
	case 4:
		/* a 2.0 binary: SET_PIDS and IMPORT without @fabric, EXPORT without room */
		c->usize = d->min;
		break;
	}
	if (chance(6)) {
		uint32_t bad = (uint32_t)rnd() & ~d->valid_flags;

		*flags |= bad ? bad : 1u << 31;
		c->bad_flags = true;
	}
	if (d->reserved_off >= 0 && chance(5)) {
		*(uint32_t *)(c->a.raw + d->reserved_off) = 1 + below(0xffff);
		c->bad_flags = true;
	}
	c->place = pick_place();

	if (c->usize < d->min)
		return EINVAL;
	if (d->write && f->rdonly)
		return EBADF;
	/* A partly mapped struct with a non-zero tail: whichever is met first. */
	if (c->place == P_PARTIAL && c->tail_nonzero)
		return -2;
	if (c->place != P_OK && c->place != P_RO)
		return EFAULT;
	if (c->tail_nonzero)
		return E2BIG;
	if (c->bad_flags)
		return EINVAL;
	return -1;
}

static unsigned long cmd_with_size(unsigned long cmd, uint32_t usize)
{
	return (cmd & ~((unsigned long)_IOC_SIZEMASK << _IOC_SIZESHIFT)) |
	       ((unsigned long)usize << _IOC_SIZESHIFT);
}

/* Issue @c on @fd: 0 or errno; the results are copied back into c->a. */
static int issue(struct call *c, int fd)
{
	void *p = place_arg(c->place, c->a.raw, c->usize, okbuf);
	struct timespec t0, t1;
	int r;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	r = ioctl(fd, cmd_with_size(c->d->cmd, c->usize), p) ? errno : 0;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ws->ioctl_ns[_IOC_NR(c->d->cmd)] += (uint64_t)((t1.tv_sec - t0.tv_sec) * 1000000000LL +
							(t1.tv_nsec - t0.tv_nsec));
	if (c->place == P_OK)
		memcpy(c->a.raw, okbuf, c->usize < c->d->ksize ? c->usize : c->d->ksize);
	count_err(r);
	ws->ioctl_nr[_IOC_NR(c->d->cmd)]++;
	return r;
}

/*
 * Did the call succeed with its results written back where we read them?
 * (ALLOC's and IMPORT's out fields are all in their first version.)
 */
static bool results_seen(const struct call *c, int r)
{
	return !r && c->place == P_OK && c->usize >= c->d->min;
}

/*
 * A lookup that finds nothing: ENOENT, or EAGAIN while a guess budget counts;
 * @ko: which value-kind oracle it is.
 */
static void expect_enoent(const char *what, int r, int ko)
{
	ws->kinds[ko]++;
	if (budget_off || r != EAGAIN)
		expect(what, ENOENT, r);
}

static void do_free(struct file *f, int i);
/* An ioctl whose outcome is not known here changed the file: forget it. */
static void taint(struct file *f)
{
	trace("file %d tainted: reopen", f->fd);
	file_reopen(f, f->rdonly);
}

/*
 * Which ioctl: ALLOC is rare, as an allocation costs some 30 validation
 * paths under TCG and KASAN (zeroing, charging, freeing 2 MiB).
 */
static int pick_ioctl(void)
{
	static const unsigned int w[] = { 8, 8, 1, 10, 6, 7, 14, 6, 14, 4 };
	unsigned int x = below(78);
	int nr = 0;

	while (x >= w[nr])
		x -= w[nr++];
	return nr;
}

static void op_ioctl(void)
{
	static struct call c;
	struct file *f = pick_file();
	const struct idesc *d;
	struct hnd *h = NULL;
	bool rv = false, nopid = false, pids_ok = true, held = false;
	int nr, want, r, fab = 0, name_err = 0;
	uint32_t kind = 0, vkind = 0, fkind = 0;
	uint64_t v = 0;
	char what[160];

	if (f->fd < 0)
		return;
	/* Keep memory bounded: a full file frees first. */
	if (f->nlive >= MAX_LIVE) {
		do_free(f, below(f->nlive));
		return;
	}
	nr = pick_ioctl();
	d = c.d = &idescs[nr];
	memset(&c.a, 0, sizeof(c.a));
	switch (nr) {
	case 1:
		c.a.di.device = pick_dev();
		break;
	case 2:
		c.a.al.device = pick_dev();
		c.a.al.size = pick_size(&kind);
		c.a.al.page_kind = kind;
		break;
	case 3:
		c.a.fr.handle = pick_handle(f, &h);
		break;
	case 4: {
		uint32_t x;

		c.a.ex.handle = pick_handle(f, &h);
		c.a.ex.flags = chance(30) ? NPU_MEM_EXPORT_DISABLE_PID_VALIDATION : 0;
		nopid = c.a.ex.flags;
		/* a kind, sometimes two (EINVAL) */
		x = below(20);
		fkind = !x ? KINDS : x < 7 ? NPU_MEM_SHARE_IPC_KEY : x < 13 ? NPU_MEM_SHARE_FABRIC : 0;
		c.a.ex.flags |= fkind;
		break;
	}
	case 5: {
		uint32_t n;

		v = pick_value(&rv, &vkind, &held);
		fkind = c.a.sp.flags = pick_kind(vkind, held);
		if (fkind == NPU_MEM_SHARE_FABRIC)
			fab = pick_fabric(&c.a.sp.fabric, &c.a.sp.shareable, v);
		else
			fab = pick_no_fabric(&c.a.sp.fabric, &c.a.sp.shareable, v);
		switch (below(50)) {
		case 0:
			n = 0;
			break;
		case 1:
			n = NPU_MEM_MAX_PIDS + 1 + below(4);
			break;
		case 2:
			/* rare: costly under TCG */
			n = chance(5) ? 1 + below(NPU_MEM_MAX_PIDS) : 1 + below(256);
			break;
		default:
			n = 1 + below(8);
		}
		c.a.sp.count = n;
		for (uint32_t i = 0; i < n && i <= NPU_MEM_MAX_PIDS; i++) {
			switch (below(n > 64 ? 2 : 12)) {
			case 0:
				pidbuf[i] = (int32_t)rnd();
				break;
			case 1:
				pidbuf[i] = 1 + below(1 << 15);
				break;
			case 2:
				pidbuf[i] = 0;
				break;
			default:
				pidbuf[i] = sh->pids[below(MAX_PROCS * 2)];
			}
			if (pidbuf[i] < 0 || pidbuf[i] >= NPU_MEM_PID_LIMIT)
				pids_ok = false;
		}
		switch (below(30)) {
		case 0:
			c.a.sp.pids = 0;
			pids_ok = false;
			break;
		case 2:
			c.a.sp.pids = rnd();
			pids_ok = false;
			break;
		case 1:
			/* the array runs into the PROT_NONE page */
			if (n >= 2 && n <= page / 4) {
				c.a.sp.pids = (uintptr_t)(arena + page - 4 * (n / 2));
				pids_ok = false;
				break;
			}
			/* fall through */
		default:
			c.a.sp.pids = (uintptr_t)pidbuf;
		}
		break;
	}
	case 6:
		v = pick_value(&rv, &vkind, &held);
		fkind = c.a.im.flags = pick_kind(vkind, held);
		if (fkind == NPU_MEM_SHARE_FABRIC)
			fab = pick_fabric(&c.a.im.fabric, &c.a.im.shareable, v);
		else
			fab = pick_no_fabric(&c.a.im.fabric, &c.a.im.shareable, v);
		c.a.im.device = pick_dev();
		break;
	case 8:
		c.a.hi.handle = pick_handle(f, &h);
		break;
	case 9:
		c.a.ux.handle = pick_handle(f, &h);
		break;
	}
	if (chance(3)) {
		/* "out" fields are ignored on input */
		switch (nr) {
		case 0:
			c.a.ver.abi_major = (uint32_t)rnd();
			c.a.ver.num_devices = (uint32_t)rnd();
			break;
		case 1:
			c.a.di.total = rnd();
			c.a.di.free = rnd();
			break;
		case 2:
			c.a.al.handle = (uint32_t)rnd();
			c.a.al.mmap_offset = rnd();
			break;
		case 4:
			c.a.ex.shareable = rnd();
			break;
		case 6:
			c.a.im.handle = (uint32_t)rnd();
			c.a.im.mmap_offset = rnd();
			break;
		case 7:
			c.a.bt.tgid = (int32_t)rnd();
			break;
		case 8:
			c.a.hi.size = rnd();
			c.a.hi.shareable = rnd();
			break;
		}
	}
	want = frame(&c, f);
	/* What naming a value (SET_PIDS, IMPORT) answers: a 2.0 struct has no @fabric. */
	if (fkind == KINDS)
		name_err = EINVAL;
	else if (fkind == NPU_MEM_SHARE_FABRIC && (nr == 5 || nr == 6))
		name_err = c.usize < d->ksize ? EINVAL : fab;
	else if (nr == 5 || nr == 6)
		name_err = c.usize < d->ksize ? 0 : fab;	/* a 2.0 struct has no @fabric */
	if (want == -1 && (fkind & NPU_MEM_SHARE_FABRIC))
		ws->kinds[KO_FABRIC]++;
	r = issue(&c, f->fd);
	snprintf(what, sizeof(what), "%s fd %d usize %u place %s flags %#x%s", d->name, f->fd,
		 c.usize, place_names[c.place], *(uint32_t *)(c.a.raw + d->flags_off),
		 c.bad_flags ? " (bad)" : "");
	trace("%s -> %s", what, ename(r));

	if (want == -2) {
		if (r != EFAULT && r != E2BIG)
			fail("%s: expected EFAULT or E2BIG, got %s", what, ename(r));
		return;
	}
	if (want >= 0) {
		/* A tail or out-field scribble is only judged by the framing. */
		expect(what, want, r);
		/* A call that should have failed changed who knows what: forget the file. */
		if (!r && nr >= 2 && nr <= 6)
			taint(f);
		return;
	}
	/* Read-only argument: an _IOWR ioctl cannot report success. */
	if (c.place == P_RO && (_IOC_DIR(d->cmd) & _IOC_READ)) {
		if (!r)
			fail("%s: succeeded with a read-only argument", what);
		/* An ALLOC or IMPORT may have made a handle we never learnt. */
		if (r == EFAULT && (nr == 2 || nr == 4 || nr == 6))
			taint(f);
		if (r == EFAULT)
			return;
	}
	switch (nr) {
	case 0:
		if (!r && c.place == P_OK &&
		    (c.a.ver.abi_major != NPU_MEM_ABI_MAJOR || c.a.ver.num_devices != ndev))
			fail("VERSION says %u.%u, %u devices", c.a.ver.abi_major,
			     c.a.ver.abi_minor, c.a.ver.num_devices);
		expect(what, 0, r);
		break;
	case 1:
		if (c.a.di.device >= ndev)
			expect(what, ENODEV, r);
		else
			expect(what, 0, r);
		break;
	case 2: {
		uint64_t gran = kind == NPU_MEM_PAGE_HUGE1G ? NPU_MEM_GRANULARITY_HUGE1G
							    : NPU_MEM_GRANULARITY;
		bool size_ok = c.a.al.size && !(c.a.al.size % gran);
		bool kind_ok = kind <= NPU_MEM_PAGE_HUGE1G;

		if (!size_ok && kind_ok && c.a.al.device < ndev)
			expect(what, EINVAL, r);
		else if (!kind_ok && size_ok && c.a.al.device < ndev)
			expect(what, EINVAL, r);
		else if (size_ok && kind_ok && c.a.al.device >= ndev)
			expect(what, ENODEV, r);
		else if (size_ok && kind_ok && r != ENOMEM)
			expect(what, 0, r);
		if (!r && !results_seen(&c, r)) {
			taint(f);
		} else if (!r) {
			struct hnd *n = &f->live[f->nlive++];

			*n = (struct hnd){ .h = c.a.al.handle, .size = c.a.al.size,
					   .off = c.a.al.mmap_offset };
			if (!n->h || n->off % page)
				fail("ALLOC: handle %u, mmap_offset %#" PRIx64, n->h, n->off);
		}
		break;
	}
	case 3:
		if (!c.a.fr.handle || c.a.fr.handle >= BIG_HANDLE)
			expect(what, ENOENT, r);
		else if (h)
			expect(what, 0, r);
		if (!r) {
			int i;

			for (i = 0; i < f->nlive && f->live[i].h != c.a.fr.handle; i++)
				;
			if (i < f->nlive) {
				freed(&f->live[i]);
				live_drop(f, i);
			}
		}
		break;
	case 4:
		/* kinds and room are checked before the handle is looked up */
		if (fkind == NPU_MEM_SHARE_FABRIC && c.usize < NPU_MEM_EXPORT_SIZE_VER1)
			expect("EXPORT with FABRIC in a 2.0-sized struct", EINVAL, r);
		else if (fkind == KINDS)
			expect(what, EINVAL, r);
		else if (!c.a.ex.handle || c.a.ex.handle >= BIG_HANDLE)
			expect(what, ENOENT, r);
		else if (h && h->imported)
			expect(what, EPERM, r);
		else if (h && h->exported)
			expect(what, EEXIST, r);
		else if (h && r != ENOMEM)
			expect(what, 0, r);
		if (!r && h && c.place == P_OK) {
			const struct npu_mem_fabric_handle *fh = &c.a.ex.fabric;
			static const uint8_t zero[sizeof(fh->reserved)];

			h->exported = true;
			h->nopid = nopid;
			h->kind = fkind;
			h->value = c.a.ex.shareable;
			pool_put(h->value, fkind);
			if (fkind == NPU_MEM_SHARE_FABRIC &&
			    (memcmp(fh->magic, NPU_MEM_FABRIC_MAGIC, sizeof(fh->magic)) ||
			     memcmp(fh->instance, sh->instance, sizeof(fh->instance)) ||
			     fh->shareable != h->value ||
			     memcmp(fh->reserved, zero, sizeof(zero))))
				fail("%s: a malformed fabric handle for %#" PRIx64, what, h->value);
		} else if (!r) {
			taint(f);
		}
		break;
	case 5: {
		uint32_t n = c.a.sp.count;
		struct hnd *mine = own_live(v);
		bool allzero = true;

		for (uint32_t i = 0; i < n && i <= NPU_MEM_MAX_PIDS; i++)
			allzero &= !pidbuf[i];
		if (name_err)
			expect(what, name_err, r);
		else if (!n)
			expect(what, EINVAL, r);
		else if (n > NPU_MEM_MAX_PIDS)
			expect(what, E2BIG, r);
		else if (!pids_ok && !r)
			fail("%s: succeeded with unreadable or invalid pids", what);
		else if (pids_ok && allzero)
			expect(what, EINVAL, r);
		else if (rv && budget_off && pids_ok)
			expect(what, ENOENT, r);
		else if (pids_ok && is_dead(v))
			expect_enoent("SET_PIDS of a dead IPC key", r, KO_DEAD_KEY);
		else if (pids_ok && mine && mine->kind != fkind)
			expect_enoent("SET_PIDS of our value as another kind", r, KO_WRONG_KIND);
		else if (mine && pids_ok && n <= 8 && r != ENOMEM && r != E2BIG)
			expect(what, mine->nopid ? EPERM : 0, r);
		break;
	}
	case 6: {
		struct hnd *mine = own_live(v), *imp = imported_live(v);

		if (name_err)
			expect(what, name_err, r);
		else if (c.a.im.device >= ndev)
			expect(what, ENODEV, r);
		else if (rv && budget_off)
			expect(what, ENOENT, r);
		else if (is_dead(v))
			expect_enoent("IMPORT of a dead IPC key", r, KO_DEAD_KEY);
		else if (mine && mine->kind != fkind)
			expect_enoent("IMPORT of our value as another kind", r, KO_WRONG_KIND);
		else if (mine)
			expect(what, ELOOP, r);
		else if (imp && imp->kind != fkind)
			expect_enoent("IMPORT of a held value as another kind", r, KO_WRONG_KIND);
		else if (imp && (fkind != NPU_MEM_SHARE_IPC_KEY || r != ENOENT))
			/* an IPC key may have died meanwhile: ENOENT then */
			expect(what, EEXIST, r);
		if (!r && !results_seen(&c, r)) {
			taint(f);
		} else if (!r) {
			struct hnd *n = &f->live[f->nlive++];
			struct npu_mem_handle_info hi = { .handle = c.a.im.handle };

			*n = (struct hnd){ .h = c.a.im.handle, .imported = true, .kind = fkind,
					   .value = v, .off = c.a.im.mmap_offset };
			if (ioctl(f->fd, NPU_MEM_IOCTL_HANDLE_INFO, &hi))
				fail("HANDLE_INFO of a fresh import: %s", ename(errno));
			n->size = hi.size;
		}
		break;
	}
	case 7:
		expect(what, 0, r);
		if (!r && c.place == P_OK && c.a.bt.tgid != getpid())
			fail("BARE_TGID says %d, pid %d", c.a.bt.tgid, getpid());
		break;
	case 8:
		if (!c.a.hi.handle || c.a.hi.handle >= BIG_HANDLE)
			expect(what, ENOENT, r);
		else if (h)
			expect(what, 0, r);
		if (!r && h && c.place == P_OK &&
		    (c.a.hi.size != h->size || c.a.hi.mmap_offset != h->off ||
		     !!(c.a.hi.info_flags & NPU_MEM_INFO_IMPORTED) != h->imported))
			fail("HANDLE_INFO %u: size %" PRIu64 " offset %#" PRIx64
			     " flags %#x, not %" PRIu64 " %#" PRIx64 " imported %d",
			     h->h, (uint64_t)c.a.hi.size, (uint64_t)c.a.hi.mmap_offset,
			     c.a.hi.info_flags, h->size, h->off, h->imported);
		break;
	case 9: {
		struct hnd *u = find_live(f, c.a.ux.handle);

		ws->kinds[KO_UNEXPORT] += u != NULL;
		if (!c.a.ux.handle || c.a.ux.handle >= BIG_HANDLE)
			expect(what, ENOENT, r);
		else if (u && u->imported)
			expect("UNEXPORT of an imported handle", EPERM, r);
		else if (u && !u->exported)
			expect("UNEXPORT of a handle not exported", ENOENT, r);
		else if (u && u->kind != NPU_MEM_SHARE_IPC_KEY)
			expect("UNEXPORT of a value that is no IPC key", EINVAL, r);
		else if (u)
			expect(what, 0, r);
		if (!r && u && !u->imported) {
			/* the key is dead for ever; the handle may be exported again */
			dead_add(u->value);
			u->exported = false;
		} else if (!r) {
			taint(f);
		}
		break;
	}
	}
}

/* FREE live handle @i of @f (a well-formed call). */
static void do_free(struct file *f, int i)
{
	struct npu_mem_free fr = { .handle = f->live[i].h };
	int r = ioctl(f->fd, NPU_MEM_IOCTL_FREE, &fr) ? errno : 0;

	count_err(r);
	expect("FREE of a live handle", 0, r);
	if (!r)
		freed(&f->live[i]);
	live_drop(f, i);
}

/*
 * A random ioctl number: any type (the VFS's own generic ioctls excepted from
 * the oracle), or this driver's type with a random number, direction, size.
 */
static void op_ioctl_raw(void)
{
	struct file *f = pick_file();
	unsigned long cmd;
	unsigned int type, nr, dir;
	static uint8_t buf[4096 + 64];
	void *p = buf;
	int r;
	bool ours, known;

	if (chance(50)) {
		cmd = (uint32_t)rnd();
	} else {
		nr = chance(70) ? below(12) : below(256);
		dir = below(4);
		cmd = _IOC(dir, NPU_MEM_IOCTL_BASE, nr, chance(50) ? below(64) : below(1 << 14));
	}
	type = _IOC_TYPE(cmd);
	nr = _IOC_NR(cmd);
	ours = type == NPU_MEM_IOCTL_BASE;
	known = ours && nr < (unsigned int)NIOCTLS && _IOC_DIR(cmd) == _IOC_DIR(idescs[nr].cmd);
	if (chance(50))
		memset(buf, 0, sizeof(buf));
	else
		for (size_t i = 0; i < sizeof(buf); i += 8)
			*(uint64_t *)(buf + i) = chance(50) ? rnd() : 0;
	if (chance(10))
		p = chance(50) ? NULL : (void *)(arena + page - below(64));

	r = ioctl(f->fd, cmd, p) ? errno : 0;
	count_err(r);
	trace("raw ioctl %#lx -> %s", cmd, ename(r));
	if (ours && !known)
		expect("ioctl with an unknown number of the driver's type", ENOTTY, r);
	else if (!ours && type != 0 && type != 'T' && type != 'f' && type != 'X' &&
		 type != 0x94 && type != 0x15)
		expect("ioctl of another type", ENOTTY, r);
	else if (known && _IOC_SIZE(cmd) < idescs[nr].min)
		expect("ioctl shorter than its first version", EINVAL, r);
	/* Whatever it did (ALLOC, FREE, IMPORT of random bytes...), forget this file. */
	if (!r && known && nr != 0 && nr != 1 && nr != 7 && nr != 8)
		taint(f);
}

/* ---- mappings ---- */

static void rereserve(char *r);

static void map_forget(int i)
{
	maps[i] = maps[--nmaps];
}

static int prot_rand(void)
{
	static const int prots[] = { PROT_READ | PROT_WRITE, PROT_READ, PROT_WRITE, PROT_NONE,
				     PROT_READ | PROT_EXEC, PROT_READ | PROT_WRITE | PROT_EXEC };

	return prots[chance(60) ? 0 : below(6)];
}

static void op_mmap(void)
{
	struct file *f = pick_file();
	struct hnd *h = NULL;
	uint64_t off, len;
	int prot = prot_rand(), flags, r;
	char *addr = NULL, *va;
	bool fixed = false;

	if (nmaps >= MAX_MAPS) {
		if (munmap(maps[0].addr, maps[0].len))
			fail("munmap of a whole mapping: %s", ename(errno));
		if (maps[0].addr == reserve)
			rereserve(reserve);
		map_forget(0);
	}
	if (f->nlive && chance(75)) {
		h = &f->live[below(f->nlive)];
		off = h->off;
	} else {
		off = chance(50) ? (uint64_t)below(1 << 20) * page : rnd();
	}
	if (chance(3))
		off += 1 + below(page - 1);
	len = h && chance(75) ? h->size : (chance(50) ? below(5) * NPU_MEM_GRANULARITY :
					   below(1 << 23));
	flags = chance(85) ? MAP_SHARED : (chance(50) ? MAP_PRIVATE : MAP_SHARED_VALIDATE);
	if (chance(15))
		flags |= MAP_POPULATE;
	if (chance(5))
		flags |= MAP_NORESERVE;
	/*
	 * Not with --race: between a MAP_FIXED that fails (it unmaps first) and
	 * the new reservation, the racer's mmap may land in the hole.
	 */
	if (!race && chance(40) && len && len <= RESERVE_LEN) {
		/* aclrtMapMem: MAP_FIXED into a reserved range */
		addr = reserve;
		flags |= chance(90) ? MAP_FIXED : MAP_FIXED_NOREPLACE;
		fixed = true;
	}
	if (fixed && (flags & MAP_FIXED) && nmaps) {
		/* Only one fixed mapping at a time lives in the reserve. */
		for (int i = 0; i < nmaps; i++)
			if (maps[i].addr == reserve) {
				flags &= ~MAP_FIXED;
				flags |= MAP_FIXED_NOREPLACE;
			}
	}
	va = mmap(addr, len, prot, flags, f->fd, (off_t)off);
	r = va == MAP_FAILED ? errno : 0;
	count_err(r);
	trace("mmap fd %d off %#" PRIx64 " len %#" PRIx64 " prot %d flags %#x -> %s", f->fd, off,
	      len, prot, flags, ename(r));
	if (!r) {
		maps[nmaps++] = (struct map){ .addr = va, .len = len, .prot = prot };
		if (fixed && va != reserve)
			fail("MAP_FIXED mapped at %p, not %p", (void *)va, (void *)reserve);
	} else if (fixed && (flags & MAP_FIXED)) {
		/* A failed MAP_FIXED may have unmapped the reservation: restore it. */
		rereserve(reserve);
	}
	/* Oracles */
	if (!len || off % page) {
		expect("mmap with length 0 or an unaligned offset", EINVAL, r);
	} else if (h && (flags & MAP_TYPE) == MAP_PRIVATE) {
		if (!r)
			fail("private mmap of a handle succeeded");
	} else if (h && (len + page - 1) / page * page != h->size) {
		if (!r)
			fail("mmap of %" PRIu64 " bytes of a %" PRIu64 "-byte object succeeded",
			     len, h->size);
	} else if (h && f->rdonly && (prot & PROT_WRITE)) {
		if (!r)
			fail("writable mmap of a read-only file succeeded");
	} else if (h && (flags & MAP_FIXED_NOREPLACE) && fixed) {
		/* the reservation is there: EEXIST */
		expect("MAP_FIXED_NOREPLACE over the reservation", EEXIST, r);
	} else if (h && !f->rdonly && r != ENOMEM && r != EAGAIN) {
		expect("mmap of a live handle", 0, r);
	}
}

static void op_map_change(int kind)
{
	struct map *m;
	int i, r, prot;
	char *na;
	size_t part;

	if (!nmaps) {
		op_mmap();
		return;
	}
	i = below(nmaps);
	m = &maps[i];
	part = m->len > (size_t)page ? page * (1 + below(m->len / page - 1)) : 0;
	switch (kind) {
	case K_MUNMAP:
		if (part && chance(40)) {
			r = munmap(chance(50) ? m->addr : m->addr + part, page) ? errno : 0;
			count_err(r);
			trace("munmap part of %p -> %s", (void *)m->addr, ename(r));
			expect("partial munmap", EINVAL, r);
			if (!r)
				map_forget(i);	/* now unknown: leave it */
			return;
		}
		r = munmap(m->addr, m->len) ? errno : 0;
		count_err(r);
		trace("munmap %p -> %s", (void *)m->addr, ename(r));
		expect("munmap of a whole mapping", 0, r);
		if (m->addr == reserve)
			rereserve(reserve);
		map_forget(i);
		return;
	case K_MPROTECT:
		prot = prot_rand();
		if (part && chance(50)) {
			r = mprotect(m->addr + (chance(50) ? 0 : part), page, prot) ? errno : 0;
			count_err(r);
			trace("mprotect part of %p %d -> %s", (void *)m->addr, prot, ename(r));
			if (!r && prot != m->prot)
				fail("partial mprotect %d -> %d succeeded", m->prot, prot);
			return;
		}
		r = mprotect(m->addr, m->len, prot) ? errno : 0;
		count_err(r);
		trace("mprotect %p %d -> %s", (void *)m->addr, prot, ename(r));
		if (!r)
			m->prot = prot;
		return;
	default:
		switch (below(4)) {
		case 0:
			na = mremap(m->addr, m->len, m->len * 2, MREMAP_MAYMOVE);
			break;
		case 1:
			na = mremap(m->addr, m->len, part ? part : m->len, 0);
			break;
		case 2:
			na = mremap(m->addr, m->len, m->len, MREMAP_MAYMOVE | MREMAP_DONTUNMAP);
			break;
		default:
			/* a move into a range of its own, reserved again after */
			if (m->len > RESERVE_LEN || race) {
				na = mremap(m->addr, m->len, m->len + page, 0);
				break;
			}
			na = mremap(m->addr, m->len, m->len, MREMAP_MAYMOVE | MREMAP_FIXED,
				    reserve2);
			r = na == MAP_FAILED ? errno : 0;
			rereserve(reserve2);
			errno = r;
		}
		r = na == MAP_FAILED ? errno : 0;
		count_err(r);
		trace("mremap %p -> %s", (void *)m->addr, ename(r));
		if (!r) {
			fail("mremap of a device mapping succeeded");
			map_forget(i);
		}
	}
}

static sigjmp_buf touch_jmp;
static volatile sig_atomic_t touching;

static pthread_t main_thread;

static volatile char *racer_va;	/* the racer's mapping, for the report of its fault */
static volatile size_t racer_len;

static void on_fault(int sig, siginfo_t *si, void *uc)
{
	char msg[160];
	int n;

	(void)uc;
	/* only the first thread's touches are caught; any other fault kills */
	if (touching && pthread_equal(pthread_self(), main_thread))
		siglongjmp(touch_jmp, sig);
	n = snprintf(msg, sizeof(msg), "# worker %d: signal %d code %d at %p (%s thread; racer "
		     "mapping %p, %zu bytes)\n", me, sig, si->si_code, si->si_addr,
		     pthread_equal(pthread_self(), main_thread) ? "first" : "racer",
		     (void *)racer_va, (size_t)racer_len);
	if (write(2, msg, n) < 0)
		n = 0;
	signal(sig, SIG_DFL);
	raise(sig);
}

/* Put the PROT_NONE reservation @r back (after an munmap or a failed MAP_FIXED). */
static void rereserve(char *r)
{
	if (mmap(r, RESERVE_LEN, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED,
		 -1, 0) == MAP_FAILED)
		fail("re-reserving: %s", ename(errno));
}

/* Read and write the mapping where its prot allows: never a fault. */
static void op_touch(void)
{
	struct map *m;
	volatile uint64_t *p, *q;
	int sig;

	if (!nmaps)
		return;
	m = &maps[below(nmaps)];
	p = (volatile uint64_t *)m->addr;
	q = (volatile uint64_t *)(m->addr + m->len - 8);
	sig = sigsetjmp(touch_jmp, 1);
	if (sig) {
		touching = 0;
		fail("touching a mapping (prot %d, %zu bytes) raised signal %d", m->prot, m->len,
		     sig);
		return;
	}
	touching = 1;
	if (m->prot & PROT_WRITE) {
		*p = rnd();
		*q = rnd();
	}
	if (m->prot & PROT_READ)
		(void)(*p + *q);
	touching = 0;
	count_err(0);
}

/* ---- generic netlink ---- */

static int nl_open(void)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);

	if (fd < 0)
		return -1;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Replies' verdict: the error of NLMSG_ERROR/NLMSG_DONE, or 0 if none came. */
struct nl_result {
	int err;
	bool done, acked;
	unsigned int msgs, objs, procs;
	bool saw_shareable, saw_admin;
};

static void nl_scan(const struct nlmsghdr *h, uint8_t cmd, struct nl_result *res)
{
	int len = (int)h->nlmsg_len - NLMSG_LENGTH(GENL_HDRLEN);
	const struct nlattr *a = (const void *)((const char *)NLMSG_DATA(h) + GENL_HDRLEN);

	res->msgs++;
	while (len >= (int)sizeof(*a) && a->nla_len >= sizeof(*a) && a->nla_len <= len) {
		uint16_t t = a->nla_type & NLA_TYPE_MASK;

		if (cmd == NPU_MEM_CMD_GET_OBJECT) {
			res->objs += t == NPU_MEM_A_OBJ_ID;
			res->saw_shareable |= t == NPU_MEM_A_OBJ_SHAREABLE;
		}
		if (cmd == NPU_MEM_CMD_GET_PROC)
			res->procs += t == NPU_MEM_A_PROC_FILE;
		if (cmd == NPU_MEM_CMD_GET_INFO)
			res->saw_admin |= t == NPU_MEM_A_INFO_ADMIN;
		len -= NLA_ALIGN(a->nla_len);
		a = (const void *)((const char *)a + NLA_ALIGN(a->nla_len));
	}
}

/*
 * Read what is queued (a dump's next parts are made as it is read); stop at
 * the end of the request's answer, or when nothing more comes (@wait: block
 * for the first message).
 */
static void nl_drain(int fd, uint8_t cmd, uint32_t seq, bool wait, struct nl_result *res)
{
	for (int rounds = 0; rounds < 4096; rounds++) {
		ssize_t n = recv(fd, nl_buf, sizeof(nl_buf), wait ? 0 : MSG_DONTWAIT);
		struct nlmsghdr *h;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == ENOBUFS)	/* events overflowed the socket: go on */
				continue;
			return;
		}
		for (h = (struct nlmsghdr *)nl_buf; NLMSG_OK(h, n); h = NLMSG_NEXT(h, n)) {
			if (h->nlmsg_seq != seq)
				continue;	/* an event (seq 0), or an old answer */
			if (h->nlmsg_type == NLMSG_DONE) {
				int *e = NLMSG_DATA(h);

				res->done = true;
				if (h->nlmsg_len >= NLMSG_LENGTH(sizeof(int)))
					res->err = -*e;
				return;
			}
			if (h->nlmsg_type == NLMSG_ERROR) {
				struct nlmsgerr *e = NLMSG_DATA(h);

				res->err = -e->error;
				res->acked = true;
				if (e->error)
					return;
				continue;
			}
			if (h->nlmsg_type == nl_family)
				nl_scan(h, cmd, res);
		}
	}
}

static uint32_t nl_seq;

/* One request of the family without attributes; its result in *res. */
static int nl_request(int fd, uint8_t cmd, uint16_t flags, struct nl_result *res)
{
	struct {
		struct nlmsghdr n;
		struct genlmsghdr g;
	} req = {
		.n = { .nlmsg_len = NLMSG_LENGTH(GENL_HDRLEN), .nlmsg_type = nl_family,
		       .nlmsg_flags = NLM_F_REQUEST | flags, .nlmsg_seq = ++nl_seq },
		.g = { .cmd = cmd, .version = NPU_MEM_GENL_VERSION },
	};

	memset(res, 0, sizeof(*res));
	if (send(fd, &req, req.n.nlmsg_len, 0) < 0)
		return errno;
	nl_drain(fd, cmd, req.n.nlmsg_seq, true, res);
	return 0;
}

/* Append attribute @type with @len bytes of payload (random or @data). */
static size_t nl_put(uint8_t *p, size_t room, uint16_t type, uint16_t len, const void *data)
{
	struct nlattr *a = (struct nlattr *)p;

	if ((size_t)NLA_HDRLEN + NLA_ALIGN(len) > room)
		return 0;
	a->nla_type = type;
	a->nla_len = NLA_HDRLEN + len;
	if (data)
		memcpy(p + NLA_HDRLEN, data, len);
	else
		for (uint16_t i = 0; i < len; i++)
			p[NLA_HDRLEN + i] = (uint8_t)rnd();
	memset(p + NLA_HDRLEN + len, 0, NLA_ALIGN(len) - len);
	return NLA_HDRLEN + NLA_ALIGN(len);
}

static uint16_t attr_max(uint8_t cmd)
{
	switch (cmd) {
	case NPU_MEM_CMD_GET_INFO:
		return NPU_MEM_A_INFO_MAX;
	case NPU_MEM_CMD_GET_DEVICE:
		return NPU_MEM_A_DEV_MAX;
	case NPU_MEM_CMD_GET_OBJECT:
		return NPU_MEM_A_OBJ_MAX;
	case NPU_MEM_CMD_GET_PROC:
		return NPU_MEM_A_PROC_MAX;
	default:
		return NPU_MEM_A_EV_MAX;
	}
}

static void op_netlink(void)
{
	static uint8_t msg[2048];
	struct nlmsghdr *n = (struct nlmsghdr *)msg;
	struct genlmsghdr *g = NLMSG_DATA(n);
	size_t len = NLMSG_LENGTH(GENL_HDRLEN), alen = 0;
	uint16_t flags;
	uint8_t cmd;
	bool plain, attrs = false, valid_cmd, is_dump_cmd, proper;
	struct nl_result res;
	int r;
	char what[128];

	/* A member of "events" leaves soon: every event costs while anyone listens. */
	if (nl_fd >= 0 && nl_joined && chance(50)) {
		memset(&res, 0, sizeof(res));
		nl_drain(nl_fd, 0, 0, false, &res);
		r = setsockopt(nl_fd, SOL_NETLINK, NETLINK_DROP_MEMBERSHIP, &nl_events_grp,
			       sizeof(nl_events_grp)) ? errno : 0;
		count_err(r);
		expect("leaving the events group", 0, r);
		nl_joined = false;
		return;
	}
	if (nl_fd < 0 || chance(2)) {
		if (nl_fd >= 0)
			close(nl_fd);
		nl_fd = nl_open();
		nl_joined = false;
		if (nl_fd < 0) {
			fail("netlink socket: %s", ename(errno));
			return;
		}
	}
	if (chance(3)) {
		/* the events group: CAP_SYS_ADMIN only */
		uint32_t grp = chance(90) ? nl_events_grp : below(64);
		bool join = !nl_joined;

		r = setsockopt(nl_fd, SOL_NETLINK,
			       join ? NETLINK_ADD_MEMBERSHIP : NETLINK_DROP_MEMBERSHIP, &grp,
			       sizeof(grp)) ? errno : 0;
		count_err(r);
		trace("%s group %u -> %s", join ? "join" : "leave", grp, ename(r));
		if (join && grp == nl_events_grp && getuid() && !r)
			fail("an unprivileged user joined the events group");
		if (join && grp == nl_events_grp && !getuid())
			expect("root joining the events group", 0, r);
		if (join && !r && grp == nl_events_grp)
			nl_joined = true;
		if (!join && grp == nl_events_grp)
			nl_joined = false;
		return;
	}

	memset(msg, 0, NLMSG_LENGTH(GENL_HDRLEN));
	cmd = chance(85) ? below(NPU_MEM_CMD_MAX + 3) : (uint8_t)rnd();
	switch (below(8)) {
	case 0:
		flags = NLM_F_REQUEST | NLM_F_ACK;
		break;
	case 1:
		flags = NLM_F_REQUEST;
		break;
	case 2:
		flags = (uint16_t)rnd();
		break;
	case 3:
		flags = NLM_F_REQUEST | NLM_F_DUMP | NLM_F_ACK;
		break;
	default:
		flags = NLM_F_REQUEST |
			(cmd == NPU_MEM_CMD_GET_INFO && chance(70) ? NLM_F_ACK : NLM_F_DUMP);
	}
	/*
	 * Not the family: nlctrl (read-only), netlink's control types, or an id no
	 * family has; never another family of the kernel (not what is fuzzed here).
	 */
	n->nlmsg_type = chance(92) ? nl_family :
			chance(40) ? GENL_ID_CTRL : chance(50) ? below(NLMSG_MIN_TYPE) :
			0xfff0 + below(16);
	n->nlmsg_flags = flags;
	n->nlmsg_seq = ++nl_seq;
	g->cmd = cmd;
	g->version = chance(90) ? NPU_MEM_GENL_VERSION : (uint8_t)rnd();
	g->reserved = chance(95) ? 0 : (uint16_t)rnd();
	if (chance(25)) {
		int nattrs = 1 + below(4);
		uint16_t max = attr_max(cmd);

		attrs = true;
		for (int i = 0; i < nattrs; i++) {
			uint16_t t = chance(80) ? below(max + 2) : (uint16_t)rnd();
			uint16_t l = chance(50) ? 4 : (chance(50) ? 8 : below(64));

			if (chance(10))
				t |= NLA_F_NESTED;
			alen += nl_put(msg + len + alen, sizeof(msg) - len - alen, t, l, NULL);
		}
		if (chance(15)) {
			/* malformed: a length past the end, or below the header */
			struct nlattr *a = (struct nlattr *)(msg + len);

			a->nla_len = chance(50) ? 1 + below(3) : (uint16_t)(alen + 4 + below(100));
		}
	}
	len += alen;
	n->nlmsg_len = len;
	if (chance(3))
		n->nlmsg_len = chance(50) ? below(len) : len + below(64);

	valid_cmd = cmd >= NPU_MEM_CMD_GET_INFO && cmd <= NPU_MEM_CMD_GET_PROC;
	is_dump_cmd = cmd >= NPU_MEM_CMD_GET_DEVICE && cmd <= NPU_MEM_CMD_GET_PROC;
	proper = n->nlmsg_type == nl_family && n->nlmsg_len == len && g->reserved == 0 &&
		 (flags & NLM_F_REQUEST);
	plain = proper && !attrs && valid_cmd &&
		(is_dump_cmd ? (flags & ~NLM_F_ACK) == (NLM_F_REQUEST | NLM_F_DUMP)
			     : (flags & ~NLM_F_ACK) == NLM_F_REQUEST);

	r = send(nl_fd, msg, len, 0) < 0 ? errno : 0;
	count_err(r);
	snprintf(what, sizeof(what), "netlink type %u cmd %u flags %#x version %u reserved %u%s",
		 n->nlmsg_type, cmd, flags, g->version, g->reserved,
		 attrs ? " with attributes" : "");
	if (r) {
		trace("%s: send %s", what, ename(r));
		return;
	}
	/* Sometimes leave a dump half read and drop the socket. */
	if (is_dump_cmd && (flags & NLM_F_DUMP) && chance(5)) {
		close(nl_fd);
		nl_fd = -1;
		nl_joined = false;
		trace("%s: socket closed mid-answer", what);
		return;
	}
	memset(&res, 0, sizeof(res));
	nl_drain(nl_fd, cmd, n->nlmsg_seq, false, &res);
	trace("%s -> %s (%u msgs)", what, ename(res.err), res.msgs);
	if (getuid() && res.saw_shareable)
		fail("%s: an unprivileged user was shown a shareable value", what);
	if (getuid() && res.saw_admin)
		fail("%s: an unprivileged user was told it is admin", what);
	if (plain && !nl_joined) {
		if (res.err)
			fail("%s: failed with %s", what, ename(res.err));
		else if (is_dump_cmd && !res.done)
			fail("%s: the dump did not end", what);
		else if (!res.msgs && (!is_dump_cmd || cmd == NPU_MEM_CMD_GET_DEVICE))
			fail("%s: no answer", what);
	} else if (valid_cmd && (flags & NLM_F_ACK) && n->nlmsg_type == nl_family &&
		   n->nlmsg_len == len && (flags & NLM_F_REQUEST) &&
		   (is_dump_cmd ? !!(flags & NLM_F_DUMP) : !(flags & NLM_F_DUMP)) &&
		   (attrs || g->reserved)) {
		/* strict validation: no attribute, no reserved header bits */
		if (!res.err)
			fail("%s: accepted", what);
	}
}

/* ---- fork ---- */

static void child_ops(uint64_t seed)
{
	struct file *f = &files[0];
	struct npu_mem_version v = { 0 };
	int r;

	rng = seed;
	/* The inherited file is the parent's: refused. */
	if (f->fd >= 0) {
		r = ioctl(f->fd, NPU_MEM_IOCTL_VERSION, &v) ? errno : 0;
		expect("VERSION on an inherited file", EBADFD, r);
		if (f->nlive) {
			void *va = mmap(NULL, f->live[0].size, PROT_READ, MAP_SHARED, f->fd,
					(off_t)f->live[0].off);

			r = va == MAP_FAILED ? errno : 0;
			expect("mmap of an inherited file", EBADFD, r);
		}
	}
	/* A file of its own, a few ops, then death with everything held. */
	for (int i = 0; i < NFILES; i++) {
		files[i].nlive = files[i].nstale = 0;
		files[i].fd = -1;
	}
	nmaps = 0;		/* the parent's device mappings are not inherited */
	file_open(&files[0], false);
	file_open(&files[1], false);
	for (int i = 0, n = 2 + below(10); i < n; i++) {
		if (chance(15))
			op_mmap();
		else
			op_ioctl();
	}
	if (chance(30))
		for (int i = 0; i < NFILES; i++)
			close(files[i].fd);
	_exit(ws->fails ? 1 : 0);
}

static void op_fork(void)
{
	uint64_t seed = derive(rng, op_no);
	bool killit = chance(25);
	pid_t pid;
	int st;

	fflush(stderr);
	pid = fork();
	if (pid < 0) {
		fail("fork: %s", ename(errno));
		return;
	}
	if (!pid) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		sh->pids[MAX_PROCS + me] = getpid();
		child_ops(seed);
	}
	if (killit)
		kill(pid, SIGKILL);
	if (waitpid(pid, &st, 0) != pid) {
		fail("waitpid: %s", ename(errno));
		return;
	}
	count_err(0);
	if (WIFSIGNALED(st) && !(killit && WTERMSIG(st) == SIGKILL))
		fail("fork child killed by signal %d", WTERMSIG(st));
	/* A child's failure is already in ws (shared). */
}

/* ---- the racer thread (--race) ---- */

/*
 * A second thread of the worker races the first on the same files: it looks
 * handles up, maps and reads them, and unmaps, while the first frees, closes
 * and reopens.  It keeps no books (the fd may be closed, even reused, under
 * it) and judges nothing but faults: a SIGBUS or SIGSEGV reading a mapping
 * kills the worker, which the main process reports.  Its own seed stream
 * keeps the first thread's operations replayable.
 */
static void *racer(void *arg)
{
	uint64_t s = (uint64_t)(uintptr_t)arg;

	for (;;) {
		int fd = __atomic_load_n(&files[mix(&s) % NFILES].fd, __ATOMIC_RELAXED);
		struct npu_mem_handle_info hi = { .handle = 1 + mix(&s) % 6 };
		struct npu_mem_device_info di = { .device = mix(&s) % (ndev + 1) };
		volatile char *va;

		ws->race_ops++;
		if (mix(&s) % 4 == 0) {
			ioctl(fd, NPU_MEM_IOCTL_DEVICE_INFO, &di);
			continue;
		}
		if (ioctl(fd, NPU_MEM_IOCTL_HANDLE_INFO, &hi) || !hi.size || hi.size > RESERVE_LEN)
			continue;
		va = mmap(NULL, hi.size, PROT_READ, MAP_SHARED, fd, (off_t)hi.mmap_offset);
		if (va == MAP_FAILED)
			continue;
		racer_len = hi.size;
		racer_va = va;
		(void)va[0];
		(void)va[hi.size - 1];
		munmap((void *)va, hi.size);
		racer_va = NULL;
	}
	return NULL;
}

/* ---- a worker ---- */

static void worker(uint64_t seed, uint64_t nops, bool unpriv)
{
	static const struct { enum kind k; unsigned int w; } weights[] = {
		{ K_IOCTL, 8000 }, { K_IOCTL_RAW, 1500 }, { K_MMAP, 80 }, { K_MUNMAP, 30 },
		{ K_MPROTECT, 30 }, { K_MREMAP, 30 }, { K_TOUCH, 80 }, { K_FORK, 1 },
		{ K_REOPEN, 6 }, { K_NETLINK, 50 },
	};
	unsigned int total = 0;
	struct timespec t0, t1;
	int memfd;

	rng = seed;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	sh->pids[me] = getpid();
	if (unpriv && !geteuid() && npu_drop_to_user(1000)) {
		fail("becoming uid 1000: %s", ename(errno));
		_exit(1);
	}
	main_thread = pthread_self();
	{
		struct sigaction sa = { .sa_sigaction = on_fault, .sa_flags = SA_SIGINFO };

		sigaction(SIGSEGV, &sa, NULL);
		sigaction(SIGBUS, &sa, NULL);
	}
	arena = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	memfd = memfd_create("npu-mem-fuzz", MFD_CLOEXEC);
	reserve = mmap(NULL, RESERVE_LEN, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	reserve2 = mmap(NULL, RESERVE_LEN, PROT_NONE,
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	pidbuf = malloc((NPU_MEM_MAX_PIDS + 8) * sizeof(*pidbuf));
	if (arena == MAP_FAILED || mprotect(arena + page, page, PROT_NONE) || memfd < 0 ||
	    ftruncate(memfd, page) || reserve == MAP_FAILED || reserve2 == MAP_FAILED ||
	    !pidbuf) {
		fail("worker setup: %s", ename(errno));
		_exit(1);
	}
	ro_w = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
	ro = mmap(NULL, page, PROT_READ, MAP_SHARED, memfd, 0);
	if (ro_w == MAP_FAILED || ro == MAP_FAILED) {
		fail("worker setup: %s", ename(errno));
		_exit(1);
	}
	for (int i = 0; i < NFILES; i++)
		file_open(&files[i], false);
	if (race) {
		pthread_t t;

		if (pthread_create(&t, NULL, racer, (void *)(uintptr_t)derive(seed, 0xace))) {
			fail("pthread_create failed");
			_exit(1);
		}
	}

	for (size_t i = 0; i < sizeof(weights) / sizeof(weights[0]); i++)
		total += weights[i].w;
	for (op_no = 0; op_no < nops; op_no++) {
		unsigned int x = below(total);
		size_t k = 0;

		while (x >= weights[k].w)
			x -= weights[k++].w;
		ws->kind[weights[k].k]++;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		switch (weights[k].k) {
		case K_IOCTL:
			op_ioctl();
			break;
		case K_IOCTL_RAW:
			op_ioctl_raw();
			break;
		case K_MMAP:
			op_mmap();
			break;
		case K_MUNMAP:
		case K_MPROTECT:
		case K_MREMAP:
			op_map_change(weights[k].k);
			break;
		case K_TOUCH:
			op_touch();
			break;
		case K_FORK:
			op_fork();
			break;
		case K_REOPEN: {
			struct file *f = pick_file();

			trace("reopen fd %d", f->fd);
			file_reopen(f, chance(20));
			count_err(0);
			break;
		}
		default:
			op_netlink();
		}
		clock_gettime(CLOCK_MONOTONIC, &t1);
		ws->ns[weights[k].k] += (uint64_t)((t1.tv_sec - t0.tv_sec) * 1000000000LL +
						   (t1.tv_nsec - t0.tv_nsec));
		if (ws->fails > 20)
			break;	/* enough said */
	}
	/* Exit holding everything: the module cleans up after death. */
	_exit(ws->fails ? 1 : 0);
}

/* ---- the main process ---- */

static int read_budget(void)
{
	FILE *fp = fopen(GUESS_BUDGET, "r");
	int v = -1;

	if (fp) {
		if (fscanf(fp, "%d", &v) != 1)
			v = -1;
		fclose(fp);
	}
	return v;
}

static int write_budget(int v)
{
	FILE *fp = fopen(GUESS_BUDGET, "w");

	if (!fp)
		return -1;
	fprintf(fp, "%d\n", v);
	return fclose(fp);
}

/* Find the family and its "events" group.  0 or -1. */
static int nl_resolve(void)
{
	struct {
		struct nlmsghdr n;
		struct genlmsghdr g;
		uint8_t a[32];
	} req = {
		.n = { .nlmsg_type = GENL_ID_CTRL, .nlmsg_flags = NLM_F_REQUEST, .nlmsg_seq = 1 },
		.g = { .cmd = CTRL_CMD_GETFAMILY, .version = 1 },
	};
	int fd = nl_open(), len;
	struct nlmsghdr *h = (struct nlmsghdr *)nl_buf;
	struct nlattr *a;
	ssize_t n;

	if (fd < 0)
		return -1;
	req.n.nlmsg_len = NLMSG_LENGTH(GENL_HDRLEN) +
			  nl_put(req.a, sizeof(req.a), CTRL_ATTR_FAMILY_NAME,
				 sizeof(NPU_MEM_GENL_NAME), NPU_MEM_GENL_NAME);
	if (send(fd, &req, req.n.nlmsg_len, 0) < 0)
		return -1;
	n = recv(fd, nl_buf, sizeof(nl_buf), 0);
	close(fd);
	if (n <= 0 || !NLMSG_OK(h, n) || h->nlmsg_type != GENL_ID_CTRL)
		return -1;
	len = h->nlmsg_len - NLMSG_LENGTH(GENL_HDRLEN);
	for (a = (void *)((char *)NLMSG_DATA(h) + GENL_HDRLEN);
	     len >= (int)sizeof(*a) && a->nla_len >= sizeof(*a) && a->nla_len <= len;
	     len -= NLA_ALIGN(a->nla_len), a = (void *)((char *)a + NLA_ALIGN(a->nla_len))) {
		if (a->nla_type == CTRL_ATTR_FAMILY_ID)
			nl_family = *(uint16_t *)((char *)a + NLA_HDRLEN);
		if ((a->nla_type & NLA_TYPE_MASK) == CTRL_ATTR_MCAST_GROUPS) {
			/* one group: its nest holds ID and NAME */
			struct nlattr *g = (void *)((char *)a + NLA_HDRLEN);
			struct nlattr *ga = (void *)((char *)g + NLA_HDRLEN);
			int glen = g->nla_len - NLA_HDRLEN;

			for (; glen >= (int)sizeof(*ga) && ga->nla_len >= sizeof(*ga);
			     glen -= NLA_ALIGN(ga->nla_len),
			     ga = (void *)((char *)ga + NLA_ALIGN(ga->nla_len)))
				if (ga->nla_type == CTRL_ATTR_MCAST_GRP_ID)
					nl_events_grp = *(uint32_t *)((char *)ga + NLA_HDRLEN);
		}
	}
	return nl_family && nl_events_grp ? 0 : -1;
}

/*
 * The host's clock, in seconds, through the emulated CMOS RTC: under TCG the
 * guest's TSC calibration can be off tenfold, and CLOCK_MONOTONIC with it.
 * -1 when there is no RTC.
 */
static long long rtc_seconds(void)
{
	FILE *fp = fopen("/sys/class/rtc/rtc0/since_epoch", "r");
	long long v = -1;

	if (fp) {
		if (fscanf(fp, "%lld", &v) != 1)
			v = -1;
		fclose(fp);
	}
	return v;
}

static int nverdicts;

static void __attribute__((format(printf, 1, 2))) not_ok(const char *fmt, ...)
{
	va_list ap;

	printf("not ok - fuzz: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf(" (replay: npu-mem-fuzz --seed %" PRIu64 " --ops %" PRIu64 ")\n", main_seed,
	       total_ops);
	nverdicts++;
}

/* Every device's memory free, no object, no file: polled briefly (deferred frees). */
static void check_clean(const char *when)
{
	struct nl_result ro_, rp;
	int fd = nl_open(), tries;
	uint64_t used = 0;

	for (tries = 0; tries < 50; tries++) {
		used = 0;
		for (uint32_t d = 0; d < ndev; d++) {
			struct npu_mem_device_info di = { .device = d };
			int nfd = npu_open();

			if (nfd < 0 || ioctl(nfd, NPU_MEM_IOCTL_DEVICE_INFO, &di)) {
				not_ok("%s: DEVICE_INFO %u: %s", when, d, ename(errno));
				return;
			}
			close(nfd);
			used += di.total - di.free;
		}
		memset(&ro_, 0, sizeof(ro_));
		memset(&rp, 0, sizeof(rp));
		if (fd < 0 || nl_request(fd, NPU_MEM_CMD_GET_OBJECT, NLM_F_DUMP, &ro_) ||
		    nl_request(fd, NPU_MEM_CMD_GET_PROC, NLM_F_DUMP, &rp)) {
			not_ok("%s: netlink dump: %s", when, ename(errno));
			return;
		}
		if (!used && !ro_.objs && !rp.procs && !ro_.err && !rp.err)
			break;
		usleep(100 * 1000);
	}
	close(fd);
	if (used)
		not_ok("%s: %" PRIu64 " bytes of device memory still allocated", when, used);
	if (ro_.err || rp.err)
		not_ok("%s: netlink dumps failed: %s %s", when, ename(ro_.err), ename(rp.err));
	if (ro_.objs)
		not_ok("%s: the object dump lists %u objects", when, ro_.objs);
	if (rp.procs)
		not_ok("%s: the process dump lists %u files", when, rp.procs);
}

/* The module still works: allocate, export, map, write, free. */
static void check_usable(void)
{
	int fd = npu_open();
	uint32_t h;
	uint64_t off, v;
	void *va;

	if (fd < 0 || npu_alloc(fd, 0, NPU_MEM_GRANULARITY, &h, &off) || npu_export(fd, h, 0, &v)) {
		not_ok("the module is not usable after the run: %s", ename(errno));
		return;
	}
	va = npu_map(fd, off, NPU_MEM_GRANULARITY);
	if (!va) {
		not_ok("mapping after the run: %s", ename(errno));
	} else {
		fill(va, NPU_MEM_GRANULARITY, 7);
		if (!check(va, NPU_MEM_GRANULARITY, 7))
			not_ok("the memory does not hold data after the run");
		munmap(va, NPU_MEM_GRANULARITY);
	}
	if (npu_free(fd, h))
		not_ok("FREE after the run: %s", ename(errno));
	close(fd);
}

/*
 * This module instance's fabric id, which the workers put in the fabric
 * handles they make; on the way, a 2.0-sized fabric EXPORT is refused and
 * exports nothing (the 2.1-sized one after it succeeds).
 */
static void learn_instance(void)
{
	struct npu_mem_export ex = { .flags = NPU_MEM_SHARE_FABRIC };
	int fd = npu_open(), r;
	uint64_t off;

	if (fd < 0 || npu_alloc(fd, 0, NPU_MEM_GRANULARITY, &ex.handle, &off)) {
		not_ok("ALLOC before the run: %s", ename(errno));
		if (fd >= 0)
			close(fd);
		return;
	}
	r = ioctl(fd, cmd_with_size(NPU_MEM_IOCTL_EXPORT, NPU_MEM_EXPORT_SIZE_VER0), &ex) ?
		    errno : 0;
	if (r != EINVAL)
		not_ok("a 2.0-sized EXPORT with FABRIC: %s, not EINVAL", ename(r));
	r = ioctl(fd, NPU_MEM_IOCTL_EXPORT, &ex) ? errno : 0;
	if (r || memcmp(ex.fabric.magic, NPU_MEM_FABRIC_MAGIC, sizeof(ex.fabric.magic)) ||
	    !ex.shareable || ex.fabric.shareable != ex.shareable)
		not_ok("EXPORT with FABRIC: %s, value %#" PRIx64 ", handle's %#" PRIx64,
		       ename(r), (uint64_t)ex.shareable, (uint64_t)ex.fabric.shareable);
	else
		memcpy(sh->instance, ex.fabric.instance, sizeof(sh->instance));
	if (npu_free(fd, ex.handle))
		not_ok("FREE before the run: %s", ename(errno));
	close(fd);
}

static void usage(int status)
{
	fprintf(status ? stderr : stdout,
		"usage: npu-mem-fuzz [--seed S] [--ops N] [--procs P] [--race] [--verbose]\n"
		"  --seed S   the run's seed (default: from the clock); printed, replays a run\n"
		"  --ops N    operations in all (default 100000), split among the workers\n"
		"  --procs P  worker processes (default 4, at most %d); the odd ones run as uid 1000\n"
		"  --race     a second thread per worker maps and looks up handles of the same\n"
		"             files meanwhile (not counted in N, not replayable)\n"
		"  --verbose  trace every operation on stderr\n", MAX_PROCS);
	exit(status);
}

int main(int argc, char **argv)
{
	uint64_t seed, ops = 100000, sum[K_NR] = { 0 }, err[MAX_ERRNO + 1] = { 0 };
	uint64_t nr_ioctl[16] = { 0 }, all = 0, ioctls = 0;
	int procs = 4, budget = -1, st, fd;
	struct npu_mem_version ver = { 0 };
	struct timespec t0, t1;
	pid_t pids[MAX_PROCS];
	bool have_seed = false;
	long long rtc0, rtc1;
	double secs;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--seed") && i + 1 < argc) {
			seed = strtoull(argv[++i], NULL, 0);
			have_seed = true;
		} else if (!strcmp(argv[i], "--ops") && i + 1 < argc) {
			ops = strtoull(argv[++i], NULL, 0);
		} else if (!strcmp(argv[i], "--procs") && i + 1 < argc) {
			procs = atoi(argv[++i]);
		} else if (!strcmp(argv[i], "--race")) {
			race = true;
		} else if (!strcmp(argv[i], "--verbose") || !strcmp(argv[i], "-v")) {
			verbose = true;
		} else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage(0);
		} else {
			usage(2);
		}
	}
	if (procs < 1 || procs > MAX_PROCS)
		usage(2);
	if (!have_seed) {
		clock_gettime(CLOCK_REALTIME, &t0);
		seed = (uint64_t)t0.tv_nsec ^ ((uint64_t)t0.tv_sec << 20) ^ (uint64_t)getpid();
	}
	main_seed = seed;
	total_ops = ops;
	page = sysconf(_SC_PAGESIZE);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (geteuid())
		printf("# npu-mem-fuzz: seed %" PRIu64 ", %" PRIu64 " ops, %d processes, all as "
		       "uid %d (not root)\n", seed, ops, procs, (int)geteuid());
	else
		printf("# npu-mem-fuzz: seed %" PRIu64 ", %" PRIu64 " ops, %d processes "
		       "(%d as uid 1000)\n", seed, ops, procs, procs / 2);

	fd = npu_open();
	if (fd < 0 || ioctl(fd, NPU_MEM_IOCTL_VERSION, &ver)) {
		not_ok("cannot open /dev/npu_mem: %s", ename(errno));
		return 1;
	}
	close(fd);
	ndev = ver.num_devices;
	if (nl_resolve()) {
		not_ok("cannot resolve the npu_mem netlink family");
		return 1;
	}
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED) {
		not_ok("mmap: %s", ename(errno));
		return 1;
	}
	if (!geteuid()) {
		budget = read_budget();
		if (budget >= 0 && !write_budget(0)) {
			budget_off = true;
			printf("# guess_budget %d -> 0 (unlimited) for the run\n", budget);
		}
	}
	if (!budget_off)
		printf("# guess_budget left as is: random values may give EAGAIN, not judged\n");
	learn_instance();
	/* Fork children whose worker died are reparented here and reaped. */
	prctl(PR_SET_CHILD_SUBREAPER, 1);

	rtc0 = rtc_seconds();
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < procs; i++) {
		uint64_t n = ops / procs + ((uint64_t)i < ops % procs);

		fflush(stdout);
		pids[i] = fork();
		if (pids[i] < 0) {
			not_ok("fork: %s", ename(errno));
			return 1;
		}
		if (!pids[i]) {
			me = i;
			ws = &sh->ws[i];
			worker(derive(seed, i + 1), n, i % 2);
		}
	}
	for (int i = 0; i < procs; i++) {
		if (waitpid(pids[i], &st, 0) != pids[i]) {
			not_ok("waitpid: %s", ename(errno));
			continue;
		}
		if (WIFSIGNALED(st))
			not_ok("worker %d killed by signal %d (%s)", i, WTERMSIG(st),
			       strsignal(WTERMSIG(st)));
		else if (WEXITSTATUS(st) && !sh->ws[i].fails)
			not_ok("worker %d exited with %d", i, WEXITSTATUS(st));
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	rtc1 = rtc_seconds();
	secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	/* Every process of the run gone: reap orphans, none may remain. */
	for (int tries = 0;; tries++) {
		pid_t p = waitpid(-1, &st, WNOHANG);

		if (p > 0)
			continue;
		if (p < 0 && errno == ECHILD)
			break;
		if (tries > 50) {
			not_ok("fuzz processes remain after the run");
			break;
		}
		usleep(100 * 1000);
	}

	for (int i = 0; i < procs; i++) {
		for (int k = 0; k < K_NR; k++)
			sum[k] += sh->ws[i].kind[k];
		for (int e = 0; e <= MAX_ERRNO; e++)
			err[e] += sh->ws[i].err[e];
		for (int k = 0; k < 16; k++)
			nr_ioctl[k] += sh->ws[i].ioctl_nr[k];
		if (sh->ws[i].fails)
			not_ok("%s (%" PRIu64 " failures in worker %d)", sh->ws[i].fail,
			       sh->ws[i].fails, i);
	}
	for (int k = 0; k < K_NR; k++)
		all += sum[k];
	if (race) {
		uint64_t n = 0;

		for (int i = 0; i < procs; i++)
			n += sh->ws[i].race_ops;
		printf("# racer threads: %" PRIu64 " lookups and mappings\n", n);
	}
	printf("# ops by kind:");
	for (int k = 0; k < K_NR; k++)
		printf(" %s %" PRIu64, kind_names[k], sum[k]);
	printf("\n# mean us per op:");
	for (int k = 0; k < K_NR; k++) {
		uint64_t ns = 0;

		for (int i = 0; i < procs; i++)
			ns += sh->ws[i].ns[k];
		printf(" %s %.0f", kind_names[k], sum[k] ? (double)ns / sum[k] / 1000 : 0.0);
	}
	printf("\n# ioctls by number:");
	for (int k = 0; k < NIOCTLS; k++) {
		printf(" %s %" PRIu64, idescs[k].name, nr_ioctl[k]);
		ioctls += nr_ioctl[k];
	}
	printf(" (+ %" PRIu64 " raw)\n# mean us per ioctl:", sum[K_IOCTL_RAW]);
	for (int k = 0; k < NIOCTLS; k++) {
		uint64_t ns = 0;

		for (int i = 0; i < procs; i++)
			ns += sh->ws[i].ioctl_ns[k];
		printf(" %s %.0f", idescs[k].name, nr_ioctl[k] ? (double)ns / nr_ioctl[k] / 1000 : 0.0);
	}
	printf("\n# value-kind oracles judged:");
	for (int k = 0; k < KO_NR; k++) {
		uint64_t n = 0;

		for (int i = 0; i < procs; i++)
			n += sh->ws[i].kinds[k];
		printf(" %s %" PRIu64, ko_names[k], n);
	}
	printf("\n# results:");
	for (int e = 0; e <= MAX_ERRNO; e++)
		if (err[e])
			printf(" %s %" PRIu64, e == MAX_ERRNO ? "other" : ename(e), err[e]);
	printf("\n# %" PRIu64 " ops (%" PRIu64 " ioctls) in %.1f s by CLOCK_MONOTONIC",
	       all, ioctls + sum[K_IOCTL_RAW], secs);
	if (rtc0 >= 0 && rtc1 >= rtc0) {
		/* the per-op figures above are in the guest's time, this is the host's */
		printf(", %lld s by the RTC: %.0f ops/s\n", rtc1 - rtc0,
		       (double)all / (double)(rtc1 - rtc0 ? rtc1 - rtc0 : 1));
	} else {
		printf(": %.0f ops/s\n", secs > 0 ? (double)all / secs : 0.0);
	}

	check_clean("after the run");
	check_usable();
	check_clean("after the usability check");
	if (budget_off) {
		if (write_budget(budget))
			not_ok("restoring guess_budget to %d: %s", budget, ename(errno));
		else
			printf("# guess_budget restored to %d\n", read_budget());
	}
	if (nverdicts)
		return 1;
	printf("ok - fuzz: %" PRIu64 " ops, seed %" PRIu64 "\n", all, seed);
	return 0;
}
