// SPDX-License-Identifier: GPL-2.0
/*
 * Systematic fault injection: every entry point, each of its failure points.
 *
 * For each call (open, every ioctl, mmap, the first touch of a mapping,
 * munmap of the last holder, close of a file holding handles, every netlink
 * command) this writes N = 1, 2, 3, ...
 * to /proc/thread-self/fail-nth right before the call, so that the N-th
 * fault-injection site the calling thread reaches (failslab, fail_page_alloc)
 * fails, and reads it back right after: 0 means the fault was injected, a
 * non-zero value means the call completed without reaching an N-th site (the
 * loop ends).  The kernel's own mechanism, the one syzkaller uses
 * (Documentation/fault-injection/fault-injection.rst).
 *
 * An injected failure must give a clean errno (the call's accepted list) and
 * leave the observable state as it was: every device's free bytes, the
 * caller's handles (HANDLE_INFO on the first ids of each file), whether the
 * test's shareable values can be imported by a whitelisted helper process
 * and not by another one, the netlink dumps' counts (objects, holders,
 * mappings, files, handles, exports) and no event on the "events" group.  A
 * call that succeeds although a fault was injected (a tolerated failure: a
 * __GFP_NORETRY chunk with a smaller fallback, a lost event) is undone; after
 * each point, the state must be back to what it was before the point's setup
 * (nothing leaked).  The VM fails the run on any splat or kmemleak report.
 *
 * Not reachable: the zero reserve's refill runs in a workqueue, whose
 * allocations fail-nth (per thread) cannot touch; what is covered is the
 * allocation path that takes chunks from the reserve, creates a reserve for
 * a new memory cgroup, and falls back to the page allocator past it.
 * copy_to_user() has no injection site.
 */
#define _GNU_SOURCE
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "harness.h"
#include "fail_nth.h"
#include "npu.h"
#include "cgroup.h"
#include "uapi/npu_mem_netlink.h"

#define SZ		(2 * MIB)
/* Past the zero reserve (zero_reserve_mb, 64 MiB by default). */
#define SZ_BIG		(72 * MIB)
/* What the mmap calls map: two chunks (mmap maps nothing itself; faults do). */
#define SZ_MAP		(4 * MIB)
#define MAX_NTH		2000
#define MAX_DEVS	8
#define NPROBE_IDS	16
#define NPROBE_VALUES	4
#define CG_PATH		CGROUP_ROOT "/npu_fail_nth"

/* ---- fail-nth (the fault attributes: fail_nth.h) ---- */

static int nth_fd = -1;

static inline void nth_set(unsigned int n)
{
	char buf[16];
	int len = snprintf(buf, sizeof(buf), "%u", n);

	if (pwrite(nth_fd, buf, len, 0) != len)
		_exit(4);
}

static inline unsigned int nth_get(void)
{
	char buf[16] = "";

	if (pread(nth_fd, buf, sizeof(buf) - 1, 0) <= 0)
		_exit(4);
	return strtoul(buf, NULL, 10);
}

/* ---- generic netlink, raw (no libnl: nothing allocates behind our back) ---- */

static uint16_t nl_family;
static uint32_t nl_events_grp;
static uint32_t nl_seq;
static char nl_buf[65536] __attribute__((aligned(8)));

#define NLA_FOR_EACH(a, buf, len)						\
	for (a = (struct nlattr *)(buf);					\
	     (len) >= (int)sizeof(*a) && a->nla_len >= sizeof(*a) &&		\
	     a->nla_len <= (len);						\
	     (len) -= NLA_ALIGN(a->nla_len),					\
	     a = (struct nlattr *)((char *)a + NLA_ALIGN(a->nla_len)))
#define NLA_DATA(a)	((void *)((char *)(a) + NLA_HDRLEN))

static int nl_socket(void)
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

