// SPDX-License-Identifier: GPL-2.0
/*
 * The kinds of shareable values (ABI 2.1): a VMM value, an IPC key
 * (NPU_MEM_SHARE_IPC_KEY) and a fabric value (NPU_MEM_SHARE_FABRIC), each
 * found by SET_PIDS and IMPORT only as its own kind; IPC keys die with their
 * exporter's handle (FREE, close, SIGKILL) or at UNEXPORT while importers keep
 * their memory; fabric handles: layout, import, malformed and foreign ones;
 * and what the guess budget counts.
 *
 * Every process of a test is an "agent" that runs requests on its own file
 * of the device: the test process itself (local) and forked ones (remote,
 * through a pipe pair), so a test reads as a script of who does what.  The
 * fixture checks that the devices' free memory ends where it started.
 */
#define _GNU_SOURCE
#include <grp.h>
#include <stdbool.h>
#include <string.h>
#include <sys/mman.h>

#include "harness.h"
#include "npu.h"

#define SZ		(2 * MIB)
#define NSLOTS		4
#define NAGENTS		3
#define KINDS		(NPU_MEM_SHARE_IPC_KEY | NPU_MEM_SHARE_FABRIC)
#define IPC		NPU_MEM_SHARE_IPC_KEY
#define FABRIC		NPU_MEM_SHARE_FABRIC
#define NOVAL		NPU_MEM_EXPORT_DISABLE_PID_VALIDATION

enum op { OP_PID = 1, OP_ALLOC, OP_EXPORT, OP_UNEXPORT, OP_SET_PIDS, OP_IMPORT,
	  OP_CHECK, OP_FILL, OP_FREE, OP_UNMAP, OP_CLOSE };

/* How SET_PIDS and IMPORT name a value: kind flags, shareable, fabric handle. */
struct name {
	uint32_t kind;
	uint64_t shareable;
	struct npu_mem_fabric_handle fh;
};

struct req {
	uint32_t op, slot, flags, seed;	/* flags: EXPORT/UNEXPORT flags */
	int32_t pid;
	struct name n;
};

struct rep {
	int32_t err;			/* 0 or the errno */
	uint32_t ok;			/* OP_CHECK: pattern there; OP_PID: bare tgid */
	uint64_t value;
	struct npu_mem_fabric_handle fh;
};

struct slot {
	uint32_t h;
	uint64_t off;
	void *va;
};

struct agent {
	pid_t pid;			/* 0: this process; -1: none */
	int fd;				/* the device (in the agent's process) */
	int req_fd, rep_fd;		/* remote: the pipes' ends in the test */
	struct slot s[NSLOTS];
};

static void serve(struct agent *a, const struct req *q, struct rep *p)
{
	struct slot *s = &a->s[q->slot % NSLOTS];
	int r = 0;

	memset(p, 0, sizeof(*p));
	switch (q->op) {
	case OP_PID:
		p->ok = (uint32_t)npu_bare_tgid(a->fd);
		break;
	case OP_ALLOC:
		r = npu_alloc(a->fd, 0, SZ, &s->h, &s->off);
		if (!r) {
			s->va = npu_map(a->fd, s->off, SZ);
			if (s->va)
				fill(s->va, SZ, q->seed);
		}
		break;
	case OP_EXPORT:
		r = npu_export_kind(a->fd, s->h, q->flags, &p->value, &p->fh);
		break;
	case OP_UNEXPORT:
		r = npu_unexport(a->fd, s->h, q->flags);
		break;
	case OP_SET_PIDS:
		r = npu_set_pids_kind(a->fd, q->n.shareable, q->n.kind, &q->n.fh, &q->pid, 1);
		break;
	case OP_IMPORT:
		r = npu_import_kind(a->fd, q->n.shareable, q->n.kind, &q->n.fh, 1, &s->h,
				    &s->off);
		if (!r)
			s->va = npu_map(a->fd, s->off, SZ);
		break;
	case OP_CHECK:
		p->ok = s->va && check(s->va, SZ, q->seed);
		break;
	case OP_FILL:
		if (s->va)
			fill(s->va, SZ, q->seed);
		break;
	case OP_FREE:
		r = npu_free(a->fd, s->h);
		break;
	case OP_UNMAP:
		if (s->va)
			r = munmap(s->va, SZ);
		s->va = NULL;
		break;
	case OP_CLOSE:
		r = close(a->fd);
		a->fd = -1;
		break;
	}
	p->err = r ? errno : 0;
}

static struct rep call(struct agent *a, struct req q)
{
	struct rep p;

	if (a->pid == 0) {
		serve(a, &q, &p);
		return p;
	}
	if (write(a->req_fd, &q, sizeof(q)) != sizeof(q) ||
	    read(a->rep_fd, &p, sizeof(p)) != sizeof(p)) {
		memset(&p, 0, sizeof(p));
		p.err = EPIPE;	/* the agent is gone: no answer is right */
	}
	return p;
}

/*
 * Start a remote agent: it opens the device as root, then (@uid != 0)
 * becomes @uid, and serves requests until its pipe closes.
 */
