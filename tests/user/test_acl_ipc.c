// SPDX-License-Identifier: GPL-2.0
/*
 * The IPC memory key API (aclrtIpcMemGetExportKey, aclrtIpcMemSetImportPid,
 * aclrtIpcMemImportByKey, aclrtIpcMemClose) between two and three processes:
 * with and without a pid whitelist, importers not on it, Close counting on
 * both sides, the key dying with its exporter's Close, aclrtFree or SIGKILL
 * while importers keep their data, and every refusal with its exact aclError.
 * The test process exports (or coordinates); forked peers import.  Keys,
 * pids and "go on" bytes travel over pipes.  Every test ends with the
 * devices' free memory back at its start value.
 */
#include <signal.h>
#include <stdio.h>

#include "harness.h"
#include "acl_util.h"

#define KEYLEN 65		/* 64 hex digits and a NUL */

static const size_t N = 3 * MIB + 100;	/* an allocation of 2 granules (2 MiB ones) */

/* A forked peer and the test process's ends of its two pipes. */
struct peer {
	pid_t pid;
	int rd, wr;
};

typedef void (*peer_fn)(struct __test_metadata *_metadata, int rd, int wr, void *arg);

static void xwrite(int fd, const void *b, size_t n)
{
	if (write_full(fd, b, n)) {
		perror("pipe write");
		_exit(2);
	}
}

static void xread(int fd, void *b, size_t n)
{
	if (read_full(fd, b, n)) {
		perror("pipe read");
		_exit(2);
	}
}

static void send_i32(int fd, int32_t v) { xwrite(fd, &v, sizeof(v)); }
static int32_t recv_i32(int fd) { int32_t v; xread(fd, &v, sizeof(v)); return v; }
static void send_key(int fd, const char *k) { xwrite(fd, k, KEYLEN); }
static void recv_key(int fd, char *k) { xread(fd, k, KEYLEN); }

/*
 * Fork a peer that binds device @dev, sends its bare tgid, runs @fn and
 * exits with its verdict.
 */
static struct peer spawn(struct __test_metadata *_metadata, int32_t dev, peer_fn fn, void *arg)
{
	int down[2], up[2];
	struct peer p = { -1, -1, -1 };
	int32_t me = 0;

	if (pipe(down) || pipe(up)) {
		perror("pipe");
		return p;
	}
	p.pid = fork();
	if (p.pid == 0) {
		close(down[1]);
		close(up[0]);
		EXPECT_ACL_OK(aclrtSetDevice(dev)) TH_LOG("peer: SetDevice(%d)", dev);
		EXPECT_ACL_OK(aclrtDeviceGetBareTgid(&me));
		send_i32(up[1], me);
		fn(_metadata, down[0], up[1], arg);
		_exit(_metadata->exit_code);
	}
	close(down[0]);
	close(up[1]);
	p.rd = up[0];
	p.wr = down[1];
	return p;
}

/* Wait for @p; its exit status (0: every check it made passed). */
static int reap_peer(struct peer *p)
{
	close(p->rd);
	close(p->wr);
	return wait_child(p->pid);
}

/* Does [p, p + n) hold @val in every byte (read through aclrtMemcpy)? */
static bool holds(void *p, size_t n, unsigned char val)
{
	unsigned char *b = malloc(n);
	bool ok = b != NULL;
	size_t i;

	if (ok && aclrtMemcpy(b, n, p, n, ACL_MEMCPY_DEVICE_TO_HOST) != ACL_SUCCESS)
		ok = false;
	for (i = 0; ok && i < n; i++)
		ok = b[i] == val;
	free(b);
	return ok;
}

/* 64 lowercase hex digits and a NUL. */
static bool key_shape(const char *k)
{
	int i;

	for (i = 0; i < 64; i++)
		if (!((k[i] >= '0' && k[i] <= '9') || (k[i] >= 'a' && k[i] <= 'f')))
			return false;
	return k[64] == '\0';
}

/* What aclrtMalloc(@n) takes: 32-aligned, 32 bytes of padding, whole granules. */
static size_t malloc_cost(size_t n, size_t gran)
{
	n = (n + 31) / 32 * 32 + 32;
	return (n + gran - 1) / gran * gran;
}

FIXTURE(acl_ipc) {
	uint32_t ndev;
	size_t f0[2];
	size_t gran;		/* device 0's HUGE granularity */
	int32_t tgid;
	void *p;		/* N bytes of aclrtMalloc memory on device 0, all 'A' */
};

FIXTURE_SETUP(acl_ipc)
{
	aclrtPhysicalMemProp prop = acl_dev_prop(0, ACL_HBM_MEM_HUGE);
	uint32_t d;

	setvbuf(stdout, NULL, _IOLBF, 0);
	ASSERT_ACL_OK(aclInit(NULL));
	ASSERT_ACL_OK(aclrtGetDeviceCount(&self->ndev));
	for (d = 0; d < 2 && d < self->ndev; d++)
		self->f0[d] = acl_free_bytes((int32_t)d);
	ASSERT_ACL_OK(aclrtSetDevice(0));
	ASSERT_ACL_OK(aclrtMemGetAllocationGranularity(&prop, ACL_RT_MEM_ALLOC_GRANULARITY_MINIMUM, &self->gran));
	ASSERT_ACL_OK(aclrtDeviceGetBareTgid(&self->tgid));
	ASSERT_ACL_OK(aclrtMalloc(&self->p, N, ACL_MEM_MALLOC_HUGE_FIRST));
	ASSERT_ACL_OK(aclrtMemset(self->p, N, 'A', N));
}

