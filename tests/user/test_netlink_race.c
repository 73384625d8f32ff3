// SPDX-License-Identifier: GPL-2.0
/*
 * Netlink dumps and events while objects come and go.
 *
 * This process keeps NOBJ objects and NFILES open files (too many for one
 * dump message batch, so dumps must resume); two churn processes import, map
 * and free the objects, allocate and free objects of their own and open and
 * close files, as fast as they can, while
 * `npu-mem --json objects` and `procs` run again and again and a watcher
 * listens.  Every dump must list each of the NOBJ stable objects exactly
 * once (no duplicate, no skip across resumes); the watcher must survive the
 * flood and stop cleanly.  The VM fails the run on any KASAN or lockdep
 * report.  The fixture builds the stable state; the test churns it.
 */
#define _GNU_SOURCE
#include <string.h>
#include <time.h>

#include "harness.h"
#include "npu.h"
#include "npu_tool.h"

/* Both take several dump messages (libnl reads 16 KiB at a time). */
#define NOBJ 128
#define NFILES 300
#define NFILES_STR "300"
#define SZ (2 * MIB)
#define ROUNDS 15
#define OUT_MAX (512 * 1024)

/* Run npu-mem @a1 @a2 with stdout into @out; return its exit status. */
static int run(char *out, const char *a1, const char *a2, const char *a3)
{
	int o[2];
	size_t n = 0;
	ssize_t r;
	pid_t pid;

	if (pipe(o))
		exit(2);
	pid = fork();
	if (pid == 0) {
		dup2(o[1], 1);
		close(o[0]);
		execl(npu_mem_bin(), "npu-mem", a1, a2, a3, (char *)NULL);
		_exit(127);
	}
	close(o[1]);
	while (n + 1 < OUT_MAX && (r = read(o[0], out + n, OUT_MAX - 1 - n)) > 0)
		n += r;
	out[n] = '\0';
	close(o[0]);
	return reap(pid);
}

/* Import, map, unmap, free the values; allocate and free; until killed. */
static void churn(const uint64_t *values, int n, unsigned int seed)
{
	int fd = npu_open();

	for (;;) {
		uint64_t off;
		uint32_t h;
		void *va;

		close(npu_open());
		seed = seed * 1103515245 + 12345;
		if (!npu_import(fd, values[(seed >> 8) % n], seed & 1, &h, &off)) {
			va = npu_map(fd, off, SZ);
			if (va)
				munmap(va, SZ);
			npu_free(fd, h);
		}
		if (!npu_alloc(fd, seed & 1, SZ, &h, NULL))
			npu_free(fd, h);
	}
}

FIXTURE(race) {
	int fds[NFILES];	/* the stable files; fds[0] holds the objects */
	long long ids[NOBJ];
	uint64_t values[NOBJ / 2];
};

FIXTURE_SETUP(race)
{
	static char out[OUT_MAX];
	char needle[64];
	const char *p;
	uint32_t h;
	int i;

	for (i = 0; i < NFILES; i++)
		self->fds[i] = -1;
	for (i = 1; i < NFILES; i++) {
		self->fds[i] = npu_open();
		if (self->fds[i] < 0)
			break;
	}
	ASSERT_EQ(NFILES, i) TH_LOG("open the stable files");
	self->fds[0] = npu_open();
	ASSERT_LE(0, self->fds[0]);
	for (i = 0; i < NOBJ; i++) {
		if (npu_alloc(self->fds[0], i & 1, SZ, &h, NULL))
			break;
		if (i < NOBJ / 2 &&
		    npu_export(self->fds[0], h, NPU_MEM_EXPORT_DISABLE_PID_VALIDATION,
			       &self->values[i]))
			break;
	}
	ASSERT_EQ(NOBJ, i) TH_LOG("allocate the stable objects, export half of them");

	/* Their ids: the objects this process owns. */
	ASSERT_EQ(0, run(out, "--json", "objects", NULL)) TH_LOG("objects exits 0");
	snprintf(needle, sizeof(needle), "\"owner_tgid\":%d,", getpid());
	ASSERT_EQ(NOBJ, count_occ(out, needle)) TH_LOG("objects lists all stable objects");
	for (i = 0, p = out; i < NOBJ && (p = strstr(p, "{\"id\":")); p++) {
		const char *nl = strchr(p, '\n');
		const char *own = strstr(p, needle);

		if (own && (!nl || own < nl))
			self->ids[i++] = strtoll(p + 6, NULL, 10);
	}
	ASSERT_EQ(NOBJ, i) TH_LOG("their ids are known");
}

FIXTURE_TEARDOWN(race)
{
	for (int i = 0; i < NFILES; i++)
		if (self->fds[i] >= 0)
			close(self->fds[i]);
}

TEST_F(race, dumps_stay_exact_under_churn)
{
	static char out[OUT_MAX];
	pid_t churners[2], watcher;
	int i, r, bad_objects = 0, bad_procs = 0, failed_runs = 0;
	char needle[64];
	const char *p;

	watcher = fork();
	if (watcher == 0) {
		int null = open("/dev/null", O_WRONLY);

		dup2(null, 1);
		execl(npu_mem_bin(), "npu-mem", "--quiet", "--json", "watch", (char *)NULL);
		_exit(127);
	}
	for (i = 0; i < 2; i++) {
		churners[i] = fork();
		if (churners[i] == 0)
			churn(self->values, NOBJ / 2, 7 + i);
	}

	for (r = 0; r < ROUNDS; r++) {
		if (run(out, "--json", "objects", NULL)) {
			failed_runs++;
			continue;
		}
		for (i = 0; i < NOBJ; i++) {
			snprintf(needle, sizeof(needle), "{\"id\":%lld,", self->ids[i]);
			if (count_occ(out, needle) != 1) {
				bad_objects++;
				printf("# round %d: object %lld listed %d times\n", r, self->ids[i],
				       count_occ(out, needle));
			}
		}
		if (run(out, "--json", "procs", NULL)) {
			failed_runs++;
			continue;
		}
		snprintf(needle, sizeof(needle), "{\"tgid\":%d,", getpid());
		p = strstr(out, needle);
		if (count_occ(out, needle) != 1 || !strstr(p, "\"files\":" NFILES_STR ",")) {
			bad_procs++;
			printf("# round %d: %s\n", r, p ? p : "this process is missing");
		}
	}
	EXPECT_EQ(0, failed_runs) TH_LOG("every dump under churn succeeded");
	EXPECT_EQ(0, bad_objects) TH_LOG("every object dump listed each stable object exactly once");
	EXPECT_EQ(0, bad_procs) TH_LOG("every process dump counted each of this process's files once");

	for (i = 0; i < 2; i++) {
		kill(churners[i], SIGKILL);
		reap(churners[i]);
	}
	kill(watcher, SIGINT);
	EXPECT_EQ(0, reap(watcher)) TH_LOG("the watcher survived the flood and exits 0 on SIGINT");
	for (i = 0; i < NFILES; i++) {
		close(self->fds[i]);
		self->fds[i] = -1;
	}
	EXPECT_TRUE(npu_dev_free(0) == npu_dev_free(1) &&
		    run(out, "--json", "devices", NULL) == 0 &&
		    count_occ(out, "\"used\":0,") == count_occ(out, "{\"id\":"))
		TH_LOG("all memory is back once everyone has gone");
}

TEST_HARNESS_MAIN