static pid_t spawn_agent(struct agent *a, uid_t uid)
{
	int q[2], p[2];

	memset(a, 0, sizeof(*a));
	a->pid = -1;
	if (pipe(q) || pipe(p))
		return -1;
	a->pid = fork();
	if (a->pid == 0) {
		struct req rq;
		struct rep rp;

		/* Only our own file: an inherited one would outlive its owner's close. */
		for (int i = 3; i < 1024; i++)
			if (i != q[0] && i != p[1])
				close(i);
		a->pid = 0;
		a->fd = npu_open();
		if (a->fd < 0)
			_exit(2);
		if (uid && (setgroups(0, NULL) || setresgid(uid, uid, uid) ||
			    setresuid(uid, uid, uid)))
			_exit(2);
		while (read(q[0], &rq, sizeof(rq)) == sizeof(rq)) {
			serve(a, &rq, &rp);
			if (write(p[1], &rp, sizeof(rp)) != sizeof(rp))
				_exit(3);
		}
		_exit(0);
	}
	close(q[0]);
	close(p[1]);
	a->req_fd = q[1];
	a->rep_fd = p[0];
	return a->pid;
}

/* End a remote agent: close its pipe, reap it; its exit status, or -1. */
static int stop_agent(struct agent *a)
{
	int st;

	if (a->pid <= 0)
		return -1;
	close(a->req_fd);
	close(a->rep_fd);
	st = reap(a->pid);
	a->pid = -1;
	return st;
}

/* ---- one request each --------------------------------------------------- */

static int do_alloc(struct agent *a, uint32_t slot, uint32_t seed)
{
	return call(a, (struct req){ .op = OP_ALLOC, .slot = slot, .seed = seed }).err;
}

/* EXPORT slot @slot with @flags; on success *@n names the value as its kind. */
static int do_export(struct agent *a, uint32_t slot, uint32_t flags, struct name *n)
{
	struct rep p = call(a, (struct req){ .op = OP_EXPORT, .slot = slot, .flags = flags });

	memset(n, 0, sizeof(*n));
	n->kind = flags & KINDS;
	if (n->kind == FABRIC)
		n->fh = p.fh;
	else
		n->shareable = p.value;
	return p.err;
}

static int do_unexport(struct agent *a, uint32_t slot, uint32_t flags)
{
	return call(a, (struct req){ .op = OP_UNEXPORT, .slot = slot, .flags = flags }).err;
}

static int do_set_pids(struct agent *a, const struct name *n, int32_t pid)
{
	return call(a, (struct req){ .op = OP_SET_PIDS, .pid = pid, .n = *n }).err;
}

/* IMPORT onto device 1 into slot @slot, and map it. */
static int do_import(struct agent *a, uint32_t slot, const struct name *n)
{
	return call(a, (struct req){ .op = OP_IMPORT, .slot = slot, .n = *n }).err;
}

static bool do_check(struct agent *a, uint32_t slot, uint32_t seed)
{
	return call(a, (struct req){ .op = OP_CHECK, .slot = slot, .seed = seed }).ok;
}

static void do_fill(struct agent *a, uint32_t slot, uint32_t seed)
{
	call(a, (struct req){ .op = OP_FILL, .slot = slot, .seed = seed });
}

static int do_free(struct agent *a, uint32_t slot)
{
	return call(a, (struct req){ .op = OP_FREE, .slot = slot }).err;
}

static void do_unmap(struct agent *a, uint32_t slot)
{
	call(a, (struct req){ .op = OP_UNMAP, .slot = slot });
}

static int32_t do_pid(struct agent *a)
{
	return (int32_t)call(a, (struct req){ .op = OP_PID }).ok;
}

/* HANDLE_INFO of this process's slot @slot: its shareable and info_flags. */
static int local_info(struct agent *a, uint32_t slot, uint64_t *value, uint32_t *flags)
{
	struct npu_mem_handle_info info = { .handle = a->s[slot].h };
	int r = ioctl(a->fd, NPU_MEM_IOCTL_HANDLE_INFO, &info);

	*value = info.shareable;
	*flags = info.info_flags;
	return r;
}

/* ---- names ------------------------------------------------------------- */

static uint64_t value_of(const struct name *n)
{
	return n->kind == FABRIC ? n->fh.shareable : n->shareable;
}

/*
 * @n's value named as @kind: a fabric kind puts it in a well-formed handle of
 * this instance (@instance, from a real fabric export).
 */
static struct name as_kind(const struct name *n, uint32_t kind, const uint8_t *instance)
{
	struct name m = { .kind = kind };

	if (kind == FABRIC) {
		memcpy(m.fh.magic, NPU_MEM_FABRIC_MAGIC, sizeof(m.fh.magic));
		memcpy(m.fh.instance, instance, sizeof(m.fh.instance));
		m.fh.shareable = value_of(n);
	} else {
		m.shareable = value_of(n);
	}
	return m;
}

static const char *kind_name(uint32_t kind)
{
	return kind == IPC ? "IPC key" : kind == FABRIC ? "fabric" : "VMM";
}

