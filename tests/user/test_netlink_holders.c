// SPDX-License-Identifier: GPL-2.0
/*
 * An object with more holders than one netlink dump message holds.
 *
 * This process allocates A, then H, then B, and exports H without pid
 * validation; NHOLD processes of uid 1000 each import H and wait.  Their
 * holder entries (24 bytes each) do not fit one dump message (32 KiB at
 * most), so the dump must split H across messages: `npu-mem --json objects`
 * must still list A, H and B, and H's every holder exactly once, both for
 * root and for uid 1000 (who sees H, root's, without its owner).  While
 * importers die one after the other, every dump must list each holder at
 * most once and each surviving holder exactly once.
 *
 * The importers open /dev/npu_mem as uid 1000 with the node's group: they
 * are an unprivileged user's processes, as in the attack this guards
 * against (hiding from the monitor by importing one value many times).
 */
#define _GNU_SOURCE
#include <grp.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "harness.h"
#include "npu.h"
#include "npu_tool.h"

#define NHOLD 2000
#define NKILL 600		/* importers killed while dumps run */
#define SZ (2 * MIB)
#define UNPRIV_UID 1000
#define OUT_MAX (4 * 1024 * 1024)

/* Run npu-mem (as uid 1000 if @unpriv) with stdout into @out: its exit status. */
static int run(char *out, bool unpriv, const char *a1, const char *a2, const char *a3,
	       const char *a4)
{
	size_t n = 0;
	ssize_t r;
	pid_t pid;
	int o[2];

	if (pipe(o))
		exit(2);
	pid = fork();
	if (pid == 0) {
		dup2(o[1], 1);
		close(o[0]);
		if (unpriv && npu_drop_to_user(UNPRIV_UID))
			_exit(126);
		execl(npu_mem_bin(), "npu-mem", a1, a2, a3, a4, (char *)NULL);
		_exit(127);
	}
	close(o[1]);
	while (n + 1 < OUT_MAX && (r = read(o[0], out + n, OUT_MAX - 1 - n)) > 0)
		n += r;
	out[n] = '\0';
	close(o[0]);
	return reap(pid);
}

/* Does @line have "key":@v? */
static bool json_has_num(const char *line, const char *key, long long v)
{
	char pat[64];

	snprintf(pat, sizeof(pat), "\"%s\":%lld,", key, v);
	return strstr(line, pat) != NULL;
}

static int cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return (x > y) - (x < y);
}

/* The line of @out that holds object @id (NUL-terminated copy), or NULL. */
static char *object_line(const char *out, long long id)
{
	char needle[32];
	const char *p, *nl;
	char *line;

	snprintf(needle, sizeof(needle), "{\"id\":%lld,", id);
	p = strstr(out, needle);
	if (!p)
		return NULL;
	nl = strchr(p, '\n');
	line = strndup(p, nl ? (size_t)(nl - p) : strlen(p));
	return line;
}

/* The lines of @out that start an object: the objects listed. */
static int count_objects(const char *out)
{
	int n = 0;

	for (const char *p = out; (p = strstr(p, "{\"id\":")); p++)
		n++;
	return n;
}

/* The holder tgids in @line's holder_list, sorted, into @v (at most @max). */
static int holder_tgids(const char *line, int *v, int max)
{
	const char *p = strstr(line, "\"holder_list\":[");
	int n = 0;

	while (p && (p = strstr(p, "{\"tgid\":")) && n < max) {
		p += strlen("{\"tgid\":");
		v[n++] = (int)strtol(p, NULL, 10);
	}
	qsort(v, n, sizeof(*v), cmp_int);
	return n;
}

FIXTURE(holders) {
	int fd;
	uint32_t ha, hh, hb;
	uint64_t value;
	long long id_a, id_h, id_b;
	pid_t kids[NHOLD];
	int nkids;
	int release;		/* closing it lets the importers exit */
};

/* An importer: import @value as uid 1000, report, wait for the release. */
static void importer(int fd_parent, uint64_t value, int device, int ack, int release)
{
	uint32_t h;
	int32_t r = 0;
	char c;
	int fd;

	close(fd_parent);
	if (npu_drop_to_user(UNPRIV_UID))
		r = -1000 - errno;
	fd = r ? -1 : npu_open();
	if (!r && fd < 0)
		r = -2000 - errno;
	if (!r && npu_import(fd, value, device, &h, NULL))
		r = -errno;
	if (write(ack, &r, sizeof(r)) != sizeof(r))
		_exit(3);
	while (read(release, &c, 1) > 0)
		;
	_exit(0);
}