FIXTURE_TEARDOWN(acl_ipc)
{
	uint32_t d;
	size_t f;

	aclFinalize();
	for (d = 0; d < 2 && d < self->ndev; d++) {
		aclrtSetDevice((int32_t)d);
		f = acl_wait_free(self->f0[d], 2000);
		aclrtResetDevice((int32_t)d);
		EXPECT_EQ(self->f0[d], f) TH_LOG("device %u's free memory is back to its start value", d);
	}
}

/* ---- two processes with a whitelist ---- */

struct imp_args {
	size_t n;
	unsigned char expect, reply;
};

/*
 * Importer: refused before the exporter adds it, then imports, reads
 * @expect, writes @reply; imports again (same address), closes twice
 * (the first keeps the mapping), a third close is refused.
 */
static void importer_whitelisted(struct __test_metadata *_metadata, int rd, int wr, void *arg)
{
	const struct imp_args *a = arg;
	char key[KEYLEN];
	int32_t me = 0;
	void *q = NULL, *q2 = NULL;
	size_t f1, f2;

	recv_key(rd, key);
	EXPECT_ACL_MSG(ACL_ERROR_RT_DRV_INTERNAL_ERROR, "whitelist", aclrtIpcMemImportByKey(&q, key, 0))
		TH_LOG("importer: before SetImportPid");
	EXPECT_ACL_MSG(ACL_ERROR_RT_DRV_INTERNAL_ERROR, "not exported or imported by this process",
		       aclrtIpcMemClose(key))
		TH_LOG("importer: Close of a key it neither exported nor imported");
	EXPECT_ACL_OK(aclrtDeviceGetBareTgid(&me));
	EXPECT_ACL_MSG(ACL_ERROR_RT_DRV_INTERNAL_ERROR, "only the exporter", aclrtIpcMemSetImportPid(key, &me, 1))
		TH_LOG("importer: SetImportPid by a non-exporter");
	send_i32(wr, 1);		/* "add me" */
	recv_i32(rd);			/* added */
	f1 = acl_cur_free();
	EXPECT_ACL_OK(aclrtIpcMemImportByKey(&q, key, 0)) TH_LOG("importer: ImportByKey");
	f2 = acl_cur_free();
	EXPECT_EQ(f1, f2) TH_LOG("an import costs no device memory (it is the exporter's)");
	EXPECT_TRUE(q && holds(q, a->n, a->expect)) TH_LOG("importer reads the exporter's data");
	EXPECT_ACL_OK(aclrtMemset(q, a->n, a->reply, a->n));
	EXPECT_ACL_OK(aclrtIpcMemImportByKey(&q2, key, ACL_RT_IPC_MEM_IMPORT_FLAG_ENABLE_PEER_ACCESS))
		TH_LOG("importer: a second import of the same key");
	EXPECT_TRUE(q2 == q) TH_LOG("a second import gives the same address (%p, %p)", q, q2);
	/* an import is not aclrtMalloc memory, nor the VMM calls' */
	EXPECT_ACL(ACL_ERROR_RT_PARAM_INVALID, aclrtFree(q)) TH_LOG("importer: aclrtFree of an import");
	EXPECT_ACL_MSG(ACL_ERROR_RT_DRV_INTERNAL_ERROR, "aclrtIpcMemClose", aclrtUnmapMem(q))
		TH_LOG("importer: UnmapMem of an import");
	EXPECT_ACL(ACL_ERROR_RT_DRV_INTERNAL_ERROR, aclrtIpcMemGetExportKey(q, a->n, key, KEYLEN, 0))
		TH_LOG("importer: exporting an import by key");
	recv_key(rd, key);		/* the key again (the line above may have overwritten it) */
	EXPECT_ACL_OK(aclrtIpcMemClose(key)) TH_LOG("importer: first Close (of two imports)");
	EXPECT_TRUE(holds(q, a->n, a->reply)) TH_LOG("importer: still mapped after one of two Closes");
	EXPECT_ACL_OK(aclrtIpcMemClose(key)) TH_LOG("importer: second Close");
	EXPECT_ACL_MSG(ACL_ERROR_RT_DRV_INTERNAL_ERROR, "not exported or imported by this process",
		       aclrtIpcMemClose(key))
		TH_LOG("importer: a third Close");
	EXPECT_ACL(ACL_ERROR_RT_PARAM_INVALID, aclrtMemcpy(&me, 1, q, 1, ACL_MEMCPY_DEVICE_TO_HOST))
		TH_LOG("importer: the closed import's address is no device memory any more");
	send_i32(wr, 2);
}

