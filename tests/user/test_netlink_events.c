// SPDX-License-Identifier: GPL-2.0
/*
 * Event numbering and the rate limit on import-refused events (#10).
 *
 * A process not on a value's whitelist tries to import it NREFUSE times
 * (each refusal would be an import-refused event).  With the module's limit
 * set to refused_event_burst=BURST per refused_event_interval_ms (through
 * sysfs: an interval is started with 1 ms, then stretched to an hour, so that
 * the loop is in one interval whatever its speed), `npu-mem --json watch`
 * must get BURST of them (counting the one that started the interval); the
 * next event sent must carry the number suppressed, and every event a
 * sequence number one past the previous event's plus the suppressed ones, so
 * that nothing is missing unexplained.  Another user's refusal is not held
 * back by the first user's flood; after an interval (set to 100 ms) the
 * user's refusals come through again; watch says on stderr what was
 * suppressed.  Without the limit (interval 0) and with the watcher stopped,
 * the flood overruns its socket: watch must say that events were lost, and
 * how many.
 */
#define _GNU_SOURCE
#include <grp.h>
#include <poll.h>
#include <string.h>
#include <sys/stat.h>

#include "harness.h"
#include "npu.h"
#include "npu_tool.h"

#define NREFUSE 10000
#define BURST 10
#define UNPRIV_UID 1000
#define SZ (2 * MIB)
#define OUT_MAX (4 * 1024 * 1024)
#define PARAMS "/sys/module/npu_mem/parameters/"

static long read_param(const char *name)
{
	char path[128];
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), PARAMS "%s", name);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (fscanf(f, "%ld", &v) != 1)
		v = -1;
	fclose(f);
	return v;
}

static int write_param(const char *name, long v)
{
	char path[128];
	FILE *f;
	int r;

	snprintf(path, sizeof(path), PARAMS "%s", name);
	f = fopen(path, "w");
	if (!f)
		return -1;
	r = fprintf(f, "%ld\n", v) < 0;
	return fclose(f) || r ? -1 : 0;
}

/*
 * A process (uid 1000 if @unpriv) tries to import @value @n times.
 * Return: its pid; *@refused: how many imports failed with EACCES.
 */
static pid_t refuse(uint64_t value, int n, bool unpriv, int *refused)
{
	int p[2], fd, count = 0;
	uint32_t h;
	pid_t pid;

	if (pipe(p))
		exit(2);
	pid = fork();
	if (pid == 0) {
		close(p[0]);
		fd = unpriv && npu_drop_to_user(UNPRIV_UID) ? -1 : npu_open();
		for (int i = 0; fd >= 0 && i < n; i++)
			count += npu_import(fd, value, 0, &h, NULL) && errno == EACCES;
		if (write(p[1], &count, sizeof(count)) != sizeof(count))
			_exit(3);
		_exit(0);
	}
	close(p[1]);
	if (read(p[0], refused, sizeof(*refused)) != sizeof(*refused))
		*refused = -1;
	close(p[0]);
	reap(pid);
	return pid;
}

/* Read @fd into @buf until it holds @needle, or 20 s pass without data. */
static void read_until(int fd, char *buf, size_t len, const char *needle)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	size_t n = strlen(buf);
	ssize_t r;

	while (n + 1 < len && !strstr(buf, needle) && poll(&pfd, 1, 20000) > 0) {
		r = read(fd, buf + n, len - 1 - n);
		if (r <= 0)
			break;
		n += r;
		buf[n] = '\0';
	}
}

/* Read @fd into @buf until no data comes for @idle_ms. */
static void read_idle(int fd, char *buf, size_t len, int idle_ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	size_t n = strlen(buf);
	ssize_t r;

	while (n + 1 < len && poll(&pfd, 1, idle_ms) > 0) {
		r = read(fd, buf + n, len - 1 - n);
		if (r <= 0)
			break;
		n += r;
		buf[n] = '\0';
	}
}

/* The number after "key": in the line at @line, or @def when absent. */
static long long json_num(const char *line, const char *key, long long def)
{
	const char *nl = strchr(line, '\n');
	char pat[64];
	const char *p;

	snprintf(pat, sizeof(pat), "\"%s\":", key);
	p = strstr(line, pat);
	if (!p || (nl && p > nl))
		return def;
	p += strlen(pat);
	if (*p == '"')
		p++;
	return strtoll(p, NULL, 10);
}

static bool line_has(const char *line, const char *needle)
{
	const char *nl = strchr(line, '\n');
	const char *p = strstr(line, needle);

	return p && (!nl || p < nl);
}

FIXTURE(events) {
	long burst, interval;	/* to restore */
	pid_t watcher;
	int out, err;
	int fd;
	uint32_t hx;
	uint64_t value;
};

