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
 */
#define _GNU_SOURCE
#include <poll.h>
#include <stdbool.h>
#include <string.h>

#include "tap.h"
#include "npu.h"

#define SZ_X (2 * MIB)
#define SZ_Y (4 * MIB)
#define SZ_Z (2 * MIB)
#define UNPRIV_UID 1000
#define OUT_MAX (256 * 1024)

static const char *npu_mem_bin(void)
{
	const char *b = getenv("NPU_MEM_BIN");

	return b ? b : "/opt/npu_mem/bin/npu-mem";
}

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

/* Occurrences of @needle in @s. */
static int count_occ(const char *s, const char *needle)
{
	int n = 0;

	while (s && (s = strstr(s, needle))) {
		n++;
		s++;
	}
	return n;
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

/* ---- the unprivileged view, in a child running as UNPRIV_UID */

static int unprivileged(pid_t root_tgid, uint64_t y_value)
{
	static char out[OUT_MAX];
	char line[4096], needle[64];
	uint32_t h;
	pid_t me = getpid();
	int fd;

	if (setresgid(UNPRIV_UID, UNPRIV_UID, UNPRIV_UID) ||
	    setresuid(UNPRIV_UID, UNPRIV_UID, UNPRIV_UID)) {
		TAP_CHECK("unpriv: drop to uid 1000", 0);
		return tap_done();
	}
	fd = npu_open();
	TAP_CHECK("unpriv: allocate Z on device 0",
		  fd >= 0 && !npu_alloc(fd, 0, SZ_Z, &h, NULL));
	TAP_CHECK("unpriv: import root's Y onto device 0",
		  !npu_import(fd, y_value, 0, &h, NULL));

	TAP_CHECK("unpriv: objects exits 0",
		  run(out, (const char *[]){ "--json", "objects", NULL }) == 0);
	TAP_CHECK("unpriv: objects lists exactly Z and Y",
		  count_lines(out, "{\"id\":") == 2);
	snprintf(needle, sizeof(needle), "\"owner_tgid\":%d,", me);
	TAP_CHECK("unpriv: ... its own Z",
		  find_line(out, line, sizeof(line), needle, NULL) &&
		  json_num(line, "size") == (long long)SZ_Z);
	snprintf(needle, sizeof(needle), "\"owner_tgid\":%d,", root_tgid);
	TAP_CHECK("unpriv: ... and root's Y, with only its own holder entry",
		  find_line(out, line, sizeof(line), needle, NULL) &&
		  json_num(line, "size") == (long long)SZ_Y &&
		  has(line, "\"holders\":2,") &&
		  count_occ(strstr(line, "holder_list"), "{\"tgid\":") == 1 &&
		  has(line, "{\"tgid\":%d,\"device\":0,\"imported\":true}", me));
	TAP_CHECK("unpriv: no shareable value shown", !strstr(out, "shareable"));

	TAP_CHECK("unpriv: procs exits 0",
		  run(out, (const char *[]){ "--json", "procs", NULL }) == 0);
	TAP_CHECK("unpriv: procs lists only itself",
		  count_lines(out, "{\"tgid\":") == 1 &&
		  json_num(out, "tgid") == me && json_num(out, "allocated") == (long long)SZ_Z &&
		  json_num(out, "imported") == (long long)SZ_Y);

	TAP_CHECK("unpriv: info says no admin view",
		  run(out, (const char *[]){ "--json", "info", NULL }) == 0 &&
		  strstr(out, "\"admin\":false"));
	TAP_CHECK("unpriv: watch is refused with exit status 1",
		  run(out, (const char *[]){ "watch", "--count", "1", NULL }) == 1);
	TAP_CHECK("unpriv: devices are visible",
		  run(out, (const char *[]){ "--json", "devices", NULL }) == 0 &&
		  count_lines(out, "{\"id\":") >= 2);
	/* Exit holding Z and Y: both holders die with us. */
	return tap_done();
}

/* ---- events */

struct want {
	const char *event;
	long long obj;		/* -1: must be absent */
	long long tgid;
	const char *extra;	/* a further "key":value that must be present */
};

static void check_events(const char *out, const struct want *w, int n)
{
	const char *p = out;
	char line[2048], name[96];
	int i;

	for (i = 0; i < n; i++) {
		const char *nl = strchr(p, '\n');
		size_t l = nl ? (size_t)(nl - p) : strlen(p);
		bool ok;

		snprintf(line, sizeof(line), "%.*s", (int)(l < sizeof(line) ? l : sizeof(line) - 1), p);
		p = nl ? nl + 1 : p + l;
		snprintf(name, sizeof(name), "watch: event %d is %s", i + 1, w[i].event);
		ok = has(line, "\"event\":\"%s\"", w[i].event) &&
		     json_num(line, "object") == w[i].obj &&
		     json_num(line, "tgid") == w[i].tgid &&
		     has(line, "\"time\":\"") &&
		     (!w[i].extra || has(line, "%s", w[i].extra));
		tap_result(ok, name, "got: %s", line);
	}
	TAP_CHECK("watch: no further events", *p == '\0');
}

int main(void)
{
	static char out[OUT_MAX], events[OUT_MAX], err[4096];
	struct worker b, c, d;
	char line[4096], buf[128];
	long long x = -1, y = -1, z = -1;
	uint32_t hx, hy, hself;
	uint64_t value = 0, y_value = 0;
	int32_t pids[2];
	pid_t me = getpid(), watcher, watcher2, unpriv;
	int wout, werr, w2out, w2err, fd;
	int64_t hb;
	FILE *ef, *ef2;

	/* 1. Watchers first: every later event must reach them. */
	watcher = spawn((const char *[]){ "--json", "watch", "--count", "22", NULL },
			&wout, &werr);
	ef = fdopen(werr, "r");
	TAP_CHECK("watch: announces that it listens",
		  ef && fgets(err, sizeof(err), ef) && strstr(err, "listening"));
	watcher2 = spawn((const char *[]){ "watch", NULL }, &w2out, &w2err);
	ef2 = fdopen(w2err, "r");
	TAP_CHECK("watch (text): announces that it listens",
		  ef2 && fgets(err, sizeof(err), ef2) && strstr(err, "listening"));

	/* 2. Known state. */
	fd = npu_open();
	TAP_CHECK("alloc X (2 MiB, device 0) and Y (4 MiB, device 1)",
		  fd >= 0 && !npu_alloc(fd, 0, SZ_X, &hx, NULL) &&
		  !npu_alloc(fd, 1, SZ_Y, &hy, NULL));
	worker_start(&b);
	worker_start(&c);
	worker_start(&d);
	pids[0] = b.pid;
	pids[1] = c.pid;
	TAP_CHECK("export X with a whitelist of B and C",
		  !npu_export(fd, hx, 0, &value) && !npu_set_pids(fd, value, pids, 2));
	hb = worker_do(&b, W_IMPORT, value, 1);
	TAP_CHECK("B imports X onto device 1 and maps it",
		  hb > 0 && worker_do(&b, W_MAP, SZ_X, 0) == 0);
	TAP_CHECK("C imports X onto device 0", worker_do(&c, W_IMPORT, value, 0) > 0);
	TAP_CHECK("D is refused (not whitelisted)",
		  worker_do(&d, W_IMPORT, value, 0) == -EACCES);
	TAP_ERRNO("self-import is refused", npu_import(fd, value, 0, &hself, NULL), ELOOP);
	TAP_CHECK("B's second import is refused", worker_do(&b, W_IMPORT, value, 0) == -EEXIST);
	kill(c.pid, SIGKILL);
	TAP_CHECK("C is SIGKILLed", reap(c.pid) == 128 + SIGKILL);

	/* 3. What root sees. */
	TAP_CHECK("objects exits 0", run(out, (const char *[]){ "--json", "objects", NULL }) == 0);
	TAP_CHECK("objects: exactly X and Y", count_lines(out, "{\"id\":") == 2);
	if (find_line(out, line, sizeof(line), "\"device\":0,\"size\":2097152,", NULL))
		x = json_num(line, "id");
	snprintf(buf, sizeof(buf), "\"shareable\":\"0x%016llx\"", (unsigned long long)value);
	TAP_CHECK("objects: X's owner, export state, value and whitelist",
		  x > 0 && has(line, "\"owner_tgid\":%d,\"owner_comm\":\"test_netlink\"", me) &&
		  has(line, "\"exported\":true,%s,\"whitelist\":true,\"whitelist_size\":2,", buf));
	TAP_CHECK("objects: X has 3 holders (2 handles, 1 mapping) and 1 mapping",
		  has(line, "\"holders\":3,\"mappings\":1,"));
	TAP_CHECK("objects: X's holders are the exporter and B, not the dead C",
		  has(line, "{\"tgid\":%d,\"device\":0,\"imported\":false}", me) &&
		  has(line, "{\"tgid\":%d,\"device\":1,\"imported\":true}", b.pid) &&
		  count_occ(strstr(line, "holder_list"), "{\"tgid\":") == 2);
	snprintf(buf, sizeof(buf), "{\"tgid\":%d,", c.pid);
	TAP_CHECK("objects: C is not a holder", !strstr(line, buf));
	if (find_line(out, line, sizeof(line), "\"device\":1,\"size\":4194304,", NULL))
		y = json_num(line, "id");
	TAP_CHECK("objects: Y is not exported and has one holder",
		  y > 0 && y != x && has(line, "\"exported\":false,\"holders\":1,\"mappings\":0,") &&
		  !strstr(line, "shareable"));

	snprintf(buf, sizeof(buf), "\"id\":%lld,", y);
	TAP_CHECK("objects --device 1: only Y",
		  run(out, (const char *[]){ "--json", "objects", "--device", "1", NULL }) == 0 &&
		  count_lines(out, "{\"id\":") == 1 && strstr(out, buf));
	snprintf(line, sizeof(line), "%d", b.pid);
	snprintf(buf, sizeof(buf), "\"id\":%lld,", x);
	TAP_CHECK("objects --pid B: only X",
		  run(out, (const char *[]){ "--json", "objects", "--pid", line, NULL }) == 0 &&
		  count_lines(out, "{\"id\":") == 1 && strstr(out, buf));
	TAP_CHECK("objects (table) exits 0 with a header and the value",
		  run(out, (const char *[]){ "objects", NULL }) == 0 &&
		  strstr(out, "OBJECT") && count_lines(out, "test_netlink") == 2);

	TAP_CHECK("devices exits 0", run(out, (const char *[]){ "--json", "devices", NULL }) == 0);
	TAP_CHECK("devices: device 0 has X: 2 MiB, 1 object, 1 export",
		  find_line(out, line, sizeof(line), "{\"id\":0,", NULL) &&
		  json_num(line, "used") == (long long)SZ_X &&
		  json_num(line, "free") == json_num(line, "total") - (long long)SZ_X &&
		  has(line, "\"objects\":1,\"exports\":1,"));
	TAP_CHECK("devices: device 1 has Y: 4 MiB, 1 object, 0 exports",
		  find_line(out, line, sizeof(line), "{\"id\":1,", NULL) &&
		  json_num(line, "used") == (long long)SZ_Y &&
		  has(line, "\"objects\":1,\"exports\":0,"));

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
		tap_result(want >= 0 && got >= want && got % (2 * MIB) == 0,
			   "devices: device 0 reports its zeroed reserve (zero_reserve_mb)",
			   "zero_reserve is %lld bytes, want at least %lld in 2 MiB chunks",
			   got, want);
	}

	TAP_CHECK("procs exits 0", run(out, (const char *[]){ "--json", "procs", NULL }) == 0);
	snprintf(buf, sizeof(buf), "{\"tgid\":%d,", me);
	TAP_CHECK("procs: the exporter allocated 6 MiB in 2 handles",
		  find_line(out, line, sizeof(line), buf, NULL) &&
		  has(line, "\"comm\":\"test_netlink\",\"files\":1,\"allocated\":6291456,"
		      "\"imported\":0,\"handles\":2,\"mappings\":0}"));
	snprintf(buf, sizeof(buf), "{\"tgid\":%d,", b.pid);
	TAP_CHECK("procs: B imported 2 MiB, 1 handle, 1 mapping",
		  find_line(out, line, sizeof(line), buf, NULL) &&
		  has(line, "\"allocated\":0,\"imported\":2097152,\"handles\":1,\"mappings\":1}"));
	snprintf(buf, sizeof(buf), "{\"tgid\":%d,", d.pid);
	TAP_CHECK("procs: D holds nothing",
		  find_line(out, line, sizeof(line), buf, NULL) &&
		  has(line, "\"allocated\":0,\"imported\":0,\"handles\":0,\"mappings\":0}"));
	snprintf(buf, sizeof(buf), "{\"tgid\":%d,", c.pid);
	TAP_CHECK("procs: C is gone", !strstr(out, buf));
	TAP_CHECK("info: ABI and admin view",
		  run(out, (const char *[]){ "--json", "info", NULL }) == 0 &&
		  has(out, "{\"abi_major\":%d,\"abi_minor\":%d,\"genl_version\":1,",
		      NPU_MEM_ABI_MAJOR, NPU_MEM_ABI_MINOR) &&
		  has(out, "\"admin\":true"));
	TAP_CHECK("--version: the ABI and family version it was built for",
		  run(out, (const char *[]){ "--version", NULL }) == 0 &&
		  !strncmp(out, "npu-mem ", 8) &&
		  has(out, " (ABI %d.%d, genl 1)\n", NPU_MEM_ABI_MAJOR, NPU_MEM_ABI_MINOR));

	/* 4. What uid 1000 sees (it allocates Z, imports Y, and dies holding them). */
	TAP_CHECK("export Y without pid validation",
		  !npu_export(fd, hy, NPU_MEM_EXPORT_DISABLE_PID_VALIDATION, &y_value));
	fflush(stdout);
	unpriv = fork();
	if (unpriv == 0)
		exit(unprivileged(me, y_value));
	TAP_CHECK("unpriv: all its checks passed", reap(unpriv) == 0);

	/* 5. Let go, in an order that produces each remaining event. */
	TAP_CHECK("B frees its handle", worker_do(&b, W_FREE, hb, 0) == 0);
	TAP_CHECK("the exporter frees X", npu_free(fd, hx) == 0);
	TAP_CHECK("B unmaps X (the last holder)", worker_do(&b, W_UNMAP, 0, 0) == 0);
	TAP_CHECK("D's import of the dead value is refused",
		  worker_do(&d, W_IMPORT, value, 0) == -ENOENT);
	TAP_CHECK("the exporter frees Y", npu_free(fd, hy) == 0);
	worker_do(&b, W_EXIT, 0, 0);
	worker_do(&d, W_EXIT, 0, 0);
	reap(b.pid);
	reap(d.pid);
	close(fd);

	/* 6. The watcher stops by itself after its count. */
	read_lines(wout, events, sizeof(events), 22, 5000);
	TAP_CHECK("watch --count exits 0 on its own", reap_timeout(watcher, 5000) == 0);
	read_lines(wout, events, sizeof(events), 1000, 100);
	close(wout);
	fclose(ef);
	{
		/* Z's id: the one object id that is neither X nor Y. */
		const char *zl = strstr(events, "\"event\":\"allocated\"");

		for (; zl; zl = strstr(zl + 1, "\"event\":\"allocated\"")) {
			long long id = json_num(zl, "object");

			if (id != x && id != y) {
				z = id;
				break;
			}
		}
	}
	{
		char pids_set[] = "\"pids\":2";
		char dev0[] = "\"device\":0,";
		char dev1[] = "\"device\":1,";
		const struct want want[] = {
			{ "allocated", x, me, "\"size\":2097152" },
			{ "allocated", y, me, dev1 },
			{ "exported", x, me, line },
			{ "pids-set", x, me, pids_set },
			{ "imported", x, b.pid, dev1 },
			{ "imported", x, c.pid, dev0 },
			{ "import-refused", x, d.pid, "\"reason\":\"not-whitelisted\"" },
			{ "import-refused", x, me, "\"reason\":\"self-import\"" },
			{ "import-refused", x, b.pid, "\"reason\":\"duplicate\"" },
			{ "holder-died", x, c.pid, dev0 },
			{ "exported", y, me, "\"size\":4194304" },
			{ "allocated", z, unpriv, dev0 },
			{ "imported", y, unpriv, dev0 },
			{ "holder-died", z, unpriv, NULL },
			{ "released", z, unpriv, NULL },
			{ "holder-died", y, unpriv, dev0 },
			{ "freed", x, b.pid, dev1 },
			{ "freed", x, me, dev0 },
			{ "released", x, me, line },
			{ "import-refused", -1, d.pid, "\"reason\":\"dead-value\"" },
			{ "freed", y, me, NULL },
			{ "released", y, me, "\"size\":4194304" },
		};

		snprintf(line, sizeof(line), "\"shareable\":\"0x%016llx\"",
			 (unsigned long long)value);
		TAP_CHECK("watch: Z's id was reported", z > 0);
		check_events(events, want, sizeof(want) / sizeof(want[0]));
	}

	/* 7. A watcher without --count stops cleanly on SIGTERM. */
	out[0] = '\0';
	read_lines(w2out, out, OUT_MAX, 22, 5000);
	kill(watcher2, SIGTERM);
	TAP_CHECK("watch exits 0 on SIGTERM", reap_timeout(watcher2, 5000) == 0);
	read_lines(w2out, out, OUT_MAX, 1000, 100);
	close(w2out);
	fclose(ef2);
	TAP_CHECK("watch (text) printed one line per event",
		  count_lines(out, " allocated ") == 3 && count_lines(out, " released ") == 3);

	TAP_CHECK("every device is empty again",
		  npu_dev_free(0) != UINT64_MAX &&
		  run(out, (const char *[]){ "--json", "devices", NULL }) == 0 &&
		  count_lines(out, "\"used\":0,") == count_lines(out, "{\"id\":"));
	return tap_done();
}