/* Send a request; 0 or errno. */
static int nl_send(int fd, uint16_t type, uint16_t flags, uint8_t cmd,
		   const void *attrs, size_t alen)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	struct {
		struct nlmsghdr n;
		struct genlmsghdr g;
		char a[64];
	} req;

	memset(&req, 0, sizeof(req));
	req.n.nlmsg_len = NLMSG_LENGTH(GENL_HDRLEN + alen);
	req.n.nlmsg_type = type;
	req.n.nlmsg_flags = NLM_F_REQUEST | flags;
	req.n.nlmsg_seq = ++nl_seq;
	req.g.cmd = cmd;
	req.g.version = 1;
	memcpy(req.a, attrs, alen);
	if (sendto(fd, &req, req.n.nlmsg_len, 0, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return errno;
	return 0;
}

/* What the dumps say, summed. */
struct nl_sum {
	uint32_t msgs;
	uint32_t objs, holders, maps, exported;
	uint32_t files, handles, fmaps;
	uint32_t dev_objs, dev_exports;
	uint64_t dev_used;
};

static void nl_parse(uint8_t cmd, struct nlmsghdr *h, struct nl_sum *s)
{
	int len = h->nlmsg_len - NLMSG_LENGTH(GENL_HDRLEN);
	struct nlattr *a;

	s->msgs++;
	NLA_FOR_EACH(a, (char *)NLMSG_DATA(h) + GENL_HDRLEN, len) {
		uint16_t t = a->nla_type & NLA_TYPE_MASK;
		uint32_t u32 = *(uint32_t *)NLA_DATA(a);

		switch (cmd) {
		case NPU_MEM_CMD_GET_OBJECT:
			s->objs += t == NPU_MEM_A_OBJ_ID;
			s->holders += t == NPU_MEM_A_OBJ_HOLDERS ? u32 : 0;
			s->maps += t == NPU_MEM_A_OBJ_MAPPINGS ? u32 : 0;
			s->exported += t == NPU_MEM_A_OBJ_EXPORTED;
			break;
		case NPU_MEM_CMD_GET_PROC:
			s->files += t == NPU_MEM_A_PROC_FILE;
			s->handles += t == NPU_MEM_A_PROC_HANDLES ? u32 : 0;
			s->fmaps += t == NPU_MEM_A_PROC_MAPPINGS ? u32 : 0;
			break;
		case NPU_MEM_CMD_GET_DEVICE:
			s->dev_objs += t == NPU_MEM_A_DEV_OBJECTS ? u32 : 0;
			s->dev_exports += t == NPU_MEM_A_DEV_EXPORTS ? u32 : 0;
			if (t == NPU_MEM_A_DEV_USED) {
				uint64_t used;

				memcpy(&used, NLA_DATA(a), sizeof(used));
				s->dev_used += used;
			}
			break;
		}
	}
}

/* Read replies to the end of the request; 0 or errno. */
static int nl_recv(int fd, uint8_t cmd, bool dump, struct nl_sum *s)
{
	for (;;) {
		ssize_t n = recv(fd, nl_buf, sizeof(nl_buf), 0);
		struct nlmsghdr *h;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno;
		}
		for (h = (struct nlmsghdr *)nl_buf; NLMSG_OK(h, n); h = NLMSG_NEXT(h, n)) {
			if (h->nlmsg_type == NLMSG_DONE) {
				int *err = NLMSG_DATA(h);

				if (h->nlmsg_len >= NLMSG_LENGTH(sizeof(int)) && *err)
					return -*err;
				return 0;
			}
			if (h->nlmsg_type == NLMSG_ERROR) {
				struct nlmsgerr *e = NLMSG_DATA(h);

				if (e->error)
					return -e->error;
				if (!dump)
					return 0;
				continue;
			}
			if (s)
				nl_parse(cmd, h, s);
		}
	}
}

/* One request of the npu_mem family, to its end; 0 or errno. */
static int nl_request(int fd, uint8_t cmd, struct nl_sum *s)
{
	bool dump = cmd != NPU_MEM_CMD_GET_INFO;
	int r = nl_send(fd, nl_family, dump ? NLM_F_DUMP : NLM_F_ACK, cmd, NULL, 0);

	return r ?: nl_recv(fd, cmd, dump, s);
}

/* Find the family and its "events" group.  0 or -1. */
static int nl_resolve(void)
{
	struct {
		struct nlattr a;
		char name[16];
	} attr = { .a = { .nla_len = NLA_HDRLEN + sizeof(NPU_MEM_GENL_NAME),
			  .nla_type = CTRL_ATTR_FAMILY_NAME },
		   .name = NPU_MEM_GENL_NAME };
	int fd = nl_socket(), len;
	struct nlmsghdr *h;
	struct nlattr *a, *g, *ga;
	ssize_t n;

	if (fd < 0 || nl_send(fd, GENL_ID_CTRL, 0, CTRL_CMD_GETFAMILY, &attr,
			      NLA_ALIGN(attr.a.nla_len)))
		return -1;
	n = recv(fd, nl_buf, sizeof(nl_buf), 0);
	close(fd);
	h = (struct nlmsghdr *)nl_buf;
	if (n <= 0 || !NLMSG_OK(h, n) || h->nlmsg_type != GENL_ID_CTRL)
		return -1;
	len = h->nlmsg_len - NLMSG_LENGTH(GENL_HDRLEN);
	NLA_FOR_EACH(a, (char *)NLMSG_DATA(h) + GENL_HDRLEN, len) {
		if (a->nla_type == CTRL_ATTR_FAMILY_ID)
			nl_family = *(uint16_t *)NLA_DATA(a);
		if ((a->nla_type & NLA_TYPE_MASK) == CTRL_ATTR_MCAST_GROUPS) {
			int glen = a->nla_len - NLA_HDRLEN;

			NLA_FOR_EACH(g, NLA_DATA(a), glen) {
				int alen = g->nla_len - NLA_HDRLEN;
				uint32_t id = 0;
				bool events = false;

				NLA_FOR_EACH(ga, NLA_DATA(g), alen) {
					if (ga->nla_type == CTRL_ATTR_MCAST_GRP_ID)
						id = *(uint32_t *)NLA_DATA(ga);
					if (ga->nla_type == CTRL_ATTR_MCAST_GRP_NAME)
						events = !strcmp(NLA_DATA(ga),
								 NPU_MEM_GENL_MCGRP_EVENTS);
				}
				if (events)
					nl_events_grp = id;
			}
		}
	}
	return nl_family && nl_events_grp ? 0 : -1;
}

