// SPDX-License-Identifier: GPL-2.0
/*
 * npu-mem (the netlink monitor) against known state.
 *
 * This process (the exporter) allocates on two devices and exports one
 * object to a whitelist of two worker processes, B and C; B imports and maps
 * it, C imports it, D (not whitelisted) is refused, as are a self-import and
 * a second import by B; C is SIGKILLed.  Then `npu-mem --json` objects,
 * devices, procs and info must describe exactly that, as root and as uid 1000
 * (who must see only its own object and the one it imported from root, only
 * its own holder entry, no shareable value, and may not watch).
 * Meanwhile `npu-mem --json watch --count N` must report every event, in
 * order; a second watcher must exit cleanly on SIGTERM.
 *
 * The fixture starts the watchers and builds that state; the tests check
 * what root sees, what uid 1000 sees, and (going on to release everything)
 * what the watchers reported.
 */
#define _GNU_SOURCE
#include <poll.h>
#include <stdbool.h>
#include <string.h>

#include "harness.h"
#include "npu.h"
#include "npu_tool.h"

#define SZ_X (2 * MIB)
#define SZ_Y (4 * MIB)
#define SZ_Z (2 * MIB)
#define UNPRIV_UID 1000
#define OUT_MAX (256 * 1024)

/* Fork npu-mem with @argv (NULL-terminated, argv[0] excluded). */
static pid_t spawn(const char *const *argv, int *out_fd, int *err_fd)
{
	const char *args[16] = { "npu-mem" };
	int o[2], e[2];
	pid_t pid;
	int i;

	for (i = 0; argv[i] && i < 14; i++)
		args[i + 1] = argv[i];
	if (pipe(o) || pipe(e))
		exit(2);
	pid = fork();
	if (pid == 0) {
		dup2(o[1], 1);
		dup2(e[1], 2);
		close(o[0]);
		close(e[0]);
		execv(npu_mem_bin(), (char *const *)args);
		_exit(127);
	}
	close(o[1]);
	close(e[1]);
	*out_fd = o[0];
	*err_fd = e[0];
	return pid;
}

/* Read @fd to its end into @buf (NUL-terminated). */
static void slurp(int fd, char *buf, size_t len)
{
	size_t n = 0;
	ssize_t r;

	while (n + 1 < len && (r = read(fd, buf + n, len - 1 - n)) > 0)
		n += r;
	buf[n] = '\0';
	close(fd);
}

/* Run npu-mem to completion; its stdout in @out.  Return: exit status. */
static int run(char *out, const char *const *argv)
{
	static char err[4096];
	int o, e;
	pid_t pid = spawn(argv, &o, &e);

	slurp(o, out, OUT_MAX);
	slurp(e, err, sizeof(err));
	if (err[0])
		printf("# npu-mem %s: stderr: %s", argv[0], err);
	return reap(pid);
}

/*
 * Read @fd into @buf (NUL-terminated) until it holds @lines lines, @fd ends,
 * or @timeout_ms pass without data.
 */
static void read_lines(int fd, char *buf, size_t len, int lines, int timeout_ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	size_t n = strlen(buf);
	ssize_t r;

	while (n + 1 < len) {
		int nl = 0;

		for (size_t i = 0; i < n; i++)
			nl += buf[i] == '\n';
		if (nl >= lines || poll(&pfd, 1, timeout_ms) <= 0)
			break;
		r = read(fd, buf + n, len - 1 - n);
		if (r <= 0)
			break;
		n += r;
		buf[n] = '\0';
	}
}