TEST_F(acl_ipc, with_pid)
{
	struct imp_args a = { N, 'A', 'B' };
	char key[KEYLEN], key2[KEYLEN];
	struct peer imp;
	int32_t pid;

	ASSERT_ACL_OK(aclrtIpcMemGetExportKey(self->p, N, key, KEYLEN, ACL_RT_IPC_MEM_EXPORT_FLAG_DEFAULT));
	EXPECT_TRUE(key_shape(key)) TH_LOG("key \"%.65s\" is 64 lowercase hex digits", key);
	imp = spawn(_metadata, 0, importer_whitelisted, &a);
	ASSERT_GT(imp.pid, 0);
	pid = recv_i32(imp.rd);
	send_key(imp.wr, key);
	recv_i32(imp.rd);
	EXPECT_ACL_OK(aclrtIpcMemSetImportPid(key, &pid, 1));
	send_i32(imp.wr, 1);
	send_key(imp.wr, key);
	recv_i32(imp.rd);
	EXPECT_EQ(0, reap_peer(&imp)) TH_LOG("the importer's checks");
	EXPECT_TRUE(holds(self->p, N, 'B')) TH_LOG("exporter reads what the importer wrote");
	/* the key outlives its importer; the same allocation gives the same key again */
	EXPECT_ACL_OK(aclrtIpcMemSetImportPid(key, &pid, 1)) TH_LOG("SetImportPid after the importer left");
	EXPECT_ACL_OK(aclrtIpcMemGetExportKey(self->p, N - 1, key2, 100, 0));
	EXPECT_STREQ(key, key2) TH_LOG("the same allocation exported again: the same key");
	EXPECT_ACL_OK(aclrtIpcMemClose(key));
	EXPECT_ACL_OK(aclrtIpcMemClose(key));
	EXPECT_ACL(ACL_ERROR_RT_DRV_INTERNAL_ERROR, aclrtIpcMemClose(key)) TH_LOG("exporter: a third Close");
	EXPECT_ACL_OK(aclrtFree(self->p));
}

/* ---- without a whitelist ---- */

struct peer_key {
	char key[KEYLEN];
	unsigned char expect;
	size_t n;
};

/* Import the key it is sent, check @expect, write 'Z', close, say done. */
static void importer_simple(struct __test_metadata *_metadata, int rd, int wr, void *arg)
{
	const struct peer_key *a = arg;
	char key[KEYLEN];
	void *q = NULL;

	recv_key(rd, key);
	EXPECT_ACL_OK(aclrtIpcMemImportByKey(&q, key, 0)) TH_LOG("peer %d: ImportByKey", getpid());
	EXPECT_TRUE(q && holds(q, a->n, a->expect)) TH_LOG("peer %d reads the exporter's data", getpid());
	if (q)
		EXPECT_ACL_OK(aclrtMemset(q, 1, 'Z', 1));
	EXPECT_ACL_OK(aclrtIpcMemClose(key));
	send_i32(wr, 0);
}

TEST_F(acl_ipc, without_pid)
{
	struct peer_key a = { .expect = 'A', .n = N };
	char key[KEYLEN], key2[KEYLEN];
	int32_t pid = 1;
	struct peer imp[2];
	int i;

	ASSERT_ACL_OK(aclrtIpcMemGetExportKey(self->p, N, key, KEYLEN,
					      ACL_RT_IPC_MEM_EXPORT_FLAG_DISABLE_PID_VALIDATION));
	EXPECT_ACL_MSG(ACL_ERROR_RT_NO_PERMISSION, "DISABLE_PID_VALIDATION", aclrtIpcMemSetImportPid(key, &pid, 1))
		TH_LOG("SetImportPid on a key without validation is 207006");
	EXPECT_ACL_MSG(ACL_ERROR_RT_DRV_INTERNAL_ERROR, "with", aclrtIpcMemGetExportKey(self->p, N, key2, KEYLEN, 0))
		TH_LOG("exported again with the other flags");
	EXPECT_ACL_OK(aclrtIpcMemGetExportKey(self->p, N, key2, KEYLEN, 1)) TH_LOG("again with the same flags");
	EXPECT_STREQ(key, key2);
	/* two importers on two devices, one after the other, none whitelisted */
	for (i = 0; i < 2; i++) {
		imp[i] = spawn(_metadata, self->ndev > 1 ? i : 0, importer_simple, &a);
		ASSERT_GT(imp[i].pid, 0);
		recv_i32(imp[i].rd);
		send_key(imp[i].wr, key);
		recv_i32(imp[i].rd);
		EXPECT_EQ(0, reap_peer(&imp[i])) TH_LOG("importer %d's checks", i);
		a.expect = 'Z';
		EXPECT_ACL_OK(aclrtMemset((char *)self->p + 1, N - 1, 'Z', N - 1));
	}
	EXPECT_TRUE(holds(self->p, N, 'Z'));
	EXPECT_ACL_OK(aclrtIpcMemClose(key));
	EXPECT_ACL_OK(aclrtIpcMemClose(key));
	EXPECT_ACL_OK(aclrtFree(self->p));
}

/* ---- three processes: one whitelisted, one not (then added) ---- */

/* Refused until the exporter adds it; then imports and reads what the other importer wrote. */
static void importer_late(struct __test_metadata *_metadata, int rd, int wr, void *arg)
{
	char key[KEYLEN];
	void *q = NULL;

	(void)arg;
	recv_key(rd, key);
	EXPECT_ACL_MSG(ACL_ERROR_RT_DRV_INTERNAL_ERROR, "whitelist", aclrtIpcMemImportByKey(&q, key, 0))
		TH_LOG("not-whitelisted importer is refused");
	EXPECT_TRUE(q == NULL);
	send_i32(wr, 1);
	recv_i32(rd);			/* added now, and the other importer has written 'W' */
	EXPECT_ACL_OK(aclrtIpcMemImportByKey(&q, key, 0)) TH_LOG("importer 2 after it was added");
	EXPECT_TRUE(q && holds(q, N, 'W')) TH_LOG("importer 2 sees importer 1's writes");
	send_i32(wr, 2);
	recv_i32(rd);			/* stay mapped until told */
	EXPECT_ACL_OK(aclrtIpcMemClose(key));
}

