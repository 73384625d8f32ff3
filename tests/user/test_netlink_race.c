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
 * report.
 */
#define _GNU_SOURCE
#include <string.h>
#include <time.h>

#include "tap.h"
#include "npu.h"

/* Both take several dump messages (libnl reads 16 KiB at a time). */
#define NOBJ 128
#define NFILES 300
#define NFILES_STR "300"
#define SZ (2 * MIB)
#define ROUNDS 15
#define OUT_MAX (512 * 1024)

static const char *npu_mem_bin(void)
{
	const char *b = getenv("NPU_MEM_BIN");

	return b ? b : "/opt/npu_mem/bin/npu-mem";
}

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

/* Occurrences of @needle in @s. */
static int count_occ(const char *s, const char *needle)
{
	int n = 0;

	while ((s = strstr(s, needle))) {
		n++;
		s++;
	}
	return n;
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

int main(void)
{
	static char out[OUT_MAX];
	static uint64_t values[NOBJ / 2];
	long long ids[NOBJ];
	pid_t churners[2], watcher;
	int fd, i, r, bad_objects = 0, bad_procs = 0, failed_runs = 0;
	char needle[64];
	const char *p;
	uint32_t h;

	for (i = 1; i < NFILES; i++)
		if (npu_open() < 0)
			break;
	TAP_CHECK("open the stable files", i == NFILES);
	fd = npu_open();
	for (i = 0; i < NOBJ; i++) {
		if (npu_alloc(fd, i & 1, SZ, &h, NULL))
			break;
		if (i < NOBJ / 2 &&
		    npu_export(fd, h, NPU_MEM_EXPORT_DISABLE_PID_VALIDATION, &values[i]))
			break;
	}
	TAP_CHECK("allocate the stable objects, export half of them", i == NOBJ);

	/* Their ids: the objects this process owns. */
	TAP_CHECK("objects exits 0", run(out, "--json", "objects", NULL) == 0);
	snprintf(needle, sizeof(needle), "\"owner_tgid\":%d,", getpid());
	TAP_CHECK("objects lists all stable objects", count_occ(out, needle) == NOBJ);
	for (i = 0, p = out; i < NOBJ && (p = strstr(p, "{\"id\":")); p++) {
		const char *nl = strchr(p, '\n');
		const char *own = strstr(p, needle);

		if (own && (!nl || own < nl))
			ids[i++] = strtoll(p + 6, NULL, 10);
	}
	TAP_CHECK("their ids are known", i == NOBJ);

	watcher = fork();
	if (watcher == 0) {
		int null = open("/dev/null", O_WRONLY);

		dup2(null, 1);
		execl(npu_mem_bin(), "npu-mem", "--quiet", "--json", "watch", (char *)NULL);
		_exit(127);
	}
	fflush(stdout);
	for (i = 0; i < 2; i++) {
		churners[i] = fork();
		if (churners[i] == 0)
			churn(values, NOBJ / 2, 7 + i);
	}

	for (r = 0; r < ROUNDS; r++) {
		if (run(out, "--json", "objects", NULL)) {
			failed_runs++;
			continue;
		}
		for (i = 0; i < NOBJ; i++) {
			snprintf(needle, sizeof(needle), "{\"id\":%lld,", ids[i]);
			if (count_occ(out, needle) != 1) {
				bad_objects++;
				printf("# round %d: object %lld listed %d times\n", r, ids[i],
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
	TAP_CHECK("every dump under churn succeeded", failed_runs == 0);
	TAP_CHECK("every object dump listed each stable object exactly once",
		  bad_objects == 0);
	TAP_CHECK("every process dump counted each of this process's files once",
		  bad_procs == 0);

	for (i = 0; i < 2; i++) {
		kill(churners[i], SIGKILL);
		reap(churners[i]);
	}
	kill(watcher, SIGINT);
	TAP_CHECK("the watcher survived the flood and exits 0 on SIGINT",
		  reap(watcher) == 0);
	for (i = 3; i < 3 + NFILES + 8; i++)
		close(i);
	TAP_CHECK("all memory is back once everyone has gone",
		  npu_dev_free(0) == npu_dev_free(1) &&
		  run(out, "--json", "devices", NULL) == 0 &&
		  count_occ(out, "\"used\":0,") == count_occ(out, "{\"id\":"));
	return tap_done();
}