FIXTURE(kinds) {
	uint64_t free0, free1;
	struct agent me, ag[NAGENTS];
	char budget[32];	/* guess_budget to restore, or "" */
};

FIXTURE_SETUP(kinds)
{
	self->free0 = npu_dev_free(0);
	self->free1 = npu_dev_free(1);
	ASSERT_NE(UINT64_MAX, self->free0) TH_LOG("device 0 free memory is readable");
	ASSERT_NE(UINT64_MAX, self->free1) TH_LOG("device 1 free memory is readable");
	for (int i = 0; i < NAGENTS; i++)
		self->ag[i].pid = -1;
	self->me.pid = 0;
	self->me.fd = npu_open();
	ASSERT_LE(0, self->me.fd) TH_LOG("the test process opens the device");
}

FIXTURE_TEARDOWN(kinds)
{
	for (int i = 0; i < NAGENTS; i++)
		stop_agent(&self->ag[i]);
	for (int i = 0; i < NSLOTS; i++)
		if (self->me.s[i].va)
			munmap(self->me.s[i].va, SZ);
	if (self->me.fd >= 0)
		close(self->me.fd);
	if (self->budget[0])
		npu_param_write("guess_budget", self->budget);
	EXPECT_EQ(self->free0, npu_dev_free(0)) TH_LOG("device 0 free memory is back to its start");
	EXPECT_EQ(self->free1, npu_dev_free(1)) TH_LOG("device 1 free memory is back to its start");
}

/*
 * Three objects, exported as the three kinds with pid validation: every
 * other kind's IMPORT (by another process) and SET_PIDS (by the exporter) is
 * ENOENT, both directions of each pair; the value's own kind works.
 */
TEST_F(kinds, each_kind_is_found_only_as_itself)
{
	static const uint32_t kinds[3] = { 0, IPC, FABRIC };
	struct agent *me = &self->me, *b = &self->ag[0];
	struct name n[3], m;
	int32_t bpid;

	ASSERT_LT(0, spawn_agent(b, 0)) TH_LOG("start the importer");
	bpid = do_pid(b);
	for (int k = 0; k < 3; k++) {
		ASSERT_EQ(0, do_alloc(me, k, 0x100 + k));
		ASSERT_EQ(0, do_export(me, k, kinds[k], &n[k]))
			TH_LOG("export as %s (whitelist on)", kind_name(kinds[k]));
	}
	for (int k = 0; k < 3; k++)
		for (int j = 0; j < 3; j++) {
			if (j == k)
				continue;
			m = as_kind(&n[k], kinds[j], n[2].fh.instance);
			EXPECT_EQ(ENOENT, do_set_pids(me, &m, bpid))
				TH_LOG("SET_PIDS of a %s value named as %s is ENOENT",
				       kind_name(kinds[k]), kind_name(kinds[j]));
			EXPECT_EQ(ENOENT, do_import(b, 0, &m))
				TH_LOG("IMPORT of a %s value named as %s is ENOENT",
				       kind_name(kinds[k]), kind_name(kinds[j]));
		}
	for (int k = 0; k < 3; k++) {
		EXPECT_EQ(0, do_set_pids(me, &n[k], bpid))
			TH_LOG("SET_PIDS of the %s value as its own kind", kind_name(kinds[k]));
		EXPECT_EQ(0, do_import(b, k, &n[k]))
			TH_LOG("IMPORT of the %s value as its own kind", kind_name(kinds[k]));
		EXPECT_TRUE(do_check(b, k, 0x100 + k))
			TH_LOG("the importer reads the %s object's data", kind_name(kinds[k]));
		do_fill(b, k, 0x200 + k);
		EXPECT_TRUE(do_check(me, k, 0x200 + k))
			TH_LOG("the exporter sees the importer's write (%s)", kind_name(kinds[k]));
		do_unmap(b, k);
		EXPECT_EQ(0, do_free(b, k));
	}
	EXPECT_EQ(0, stop_agent(b));
}

/* Two kind bits, or a bit no ioctl defines, are EINVAL; nothing is exported. */
TEST_F(kinds, two_kind_bits_or_unknown_bits_are_einval)
{
	struct agent *me = &self->me, *b = &self->ag[0];
	struct name n, both;
	int32_t pid = 1;

	ASSERT_LT(0, spawn_agent(b, 0));
	ASSERT_EQ(0, do_alloc(me, 0, 1));
	EXPECT_EQ(EINVAL, do_export(me, 0, IPC | FABRIC, &n))
		TH_LOG("EXPORT with both kinds is EINVAL");
	EXPECT_EQ(EINVAL, do_export(me, 0, 1U << 3, &n)) TH_LOG("EXPORT with bit 3 is EINVAL");
	EXPECT_EQ(ENOENT, do_unexport(me, 0, 0)) TH_LOG("the refused EXPORT exported nothing");
	ASSERT_EQ(0, do_export(me, 0, IPC | NOVAL, &n)) TH_LOG("the handle exports now");
	both = n;
	both.kind = IPC | FABRIC;
	EXPECT_EQ(EINVAL, do_import(b, 0, &both)) TH_LOG("IMPORT with both kinds is EINVAL");
	EXPECT_EQ(EINVAL, do_set_pids(me, &both, pid)) TH_LOG("SET_PIDS with both kinds is EINVAL");
	both.kind = IPC | (1U << 3);
	EXPECT_EQ(EINVAL, do_import(b, 0, &both)) TH_LOG("IMPORT with bit 3 is EINVAL");
	EXPECT_EQ(EINVAL, do_set_pids(me, &both, pid)) TH_LOG("SET_PIDS with bit 3 is EINVAL");
	EXPECT_EQ(EINVAL, do_unexport(me, 0, IPC)) TH_LOG("UNEXPORT with flags is EINVAL");
	EXPECT_EQ(0, do_import(b, 0, &n)) TH_LOG("the key itself imports");
	do_unmap(b, 0);
	EXPECT_EQ(0, stop_agent(b));
}