static void importer_writer(struct __test_metadata *_metadata, int rd, int wr, void *arg)
{
	char key[KEYLEN];
	void *q = NULL;

	(void)arg;
	recv_key(rd, key);
	EXPECT_ACL_OK(aclrtIpcMemImportByKey(&q, key, 0)) TH_LOG("importer 1");
	if (q)
		EXPECT_ACL_OK(aclrtMemset(q, N, 'W', N));
	send_i32(wr, 1);
	recv_i32(rd);
	/* no Close: exit drops the import */
}

TEST_F(acl_ipc, three_processes)
{
	char key[KEYLEN];
	struct peer a, b;
	int32_t pa, pb, pids[3];

	a = spawn(_metadata, 0, importer_writer, NULL);
	b = spawn(_metadata, self->ndev > 1 ? 1 : 0, importer_late, NULL);
	ASSERT_TRUE(a.pid > 0 && b.pid > 0);
	pa = recv_i32(a.rd);
	pb = recv_i32(b.rd);
	ASSERT_ACL_OK(aclrtIpcMemGetExportKey(self->p, N, key, KEYLEN, 0));
	/* a zero entry is skipped, a list of 0s is refused */
	pids[0] = 0;
	pids[1] = pa;
	EXPECT_ACL_OK(aclrtIpcMemSetImportPid(key, pids, 2)) TH_LOG("whitelist importer 1 (and a 0)");
	send_key(a.wr, key);
	send_key(b.wr, key);
	recv_i32(a.rd);			/* importer 1 wrote */
	recv_i32(b.rd);			/* importer 2 was refused */
	EXPECT_ACL_OK(aclrtIpcMemSetImportPid(key, &pb, 1)) TH_LOG("whitelist importer 2 too");
	send_i32(b.wr, 1);
	recv_i32(b.rd);
	send_i32(a.wr, 1);
	EXPECT_EQ(0, reap_peer(&a)) TH_LOG("importer 1's checks");
	EXPECT_TRUE(holds(self->p, N, 'W')) TH_LOG("exporter sees importer 1's writes");
	send_i32(b.wr, 1);
	EXPECT_EQ(0, reap_peer(&b)) TH_LOG("importer 2's checks");
	EXPECT_ACL_OK(aclrtIpcMemClose(key));
	EXPECT_ACL_OK(aclrtFree(self->p));
}

/* ---- refusals in one process ---- */

static void *export_no_device(void *arg)
{
	char key[KEYLEN];

	return (void *)(intptr_t)aclrtIpcMemGetExportKey(arg, 4096, key, KEYLEN, 0);
}

static void *import_no_device(void *arg)
{
	void *q;

	return (void *)(intptr_t)aclrtIpcMemImportByKey(&q, arg, 0);
}