FIXTURE_SETUP(events)
{
	char line[256];
	int o[2], e[2];
	FILE *f;

	self->watcher = 0;
	/* Checked by the tests (a failed setup would skip them). */
	self->burst = read_param("refused_event_burst");
	self->interval = read_param("refused_event_interval_ms");

	ASSERT_TRUE(!pipe(o) && !pipe(e));
	self->watcher = fork();
	if (self->watcher == 0) {
		dup2(o[1], 1);
		dup2(e[1], 2);
		close(o[0]);
		close(e[0]);
		execl(npu_mem_bin(), "npu-mem", "--json", "watch", (char *)NULL);
		_exit(127);
	}
	close(o[1]);
	close(e[1]);
	self->out = o[0];
	self->err = e[0];
	/* Unbuffered: the rest of stderr is read with read(). */
	f = fdopen(dup(self->err), "r");
	setvbuf(f, NULL, _IONBF, 0);
	ASSERT_TRUE(f && fgets(line, sizeof(line), f) && strstr(line, "listening"))
		TH_LOG("watch listens");
	fclose(f);

	self->fd = npu_open();
	ASSERT_TRUE(self->fd >= 0 && !npu_alloc(self->fd, 0, SZ, &self->hx, NULL) &&
		    !npu_export(self->fd, self->hx, 0, &self->value))
		TH_LOG("allocate X and export it with an empty whitelist");
}

FIXTURE_TEARDOWN(events)
{
	if (self->watcher > 0) {
		kill(self->watcher, SIGKILL);
		reap(self->watcher);
	}
	if (self->fd >= 0)
		close(self->fd);
	if (self->burst >= 0)
		write_param("refused_event_burst", self->burst);
	if (self->interval >= 0)
		write_param("refused_event_interval_ms", self->interval);
}

/* Free X (its "released" event ends the test's events), stop the watcher. */
static void finish(struct __test_metadata *_metadata, FIXTURE_DATA(events) *self,
		   char *out, char *err)
{
	EXPECT_EQ(0, npu_free(self->fd, self->hx)) TH_LOG("free X");
	read_until(self->out, out, OUT_MAX, "\"event\":\"released\"");
	kill(self->watcher, SIGTERM);
	EXPECT_EQ(0, reap(self->watcher)) TH_LOG("watch exits 0 on SIGTERM");
	self->watcher = 0;
	read_until(self->out, out, OUT_MAX, "\n\n");	/* to EOF */
	read_until(self->err, err, 64 * 1024, "\n\n");
	printf("# watch's stderr: %s\n", err[0] ? err : "(empty)");
}

/* Per event line: the fields the checks need. */
struct ev {
	const char *line;
	long long seq, suppressed, tgid;
	bool refused;
};

static int parse(const char *out, struct ev *v, int max)
{
	int n = 0;

	for (const char *p = out; *p && n < max; ) {
		const char *nl = strchr(p, '\n');

		if (line_has(p, "\"event\":")) {
			v[n].line = p;
			v[n].seq = json_num(p, "seq", -1);
			v[n].suppressed = json_num(p, "suppressed", 0);
			v[n].tgid = json_num(p, "tgid", -1);
			v[n].refused = line_has(p, "\"event\":\"import-refused\"");
			n++;
		}
		if (!nl)
			break;
		p = nl + 1;
	}
	return n;
}