/* IPC keys and the whitelist: as VMM values are. */
TEST_F(kinds, ipc_key_whitelist_and_no_validation)
{
	struct agent *me = &self->me, *b = &self->ag[0], *c = &self->ag[1];
	struct name listed, open;

	ASSERT_LT(0, spawn_agent(b, 0));
	ASSERT_LT(0, spawn_agent(c, 0));
	ASSERT_EQ(0, do_alloc(me, 0, 7));
	ASSERT_EQ(0, do_alloc(me, 1, 8));
	ASSERT_EQ(0, do_export(me, 0, IPC, &listed));
	ASSERT_EQ(0, do_export(me, 1, IPC | NOVAL, &open));
	EXPECT_EQ(EACCES, do_import(b, 0, &listed)) TH_LOG("empty whitelist: EACCES");
	EXPECT_EQ(0, do_set_pids(me, &listed, do_pid(b))) TH_LOG("whitelist the importer");
	EXPECT_EQ(EACCES, do_import(c, 0, &listed)) TH_LOG("a process not on it: EACCES");
	EXPECT_EQ(0, do_import(b, 0, &listed)) TH_LOG("the whitelisted process imports");
	EXPECT_TRUE(do_check(b, 0, 7));
	EXPECT_EQ(EEXIST, do_import(b, 1, &listed)) TH_LOG("a second import is EEXIST");
	EXPECT_EQ(ELOOP, do_import(me, 2, &listed)) TH_LOG("the exporter's import is ELOOP");
	EXPECT_EQ(EACCES, do_set_pids(b, &listed, do_pid(c)))
		TH_LOG("SET_PIDS by another process than the exporter is EACCES");
	EXPECT_EQ(EPERM, do_set_pids(me, &open, do_pid(b)))
		TH_LOG("SET_PIDS of a key exported without validation is EPERM");
	EXPECT_EQ(0, do_import(c, 1, &open)) TH_LOG("without validation anyone imports");
	EXPECT_TRUE(do_check(c, 1, 8));
	EXPECT_EQ(0, stop_agent(b));
	EXPECT_EQ(0, stop_agent(c));
}

/*
 * An IPC key dies with its exporter's handle although the exporter still
 * maps the memory; the importer keeps memory and data.
 */
TEST_F(kinds, ipc_key_dies_at_its_exporters_free)
{
	struct agent *me = &self->me, *b = &self->ag[0], *c = &self->ag[1];
	struct name n;

	ASSERT_LT(0, spawn_agent(b, 0));
	ASSERT_LT(0, spawn_agent(c, 0));
	ASSERT_EQ(0, do_alloc(me, 0, 0x11));
	ASSERT_EQ(0, do_export(me, 0, IPC | NOVAL, &n));
	ASSERT_EQ(0, do_import(b, 0, &n));
	EXPECT_EQ(0, do_free(me, 0)) TH_LOG("the exporter frees its handle (still mapped)");
	EXPECT_EQ(ENOENT, do_import(c, 0, &n)) TH_LOG("a new import of the key is ENOENT");
	EXPECT_EQ(ENOENT, do_set_pids(me, &n, do_pid(c))) TH_LOG("SET_PIDS of it is ENOENT");
	EXPECT_TRUE(do_check(b, 0, 0x11)) TH_LOG("the importer still reads the data");
	do_fill(b, 0, 0x12);
	EXPECT_TRUE(do_check(me, 0, 0x12)) TH_LOG("and shares it with the exporter's mapping");
	EXPECT_EQ(self->free0 - SZ, npu_dev_free(0)) TH_LOG("the memory is still in use");
	do_unmap(me, 0);
	do_unmap(b, 0);
	EXPECT_EQ(self->free0 - SZ, npu_dev_free(0)) TH_LOG("the importer's handle holds it");
	EXPECT_EQ(0, do_free(b, 0));
	EXPECT_EQ(self->free0, npu_dev_free(0)) TH_LOG("the last holder gives it back");
	EXPECT_EQ(0, stop_agent(b));
	EXPECT_EQ(0, stop_agent(c));
}