TEST_F(acl_ipc, export_refusals)
{
	aclrtPhysicalMemProp prop = acl_dev_prop(0, ACL_HBM_MEM_HUGE);
	char key[128], host[64];
	aclrtDrvMemHandle h = NULL;
	size_t f1, mapped;
	void *va = NULL, *ret;
	pthread_t th;

	memset(key, 'x', sizeof(key));
	EXPECT_ACL(ACL_ERROR_INVALID_PARAM, aclrtIpcMemGetExportKey(NULL, N, key, KEYLEN, 0));
	EXPECT_ACL(ACL_ERROR_INVALID_PARAM, aclrtIpcMemGetExportKey(self->p, N, NULL, KEYLEN, 0));
	EXPECT_ACL(ACL_ERROR_RT_PARAM_INVALID, aclrtIpcMemGetExportKey(self->p, 0, key, KEYLEN, 0)) TH_LOG("size 0");
	EXPECT_ACL(ACL_ERROR_RT_PARAM_INVALID, aclrtIpcMemGetExportKey(self->p, N, key, KEYLEN, 2)) TH_LOG("flags 2");
	EXPECT_ACL(ACL_ERROR_RT_PARAM_INVALID, aclrtIpcMemGetExportKey(self->p, N, key, KEYLEN, ~0ULL))
		TH_LOG("flags ~0");
	EXPECT_ACL(ACL_ERROR_RT_PARAM_INVALID, aclrtIpcMemGetExportKey(self->p, N, key, 64, 0)) TH_LOG("len 64");
	EXPECT_ACL(ACL_ERROR_RT_PARAM_INVALID, aclrtIpcMemGetExportKey(self->p, N, key, 0, 0)) TH_LOG("len 0");
	EXPECT_EQ('x', key[0]) TH_LOG("a refused call writes no key");
	EXPECT_ACL_MSG(ACL_ERROR_RT_DRV_INTERNAL_ERROR, "not within", aclrtIpcMemGetExportKey((char *)self->p + 32, 32, key, KEYLEN, 0))
		TH_LOG("not the start of the allocation");
	/* the allocation is 32-aligned + 32 bytes of padding, rounded to granules */
	mapped = malloc_cost(N, self->gran);
	EXPECT_ACL(ACL_ERROR_RT_DRV_INTERNAL_ERROR, aclrtIpcMemGetExportKey(self->p, mapped + 1, key, KEYLEN, 0))
		TH_LOG("larger than the allocation");
	EXPECT_ACL(ACL_ERROR_RT_DRV_INTERNAL_ERROR, aclrtIpcMemGetExportKey(self->p, SIZE_MAX, key, KEYLEN, 0))
		TH_LOG("SIZE_MAX");
	EXPECT_ACL(ACL_ERROR_RT_DRV_INTERNAL_ERROR, aclrtIpcMemGetExportKey(host, 64, key, KEYLEN, 0))
		TH_LOG("host memory");
	ASSERT_ACL_OK(aclrtMallocPhysical(&h, 2 * MIB, &prop, 0));
	ASSERT_ACL_OK(aclrtReserveMemAddress(&va, 2 * MIB, 0, NULL, 0));
	EXPECT_ACL(ACL_ERROR_RT_DRV_INTERNAL_ERROR, aclrtIpcMemGetExportKey(va, 4096, key, KEYLEN, 0))
		TH_LOG("a reservation");
	ASSERT_ACL_OK(aclrtMapMem(va, 2 * MIB, 0, h, 0));
	EXPECT_ACL_MSG(ACL_ERROR_RT_DRV_INTERNAL_ERROR, "VMM", aclrtIpcMemGetExportKey(va, 4096, key, KEYLEN, 0))
		TH_LOG("VMM memory");
	pthread_create(&th, NULL, export_no_device, self->p);
	pthread_join(th, &ret);
	EXPECT_EQ(ACL_ERROR_RT_CONTEXT_NULL, (int)(intptr_t)ret) TH_LOG("a thread without a device");
	f1 = acl_cur_free();
	/* the whole mapped size is fine; the key then works */
	EXPECT_ACL_OK(aclrtIpcMemGetExportKey(self->p, mapped, key, KEYLEN, 0)) TH_LOG("size = the mapped size");
	EXPECT_EQ(f1, acl_cur_free()) TH_LOG("an export costs no memory");
	EXPECT_ACL(ACL_ERROR_RT_DRV_INTERNAL_ERROR, aclrtIpcMemGetExportKey(self->p, N, key, KEYLEN, 1))
		TH_LOG("the other flags");
	EXPECT_ACL_OK(aclrtIpcMemClose(key));
	EXPECT_ACL_OK(aclrtUnmapMem(va));
	EXPECT_ACL_OK(aclrtReleaseMemAddress(va));
	EXPECT_ACL_OK(aclrtFreePhysical(h));
	EXPECT_ACL_OK(aclrtFree(self->p));
	EXPECT_ACL(ACL_ERROR_RT_DRV_INTERNAL_ERROR, aclrtIpcMemGetExportKey(self->p, N, key, KEYLEN, 0))
		TH_LOG("freed memory");
}

/* Malformed keys: 107000 for a length CANN refuses, 507899 for any other shape. */
static void bad_keys(struct __test_metadata *_metadata, const char *good)
{
	char upper[KEYLEN], longk[80], shortk[KEYLEN], tail[KEYLEN], zero[KEYLEN];
	int32_t pid = 1;
	void *q = NULL;
	int i;

	for (i = 0; i < 65; i++)
		upper[i] = (char)(good[i] >= 'a' && good[i] <= 'f' ? good[i] - 32 : good[i]);
	memset(longk, 'a', sizeof(longk));		/* no NUL in 65 bytes */
	memcpy(shortk, good, KEYLEN);
	shortk[63] = '\0';
	memcpy(tail, good, KEYLEN);
	tail[63] = '1';					/* the zeros after the value are not zero */
	memset(zero, '0', 64);
	zero[64] = '\0';
	EXPECT_ACL(ACL_ERROR_RT_PARAM_INVALID, aclrtIpcMemImportByKey(&q, "", 0)) TH_LOG("empty key");
	EXPECT_ACL(ACL_ERROR_RT_PARAM_INVALID, aclrtIpcMemImportByKey(&q, longk, 0)) TH_LOG("no NUL");
	EXPECT_ACL(ACL_ERROR_RT_PARAM_INVALID, aclrtIpcMemSetImportPid("", &pid, 1));
	EXPECT_ACL(ACL_ERROR_RT_PARAM_INVALID, aclrtIpcMemSetImportPid(longk, &pid, 1));
	EXPECT_ACL(ACL_ERROR_RT_PARAM_INVALID, aclrtIpcMemClose(""));
	EXPECT_ACL(ACL_ERROR_RT_PARAM_INVALID, aclrtIpcMemClose(longk));
	if (!strchr(good, 'a') && !strchr(good, 'b') && !strchr(good, 'c') && !strchr(good, 'd') &&
	    !strchr(good, 'e') && !strchr(good, 'f'))
		upper[0] = 'G';		/* a key of decimal digits only: spoil it otherwise */
	EXPECT_ACL(ACL_ERROR_RT_DRV_INTERNAL_ERROR, aclrtIpcMemImportByKey(&q, upper, 0)) TH_LOG("upper case");
	EXPECT_ACL(ACL_ERROR_RT_DRV_INTERNAL_ERROR, aclrtIpcMemImportByKey(&q, shortk, 0)) TH_LOG("63 digits");
	EXPECT_ACL(ACL_ERROR_RT_DRV_INTERNAL_ERROR, aclrtIpcMemImportByKey(&q, tail, 0)) TH_LOG("bad tail");
	EXPECT_ACL(ACL_ERROR_RT_DRV_INTERNAL_ERROR, aclrtIpcMemImportByKey(&q, zero, 0)) TH_LOG("value 0");
	EXPECT_ACL(ACL_ERROR_RT_DRV_INTERNAL_ERROR, aclrtIpcMemImportByKey(&q, "hello", 0)) TH_LOG("\"hello\"");
	EXPECT_ACL(ACL_ERROR_RT_DRV_INTERNAL_ERROR, aclrtIpcMemSetImportPid(upper, &pid, 1));
	EXPECT_ACL(ACL_ERROR_RT_DRV_INTERNAL_ERROR, aclrtIpcMemSetImportPid(tail, &pid, 1));
	EXPECT_ACL(ACL_ERROR_RT_DRV_INTERNAL_ERROR, aclrtIpcMemClose(upper));
	EXPECT_ACL(ACL_ERROR_RT_DRV_INTERNAL_ERROR, aclrtIpcMemClose(tail));
	EXPECT_TRUE(q == NULL);
}