/* The id of the object behind our handle, from the dump: by size and device. */
static long long find_id(const char *out, const char *needle)
{
	const char *p = strstr(out, needle);

	while (p && p > out && strncmp(p, "{\"id\":", 6))
		p--;
	return p ? strtoll(p + 6, NULL, 10) : -1;
}

FIXTURE_SETUP(holders)
{
	static char out[OUT_MAX];
	struct rlimit unlimited = { RLIM_INFINITY, RLIM_INFINITY };
	int ack[2], rel[2], failed = 0, first_err = 0;

	self->nkids = 0;
	self->release = -1;
	/* uid 1000 gets NHOLD processes and more. */
	setrlimit(RLIMIT_NPROC, &unlimited);
	self->fd = npu_open();
	ASSERT_TRUE(self->fd >= 0 && !npu_alloc(self->fd, 0, SZ, &self->ha, NULL) &&
		    !npu_alloc(self->fd, 1, 2 * SZ, &self->hh, NULL) &&
		    !npu_alloc(self->fd, 0, 3 * SZ, &self->hb, NULL))
		TH_LOG("allocate A (2 MiB), H (4 MiB), B (6 MiB), in that order");
	ASSERT_EQ(0, npu_export(self->fd, self->hh, NPU_MEM_EXPORT_DISABLE_PID_VALIDATION,
				&self->value)) TH_LOG("export H without pid validation");
	ASSERT_EQ(0, run(out, false, "--json", "objects", NULL, NULL)) TH_LOG("objects before");
	self->id_a = find_id(out, "\"size\":2097152,");
	self->id_h = find_id(out, "\"size\":4194304,");
	self->id_b = find_id(out, "\"size\":6291456,");
	ASSERT_TRUE(self->id_a > 0 && self->id_a < self->id_h && self->id_h < self->id_b)
		TH_LOG("A, H, B have increasing ids (%lld %lld %lld)", self->id_a, self->id_h,
		       self->id_b);

	ASSERT_EQ(0, pipe(ack));
	ASSERT_EQ(0, pipe(rel));
	for (int i = 0; i < NHOLD; i++) {
		pid_t pid = fork();

		if (pid == 0) {
			close(ack[0]);
			close(rel[1]);
			importer(self->fd, self->value, i % 2, ack[1], rel[0]);
		}
		if (pid < 0) {
			printf("# fork %d: %s\n", i, strerror(errno));
			break;
		}
		self->kids[self->nkids++] = pid;
	}
	close(ack[1]);
	close(rel[0]);
	self->release = rel[1];
	for (int i = 0; i < self->nkids; i++) {
		int32_t r;

		if (read(ack[0], &r, sizeof(r)) != sizeof(r))
			r = -9999;
		if (r) {
			failed++;
			first_err = first_err ? first_err : r;
		}
	}
	close(ack[0]);
	EXPECT_TRUE(self->nkids == NHOLD && !failed)
		TH_LOG("%d of %d importers started, %d failed to import (first: %d)",
		       self->nkids, NHOLD, failed, first_err);
}

FIXTURE_TEARDOWN(holders)
{
	if (self->release >= 0)
		close(self->release);
	for (int i = 0; i < self->nkids; i++)
		if (self->kids[i] > 0)
			reap(self->kids[i]);
	if (self->fd >= 0)
		close(self->fd);
}

/*
 * Check H's line in @out: its holders are exactly @want (sorted, @n of
 * them) plus, if @owner, this process.
 */
static bool check_h(struct __test_metadata *_metadata, const char *out, long long id,
		    const int *want, int n, pid_t owner, const char *who)
{
	static int got[NHOLD + 8], exp[NHOLD + 8];
	char *line = object_line(out, id);
	int ng, ne = 0, dup = 0, miss = 0, extra = 0;
	bool ok;

	if (!line) {
		EXPECT_TRUE(0) TH_LOG("%s: H (object %lld) is not listed", who, id);
		return false;
	}
	ng = holder_tgids(line, got, NHOLD + 8);
	memcpy(exp, want, n * sizeof(*want));
	ne = n;
	if (owner)
		exp[ne++] = owner;
	qsort(exp, ne, sizeof(*exp), cmp_int);
	for (int i = 1; i < ng; i++)
		dup += got[i] == got[i - 1];
	for (int i = 0, j = 0; i < ne || j < ng;) {
		if (j >= ng || (i < ne && exp[i] < got[j])) {
			miss++;
			i++;
		} else if (i >= ne || got[j] < exp[i]) {
			extra++;
			j++;
		} else {
			i++;
			j++;
		}
	}
	ok = !dup && !miss && !extra && ng == ne;
	EXPECT_TRUE(ok) TH_LOG("%s: H lists %d holders, want %d: %d twice, %d missing, %d extra",
			       who, ng, ne, dup, miss, extra);
	free(line);
	return ok;
}