/* ... when the exporter closes its file, or is killed. */
static void ipc_key_dies_with_its_exporter(struct __test_metadata *_metadata,
					   FIXTURE_DATA(kinds) *self, bool kill_it)
{
	struct agent *e = &self->ag[0], *b = &self->ag[1], *c = &self->ag[2];
	struct name n;

	ASSERT_LT(0, spawn_agent(e, 0));
	ASSERT_LT(0, spawn_agent(b, 0));
	ASSERT_LT(0, spawn_agent(c, 0));
	ASSERT_EQ(0, do_alloc(e, 0, 0x21));
	ASSERT_EQ(0, do_export(e, 0, IPC | NOVAL, &n));
	ASSERT_EQ(0, do_import(b, 0, &n));
	if (kill_it) {
		EXPECT_EQ(0, kill(e->pid, SIGKILL));
		EXPECT_EQ(128 + SIGKILL, reap(e->pid)) TH_LOG("the exporter died of SIGKILL");
		close(e->req_fd);
		close(e->rep_fd);
		e->pid = -1;
	} else {
		/* A mapping holds the file open: unmap first. */
		do_unmap(e, 0);
		EXPECT_EQ(0, call(e, (struct req){ .op = OP_CLOSE }).err)
			TH_LOG("the exporter closes its file");
	}
	EXPECT_EQ(ENOENT, do_import(c, 0, &n)) TH_LOG("a new import of the key is ENOENT");
	EXPECT_TRUE(do_check(b, 0, 0x21)) TH_LOG("the importer still reads the data");
	EXPECT_EQ(self->free0 - SZ, npu_dev_free(0)) TH_LOG("the memory is still in use");
	do_unmap(b, 0);
	EXPECT_EQ(0, do_free(b, 0));
	EXPECT_EQ(self->free0, npu_dev_free(0)) TH_LOG("the last holder gives it back");
	if (!kill_it)
		EXPECT_EQ(0, stop_agent(e));
	EXPECT_EQ(0, stop_agent(b));
	EXPECT_EQ(0, stop_agent(c));
}

TEST_F(kinds, ipc_key_dies_when_its_exporter_closes_the_file)
{
	ipc_key_dies_with_its_exporter(_metadata, self, false);
}

TEST_F(kinds, ipc_key_dies_when_its_exporter_is_killed)
{
	ipc_key_dies_with_its_exporter(_metadata, self, true);
}

/*
 * UNEXPORT kills the key (importers keep their memory) and the handle can be
 * exported again, as a new value of any kind.
 */
TEST_F(kinds, unexport_withdraws_the_key_and_the_handle_exports_again)
{
	struct agent *me = &self->me, *b = &self->ag[0], *c = &self->ag[1];
	struct name n, n2, n3;
	uint64_t shown = 0;
	uint32_t iflags = 0;

	ASSERT_LT(0, spawn_agent(b, 0));
	ASSERT_LT(0, spawn_agent(c, 0));
	ASSERT_EQ(0, do_alloc(me, 0, 0x31));
	ASSERT_EQ(0, do_export(me, 0, IPC | NOVAL, &n));
	ASSERT_EQ(0, do_import(b, 0, &n));
	EXPECT_EQ(EEXIST, do_export(me, 0, IPC | NOVAL, &n2)) TH_LOG("exported: EEXIST");
	EXPECT_EQ(0, do_unexport(me, 0, 0)) TH_LOG("UNEXPORT");
	EXPECT_EQ(0, local_info(me, 0, &shown, &iflags));
	EXPECT_EQ(0, shown) TH_LOG("HANDLE_INFO: no value after UNEXPORT");
	EXPECT_EQ(0, iflags & NPU_MEM_INFO_EXPORTED) TH_LOG("HANDLE_INFO: not exported");
	EXPECT_EQ(ENOENT, do_import(c, 0, &n)) TH_LOG("a new import of the key is ENOENT");
	EXPECT_EQ(ENOENT, do_set_pids(me, &n, do_pid(c))) TH_LOG("SET_PIDS of it is ENOENT");
	EXPECT_EQ(ENOENT, do_unexport(me, 0, 0)) TH_LOG("a second UNEXPORT is ENOENT");
	EXPECT_TRUE(do_check(b, 0, 0x31)) TH_LOG("the importer keeps the data");
	do_fill(b, 0, 0x32);
	EXPECT_TRUE(do_check(me, 0, 0x32)) TH_LOG("still the exporter's memory");

	ASSERT_EQ(0, do_export(me, 0, IPC | NOVAL, &n2)) TH_LOG("export again after UNEXPORT");
	EXPECT_NE(value_of(&n), value_of(&n2)) TH_LOG("a new value");
	EXPECT_EQ(0, local_info(me, 0, &shown, &iflags));
	EXPECT_EQ(value_of(&n2), shown) TH_LOG("HANDLE_INFO: the new value");
	EXPECT_EQ(NPU_MEM_INFO_EXPORTED, iflags & NPU_MEM_INFO_EXPORTED);
	EXPECT_EQ(ENOENT, do_import(c, 0, &n)) TH_LOG("the old key stays dead");
	EXPECT_EQ(0, do_import(c, 0, &n2)) TH_LOG("the new key imports");
	EXPECT_TRUE(do_check(c, 0, 0x32));
	do_unmap(c, 0);
	EXPECT_EQ(0, do_free(c, 0));
	EXPECT_EQ(0, do_unexport(me, 0, 0)) TH_LOG("UNEXPORT of the new key");
	ASSERT_EQ(0, do_export(me, 0, NOVAL, &n3)) TH_LOG("then export as a VMM value");
	EXPECT_EQ(EINVAL, do_unexport(me, 0, 0)) TH_LOG("UNEXPORT of a VMM value is EINVAL");
	EXPECT_EQ(0, do_import(c, 0, &n3)) TH_LOG("the VMM value imports");
	EXPECT_TRUE(do_check(c, 0, 0x32));
	do_unmap(c, 0);
	do_unmap(b, 0);
	EXPECT_EQ(0, stop_agent(b));
	EXPECT_EQ(0, stop_agent(c));
}