/* A well-formed key that was never exported (the value flipped). */
static void unknown_key(char *out, const char *good)
{
	memcpy(out, good, KEYLEN);
	out[0] = out[0] == '5' ? '6' : '5';
}

TEST_F(acl_ipc, setpid_refusals)
{
	char key[KEYLEN], other[KEYLEN];
	int32_t pids[40], pid = 1;
	int i;

	ASSERT_ACL_OK(aclrtIpcMemGetExportKey(self->p, N, key, KEYLEN, 0));
	for (i = 0; i < 40; i++)
		pids[i] = 1;
	EXPECT_ACL(ACL_ERROR_INVALID_PARAM, aclrtIpcMemSetImportPid(NULL, &pid, 1));
	EXPECT_ACL(ACL_ERROR_INVALID_PARAM, aclrtIpcMemSetImportPid(key, NULL, 1));
	EXPECT_ACL(ACL_ERROR_RT_PARAM_INVALID, aclrtIpcMemSetImportPid(key, pids, 0)) TH_LOG("num 0");
	EXPECT_ACL(ACL_ERROR_RT_PARAM_INVALID, aclrtIpcMemSetImportPid(key, pids, 32)) TH_LOG("num 32");
	EXPECT_ACL_OK(aclrtIpcMemSetImportPid(key, pids, 31)) TH_LOG("num 31 (pid 1 31 times)");
	memset(pids, 0, sizeof(pids));
	EXPECT_ACL(ACL_ERROR_RT_DRV_INTERNAL_ERROR, aclrtIpcMemSetImportPid(key, pids, 3)) TH_LOG("only zeros");
	pid = -5;
	EXPECT_ACL(ACL_ERROR_RT_DRV_INTERNAL_ERROR, aclrtIpcMemSetImportPid(key, &pid, 1)) TH_LOG("pid -5");
	pid = 1;
	unknown_key(other, key);
	EXPECT_ACL_MSG(ACL_ERROR_RT_DRV_INTERNAL_ERROR, "does not exist", aclrtIpcMemSetImportPid(other, &pid, 1))
		TH_LOG("unknown key %s", other);
	bad_keys(_metadata, key);
	EXPECT_ACL_OK(aclrtIpcMemClose(key));
	EXPECT_ACL_MSG(ACL_ERROR_RT_DRV_INTERNAL_ERROR, "does not exist", aclrtIpcMemSetImportPid(key, &pid, 1))
		TH_LOG("a closed key");
	EXPECT_ACL_OK(aclrtFree(self->p));
}

TEST_F(acl_ipc, import_refusals)
{
	char key[KEYLEN], other[KEYLEN];
	void *q = (void *)0x1, *ret;
	pthread_t th;

	ASSERT_ACL_OK(aclrtIpcMemGetExportKey(self->p, N, key, KEYLEN, 1));
	EXPECT_ACL(ACL_ERROR_INVALID_PARAM, aclrtIpcMemImportByKey(NULL, key, 0));
	EXPECT_ACL(ACL_ERROR_INVALID_PARAM, aclrtIpcMemImportByKey(&q, NULL, 0));
	EXPECT_ACL(ACL_ERROR_RT_PARAM_INVALID, aclrtIpcMemImportByKey(&q, key, 2)) TH_LOG("flags 2");
	EXPECT_ACL_MSG(ACL_ERROR_RT_DRV_INTERNAL_ERROR, "exported IPC key", aclrtIpcMemImportByKey(&q, key, 0))
		TH_LOG("own key");
	unknown_key(other, key);
	EXPECT_ACL_MSG(ACL_ERROR_RT_DRV_INTERNAL_ERROR, "does not exist", aclrtIpcMemImportByKey(&q, other, 0))
		TH_LOG("unknown key");
	EXPECT_ACL(ACL_ERROR_RT_DRV_INTERNAL_ERROR, aclrtIpcMemClose(other)) TH_LOG("Close of an unknown key");
	bad_keys(_metadata, key);
	pthread_create(&th, NULL, import_no_device, other);
	pthread_join(th, &ret);
	EXPECT_EQ(ACL_ERROR_RT_CONTEXT_NULL, (int)(intptr_t)ret) TH_LOG("a thread without a device");
	EXPECT_TRUE(q == (void *)0x1) TH_LOG("a refused import leaves *devPtr alone");
	EXPECT_ACL(ACL_ERROR_INVALID_PARAM, aclrtIpcMemClose(NULL));
	EXPECT_ACL_OK(aclrtIpcMemClose(key));
	EXPECT_ACL_OK(aclrtFree(self->p));
}