/* ---- helper processes ---- */

enum { H_IMPORT_PROBE = 1, H_EXPORT, H_EXIT };

struct helper {
	pid_t pid;
	int cmd, res;
};

/*
 * A helper holds a file of its own.  H_IMPORT_PROBE v: import v and free it
 * again, answer 0 or errno.  H_EXPORT flags pid: allocate, export, whitelist
 * pid (if not 0), answer the value (0 on error).
 */
static void helper_main(int cmd, int res)
{
	int fd = npu_open();

	for (;;) {
		uint64_t op = get64(cmd), v = 0, flags;
		uint32_t h;
		int32_t pid;

		switch (op) {
		case H_IMPORT_PROBE:
			v = get64(cmd);
			if (npu_import(fd, v, 0, &h, NULL)) {
				put64(res, errno);
			} else {
				put64(res, npu_free(fd, h) ? 1000 + errno : 0);
			}
			break;
		case H_EXPORT:
			flags = get64(cmd);
			pid = get64(cmd);
			if (npu_alloc(fd, 0, SZ_MAP, &h, NULL) || npu_export(fd, h, flags, &v) ||
			    (pid && npu_set_pids(fd, v, &pid, 1)))
				v = 0;
			put64(res, v);
			break;
		default:
			_exit(0);
		}
	}
}

static int helper_start(struct helper *hp)
{
	int c[2], r[2];

	if (pipe(c) || pipe(r))
		return -1;
	hp->pid = fork();
	if (hp->pid < 0)
		return -1;
	if (hp->pid == 0) {
		close(c[1]);
		close(r[0]);
		helper_main(c[0], r[1]);
	}
	close(c[0]);
	close(r[1]);
	hp->cmd = c[1];
	hp->res = r[0];
	return 0;
}

static uint64_t helper_do(struct helper *hp, uint64_t op, uint64_t a, uint64_t b)
{
	put64(hp->cmd, op);
	if (op == H_IMPORT_PROBE)
		put64(hp->cmd, a);
	if (op == H_EXPORT) {
		put64(hp->cmd, a);
		put64(hp->cmd, b);
	}
	return get64(hp->res);
}

/* ---- the environment and its observable state ---- */

struct env {
	int fd;			/* the test's long-lived file */
	int fd2;		/* a file a call's setup opened, or -1 */
	int nl;			/* netlink, for the snapshots */
	int ev;			/* netlink, in the "events" group */
	int nlc;		/* netlink, for the call under test */
	uint32_t ndev;
	struct helper a;	/* whitelisted; exports values for us to import */
	struct helper b;	/* on no whitelist */
	uint64_t probe[NPROBE_VALUES];	/* values whose importability is state */
	uint64_t va_wl, va_nv;	/* helper a's values: for us, and for anyone */
	/* per call */
	uint32_t h, h2;
	uint64_t v, off;
	void *va;
	int pids_n;
	int32_t pids[16];
};

struct snap {
	uint64_t free[MAX_DEVS];
	int hr[2][NPROBE_IDS];
	struct npu_mem_handle_info hi[2][NPROBE_IDS];
	uint64_t probe[NPROBE_VALUES];
	uint64_t pa[NPROBE_VALUES], pb[NPROBE_VALUES];
	struct nl_sum nl;
	int nl_err;
};