/* Reap @pid if it exits within @timeout_ms, else kill it: status or -1. */
static int reap_timeout(pid_t pid, int timeout_ms)
{
	int st, i;

	for (i = 0; i < timeout_ms / 10; i++) {
		if (waitpid(pid, &st, WNOHANG) == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		usleep(10000);
	}
	kill(pid, SIGKILL);
	reap(pid);
	return -1;
}

/* Number of lines of @out containing @needle. */
static int count_lines(const char *out, const char *needle)
{
	const char *p = out, *nl;
	int n = 0;

	while (*p) {
		const char *hit = strstr(p, needle);

		nl = strchr(p, '\n');
		if (!nl)
			nl = p + strlen(p);
		if (hit && hit < nl)
			n++;
		p = *nl ? nl + 1 : nl;
	}
	return n;
}

/* Copy the first line of @out containing all non-NULL needles into @line. */
static bool find_line(const char *out, char *line, size_t len, const char *n1,
		      const char *n2)
{
	const char *p = out, *nl;

	while (*p) {
		size_t l;

		nl = strchr(p, '\n');
		if (!nl)
			nl = p + strlen(p);
		l = nl - p;
		if (l < len) {
			memcpy(line, p, l);
			line[l] = '\0';
			if (strstr(line, n1) && (!n2 || strstr(line, n2)))
				return true;
		}
		p = *nl ? nl + 1 : nl;
	}
	line[0] = '\0';
	return false;
}

/* The number after "key": in a JSON line, or -1. */
static long long json_num(const char *line, const char *key)
{
	char pat[64];
	const char *p;

	snprintf(pat, sizeof(pat), "\"%s\":", key);
	p = strstr(line, pat);
	return p ? strtoll(p + strlen(pat), NULL, 10) : -1;
}

static bool has(const char *line, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static bool has(const char *line, const char *fmt, ...)
{
	char needle[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(needle, sizeof(needle), fmt, ap);
	va_end(ap);
	if (strstr(line, needle))
		return true;
	printf("# missing %s in: %s\n", needle, line);
	return false;
}

/* ---- worker processes, driven over pipes */

enum { W_IMPORT = 1, W_MAP, W_UNMAP, W_FREE, W_EXIT };

struct worker {
	pid_t pid;
	int to, from;
};

/* Reply: 0 or a handle id on success, -errno on failure. */
static void worker_loop(int in, int out)
{
	int fd = npu_open();
	uint64_t off = 0, size = 0;
	uint32_t h = 0;
	void *va = NULL;

	put64(out, fd < 0 ? (uint64_t)-1 : (uint64_t)npu_bare_tgid(fd));
	for (;;) {
		uint64_t op = get64(in), a = get64(in), b = get64(in);
		int64_t r = 0;

		switch (op) {
		case W_IMPORT:
			r = npu_import(fd, a, b, &h, &off) ? -(int64_t)errno : (int64_t)h;
			break;
		case W_MAP:
			size = a;
			va = npu_map(fd, off, size);
			r = va ? 0 : -errno;
			break;
		case W_UNMAP:
			r = munmap(va, size) ? -errno : 0;
			break;
		case W_FREE:
			r = npu_free(fd, a) ? -errno : 0;
			break;
		case W_EXIT:
			_exit(0);
		}
		put64(out, r);
	}
}

static void worker_start(struct worker *w)
{
	int p[2], q[2];

	if (pipe(p) || pipe(q))
		exit(2);
	w->pid = fork();
	if (w->pid == 0) {
		close(p[1]);
		close(q[0]);
		worker_loop(p[0], q[1]);
	}
	close(p[0]);
	close(q[1]);
	w->to = p[1];
	w->from = q[0];
	if ((pid_t)get64(w->from) != w->pid)
		exit(2);
}

static int64_t worker_do(struct worker *w, uint64_t op, uint64_t a, uint64_t b)
{
	put64(w->to, op);
	put64(w->to, a);
	put64(w->to, b);
	return op == W_EXIT ? 0 : (int64_t)get64(w->from);
}

/* ---- the fixture: watchers, then known state */

FIXTURE(netlink) {
	struct worker b, c, d;
	uint32_t hx, hy;
	uint64_t value;		/* X's shareable value */
	pid_t me, watcher, watcher2;
	int wout, w2out, fd;
	int64_t hb;		/* B's handle of X */
	pid_t c_pid;		/* C's pid (C is dead) */
	FILE *ef, *ef2;
};

/* Kill what the fixture started (teardown, or a setup that failed: no teardown then). */
static void netlink_cleanup(FIXTURE_DATA(netlink) *self)
{
	pid_t left[] = { self->watcher, self->watcher2, self->b.pid, self->c.pid, self->d.pid };

	for (size_t i = 0; i < sizeof(left) / sizeof(left[0]); i++)
		if (left[i] > 0) {
			kill(left[i], SIGKILL);
			reap(left[i]);
		}
	self->watcher = self->watcher2 = self->b.pid = self->c.pid = self->d.pid = 0;
	if (self->fd >= 0)
		close(self->fd);
	self->fd = -1;
}

FIXTURE_SETUP(netlink)
{
	char err[4096];
	uint32_t hself;
	int32_t pids[2];
	int werr, w2err;

	self->me = getpid();

	/* 1. Watchers first: every later event must reach them. */
	self->watcher = spawn((const char *[]){ "--json", "watch", "--count", "22", NULL },
			      &self->wout, &werr);
	self->ef = fdopen(werr, "r");
	EXPECT_TRUE(self->ef && fgets(err, sizeof(err), self->ef) && strstr(err, "listening"))
		TH_LOG("watch: announces that it listens");
	self->watcher2 = spawn((const char *[]){ "watch", NULL }, &self->w2out, &w2err);
	self->ef2 = fdopen(w2err, "r");
	EXPECT_TRUE(self->ef2 && fgets(err, sizeof(err), self->ef2) && strstr(err, "listening"))
		TH_LOG("watch (text): announces that it listens");

	/* 2. Known state. */
	self->fd = npu_open();
	EXPECT_TRUE(self->fd >= 0 && !npu_alloc(self->fd, 0, SZ_X, &self->hx, NULL) &&
		    !npu_alloc(self->fd, 1, SZ_Y, &self->hy, NULL))
		TH_LOG("alloc X (2 MiB, device 0) and Y (4 MiB, device 1)");
	if (_metadata->exit_code) {
		netlink_cleanup(self);
		return;
	}
	worker_start(&self->b);
	worker_start(&self->c);
	worker_start(&self->d);
	pids[0] = self->b.pid;
	pids[1] = self->c.pid;
	EXPECT_TRUE(!npu_export(self->fd, self->hx, 0, &self->value) &&
		    !npu_set_pids(self->fd, self->value, pids, 2))
		TH_LOG("export X with a whitelist of B and C");
	self->hb = worker_do(&self->b, W_IMPORT, self->value, 1);
	EXPECT_TRUE(self->hb > 0 && worker_do(&self->b, W_MAP, SZ_X, 0) == 0)
		TH_LOG("B imports X onto device 1 and maps it");
	EXPECT_LT(0, worker_do(&self->c, W_IMPORT, self->value, 0)) TH_LOG("C imports X onto device 0");
	EXPECT_EQ(-EACCES, worker_do(&self->d, W_IMPORT, self->value, 0))
		TH_LOG("D is refused (not whitelisted)");
	EXPECT_EQ(-ELOOP, neg_errno(npu_import(self->fd, self->value, 0, &hself, NULL)))
		TH_LOG("self-import is refused");
	EXPECT_EQ(-EEXIST, worker_do(&self->b, W_IMPORT, self->value, 0))
		TH_LOG("B's second import is refused");
	kill(self->c.pid, SIGKILL);
	EXPECT_EQ(128 + SIGKILL, reap(self->c.pid)) TH_LOG("C is SIGKILLed");
	self->c_pid = self->c.pid;	/* dead: its pid is for the checks */
	self->c.pid = 0;
	if (_metadata->exit_code)
		netlink_cleanup(self);
}

FIXTURE_TEARDOWN(netlink)
{
	netlink_cleanup(self);
}

/* ---- what root sees */

TEST_F(netlink, root_view)
{
	static char out[OUT_MAX];
	char line[4096], buf[128];
	long long x = -1, y = -1;
	pid_t me = self->me;

	EXPECT_EQ(0, run(out, (const char *[]){ "--json", "objects", NULL })) TH_LOG("objects exits 0");
	EXPECT_EQ(2, count_lines(out, "{\"id\":")) TH_LOG("objects: exactly X and Y");
	if (find_line(out, line, sizeof(line), "\"device\":0,\"size\":2097152,", NULL))
		x = json_num(line, "id");
	snprintf(buf, sizeof(buf), "\"shareable\":\"0x%016llx\"", (unsigned long long)self->value);
	EXPECT_TRUE(x > 0 && has(line, "\"owner_tgid\":%d,\"owner_comm\":\"test_netlink\"", me) &&
		    has(line, "\"exported\":true,%s,\"whitelist\":true,\"whitelist_size\":2,", buf))
		TH_LOG("objects: X's owner, export state, value and whitelist");
	EXPECT_TRUE(has(line, "\"holders\":3,\"mappings\":1,"))
		TH_LOG("objects: X has 3 holders (2 handles, 1 mapping) and 1 mapping");
	EXPECT_TRUE(has(line, "{\"tgid\":%d,\"device\":0,\"imported\":false}", me) &&
		    has(line, "{\"tgid\":%d,\"device\":1,\"imported\":true}", self->b.pid) &&
		    count_occ(strstr(line, "holder_list"), "{\"tgid\":") == 2)
		TH_LOG("objects: X's holders are the exporter and B, not the dead C");
	snprintf(buf, sizeof(buf), "{\"tgid\":%d,", self->c_pid);
	EXPECT_NULL(strstr(line, buf)) TH_LOG("objects: C is not a holder");
	if (find_line(out, line, sizeof(line), "\"device\":1,\"size\":4194304,", NULL))
		y = json_num(line, "id");
	EXPECT_TRUE(y > 0 && y != x &&
		    has(line, "\"exported\":false,\"holders\":1,\"mappings\":0,") &&
		    !strstr(line, "shareable"))
		TH_LOG("objects: Y is not exported and has one holder");

	snprintf(buf, sizeof(buf), "\"id\":%lld,", y);
	EXPECT_TRUE(run(out, (const char *[]){ "--json", "objects", "--device", "1", NULL }) == 0 &&
		    count_lines(out, "{\"id\":") == 1 && strstr(out, buf))
		TH_LOG("objects --device 1: only Y");
	snprintf(line, sizeof(line), "%d", self->b.pid);
	snprintf(buf, sizeof(buf), "\"id\":%lld,", x);
	EXPECT_TRUE(run(out, (const char *[]){ "--json", "objects", "--pid", line, NULL }) == 0 &&
		    count_lines(out, "{\"id\":") == 1 && strstr(out, buf))
		TH_LOG("objects --pid B: only X");
	EXPECT_TRUE(run(out, (const char *[]){ "objects", NULL }) == 0 &&
		    strstr(out, "OBJECT") && count_lines(out, "test_netlink") == 2)
		TH_LOG("objects (table) exits 0 with a header and the value");

	/* importers: X's one import (by B, on device 1); not the dead C's, not Y. */
	snprintf(buf, sizeof(buf), "\"object\":%lld,", x);
	EXPECT_TRUE(run(out, (const char *[]){ "--json", "importers", NULL }) == 0 &&
		    count_occ(out, "\"importer_tgid\":") == 1 && strstr(out, buf) &&
		    has(out, "\"exporter_tgid\":%d,\"exporter_comm\":\"test_netlink\","
			"\"importer_tgid\":%d,\"import_device\":1}", me, self->b.pid))
		TH_LOG("importers: X's one import, by B onto device 1");
	snprintf(line, sizeof(line), "%d", self->c_pid);
	EXPECT_TRUE(run(out, (const char *[]){ "--json", "importers", "--pid", line, NULL }) == 0 &&
		    count_occ(out, "\"importer_tgid\":") == 0)
		TH_LOG("importers --pid C: none (C is dead)");
	EXPECT_TRUE(run(out, (const char *[]){ "importers", NULL }) == 0 &&
		    strstr(out, "IMPORTER") && count_lines(out, "test_netlink") == 1)
		TH_LOG("importers (table) exits 0 with a header and one row");

	EXPECT_EQ(0, run(out, (const char *[]){ "--json", "devices", NULL })) TH_LOG("devices exits 0");
	EXPECT_TRUE(find_line(out, line, sizeof(line), "{\"id\":0,", NULL) &&
		    json_num(line, "used") == (long long)SZ_X &&
		    json_num(line, "free") == json_num(line, "total") - (long long)SZ_X &&
		    has(line, "\"objects\":1,\"exports\":1,"))
		TH_LOG("devices: device 0 has X: 2 MiB, 1 object, 1 export");
	EXPECT_TRUE(find_line(out, line, sizeof(line), "{\"id\":1,", NULL) &&
		    json_num(line, "used") == (long long)SZ_Y &&
		    has(line, "\"objects\":1,\"exports\":0,"))
		TH_LOG("devices: device 1 has Y: 4 MiB, 1 object, 0 exports");

	/*
	 * Our allocations on device 0 started a zeroed reserve for our cgroup:
	 * it fills to zero_reserve_mb (other cgroups may add theirs).
	 */
	{
		long long want = -1, got = -1;
		FILE *f = fopen("/sys/module/npu_mem/parameters/zero_reserve_mb", "r");

		if (f && fscanf(f, "%lld", &want) == 1)
			want *= MIB;
		if (f)
			fclose(f);
		for (int i = 0; i < 500 && got < want; i++) {
			if (run(out, (const char *[]){ "--json", "devices", NULL }) == 0 &&
			    find_line(out, line, sizeof(line), "{\"id\":0,", NULL))
				got = json_num(line, "zero_reserve");
			if (got < want)
				usleep(10000);
		}
		EXPECT_TRUE(want >= 0 && got >= want && got % (2 * MIB) == 0)
			TH_LOG("devices: device 0 reports its zeroed reserve (zero_reserve_mb): "
			       "zero_reserve is %lld bytes, want at least %lld in 2 MiB chunks",
			       got, want);
	}

	EXPECT_EQ(0, run(out, (const char *[]){ "--json", "procs", NULL })) TH_LOG("procs exits 0");
	snprintf(buf, sizeof(buf), "{\"tgid\":%d,", me);
	EXPECT_TRUE(find_line(out, line, sizeof(line), buf, NULL) &&
		    has(line, "\"comm\":\"test_netlink\",\"files\":1,\"allocated\":6291456,"
			"\"imported\":0,\"handles\":2,\"mappings\":0}"))
		TH_LOG("procs: the exporter allocated 6 MiB in 2 handles");
	snprintf(buf, sizeof(buf), "{\"tgid\":%d,", self->b.pid);
	EXPECT_TRUE(find_line(out, line, sizeof(line), buf, NULL) &&
		    has(line, "\"allocated\":0,\"imported\":2097152,\"handles\":1,\"mappings\":1}"))
		TH_LOG("procs: B imported 2 MiB, 1 handle, 1 mapping");
	snprintf(buf, sizeof(buf), "{\"tgid\":%d,", self->d.pid);
	EXPECT_TRUE(find_line(out, line, sizeof(line), buf, NULL) &&
		    has(line, "\"allocated\":0,\"imported\":0,\"handles\":0,\"mappings\":0}"))
		TH_LOG("procs: D holds nothing");
	snprintf(buf, sizeof(buf), "{\"tgid\":%d,", self->c_pid);
	EXPECT_NULL(strstr(out, buf)) TH_LOG("procs: C is gone");
	EXPECT_TRUE(run(out, (const char *[]){ "--json", "info", NULL }) == 0 &&
		    has(out, "{\"abi_major\":%d,\"abi_minor\":%d,\"genl_version\":1,",
			NPU_MEM_ABI_MAJOR, NPU_MEM_ABI_MINOR) &&
		    has(out, "\"admin\":true"))
		TH_LOG("info: ABI and admin view");
	EXPECT_TRUE(run(out, (const char *[]){ "--version", NULL }) == 0 &&
		    !strncmp(out, "npu-mem ", 8) &&
		    has(out, " (ABI %d.%d, genl 1)\n", NPU_MEM_ABI_MAJOR, NPU_MEM_ABI_MINOR))
		TH_LOG("--version: the ABI and family version it was built for");
}

/* ---- what uid 1000 sees: a child that allocates Z, imports Y and dies holding them */

static int unprivileged(struct __test_metadata *_metadata, uint64_t y_value)
{
	static char out[OUT_MAX];
	char line[4096], needle[64];
	uint32_t h;
	pid_t me = getpid();
	int fd;

	if (npu_drop_to_user(UNPRIV_UID)) {
		EXPECT_TRUE(0) TH_LOG("unpriv: drop to uid 1000: %s", strerror(errno));
		return _metadata->exit_code;
	}
	fd = npu_open();
	EXPECT_TRUE(fd >= 0 && !npu_alloc(fd, 0, SZ_Z, &h, NULL)) TH_LOG("unpriv: allocate Z on device 0");
	EXPECT_EQ(0, npu_import(fd, y_value, 0, &h, NULL)) TH_LOG("unpriv: import root's Y onto device 0");

	EXPECT_EQ(0, run(out, (const char *[]){ "--json", "objects", NULL }))
		TH_LOG("unpriv: objects exits 0");
	EXPECT_EQ(2, count_lines(out, "{\"id\":")) TH_LOG("unpriv: objects lists exactly Z and Y");
	snprintf(needle, sizeof(needle), "\"owner_tgid\":%d,", me);
	EXPECT_TRUE(find_line(out, line, sizeof(line), needle, NULL) &&
		    json_num(line, "size") == (long long)SZ_Z) TH_LOG("unpriv: ... its own Z");
	EXPECT_TRUE(find_line(out, line, sizeof(line), "\"size\":4194304,", NULL) &&
		    has(line, "\"device\":1,\"size\":4194304,\"page_kind\":\"huge\",") &&
		    count_occ(strstr(line, "holder_list"), "{\"tgid\":") == 1 &&
		    has(line, "{\"tgid\":%d,\"device\":0,\"imported\":true}", me))
		TH_LOG("unpriv: ... and root's Y, with only its own holder entry");
	/* Y is root's: nothing about root's process or its sharing. */
	EXPECT_TRUE(!strstr(line, "owner_tgid") && !strstr(line, "owner_comm") &&
		    !strstr(line, "whitelist") && !strstr(line, "\"holders\"") &&
		    !strstr(line, "\"mappings\""))
		TH_LOG("unpriv: Y shows no owner, whitelist or counts: %s", line);
	EXPECT_NULL(strstr(out, "shareable")) TH_LOG("unpriv: no shareable value shown");
	EXPECT_TRUE(run(out, (const char *[]){ "objects", NULL }) == 0 &&
		    count_lines(out, "test_netlink") == 1)
		TH_LOG("unpriv: the table names only its own Z's owner");

	EXPECT_EQ(0, run(out, (const char *[]){ "--json", "procs", NULL }))
		TH_LOG("unpriv: procs exits 0");
	EXPECT_TRUE(count_lines(out, "{\"tgid\":") == 1 &&
		    json_num(out, "tgid") == me && json_num(out, "allocated") == (long long)SZ_Z &&
		    json_num(out, "imported") == (long long)SZ_Y)
		TH_LOG("unpriv: procs lists only itself");

	EXPECT_TRUE(run(out, (const char *[]){ "--json", "info", NULL }) == 0 &&
		    strstr(out, "\"admin\":false")) TH_LOG("unpriv: info says no admin view");
	EXPECT_EQ(1, run(out, (const char *[]){ "watch", "--count", "1", NULL }))
		TH_LOG("unpriv: watch is refused with exit status 1");
	EXPECT_TRUE(run(out, (const char *[]){ "--json", "devices", NULL }) == 0 &&
		    count_lines(out, "{\"id\":") >= 2) TH_LOG("unpriv: devices are visible");
	/* Exit holding Z and Y: both holders die with us. */
	return _metadata->exit_code;
}

/* Export Y to anyone, run the unprivileged child; its pid. */
static pid_t run_unprivileged(struct __test_metadata *_metadata, FIXTURE_DATA(netlink) *self)
{
	uint64_t y_value = 0;
	pid_t unpriv;

	EXPECT_EQ(0, npu_export(self->fd, self->hy, NPU_MEM_EXPORT_DISABLE_PID_VALIDATION, &y_value))
		TH_LOG("export Y without pid validation");
	unpriv = fork();
	if (unpriv == 0)
		_exit(unprivileged(_metadata, y_value));
	EXPECT_EQ(0, reap(unpriv)) TH_LOG("unpriv: all its checks passed");
	return unpriv;
}

TEST_F(netlink, unprivileged_view)
{
	run_unprivileged(_metadata, self);
}

/* ---- events */

struct want {
	const char *event;
	long long obj;		/* -1: must be absent */
	long long tgid;
	const char *extra;	/* a further "key":value that must be present */
};

static void check_events(struct __test_metadata *_metadata, const char *out,
			 const struct want *w, int n)
{
	const char *p = out;
	char line[2048];
	int i;

	for (i = 0; i < n; i++) {
		const char *nl = strchr(p, '\n');
		size_t l = nl ? (size_t)(nl - p) : strlen(p);
		bool ok;

		snprintf(line, sizeof(line), "%.*s", (int)(l < sizeof(line) ? l : sizeof(line) - 1), p);
		p = nl ? nl + 1 : p + l;
		ok = has(line, "\"event\":\"%s\"", w[i].event) &&
		     json_num(line, "object") == w[i].obj &&
		     json_num(line, "tgid") == w[i].tgid &&
		     has(line, "\"time\":\"") &&
		     (!w[i].extra || has(line, "%s", w[i].extra));
		EXPECT_TRUE(ok) TH_LOG("watch: event %d is %s: got: %s", i + 1, w[i].event, line);
	}
	EXPECT_EQ('\0', *p) TH_LOG("watch: no further events");
}

/* Z's id: the one allocated object id in @events that is neither X nor Y. */
static long long find_z(const char *events, long long x, long long y)
{
	const char *zl = strstr(events, "\"event\":\"allocated\"");

	for (; zl; zl = strstr(zl + 1, "\"event\":\"allocated\"")) {
		long long id = json_num(zl, "object");

		if (id != x && id != y)
			return id;
	}
	return -1;
}

TEST_F(netlink, watch_reports_every_event)
{
	static char out[OUT_MAX], events[OUT_MAX];
	char shareable[64], line[4096];
	long long x = -1, y = -1, z;
	pid_t me = self->me, b = self->b.pid, c = self->c_pid, d = self->d.pid, unpriv;

	/* X's and Y's ids, from the dump. */
	EXPECT_EQ(0, run(out, (const char *[]){ "--json", "objects", NULL })) TH_LOG("objects exits 0");
	if (find_line(out, line, sizeof(line), "\"device\":0,\"size\":2097152,", NULL))
		x = json_num(line, "id");
	if (find_line(out, line, sizeof(line), "\"device\":1,\"size\":4194304,", NULL))
		y = json_num(line, "id");

	/* 4. uid 1000 allocates Z, imports Y, and dies holding them. */
	unpriv = run_unprivileged(_metadata, self);

	/* 5. Let go, in an order that produces each remaining event. */
	EXPECT_EQ(0, worker_do(&self->b, W_FREE, self->hb, 0)) TH_LOG("B frees its handle");
	EXPECT_EQ(0, npu_free(self->fd, self->hx)) TH_LOG("the exporter frees X");
	EXPECT_EQ(0, worker_do(&self->b, W_UNMAP, 0, 0)) TH_LOG("B unmaps X (the last holder)");
	EXPECT_EQ(-ENOENT, worker_do(&self->d, W_IMPORT, self->value, 0))
		TH_LOG("D's import of the dead value is refused");
	EXPECT_EQ(0, npu_free(self->fd, self->hy)) TH_LOG("the exporter frees Y");
	worker_do(&self->b, W_EXIT, 0, 0);
	worker_do(&self->d, W_EXIT, 0, 0);
	reap(self->b.pid);
	reap(self->d.pid);
	self->b.pid = self->d.pid = 0;
	close(self->fd);
	self->fd = -1;

	/* 6. The watcher stops by itself after its count. */
	read_lines(self->wout, events, sizeof(events), 22, 5000);
	EXPECT_EQ(0, reap_timeout(self->watcher, 5000)) TH_LOG("watch --count exits 0 on its own");
	self->watcher = 0;
	read_lines(self->wout, events, sizeof(events), 1000, 100);
	close(self->wout);
	fclose(self->ef);
	z = find_z(events, x, y);
	{
		char pids_set[] = "\"pids\":2";
		char dev0[] = "\"device\":0,";
		char dev1[] = "\"device\":1,";
		const struct want want[] = {
			{ "allocated", x, me, "\"size\":2097152" },
			{ "allocated", y, me, dev1 },
			{ "exported", x, me, shareable },
			{ "pids-set", x, me, pids_set },
			{ "imported", x, b, dev1 },
			{ "imported", x, c, dev0 },
			{ "import-refused", x, d, "\"reason\":\"not-whitelisted\"" },
			{ "import-refused", x, me, "\"reason\":\"self-import\"" },
			{ "import-refused", x, b, "\"reason\":\"duplicate\"" },
			{ "holder-died", x, c, dev0 },
			{ "exported", y, me, "\"size\":4194304" },
			{ "allocated", z, unpriv, dev0 },
			{ "imported", y, unpriv, dev0 },
			{ "holder-died", z, unpriv, NULL },
			{ "released", z, unpriv, NULL },
			{ "holder-died", y, unpriv, dev0 },
			{ "freed", x, b, dev1 },
			{ "freed", x, me, dev0 },
			{ "released", x, me, shareable },
			{ "import-refused", -1, d, "\"reason\":\"dead-value\"" },
			{ "freed", y, me, NULL },
			{ "released", y, me, "\"size\":4194304" },
		};

		snprintf(shareable, sizeof(shareable), "\"shareable\":\"0x%016llx\"",
			 (unsigned long long)self->value);
		EXPECT_LT(0, z) TH_LOG("watch: Z's id was reported");
		check_events(_metadata, events, want, sizeof(want) / sizeof(want[0]));
	}

	/* 7. A watcher without --count stops cleanly on SIGTERM. */
	out[0] = '\0';
	read_lines(self->w2out, out, OUT_MAX, 22, 5000);
	kill(self->watcher2, SIGTERM);
	EXPECT_EQ(0, reap_timeout(self->watcher2, 5000)) TH_LOG("watch exits 0 on SIGTERM");
	self->watcher2 = 0;
	read_lines(self->w2out, out, OUT_MAX, 1000, 100);
	close(self->w2out);
	fclose(self->ef2);
	EXPECT_TRUE(count_lines(out, " allocated ") == 3 && count_lines(out, " released ") == 3)
		TH_LOG("watch (text) printed one line per event");

	EXPECT_TRUE(npu_dev_free(0) != UINT64_MAX &&
		    run(out, (const char *[]){ "--json", "devices", NULL }) == 0 &&
		    count_lines(out, "\"used\":0,") == count_lines(out, "{\"id\":"))
		TH_LOG("every device is empty again");
}

TEST_HARNESS_MAIN
