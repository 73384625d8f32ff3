// SPDX-License-Identifier: GPL-2.0
/*
 * Process death releases everything the process held: SIGKILL of the exporter,
 * of an importer, and of both while their mappings are live; and the death of
 * a process whose forked child still holds an inherited copy of its fd.
 * After each case the devices' free memory is back where it started and the
 * shareable value is dead.
 */
#include <sys/prctl.h>

#include "tap.h"
#include "npu.h"

#define SZ (2 * MIB)

/*
 * Exporter process: allocate on device 0, map, fill, export without pid
 * validation, report the value, then wait until killed; or, with @fork_holder,
 * fork a child that keeps the fd, report its pid and exit.
 */
static pid_t start_exporter(int *value_fd, uint64_t *value_out, int fork_holder, pid_t *holder)
{
	int p[2], q[2];
	pid_t pid;

	if (pipe(p) || pipe(q))
		exit(2);
	pid = fork();
	if (pid == 0) {
		int fd = npu_open();
		uint64_t off = 0, value = 0;
		uint32_t h = 0;
		void *va;

		close(p[0]);
		close(q[0]);
		if (npu_alloc(fd, 0, SZ, &h, &off) || !(va = npu_map(fd, off, SZ)))
			_exit(2);
		fill(va, SZ, 0x77);
		if (npu_export(fd, h, NPU_MEM_EXPORT_DISABLE_PID_VALIDATION, &value))
			_exit(2);
		put64(p[1], value);
		if (fork_holder) {
			pid_t c = fork();

			if (c == 0) {	/* holds the inherited fd, does nothing */
				put64(q[1], 1);
				pause();
				_exit(0);
			}
			put64(p[1], (uint64_t)c);
			_exit(0);	/* the exporter exits; its child keeps the fd */
		}
		pause();
		_exit(0);
	}
	close(p[1]);
	close(q[1]);
	*value_out = get64(p[0]);
	if (fork_holder) {
		*holder = (pid_t)get64(p[0]);
		get64(q[0]);	/* the holder is running */
	}
	*value_fd = p[0];
	return pid;
}

/* Importer process: import @value onto device 1, map, check, report, wait. */
static pid_t start_importer(uint64_t value, int *ready_fd)
{
	int p[2];
	pid_t pid;

	if (pipe(p))
		exit(2);
	pid = fork();
	if (pid == 0) {
		int fd = npu_open();
		uint64_t off = 0;
		uint32_t h = 0;
		void *va;

		close(p[0]);
		if (npu_import(fd, value, 1, &h, &off) || !(va = npu_map(fd, off, SZ)))
			_exit(2);
		put64(p[1], check(va, SZ, 0x77));
		for (;;) {
			pause();
			/* keep reading so the mapping is used */
			if (!check(va, SZ, 0x77))
				_exit(4);
		}
	}
	close(p[1]);
	*ready_fd = p[0];
	return pid;
}

static int value_dead(uint64_t value)
{
	int fd = npu_open();
	uint32_t h = 0;
	int dead;

	dead = npu_import(fd, value, 0, &h, NULL) == -1 && errno == ENOENT;
	close(fd);
	return dead;
}

int main(void)
{
	alarm(120);	/* a hang is a failure, not a stuck run */
	uint64_t free0 = npu_dev_free(0), free1 = npu_dev_free(1), value;
	int vfd, rfd;
	pid_t exp, imp, holder;

	/* Orphans (case 4's holder) are reparented to us, so we can reap them. */
	prctl(PR_SET_CHILD_SUBREAPER, 1);

	/* 1. SIGKILL the exporter while an importer maps the memory. */
	exp = start_exporter(&vfd, &value, 0, NULL);
	imp = start_importer(value, &rfd);
	TAP_CHECK("kill exporter: importer reads the pattern", get64(rfd) == 1);
	kill(exp, SIGKILL);
	TAP_CHECK("kill exporter: exporter died of SIGKILL", reap(exp) == 128 + SIGKILL);
	TAP_CHECK("kill exporter: memory still in use by the importer",
		  npu_dev_free(0) == free0 - SZ);
	TAP_CHECK("kill exporter: value still alive", !value_dead(value));
	kill(imp, SIGKILL);
	reap(imp);
	TAP_CHECK("kill exporter, then importer: device 0 memory is back",
		  npu_dev_free(0) == free0);
	TAP_CHECK("kill exporter, then importer: value is dead", value_dead(value));
	close(vfd);
	close(rfd);

	/* 2. SIGKILL the importer while mapped; the exporter keeps the memory. */
	exp = start_exporter(&vfd, &value, 0, NULL);
	imp = start_importer(value, &rfd);
	TAP_CHECK("kill importer: importer reads the pattern", get64(rfd) == 1);
	kill(imp, SIGKILL);
	TAP_CHECK("kill importer: importer died of SIGKILL", reap(imp) == 128 + SIGKILL);
	TAP_CHECK("kill importer: memory still in use by the exporter",
		  npu_dev_free(0) == free0 - SZ);
	TAP_CHECK("kill importer: the importer can be replaced (its import was released)",
		  (imp = start_importer(value, &rfd)) > 0 && get64(rfd) == 1);
	kill(imp, SIGKILL);
	reap(imp);
	kill(exp, SIGKILL);
	reap(exp);
	TAP_CHECK("kill importer, then exporter: device 0 memory is back",
		  npu_dev_free(0) == free0);
	close(vfd);
	close(rfd);

	/* 3. SIGKILL both at once while both map the memory. */
	exp = start_exporter(&vfd, &value, 0, NULL);
	imp = start_importer(value, &rfd);
	TAP_CHECK("kill both: importer reads the pattern", get64(rfd) == 1);
	kill(imp, SIGKILL);
	kill(exp, SIGKILL);
	reap(imp);
	reap(exp);
	TAP_CHECK("kill both: device 0 memory is back", npu_dev_free(0) == free0);
	TAP_CHECK("kill both: value is dead", value_dead(value));
	close(vfd);
	close(rfd);

	/* 4. The exporter dies while its forked child holds the inherited fd. */
	exp = start_exporter(&vfd, &value, 1, &holder);
	TAP_CHECK("fork holder: exporter exited while the child holds its fd",
		  reap(exp) == 0);
	TAP_CHECK("fork holder: the child is still alive", kill(holder, 0) == 0);
	TAP_CHECK("fork holder: device 0 memory is back although the fd lives on",
		  npu_dev_free(0) == free0);
	TAP_CHECK("fork holder: value is dead", value_dead(value));
	kill(holder, SIGKILL);
	reap(holder);
	close(vfd);

	TAP_CHECK("device 0 free memory is back to its start", npu_dev_free(0) == free0);
	TAP_CHECK("device 1 free memory is back to its start", npu_dev_free(1) == free1);
	return tap_done();
}