static void take_snap(struct env *e, struct snap *s)
{
	memset(s, 0, sizeof(*s));
	for (uint32_t d = 0; d < e->ndev && d < MAX_DEVS; d++) {
		struct npu_mem_device_info di = { .device = d };

		s->free[d] = ioctl(e->fd, NPU_MEM_IOCTL_DEVICE_INFO, &di) ? ~0ULL : di.free;
	}
	for (int f = 0; f < 2; f++) {
		int fd = f ? e->fd2 : e->fd;

		for (int i = 0; i < NPROBE_IDS; i++) {
			struct npu_mem_handle_info *hi = &s->hi[f][i];

			if (fd < 0) {
				s->hr[f][i] = -1;
				continue;
			}
			hi->handle = i + 1;
			s->hr[f][i] = ioctl(fd, NPU_MEM_IOCTL_HANDLE_INFO, hi) ? errno : 0;
			if (s->hr[f][i])
				memset(hi, 0, sizeof(*hi));
		}
	}
	for (int i = 0; i < NPROBE_VALUES; i++) {
		s->probe[i] = e->probe[i];
		if (!e->probe[i])
			continue;
		s->pa[i] = helper_do(&e->a, H_IMPORT_PROBE, e->probe[i], 0);
		s->pb[i] = helper_do(&e->b, H_IMPORT_PROBE, e->probe[i], 0);
	}
	s->nl_err = nl_request(e->nl, NPU_MEM_CMD_GET_OBJECT, &s->nl) ?:
		    nl_request(e->nl, NPU_MEM_CMD_GET_PROC, &s->nl) ?:
		    nl_request(e->nl, NPU_MEM_CMD_GET_DEVICE, &s->nl);
}

/* Describe how @b differs from @a into @out; return: differences. */
static int snap_diff(const struct snap *a, const struct snap *b, char *out, size_t len)
{
	int n = 0;
	size_t o = 0;

#define DIFF(fmt, ...) do {							\
		n++;								\
		if (o < len)							\
			o += snprintf(out + o, len - o, fmt " ", __VA_ARGS__);	\
	} while (0)
	out[0] = '\0';
	for (int d = 0; d < MAX_DEVS; d++)
		if (a->free[d] != b->free[d])
			DIFF("dev%d free %llu->%llu", d, (unsigned long long)a->free[d],
			     (unsigned long long)b->free[d]);
	for (int f = 0; f < 2; f++)
		for (int i = 0; i < NPROBE_IDS; i++)
			if (a->hr[f][i] != b->hr[f][i] ||
			    memcmp(&a->hi[f][i], &b->hi[f][i], sizeof(a->hi[f][i])))
				DIFF("file%d handle %d (%d->%d, flags %u->%u)", f, i + 1,
				     a->hr[f][i], b->hr[f][i], a->hi[f][i].info_flags,
				     b->hi[f][i].info_flags);
	for (int i = 0; i < NPROBE_VALUES; i++) {
		if (a->probe[i] != b->probe[i] || !a->probe[i])
			continue;
		if (a->pa[i] != b->pa[i])
			DIFF("value%d: whitelisted import %llu->%llu", i,
			     (unsigned long long)a->pa[i], (unsigned long long)b->pa[i]);
		if (a->pb[i] != b->pb[i])
			DIFF("value%d: other import %llu->%llu", i,
			     (unsigned long long)a->pb[i], (unsigned long long)b->pb[i]);
	}
	if (a->nl_err || b->nl_err)
		DIFF("netlink dump error %d/%d", a->nl_err, b->nl_err);
#define NLD(f) if (a->nl.f != b->nl.f) \
		DIFF("netlink " #f " %llu->%llu", (unsigned long long)a->nl.f, \
		     (unsigned long long)b->nl.f)
	NLD(objs); NLD(holders); NLD(maps); NLD(exported); NLD(files); NLD(handles);
	NLD(fmaps); NLD(dev_objs); NLD(dev_exports); NLD(dev_used);
#undef NLD
#undef DIFF
	return n;
}

/* Events waiting on the events socket (read and dropped); -1 on overflow. */
static int drain_events(struct env *e)
{
	int n = 0;

	for (;;) {
		ssize_t r = recv(e->ev, nl_buf, sizeof(nl_buf), MSG_DONTWAIT);
		struct nlmsghdr *h;

		if (r < 0)
			return errno == EAGAIN ? n : -1;
		for (h = (struct nlmsghdr *)nl_buf; NLMSG_OK(h, r); h = NLMSG_NEXT(h, r))
			n++;
	}
}

/* ---- the calls ---- */

struct fcall {
	const char *name;
	int (*prep)(struct env *e);		/* 0 or -1 */
	int (*call)(struct env *e);		/* 0 or errno: only the call */
	void (*after)(struct env *e, int r);	/* undo a success, clean up */
	int ok[4];				/* errnos of a clean failure */
	uint32_t page_kind;			/* ALLOC */
	uint64_t size;				/* ALLOC */
	uint32_t flags;				/* EXPORT */
	uint8_t cmd;				/* netlink */
};

static const struct fcall *cur;

static int open_fd2(struct env *e)
{
	e->fd2 = npu_open();
	return e->fd2 < 0 ? -1 : 0;
}

static void close_fd2(struct env *e, int r)
{
	if (e->fd2 >= 0)
		close(e->fd2);
	e->fd2 = -1;
}

static int c_open(struct env *e)
{
	e->fd2 = npu_open();
	return e->fd2 < 0 ? errno : 0;
}