/* ---- Close, aclrtFree and death of the exporter while importers hold the memory ---- */

/*
 * Importer that holds the key's memory across the exporter's end: imports,
 * says so, waits, checks the data is still there, says so, waits, closes.
 */
static void importer_holder(struct __test_metadata *_metadata, int rd, int wr, void *arg)
{
	char key[KEYLEN];
	void *q = NULL;

	(void)arg;
	recv_key(rd, key);
	EXPECT_ACL_OK(aclrtIpcMemImportByKey(&q, key, 0)) TH_LOG("holder: ImportByKey");
	send_i32(wr, 1);
	recv_i32(rd);			/* the key is dead now */
	EXPECT_TRUE(q && holds(q, N, 'A')) TH_LOG("holder still reads the data after the key died");
	if (q) {
		EXPECT_ACL_OK(aclrtMemset(q, N, 'H', N)) TH_LOG("holder still writes");
		EXPECT_TRUE(holds(q, N, 'H'));
	}
	send_i32(wr, 2);
	recv_i32(rd);
	EXPECT_ACL_OK(aclrtIpcMemClose(key)) TH_LOG("holder: Close of a dead key's import");
	send_i32(wr, 3);
}

/* A late importer: the dead key is refused. */
static void importer_refused(struct __test_metadata *_metadata, int rd, int wr, void *arg)
{
	char key[KEYLEN];
	void *q = NULL;

	(void)arg;
	recv_key(rd, key);
	EXPECT_ACL_MSG(ACL_ERROR_RT_DRV_INTERNAL_ERROR, "does not exist", aclrtIpcMemImportByKey(&q, key, 0))
		TH_LOG("late importer: a dead key");
	send_i32(wr, 1);
}

enum key_end { END_CLOSE, END_FREE };

/* The exporter ends the key (@how), importer 1 keeps its data, importer 2 is refused. */
static void key_ends(struct __test_metadata *_metadata, FIXTURE_DATA(acl_ipc) *self, enum key_end how)
{
	char key[KEYLEN], again[KEYLEN];
	struct peer h, late;
	size_t f1;

	ASSERT_ACL_OK(aclrtIpcMemGetExportKey(self->p, N, key, KEYLEN, 1));
	ASSERT_ACL_OK(aclrtIpcMemGetExportKey(self->p, N, key, KEYLEN, 1));	/* count 2 */
	h = spawn(_metadata, 0, importer_holder, NULL);
	ASSERT_GT(h.pid, 0);
	recv_i32(h.rd);
	send_key(h.wr, key);
	recv_i32(h.rd);
	f1 = acl_cur_free();
	if (how == END_CLOSE) {
		EXPECT_ACL_OK(aclrtIpcMemClose(key)) TH_LOG("exporter: first Close (of two exports)");
		late = spawn(_metadata, 0, importer_simple, &(struct peer_key){ .expect = 'A', .n = N });
		recv_i32(late.rd);
		send_key(late.wr, key);
		recv_i32(late.rd);
		EXPECT_EQ(0, reap_peer(&late)) TH_LOG("the key lives on after one of two Closes");
		EXPECT_ACL_OK(aclrtMemset(self->p, 1, 'A', 1));	/* undo importer_simple's 'Z' */
		EXPECT_ACL_OK(aclrtIpcMemClose(key)) TH_LOG("exporter: second Close");
		EXPECT_ACL(ACL_ERROR_RT_DRV_INTERNAL_ERROR, aclrtIpcMemClose(key)) TH_LOG("exporter: third Close");
		EXPECT_TRUE(holds(self->p, N, 'A')) TH_LOG("the exporter's memory is untouched by Close");
	} else {
		EXPECT_ACL_OK(aclrtFree(self->p)) TH_LOG("exporter: aclrtFree while an importer maps it");
		EXPECT_ACL(ACL_ERROR_RT_DRV_INTERNAL_ERROR, aclrtIpcMemClose(key)) TH_LOG("Close after aclrtFree");
		EXPECT_EQ(f1, acl_cur_free()) TH_LOG("the importer still holds the memory");
	}
	late = spawn(_metadata, 0, importer_refused, NULL);
	recv_i32(late.rd);
	send_key(late.wr, key);
	recv_i32(late.rd);
	EXPECT_EQ(0, reap_peer(&late)) TH_LOG("the late importer's checks");
	send_i32(h.wr, 1);
	recv_i32(h.rd);
	if (how == END_CLOSE) {
		EXPECT_TRUE(holds(self->p, N, 'H')) TH_LOG("exporter and importer still share the memory");
		/* a new export of the same allocation is a new key */
		EXPECT_ACL_OK(aclrtIpcMemGetExportKey(self->p, N, again, KEYLEN, 0));
		EXPECT_TRUE(strcmp(key, again) != 0) TH_LOG("a closed key is never handed out again");
		EXPECT_ACL_OK(aclrtIpcMemClose(again));
		EXPECT_ACL_OK(aclrtFree(self->p));
	}
	send_i32(h.wr, 1);
	recv_i32(h.rd);
	EXPECT_EQ(0, reap_peer(&h)) TH_LOG("the holder's checks");
}