TEST_F(kinds, unexport_errors)
{
	struct agent *me = &self->me, *b = &self->ag[0];
	struct name vmm, fab, key;

	ASSERT_LT(0, spawn_agent(b, 0));
	ASSERT_EQ(0, do_alloc(me, 0, 1));
	ASSERT_EQ(0, do_alloc(me, 1, 2));
	ASSERT_EQ(0, do_alloc(me, 2, 3));
	EXPECT_EQ(ENOENT, do_unexport(me, 0, 0)) TH_LOG("a handle not exported: ENOENT");
	EXPECT_EQ(-ENOENT, neg_errno(npu_unexport(me->fd, me->s[2].h + 100, 0)))
		TH_LOG("no such handle: ENOENT");
	ASSERT_EQ(0, do_export(me, 0, NOVAL, &vmm));
	ASSERT_EQ(0, do_export(me, 1, FABRIC | NOVAL, &fab));
	ASSERT_EQ(0, do_export(me, 2, IPC | NOVAL, &key));
	EXPECT_EQ(EINVAL, do_unexport(me, 0, 0)) TH_LOG("a VMM value: EINVAL");
	EXPECT_EQ(EINVAL, do_unexport(me, 1, 0)) TH_LOG("a fabric value: EINVAL");
	EXPECT_EQ(EINVAL, do_unexport(me, 2, 1)) TH_LOG("flags not 0: EINVAL");
	ASSERT_EQ(0, do_import(b, 0, &key));
	EXPECT_EQ(EPERM, do_unexport(b, 0, 0)) TH_LOG("an imported handle: EPERM");
	EXPECT_EQ(0, do_import(b, 1, &vmm)) TH_LOG("the refusals left the VMM value alive");
	EXPECT_EQ(0, do_import(b, 2, &fab)) TH_LOG("and the fabric value");
	for (int i = 0; i < 3; i++)
		do_unmap(b, i);
	EXPECT_EQ(0, stop_agent(b));
	EXPECT_EQ(0, do_free(me, 2));
	EXPECT_EQ(ENOENT, do_unexport(me, 2, 0)) TH_LOG("a freed handle: ENOENT");
}

/*
 * The contrast: VMM and fabric values live until the memory's last holder
 * goes, so a third process imports after the exporter has freed.
 */