/*
 * Then, on the same holders (2000 processes are slow to make under
 * emulation): dumps while every third of the first 3 * NKILL importers dies.
 */
static void dump_while_holders_go(struct __test_metadata *_metadata,
				  FIXTURE_DATA(holders) *self)
{
	static char out[OUT_MAX];
	static int survivors[NHOLD];
	int nsurv = 0, round = 0;
	pid_t killer;

	/* Kill every third of the first 3 * NKILL importers, from the last. */
	for (int i = 0; i < self->nkids; i++)
		if (!(i < 3 * NKILL && i % 3 == 0))
			survivors[nsurv++] = self->kids[i];
	qsort(survivors, nsurv, sizeof(*survivors), cmp_int);
	killer = fork();
	if (killer == 0) {
		for (int i = 3 * NKILL - 3; i >= 0; i -= 3) {
			kill(self->kids[i], SIGKILL);
			usleep(1000);
		}
		_exit(0);
	}
	do {
		static int got[NHOLD + 8];
		char *line;
		int ng, dup = 0;

		EXPECT_EQ(0, run(out, false, "--json", "objects", NULL, NULL))
			TH_LOG("round %d: objects exits 0", round);
		line = object_line(out, self->id_h);
		EXPECT_TRUE(line && object_line(out, self->id_a) && object_line(out, self->id_b))
			TH_LOG("round %d: A, H and B are listed", round);
		if (!line)
			break;
		ng = holder_tgids(line, got, NHOLD + 8);
		for (int i = 1; i < ng; i++)
			dup += got[i] == got[i - 1];
		/* Every survivor once; the dying ones at most once. */
		for (int i = 0, j = 0; i < nsurv; i++) {
			while (j < ng && got[j] < survivors[i])
				j++;
			if (j == ng || got[j] != survivors[i]) {
				dup = -1;
				break;
			}
		}
		EXPECT_EQ(0, dup) TH_LOG("round %d: %d holders listed; duplicates, or a "
					 "survivor missing (-1)", round, ng);
		free(line);
		round++;
	} while (waitpid(killer, NULL, WNOHANG) == 0 && !_metadata->exit_code);
	reap(killer);
	for (int i = 0; i < 3 * NKILL; i += 3) {
		reap(self->kids[i]);
		self->kids[i] = 0;
	}
	printf("# %d dumps while %d importers died\n", round, NKILL);
	EXPECT_EQ(0, run(out, false, "--json", "objects", NULL, NULL)) TH_LOG("objects after");
	check_h(_metadata, out, self->id_h, survivors, nsurv, getpid(), "after the kills");
}

TEST_F(holders, every_holder_is_dumped)
{
	static char out[OUT_MAX];
	static int kids[NHOLD];
	char pid[16], *line;
	int n = self->nkids;

	memcpy(kids, self->kids, n * sizeof(*kids));
	qsort(kids, n, sizeof(*kids), cmp_int);

	EXPECT_EQ(0, run(out, false, "--json", "objects", NULL, NULL))
		TH_LOG("root: objects exits 0 with %d holders on one object", n);
	EXPECT_EQ(3, count_objects(out)) TH_LOG("root: objects lists A, H and B");
	EXPECT_TRUE(object_line(out, self->id_a) && object_line(out, self->id_b))
		TH_LOG("root: A and B, around H, are listed");
	check_h(_metadata, out, self->id_h, kids, n, getpid(), "root");
	line = object_line(out, self->id_h);
	EXPECT_TRUE(line && strstr(line, "\"owner_tgid\":") &&
		    json_has_num(line, "holders", n + 1))
		TH_LOG("root: H's owner and holder count (%d)", n + 1);
	free(line);

	snprintf(pid, sizeof(pid), "%d", self->kids[n - 1]);
	EXPECT_TRUE(run(out, false, "--json", "objects", "--pid", pid) == 0 &&
		    count_objects(out) == 1 && object_line(out, self->id_h))
		TH_LOG("root: objects --pid (the last importer): only H");
	EXPECT_TRUE(run(out, false, "objects", NULL, NULL, NULL) == 0 &&
		    count_occ(out, "(i)") == n + 1)
		TH_LOG("root: the table shows every importer of H once (and the header \"(i)\")");

	/* uid 1000 sees H (it holds it), its own holders, not root's handle. */
	EXPECT_EQ(0, run(out, true, "--json", "objects", NULL, NULL))
		TH_LOG("uid 1000: objects exits 0");
	EXPECT_EQ(1, count_objects(out)) TH_LOG("uid 1000: objects lists only H");
	check_h(_metadata, out, self->id_h, kids, n, 0, "uid 1000");

	dump_while_holders_go(_metadata, self);
}

TEST_HARNESS_MAIN