TEST_F(acl_ipc, exporter_close)
{
	key_ends(_metadata, self, END_CLOSE);
}

TEST_F(acl_ipc, exporter_free)
{
	key_ends(_metadata, self, END_FREE);
}

/* The exporter is another process, SIGKILLed while two importers map the memory. */
static void exporter_child(struct __test_metadata *_metadata, int rd, int wr, void *arg)
{
	char key[KEYLEN];
	int32_t pids[2];
	void *p = NULL;

	(void)arg;
	xread(rd, pids, sizeof(pids));
	EXPECT_ACL_OK(aclrtMalloc(&p, N, ACL_MEM_MALLOC_NORMAL_ONLY));
	EXPECT_ACL_OK(aclrtMemset(p, N, 'K', N));
	memset(key, 0, sizeof(key));
	EXPECT_ACL_OK(aclrtIpcMemGetExportKey(p, N, key, KEYLEN, 0));
	EXPECT_ACL_OK(aclrtIpcMemSetImportPid(key, pids, 2));
	send_key(wr, key);
	for (;;)
		pause();
}

TEST_F(acl_ipc, exporter_killed)
{
	size_t cost = malloc_cost(N, self->gran), f1;
	char key[KEYLEN];
	struct peer ex, late;
	int32_t pids[2], expid;
	void *q = NULL, *q2 = NULL;

	EXPECT_ACL_OK(aclrtFree(self->p));	/* this test's memory is the child's */
	late = spawn(_metadata, 0, importer_refused, NULL);
	ASSERT_GT(late.pid, 0);
	pids[0] = self->tgid;
	pids[1] = recv_i32(late.rd);
	ex = spawn(_metadata, 0, exporter_child, NULL);
	ASSERT_GT(ex.pid, 0);
	expid = recv_i32(ex.rd);
	xwrite(ex.wr, pids, sizeof(pids));
	recv_key(ex.rd, key);
	ASSERT_ACL_OK(aclrtIpcMemImportByKey(&q, key, 0)) TH_LOG("import from the exporter child %d", expid);
	ASSERT_ACL_OK(aclrtIpcMemImportByKey(&q2, key, 0)) TH_LOG("and again (count 2)");
	f1 = acl_cur_free();
	EXPECT_EQ(self->f0[0] - cost, f1) TH_LOG("the exporter's allocation counts once");
	kill(ex.pid, SIGKILL);
	EXPECT_EQ(128 + SIGKILL, reap_peer(&ex));
	EXPECT_TRUE(holds(q, N, 'K')) TH_LOG("the data outlives its exporter");
	EXPECT_EQ(f1, acl_cur_free()) TH_LOG("the import keeps the memory");
	send_key(late.wr, key);
	recv_i32(late.rd);
	EXPECT_EQ(0, reap_peer(&late)) TH_LOG("a whitelisted late importer is refused: the key died with its exporter");
	EXPECT_ACL_OK(aclrtIpcMemClose(key));
	EXPECT_TRUE(holds(q, N, 'K')) TH_LOG("one of two Closes keeps the mapping");
	EXPECT_ACL_OK(aclrtIpcMemClose(key));
	f1 = acl_cur_free();
	EXPECT_EQ(self->f0[0], f1) TH_LOG("the last Close gives the dead exporter's memory back");
}

/* An importer killed while it maps the memory: the exporter's key and data are unaffected. */
static void importer_sleeper(struct __test_metadata *_metadata, int rd, int wr, void *arg)
{
	char key[KEYLEN];
	void *q = NULL;

	(void)arg;
	recv_key(rd, key);
	EXPECT_ACL_OK(aclrtIpcMemImportByKey(&q, key, 0));
	if (q)
		EXPECT_ACL_OK(aclrtMemset(q, N, 'S', N));
	send_i32(wr, _metadata->exit_code);
	for (;;)
		pause();
}

TEST_F(acl_ipc, importer_killed)
{
	struct peer s, again;
	char key[KEYLEN];
	size_t f1;

	ASSERT_ACL_OK(aclrtIpcMemGetExportKey(self->p, N, key, KEYLEN, 1));
	f1 = acl_cur_free();
	s = spawn(_metadata, 0, importer_sleeper, NULL);
	recv_i32(s.rd);
	send_key(s.wr, key);
	EXPECT_EQ(0, recv_i32(s.rd)) TH_LOG("the sleeper imported and wrote");
	kill(s.pid, SIGKILL);
	EXPECT_EQ(128 + SIGKILL, reap_peer(&s));
	EXPECT_TRUE(holds(self->p, N, 'S')) TH_LOG("the killed importer's writes stay");
	EXPECT_EQ(f1, acl_cur_free());
	again = spawn(_metadata, 0, importer_simple, &(struct peer_key){ .expect = 'S', .n = N });
	recv_i32(again.rd);
	send_key(again.wr, key);
	recv_i32(again.rd);
	EXPECT_EQ(0, reap_peer(&again)) TH_LOG("the key still works after an importer died");
	EXPECT_ACL_OK(aclrtIpcMemClose(key));
	EXPECT_ACL_OK(aclrtFree(self->p));
}

TEST_HARNESS_MAIN