#define IOC(fd, nr, arg) (ioctl((fd), (nr), (arg)) ? errno : 0)

static struct npu_mem_version g_ver;
static struct npu_mem_device_info g_di;
static struct npu_mem_bare_tgid g_bt;
static struct npu_mem_handle_info g_hi;
static struct npu_mem_alloc g_alloc;
static struct npu_mem_export g_exp;
static struct npu_mem_set_pids g_sp;
static struct npu_mem_import g_imp;
static struct npu_mem_free g_free;

static int c_version(struct env *e)
{
	memset(&g_ver, 0, sizeof(g_ver));
	return IOC(e->fd, NPU_MEM_IOCTL_VERSION, &g_ver);
}

static int c_device_info(struct env *e)
{
	memset(&g_di, 0, sizeof(g_di));
	return IOC(e->fd, NPU_MEM_IOCTL_DEVICE_INFO, &g_di);
}

static int c_bare_tgid(struct env *e)
{
	memset(&g_bt, 0, sizeof(g_bt));
	return IOC(e->fd, NPU_MEM_IOCTL_BARE_TGID, &g_bt);
}

static int p_handle(struct env *e)
{
	return npu_alloc(e->fd, 0, SZ, &e->h, &e->off);
}

static void a_free_handle(struct env *e, int r)
{
	if (e->h)
		npu_free(e->fd, e->h);
	e->h = 0;
}

static int c_handle_info(struct env *e)
{
	memset(&g_hi, 0, sizeof(g_hi));
	g_hi.handle = e->h;
	return IOC(e->fd, NPU_MEM_IOCTL_HANDLE_INFO, &g_hi);
}

/* ALLOC, in a file of its own (its handle table is created then). */
static int c_alloc(struct env *e)
{
	memset(&g_alloc, 0, sizeof(g_alloc));
	g_alloc.device = cur->size == SZ_BIG ? e->ndev - 1 : 0;
	g_alloc.page_kind = cur->page_kind;
	g_alloc.size = cur->size;
	return IOC(e->fd2, NPU_MEM_IOCTL_ALLOC, &g_alloc);
}

static void a_alloc(struct env *e, int r)
{
	if (!r)
		npu_free(e->fd2, g_alloc.handle);
	close_fd2(e, r);
}

static int c_free(struct env *e)
{
	g_free.handle = e->h;
	g_free.flags = 0;
	return IOC(e->fd, NPU_MEM_IOCTL_FREE, &g_free);
}

static void a_free(struct env *e, int r)
{
	if (!r)
		e->h = 0;
	a_free_handle(e, r);
}

static int c_export(struct env *e)
{
	memset(&g_exp, 0, sizeof(g_exp));
	g_exp.handle = e->h;
	g_exp.flags = cur->flags;
	return IOC(e->fd, NPU_MEM_IOCTL_EXPORT, &g_exp);
}

/* SET_PIDS on a new value, whose whitelist is empty or (grow) full at 8. */
static int p_set_pids(struct env *e)
{
	int32_t eight[8] = { 2, 3, 4, 5, 6, 7, 8, 9 };

	if (p_handle(e) || npu_export(e->fd, e->h, 0, &e->v))
		return -1;
	if (cur->flags && npu_set_pids(e->fd, e->v, eight, 8))
		return -1;
	e->probe[NPROBE_VALUES - 1] = e->v;
	/* A count that takes a new, larger allocation for the copy. */
	e->pids_n = 12;
	for (int i = 0; i < e->pids_n; i++)
		e->pids[i] = 100 + i;
	e->pids[5] = e->a.pid;
	return 0;
}

static int c_set_pids(struct env *e)
{
	g_sp.shareable = e->v;
	g_sp.pids = (uintptr_t)e->pids;
	g_sp.count = e->pids_n;
	g_sp.flags = 0;
	return IOC(e->fd, NPU_MEM_IOCTL_SET_PIDS, &g_sp);
}

static void a_set_pids(struct env *e, int r)
{
	e->probe[NPROBE_VALUES - 1] = 0;
	a_free_handle(e, r);
}

/* IMPORT of helper a's value (whitelist, or none with flags) into fd, or fd2. */
static int p_import(struct env *e)
{
	return cur->size ? open_fd2(e) : 0;
}

static int c_import(struct env *e)
{
	memset(&g_imp, 0, sizeof(g_imp));
	g_imp.shareable = cur->flags ? e->va_nv : e->va_wl;
	g_imp.device = e->ndev - 1;
	return IOC(cur->size ? e->fd2 : e->fd, NPU_MEM_IOCTL_IMPORT, &g_imp);
}

static void a_import(struct env *e, int r)
{
	if (!r)
		npu_free(cur->size ? e->fd2 : e->fd, g_imp.handle);
	close_fd2(e, r);
}