TEST_F(events, refused_events_are_rate_limited)
{
	static char out[OUT_MAX], err[64 * 1024];
	static struct ev ev[NREFUSE + 64];
	long long suppressed = 0, gaps = 0, first_after = -1;
	int n, refused, from_flood = 0, unexplained = 0;
	pid_t flood, other, later;
	char want[64];

	/*
	 * Earlier refusals may have used up root's current interval: start
	 * a new one (a refusal after 1 ms does, and is sent), then stretch it
	 * to an hour, which the flood cannot outlast.
	 */
	EXPECT_TRUE(!write_param("refused_event_burst", BURST) &&
		    !write_param("refused_event_interval_ms", 1))
		TH_LOG("set the limit: %d refused events a millisecond", BURST);
	usleep(50 * 1000);
	refuse(self->value, 1, false, &refused);
	EXPECT_EQ(1, refused) TH_LOG("an import refused, in a new interval");
	refuse(self->value, 1, true, &refused);
	EXPECT_EQ(1, refused) TH_LOG("uid 1000's import refused, in a new interval");
	EXPECT_EQ(0, write_param("refused_event_interval_ms", 3600 * 1000))
		TH_LOG("set the limit: %d refused events an hour", BURST);

	flood = refuse(self->value, NREFUSE, false, &refused);
	EXPECT_EQ(NREFUSE, refused) TH_LOG("%d imports refused (EACCES)", NREFUSE);
	other = refuse(self->value, 1, true, &refused);
	EXPECT_EQ(1, refused) TH_LOG("uid 1000's import refused");
	/* A new interval: the first user's refusals come through again. */
	EXPECT_EQ(0, write_param("refused_event_interval_ms", 100)) TH_LOG("interval 100 ms");
	usleep(300 * 1000);
	later = refuse(self->value, 1, false, &refused);
	EXPECT_EQ(1, refused) TH_LOG("a later import refused");
	finish(_metadata, self, out, err);

	n = parse(out, ev, NREFUSE + 64);
	for (int i = 0; i < n; i++) {
		from_flood += ev[i].refused && ev[i].tgid == flood;
		if (i && ev[i].seq != ev[i - 1].seq + 1 + ev[i].suppressed) {
			if (unexplained++ < 3)
				printf("# seq %lld after %lld, %lld suppressed: %.*s\n", ev[i].seq,
				       ev[i - 1].seq, ev[i].suppressed,
				       (int)(strchr(ev[i].line, '\n') - ev[i].line), ev[i].line);
		}
		/* The first event may carry what was held back before we listened. */
		if (i) {
			suppressed += ev[i].suppressed;
			gaps += ev[i].seq - ev[i - 1].seq - 1;
		}
		if (ev[i].refused && ev[i].tgid == other)
			first_after = ev[i].suppressed;
	}
	EXPECT_TRUE(n > 0 && ev[0].seq > 0) TH_LOG("events carry a sequence number");
	EXPECT_EQ(0, unexplained)
		TH_LOG("every event's seq is the previous one's + 1 + its suppressed count");
	EXPECT_EQ(BURST - 1, from_flood)
		TH_LOG("import-refused events of the flood that reached the watcher: the "
		       "interval's burst, less the one before");
	EXPECT_EQ(NREFUSE - from_flood, suppressed)
		TH_LOG("the suppressed counts add up to the refusals not sent");
	EXPECT_EQ(suppressed, gaps) TH_LOG("the sequence gaps are the suppressed events");
	EXPECT_EQ(NREFUSE - from_flood, first_after)
		TH_LOG("another user's refusal came through, carrying the suppressed count");
	refused = 0;
	for (int i = 0; i < n; i++)
		refused += ev[i].refused && ev[i].tgid == later && !ev[i].suppressed;
	EXPECT_EQ(1, refused) TH_LOG("after the interval, the user's refusals come through");
	snprintf(want, sizeof(want), "%d import-refused events suppressed",
		 NREFUSE - from_flood);
	EXPECT_NE(NULL, strstr(err, want)) TH_LOG("watch says: %s", want);
}

TEST_F(events, watch_reports_lost_events)
{
	static char out[OUT_MAX], err[64 * 1024];
	static struct ev ev[NREFUSE + 64];
	long long lost = 0, said = 0;
	int n, refused, got = 0;

	EXPECT_EQ(0, write_param("refused_event_interval_ms", 0)) TH_LOG("no rate limit");
	/* Stopped, the watcher reads nothing: its socket overflows. */
	kill(self->watcher, SIGSTOP);
	refuse(self->value, NREFUSE, false, &refused);
	EXPECT_EQ(NREFUSE, refused) TH_LOG("%d imports refused (EACCES)", NREFUSE);
	kill(self->watcher, SIGCONT);
	/*
	 * Until the watcher has emptied its socket, new events are dropped
	 * too: allocate and free Y until its "released" comes through.
	 */
	for (int i = 0; i < 100 && !strstr(out, "\"event\":\"released\""); i++) {
		uint32_t hy;

		if (!npu_alloc(self->fd, 1, SZ, &hy, NULL))
			npu_free(self->fd, hy);
		read_idle(self->out, out, OUT_MAX, 200);
	}
	finish(_metadata, self, out, err);

	n = parse(out, ev, NREFUSE + 64);
	for (int i = 0; i < n; i++) {
		got += ev[i].refused;
		if (i)
			lost += ev[i].seq - ev[i - 1].seq - 1 - ev[i].suppressed;
	}
	for (const char *p = err; (p = strstr(p, "npu-mem: ")); p++) {
		char *end;
		long long v = strtoll(p + strlen("npu-mem: "), &end, 10);

		if (!strncmp(end, " events lost", strlen(" events lost")))
			said += v;
	}
	printf("# %d of %d import-refused events received, %lld lost\n", got, NREFUSE, lost);
	/* Lost: refusals, and perhaps some of Y's events while it drained. */
	EXPECT_TRUE(got < NREFUSE && lost >= NREFUSE - got)
		TH_LOG("the sequence numbers account for every refusal not received");
	EXPECT_NE(NULL, strstr(err, "events were lost (receive buffer overflow)"))
		TH_LOG("watch reports the overflow (ENOBUFS)");
	EXPECT_EQ(lost, said) TH_LOG("watch says how many were lost");
	EXPECT_TRUE(n >= 2 && ev[n - 1].seq == ev[n - 2].seq + 1)
		TH_LOG("after the overflow, events arrive in order again");
}

TEST_HARNESS_MAIN