TEST_F(kinds, vmm_and_fabric_values_outlive_their_exporters_handle)
{
	static const uint32_t kinds[2] = { 0, FABRIC };
	struct agent *me = &self->me, *b = &self->ag[0], *c = &self->ag[1];
	struct name n;

	ASSERT_LT(0, spawn_agent(b, 0));
	ASSERT_LT(0, spawn_agent(c, 0));
	for (int k = 0; k < 2; k++) {
		ASSERT_EQ(0, do_alloc(me, 0, 0x41 + k));
		ASSERT_EQ(0, do_export(me, 0, kinds[k] | NOVAL, &n));
		ASSERT_EQ(0, do_import(b, 0, &n));
		do_unmap(me, 0);
		EXPECT_EQ(0, do_free(me, 0));
		EXPECT_EQ(0, do_import(c, 0, &n))
			TH_LOG("%s value: imports after its exporter freed", kind_name(kinds[k]));
		EXPECT_TRUE(do_check(c, 0, 0x41 + k));
		do_unmap(c, 0);
		EXPECT_EQ(0, do_free(c, 0));
		do_unmap(b, 0);
		EXPECT_EQ(0, do_free(b, 0));
		EXPECT_EQ(self->free0, npu_dev_free(0)) TH_LOG("the last holder gives it back");
		EXPECT_EQ(ENOENT, do_import(c, 0, &n))
			TH_LOG("%s value: dead after the last holder", kind_name(kinds[k]));
	}
	EXPECT_EQ(0, stop_agent(b));
	EXPECT_EQ(0, stop_agent(c));
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

TEST_F(kinds, fabric_handle_layout)
{
	struct agent *me = &self->me, *b = &self->ag[0];
	struct npu_mem_fabric_handle fh[3];
	uint64_t value[3];

	ASSERT_LT(0, spawn_agent(b, 0));
	for (int i = 0; i < 2; i++) {
		ASSERT_EQ(0, do_alloc(me, i, i));
		struct rep p = call(me, (struct req){ .op = OP_EXPORT, .slot = i,
						       .flags = FABRIC });
		ASSERT_EQ(0, p.err);
		fh[i] = p.fh;
		value[i] = p.value;
	}
	/* Another process's export: one instance per machine. */
	ASSERT_EQ(0, do_alloc(b, 0, 2));
	struct rep p = call(b, (struct req){ .op = OP_EXPORT, .slot = 0, .flags = FABRIC });
	ASSERT_EQ(0, p.err);
	fh[2] = p.fh;
	value[2] = p.value;
	for (int i = 0; i < 3; i++) {
		EXPECT_EQ(0, memcmp(fh[i].magic, "NPUMEMFH", 8)) TH_LOG("magic NPUMEMFH");
		EXPECT_TRUE(all_zero(fh[i].reserved, sizeof(fh[i].reserved)))
			TH_LOG("reserved bytes are 0");
		EXPECT_EQ(value[i], fh[i].shareable) TH_LOG("the handle carries the value");
		EXPECT_NE(0, value[i]);
		EXPECT_EQ(0, memcmp(fh[i].instance, fh[0].instance, sizeof(fh[0].instance)))
			TH_LOG("the same instance in every export");
	}
	EXPECT_FALSE(all_zero(fh[0].instance, sizeof(fh[0].instance)))
		TH_LOG("the instance is random bytes, not zeros");
	EXPECT_NE(value[0], value[1]);
	EXPECT_NE(value[1], value[2]);
	do_unmap(b, 0);
	EXPECT_EQ(0, stop_agent(b));
}

/*
 * Malformed fabric handles are EINVAL, another instance's EXDEV, for IMPORT
 * and SET_PIDS; the well-formed one still works afterwards.
 */
TEST_F(kinds, malformed_and_foreign_fabric_handles_are_refused)
{
	struct agent *me = &self->me, *b = &self->ag[0];
	struct name n, m;

	ASSERT_LT(0, spawn_agent(b, 0));
	ASSERT_EQ(0, do_alloc(me, 0, 0x51));
	ASSERT_EQ(0, do_export(me, 0, FABRIC, &n));
	struct { const char *what; int err; } bad[] = {
		{ "magic changed", EINVAL },
		{ "a reserved byte set", EINVAL },
		{ "value 0", EINVAL },
		{ "shareable not 0 besides the handle", EINVAL },
		{ "another instance's bytes", EXDEV },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		m = n;
		switch (i) {
		case 0: m.fh.magic[7] ^= 1; break;
		case 1: m.fh.reserved[95] = 1; break;
		case 2: m.fh.shareable = 0; break;
		case 3: m.shareable = value_of(&n); break;
		case 4: m.fh.instance[15] ^= 0x80; break;
		}
		EXPECT_EQ(bad[i].err, do_set_pids(me, &m, do_pid(b)))
			TH_LOG("SET_PIDS, %s: %s", bad[i].what, strerror(bad[i].err));
		EXPECT_EQ(bad[i].err, do_import(b, 0, &m))
			TH_LOG("IMPORT, %s: %s", bad[i].what, strerror(bad[i].err));
	}
	EXPECT_EQ(EACCES, do_import(b, 0, &n)) TH_LOG("no refused SET_PIDS whitelisted anyone");
	EXPECT_EQ(0, do_set_pids(me, &n, do_pid(b))) TH_LOG("SET_PIDS by the fabric handle");
	EXPECT_EQ(0, do_import(b, 0, &n)) TH_LOG("IMPORT by the fabric handle");
	EXPECT_TRUE(do_check(b, 0, 0x51));
	do_unmap(b, 0);

	/* Without the FABRIC bit, the fabric field is reserved: any byte set is EINVAL. */
	ASSERT_EQ(0, do_alloc(me, 1, 0x52));
	ASSERT_EQ(0, do_export(me, 1, IPC, &n));
	m = n;
	m.fh.reserved[0] = 1;
	EXPECT_EQ(EINVAL, do_set_pids(me, &m, do_pid(b))) TH_LOG("SET_PIDS of an IPC key with fabric bytes");
	EXPECT_EQ(EINVAL, do_import(b, 1, &m)) TH_LOG("IMPORT of an IPC key with fabric bytes");
	EXPECT_EQ(0, do_set_pids(me, &n, do_pid(b))) TH_LOG("... and without them, both work");
	EXPECT_EQ(0, do_import(b, 1, &n));
	do_unmap(b, 1);
	EXPECT_EQ(0, stop_agent(b));
}

/* An ioctl number with another struct size (an older or newer caller). */
static unsigned long sized(unsigned long cmd, unsigned int size)
{
	return _IOC(_IOC_DIR(cmd), _IOC_TYPE(cmd), _IOC_NR(cmd), size);
}

/*
 * A 2.0-sized EXPORT cannot hand a fabric handle back: EINVAL, and nothing
 * is exported; it still exports an IPC key.  A 2.0-sized IMPORT has no
 * handle to name: EINVAL.
 */
TEST_F(kinds, fabric_needs_the_abi_2_1_structs)
{
	struct agent *me = &self->me, *b = &self->ag[0];
	struct npu_mem_export e = { .flags = FABRIC };
	struct npu_mem_import im = { .flags = FABRIC };
	struct npu_mem_set_pids sp = { .count = 1, .flags = FABRIC };
	int32_t pid = 1;
	struct name n;

	ASSERT_LT(0, spawn_agent(b, 0));
	ASSERT_EQ(0, do_alloc(me, 0, 1));
	ASSERT_EQ(0, do_alloc(me, 1, 2));
	e.handle = me->s[0].h;
	EXPECT_EQ(-EINVAL, neg_errno(ioctl(me->fd, sized(NPU_MEM_IOCTL_EXPORT,
							 NPU_MEM_EXPORT_SIZE_VER0), &e)))
		TH_LOG("a 2.0-sized fabric EXPORT is EINVAL");
	EXPECT_EQ(ENOENT, do_unexport(me, 0, 0)) TH_LOG("the handle is not exported");
	EXPECT_EQ(0, do_export(me, 0, FABRIC | NOVAL, &n)) TH_LOG("a 2.1-sized one exports it");
	e = (struct npu_mem_export){ .handle = me->s[1].h, .flags = IPC | NOVAL };
	EXPECT_EQ(0, ioctl(me->fd, sized(NPU_MEM_IOCTL_EXPORT, NPU_MEM_EXPORT_SIZE_VER0), &e))
		TH_LOG("a 2.0-sized EXPORT of an IPC key works");
	EXPECT_NE(0, e.shareable);
	EXPECT_EQ(-EINVAL, neg_errno(ioctl(me->fd, sized(NPU_MEM_IOCTL_IMPORT,
							 NPU_MEM_IMPORT_SIZE_VER0), &im)))
		TH_LOG("a 2.0-sized fabric IMPORT is EINVAL");
	sp.pids = (uintptr_t)&pid;
	EXPECT_EQ(-EINVAL, neg_errno(ioctl(me->fd, sized(NPU_MEM_IOCTL_SET_PIDS,
							 NPU_MEM_SET_PIDS_SIZE_VER0), &sp)))
		TH_LOG("a 2.0-sized fabric SET_PIDS is EINVAL");
	EXPECT_EQ(0, do_import(b, 0, &n)) TH_LOG("the fabric value imports");
	do_unmap(b, 0);
	EXPECT_EQ(0, stop_agent(b));
}

/*
 * With guess_budget=1 a user has one failed lookup a second.  A foreign or
 * malformed fabric handle is refused before any lookup: any number of them
 * leaves the budget whole; a kind mismatch is a failed lookup: it spends it,
 * so the next lookup, a right one, is EAGAIN.
 */
TEST_F(kinds, only_lookups_spend_the_guess_budget)
{
	struct agent *me = &self->me, *g = &self->ag[0];
	struct name key, fab, foreign, bad, mismatch;

	ASSERT_EQ(0, npu_param_read("guess_budget", self->budget, sizeof(self->budget)))
		TH_LOG("no module parameter guess_budget");
	ASSERT_EQ(0, do_alloc(me, 0, 1));
	ASSERT_EQ(0, do_alloc(me, 1, 2));
	ASSERT_EQ(0, do_export(me, 0, IPC | NOVAL, &key));
	ASSERT_EQ(0, do_export(me, 1, FABRIC | NOVAL, &fab));
	foreign = fab;
	foreign.fh.instance[0] ^= 1;
	bad = fab;
	bad.fh.magic[0] ^= 1;
	mismatch = as_kind(&key, 0, NULL);
	ASSERT_EQ(0, npu_param_write("guess_budget", "1"));
	/* A uid of its own: a fresh budget. */
	ASSERT_LT(0, spawn_agent(g, 1042));
	for (int i = 0; i < 20; i++) {
		EXPECT_EQ(EXDEV, do_import(g, 0, &foreign)) TH_LOG("foreign handle %d: EXDEV", i);
		EXPECT_EQ(EXDEV, do_set_pids(g, &foreign, 1));
		EXPECT_EQ(EINVAL, do_import(g, 0, &bad)) TH_LOG("malformed handle %d: EINVAL", i);
	}
	EXPECT_EQ(ENOENT, do_import(g, 0, &mismatch))
		TH_LOG("the budget is whole: a kind mismatch is looked up (ENOENT)");
	EXPECT_EQ(EAGAIN, do_import(g, 0, &key))
		TH_LOG("the mismatch spent the budget: the right key is EAGAIN");
	EXPECT_EQ(EAGAIN, do_import(g, 1, &fab)) TH_LOG("and so is the fabric handle");
	EXPECT_EQ(EXDEV, do_import(g, 0, &foreign)) TH_LOG("EXDEV comes before the budget");
	EXPECT_EQ(0, stop_agent(g));
}

TEST_HARNESS_MAIN