/* mmap into a PROT_NONE reservation (aclrtMapMem), of an allocated or imported handle. */
static int p_mmap(struct env *e)
{
	if (cur->flags) {
		if (npu_import(e->fd, e->va_wl, 0, &e->h, &e->off))
			return -1;
	} else if (npu_alloc(e->fd, 0, SZ_MAP, &e->h, &e->off)) {
		return -1;
	}
	e->va = mmap(NULL, SZ_MAP, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	return e->va == MAP_FAILED ? -1 : 0;
}

static int c_mmap(struct env *e)
{
	void *p = mmap(e->va, SZ_MAP, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, e->fd,
		       e->off);

	return p == MAP_FAILED ? errno : 0;
}

static void a_mmap(struct env *e, int r)
{
	munmap(e->va, SZ_MAP);
	a_free_handle(e, r);
}

/* munmap of the last holder: the handle is freed first. */
static int p_munmap(struct env *e)
{
	if (p_handle(e))
		return -1;
	e->va = npu_map(e->fd, e->off, SZ);
	if (!e->va)
		return -1;
	*(volatile char *)e->va = 1;
	a_free_handle(e, 0);
	return 0;
}

static int c_munmap(struct env *e)
{
	return munmap(e->va, SZ) ? errno : 0;
}

static void a_munmap(struct env *e, int r)
{
	if (r)
		munmap(e->va, SZ);
}

/*
 * The first touch of a mapping: its page faults allocate page tables, of
 * order 0, which this call alone lets fail_page_alloc fail (a failed one is
 * retried by the fault handler, and must not kill the process or change
 * anything).
 */
static int p_touch(struct env *e)
{
	if (p_handle(e))
		return -1;
	e->va = npu_map(e->fd, e->off, SZ);
	if (!e->va)
		return -1;
	return fault_attr_write("/sys/kernel/debug/fail_page_alloc/min-order", "0");
}

static int c_touch(struct env *e)
{
	for (size_t i = 0; i < SZ; i += 4096)
		((volatile char *)e->va)[i] = 1;
	return 0;
}

static void a_touch(struct env *e, int r)
{
	fault_attr_write("/sys/kernel/debug/fail_page_alloc/min-order", "1");
	munmap(e->va, SZ);
	a_free_handle(e, r);
}

/* close() of a file holding an exported, a plain and an imported handle. */
static int p_close(struct env *e)
{
	uint64_t v;
	uint32_t h;

	if (open_fd2(e) || npu_alloc(e->fd2, 0, SZ, &h, NULL) ||
	    npu_export(e->fd2, h, 0, &v) || npu_alloc(e->fd2, 0, SZ, &h, NULL) ||
	    npu_import(e->fd2, e->va_wl, 0, &h, NULL))
		return -1;
	return 0;
}

static int c_close(struct env *e)
{
	int r = close(e->fd2) ? errno : 0;

	e->fd2 = -1;
	return r;
}

static int p_netlink(struct env *e)
{
	e->nlc = nl_socket();
	return e->nlc < 0 ? -1 : 0;
}

static int c_netlink(struct env *e)
{
	return nl_request(e->nlc, cur->cmd, NULL);
}

static void a_netlink(struct env *e, int r)
{
	close(e->nlc);
	e->nlc = -1;
}

#define ENM		.ok = { ENOMEM }
#define NL_ERRS		.ok = { ENOMEM, ENOBUFS, EMSGSIZE }
#define MMAP_ERRS	.ok = { ENOMEM, EAGAIN }
#define CALL(n, p, c, a, ...) \
	{ .name = (n), .prep = (p), .call = (c), .after = (a), __VA_ARGS__ }
static const struct fcall calls[] = {
	CALL("open", NULL, c_open, close_fd2, ENM),
	CALL("VERSION", NULL, c_version, NULL, ENM),
	CALL("DEVICE_INFO", NULL, c_device_info, NULL, ENM),
	CALL("BARE_TGID", NULL, c_bare_tgid, NULL, ENM),
	CALL("HANDLE_INFO", p_handle, c_handle_info, a_free_handle, ENM),
	CALL("ALLOC NORMAL", open_fd2, c_alloc, a_alloc, ENM,
	     .page_kind = NPU_MEM_PAGE_NORMAL, .size = SZ),
	CALL("ALLOC HUGE", open_fd2, c_alloc, a_alloc, ENM,
	     .page_kind = NPU_MEM_PAGE_HUGE, .size = SZ),
	CALL("ALLOC HUGE1G", open_fd2, c_alloc, a_alloc, ENM,
	     .page_kind = NPU_MEM_PAGE_HUGE1G, .size = NPU_MEM_GRANULARITY_HUGE1G),
	CALL("ALLOC 72 MiB (past the zero reserve)", open_fd2, c_alloc, a_alloc, ENM,
	     .page_kind = NPU_MEM_PAGE_HUGE, .size = SZ_BIG),
	CALL("FREE", p_handle, c_free, a_free, ENM),
	CALL("EXPORT", p_handle, c_export, a_free_handle, ENM),
	CALL("EXPORT DISABLE_PID_VALIDATION", p_handle, c_export, a_free_handle, ENM,
	     .flags = NPU_MEM_EXPORT_DISABLE_PID_VALIDATION),
	CALL("SET_PIDS", p_set_pids, c_set_pids, a_set_pids, ENM),
	CALL("SET_PIDS (whitelist grows)", p_set_pids, c_set_pids, a_set_pids, ENM,
	     .flags = 1),
	CALL("IMPORT", p_import, c_import, a_import, ENM),
	CALL("IMPORT (no pid validation)", p_import, c_import, a_import, ENM, .flags = 1),
	CALL("IMPORT (new file)", p_import, c_import, a_import, ENM, .size = 1),
	CALL("mmap (allocated)", p_mmap, c_mmap, a_mmap, MMAP_ERRS),
	CALL("mmap (imported)", p_mmap, c_mmap, a_mmap, MMAP_ERRS, .flags = 1),
	CALL("munmap (last holder)", p_munmap, c_munmap, a_munmap, ENM),
	CALL("first touch (page faults)", p_touch, c_touch, a_touch, ENM),
	CALL("close (file with handles)", p_close, c_close, close_fd2, ENM),
	CALL("netlink GET_INFO", p_netlink, c_netlink, a_netlink, NL_ERRS,
	     .cmd = NPU_MEM_CMD_GET_INFO),
	CALL("netlink GET_DEVICE", p_netlink, c_netlink, a_netlink, NL_ERRS,
	     .cmd = NPU_MEM_CMD_GET_DEVICE),
	CALL("netlink GET_OBJECT", p_netlink, c_netlink, a_netlink, NL_ERRS,
	     .cmd = NPU_MEM_CMD_GET_OBJECT),
	CALL("netlink GET_PROC", p_netlink, c_netlink, a_netlink, NL_ERRS,
	     .cmd = NPU_MEM_CMD_GET_PROC),
};

struct totals {
	long points, bad;
};

static void run_call(struct __test_metadata *_metadata, struct env *e,
		     const struct fcall *c, struct totals *t)
{
	int points = 0, clean = 0, succ = 0, bad = 0;
	static char diff[2048];
	struct snap s0, s1, s2;
	unsigned int n;

	cur = c;
	for (n = 1; n <= MAX_NTH; n++) {
		bool injected, ok = false;
		int r, nev;

		take_snap(e, &s0);
		if (c->prep && c->prep(e)) {
			TH_LOG("%s: nth %u: setup failed: %s", c->name, n, strerror(errno));
			bad++;
			break;
		}
		take_snap(e, &s1);
		drain_events(e);

		nth_set(n);
		r = c->call(e);
		injected = nth_get() == 0;
		nth_set(0);

		nev = drain_events(e);
		if (injected)
			points++;
		if (injected && r) {
			for (int i = 0; i < 4 && c->ok[i]; i++)
				ok |= r == c->ok[i];
			if (!ok) {
				TH_LOG("%s: nth %u: failed with %s, not a clean error",
				       c->name, n, strerror(r));
				bad++;
			}
			take_snap(e, &s2);
			if (snap_diff(&s1, &s2, diff, sizeof(diff))) {
				TH_LOG("%s: nth %u: failed (%s) but changed state: %s",
				       c->name, n, strerror(r), diff);
				bad++;
			}
			if (nev) {
				TH_LOG("%s: nth %u: failed (%s) but sent %d events",
				       c->name, n, strerror(r), nev);
				bad++;
			}
			clean++;
		} else if (injected) {
			succ++;
		} else if (r) {
			TH_LOG("%s: nth %u: failed with no fault injected: %s",
			       c->name, n, strerror(r));
			bad++;
		}
		if (c->after)
			c->after(e, r);
		take_snap(e, &s2);
		if (snap_diff(&s0, &s2, diff, sizeof(diff))) {
			TH_LOG("%s: nth %u: state not restored after %s: %s", c->name, n,
			       r ? "the failure" : "undoing the call", diff);
			bad++;
		}
		if (!injected || bad > 10)
			break;
	}
	if (n > MAX_NTH) {
		TH_LOG("%s: still injecting at nth %u", c->name, MAX_NTH);
		bad++;
	}
	TH_LOG("%s: %d points, %d clean failures, %d successes under injection%s",
	       c->name, points, clean, succ, bad ? ", MISBEHAVED" : "");
	t->points += points;
	t->bad += bad;
}

TEST(fail_nth)
{
	struct env e = { .fd2 = -1, .nlc = -1 };
	struct npu_mem_version ver = { 0 };
	struct npu_mem_device_info di = { .device = 0 };
	struct totals t = { 0 };
	int rcvbuf = 4 << 20;
	int32_t pid;
	uint32_t h;

	/* Nothing the calls write may fault a page in (that fails as EFAULT). */
	memset(nl_buf, 0, sizeof(nl_buf));
	nth_fd = open("/proc/thread-self/fail-nth", O_RDWR | O_CLOEXEC);
	if (nth_fd < 0)
		SKIP(return, "no /proc/thread-self/fail-nth (CONFIG_FAULT_INJECTION)");
	if (fault_attrs_setup())
		SKIP(return, "no failslab/fail_page_alloc in debugfs");
	ASSERT_EQ(0, nl_resolve());

	e.fd = npu_open();
	ASSERT_LE(0, e.fd);
	ASSERT_EQ(0, ioctl(e.fd, NPU_MEM_IOCTL_VERSION, &ver));
	e.ndev = ver.num_devices;
	ASSERT_EQ(0, ioctl(e.fd, NPU_MEM_IOCTL_DEVICE_INFO, &di));
	e.nl = nl_socket();
	e.ev = nl_socket();
	ASSERT_LE(0, e.nl);
	ASSERT_LE(0, e.ev);
	ASSERT_EQ(0, setsockopt(e.ev, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)));
	ASSERT_EQ(0, setsockopt(e.ev, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &nl_events_grp,
				sizeof(nl_events_grp)));

	ASSERT_EQ(0, helper_start(&e.a));
	ASSERT_EQ(0, helper_start(&e.b));
	/* Helper a's values: for us (whitelisted), and for anyone. */
	e.va_wl = helper_do(&e.a, H_EXPORT, 0, getpid());
	e.va_nv = helper_do(&e.a, H_EXPORT, NPU_MEM_EXPORT_DISABLE_PID_VALIDATION, 0);
	ASSERT_NE(0, e.va_wl);
	ASSERT_NE(0, e.va_nv);
	/* Ours: a whitelisted value (a may import, b may not) and an open one. */
	pid = e.a.pid;
	ASSERT_EQ(0, npu_alloc(e.fd, 0, SZ, &h, NULL));
	ASSERT_EQ(0, npu_export(e.fd, h, 0, &e.probe[0]));
	ASSERT_EQ(0, npu_set_pids(e.fd, e.probe[0], &pid, 1));
	ASSERT_EQ(0, npu_alloc(e.fd, 0, SZ, &h, NULL));
	ASSERT_EQ(0, npu_export(e.fd, h, NPU_MEM_EXPORT_DISABLE_PID_VALIDATION, &e.probe[1]));
	ASSERT_EQ(0, npu_alloc(e.fd, 1 % e.ndev, SZ, &h, NULL));
	ASSERT_EQ(0, helper_do(&e.a, H_IMPORT_PROBE, e.probe[0], 0));
	ASSERT_EQ(EACCES, helper_do(&e.b, H_IMPORT_PROBE, e.probe[0], 0));

	for (size_t i = 0; i < sizeof(calls) / sizeof(calls[0]); i++) {
		if (calls[i].page_kind == NPU_MEM_PAGE_HUGE1G &&
		    di.total < NPU_MEM_GRANULARITY_HUGE1G + 16 * MIB) {
			TH_LOG("%s: not run: devices have %llu MiB", calls[i].name,
			       (unsigned long long)(di.total >> 20));
			continue;
		}
		run_call(_metadata, &e, &calls[i], &t);
	}

	/*
	 * ALLOC from a new memory cgroup: its first allocation creates the
	 * device's reserve for it (an allocation that may fail: the chunk then
	 * comes from the page allocator).
	 */
	if (!cgroup_create(CG_PATH) && !cgroup_enter(CG_PATH, 0)) {
		static const struct fcall c =
			CALL("ALLOC (new memory cgroup: its reserve is created)",
			     open_fd2, c_alloc, a_alloc, ENM,
			     .page_kind = NPU_MEM_PAGE_HUGE, .size = SZ);

		run_call(_metadata, &e, &c, &t);
		cgroup_enter(CGROUP_ROOT, 0);
		cgroup_destroy(CG_PATH);
	} else {
		TH_LOG("ALLOC in a new memory cgroup: not run: %s", strerror(errno));
	}

	TH_LOG("fail-nth: %ld (call, nth) points, %ld misbehaved", t.points, t.bad);
	EXPECT_EQ(0, t.bad);
	EXPECT_LT(50, t.points);

	put64(e.a.cmd, H_EXIT);
	put64(e.b.cmd, H_EXIT);
	EXPECT_EQ(0, reap(e.a.pid));
	EXPECT_EQ(0, reap(e.b.pid));
}

TEST_HARNESS_MAIN
