// SPDX-License-Identifier: GPL-2.0
/*
 * npu-mem-demo: the project's main demonstration, written against the CANN ACL
 * runtime API exactly as a CANN program would be (libascendcl from libshim;
 * no driver header, no ioctl).  It follows the official two-process sample.
 *
 *   exporter (the parent): aclInit; note every device's free HBM
 *     (aclrtGetMemInfo); aclrtSetDevice(0); aclrtMemGetAllocationGranularity;
 *     aclrtMallocPhysical + aclrtReserveMemAddress + aclrtMapMem; aclrtMemcpy
 *     a pattern (one line per 4 KiB block); aclrtMemExportToShareableHandle
 *     with the pid whitelist on; receive both children's bare tgids over pipes;
 *     aclrtMemSetPidToShareableHandle with the importer's only; then send the
 *     shareable value to the importer and, once it is done, to the outsider.
 *   importer (child): aclInit; aclrtSetDevice(1); aclrtDeviceGetBareTgid,
 *     sent to the exporter; aclrtMemImportFromShareableHandle onto device 1;
 *     reserve, map, aclrtMemcpy the whole allocation back and check every
 *     byte; aclrtUnmapMem, aclrtReleaseMemAddress, aclrtFreePhysical,
 *     aclrtResetDevice, aclFinalize.
 *   outsider (child): the same, but it is not on the whitelist: its import is
 *     refused, and it prints the aclError and aclGetRecentErrMsg().
 *   exporter: unmap, release, free, reset; every device's free HBM must be
 *     back where it started.  Exit 0 and "DEMO OK" only if all of that held.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "acl/acl.h"

#define SIZE		(8UL << 20)	/* the shared allocation */
#define BLOCK		4096UL		/* one pattern line per block */
#define MAX_DEV		16
#define PATTERN		"npu_mem: hello from the exporter, block %lu"

static const char *role = "exporter";

static void say(const char *fmt, ...)
{
	va_list ap;

	printf("[%s pid %d] ", role, (int)getpid());
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

/* Any unexpected ACL failure ends this process: the exporter says DEMO FAILED. */
static void acl_fail(const char *call, aclError err)
{
	const char *msg = aclGetRecentErrMsg();

	say("%s failed: aclError %d (%s)", call, err, msg ? msg : "no message");
	if (!strcmp(role, "exporter"))
		printf("DEMO FAILED: %s returned %d\n", call, err);
	exit(1);
}
#define ACL_CHECK(call) do {						\
	aclError e_ = (call);						\
	if (e_ != ACL_SUCCESS)						\
		acl_fail(#call, e_);					\
} while (0)

static void fill_pattern(char *buf)
{
	memset(buf, 0, SIZE);
	for (unsigned long i = 0; i < SIZE / BLOCK; i++)
		snprintf(buf + i * BLOCK, BLOCK, PATTERN, i);
}

static void xfer(int fd, void *v, size_t n, int out)
{
	if ((out ? write(fd, v, n) : read(fd, v, n)) != (ssize_t)n) {
		say("pipe %s failed", out ? "write" : "read");
		exit(1);
	}
}

/* Free HBM of every device (aclrtGetMemInfo reports the current device's). */
static void free_hbm(uint32_t ndev, size_t *free_b, const char *when)
{
	char line[256];
	int n = 0;

	for (uint32_t d = 0; d < ndev; d++) {
		size_t total;

		ACL_CHECK(aclrtSetDevice((int32_t)d));
		ACL_CHECK(aclrtGetMemInfo(ACL_HBM_MEM, &free_b[d], &total));
		ACL_CHECK(aclrtResetDevice((int32_t)d));
		n += snprintf(line + n, sizeof(line) - n, "%sdevice %u %zu MiB", d ? ", " : "",
			      d, free_b[d] >> 20);
	}
	say("aclrtGetMemInfo, free HBM %s: %s", when, line);
}

/*
 * A child: send our bare tgid, receive the shareable value, import it onto
 * @dev, map it and check the whole pattern.  Returns 0 if the role's
 * expectation held: the importer reads everything, the outsider is refused.
 */
static int child(const char *name, int32_t dev, int to_exp, int from_exp)
{
	int outsider = !strcmp(name, "outsider");
	aclrtDrvMemHandle h;
	char *want, *got;
	uint64_t sh;
	int32_t tgid;
	aclError err;
	void *va;

	role = name;
	ACL_CHECK(aclInit(NULL));
	ACL_CHECK(aclrtSetDevice(dev));
	ACL_CHECK(aclrtDeviceGetBareTgid(&tgid));
	xfer(to_exp, &tgid, sizeof(tgid), 1);
	xfer(from_exp, &sh, sizeof(sh), 0);
	say("sent bare tgid %d, received shareable handle 0x%016llx; importing onto device %d",
	    tgid, (unsigned long long)sh, dev);

	err = aclrtMemImportFromShareableHandle(sh, dev, &h);
	if (err != ACL_SUCCESS) {
		const char *msg = aclGetRecentErrMsg();

		say("import REFUSED: aclError %d, aclGetRecentErrMsg: \"%s\"", err, msg ? msg : "(none)");
		aclrtResetDevice(dev);
		aclFinalize();
		return outsider && err == ACL_ERROR_RT_DRV_INTERNAL_ERROR ? 0 : 1;
	}
	if (outsider)
		say("import SUCCEEDED although not whitelisted");

	ACL_CHECK(aclrtReserveMemAddress(&va, SIZE, 0, NULL, 0));
	ACL_CHECK(aclrtMapMem(va, SIZE, 0, h, 0));
	want = malloc(SIZE);
	got = malloc(SIZE);
	if (!want || !got)
		exit(1);
	ACL_CHECK(aclrtMemcpy(got, SIZE, va, SIZE, ACL_MEMCPY_DEVICE_TO_HOST));
	say("imported, mapped at %p (its own reservation); aclrtMemcpy D2H of %lu MiB", va, SIZE >> 20);
	say("first block reads: \"%s\"", got);
	say("last block reads:  \"%s\"", got + SIZE - BLOCK);
	fill_pattern(want);
	for (size_t i = 0; i < SIZE; i++)
		if (got[i] != want[i]) {
			say("MISMATCH at byte %zu (block %zu)", i, i / BLOCK);
			exit(1);
		}
	say("all %lu MiB match the exporter's pattern", SIZE >> 20);

	ACL_CHECK(aclrtUnmapMem(va));
	ACL_CHECK(aclrtReleaseMemAddress(va));
	ACL_CHECK(aclrtFreePhysical(h));
	ACL_CHECK(aclrtResetDevice(dev));
	ACL_CHECK(aclFinalize());
	say("unmapped, released, freed its handle; aclFinalize");
	return outsider;
}

static pid_t spawn(const char *name, int32_t dev, int *to_child, int *from_child)
{
	int down[2], up[2];
	pid_t pid;

	if (pipe(down) || pipe(up))
		exit(1);
	pid = fork();
	if (pid == 0) {
		close(down[1]);
		close(up[0]);
		exit(child(name, dev, up[1], down[0]));
	}
	close(down[0]);
	close(up[1]);
	*to_child = down[1];
	*from_child = up[0];
	return pid;
}

static int wait_ok(pid_t pid)
{
	int st;

	return waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

int main(void)
{
	size_t free0[MAX_DEV], free1[MAX_DEV], gran;
	int to_imp, from_imp, to_out, from_out, imp_ok, out_ok, mem_ok = 1;
	aclrtPhysicalMemProp prop = {		/* device memory on device 0, huge pages */
		.handleType = ACL_MEM_HANDLE_TYPE_NONE,
		.allocationType = ACL_MEM_ALLOCATION_TYPE_PINNED,
		.memAttr = ACL_HBM_MEM_HUGE,
		.location = { .id = 0, .type = ACL_MEM_LOCATION_TYPE_DEVICE },
	};
	int32_t imp_tgid, out_tgid;
	aclrtDrvMemHandle h;
	uint32_t ndev;
	pid_t imp, out;
	uint64_t sh;
	char *buf;
	void *va;

	setvbuf(stdout, NULL, _IOLBF, 0);
	/* Two separate processes of their own, as in the sample; they block until they get the value. */
	imp = spawn("importer", 1, &to_imp, &from_imp);
	out = spawn("outsider", 0, &to_out, &from_out);

	ACL_CHECK(aclInit(NULL));
	ACL_CHECK(aclrtGetDeviceCount(&ndev));
	say("aclInit: %u devices", ndev);
	if (ndev < 2 || ndev > MAX_DEV) {
		printf("DEMO FAILED: needs 2 to %d devices, found %u\n", MAX_DEV, ndev);
		return 1;
	}
	free_hbm(ndev, free0, "at start");

	ACL_CHECK(aclrtSetDevice(0));
	ACL_CHECK(aclrtMemGetAllocationGranularity(&prop, ACL_RT_MEM_ALLOC_GRANULARITY_MINIMUM, &gran));
	ACL_CHECK(aclrtMallocPhysical(&h, SIZE, &prop, 0));	/* SIZE is a multiple of gran */
	ACL_CHECK(aclrtReserveMemAddress(&va, SIZE, 0, NULL, 0));
	ACL_CHECK(aclrtMapMem(va, SIZE, 0, h, 0));
	say("granularity %zu MiB; aclrtMallocPhysical %lu MiB on device 0, reserved and mapped at %p",
	    gran >> 20, SIZE >> 20, va);
	buf = malloc(SIZE);
	if (!buf)
		return 1;
	fill_pattern(buf);
	ACL_CHECK(aclrtMemcpy(va, SIZE, buf, SIZE, ACL_MEMCPY_HOST_TO_DEVICE));
	say("aclrtMemcpy H2D wrote \"%s\" ... \"%s\"", buf, buf + SIZE - BLOCK);
	free(buf);

	ACL_CHECK(aclrtMemExportToShareableHandle(h, ACL_MEM_HANDLE_TYPE_NONE,
						  ACL_RT_VMM_EXPORT_FLAG_DEFAULT, &sh));
	say("exported as shareable handle 0x%016llx (pid whitelist on)", (unsigned long long)sh);
	xfer(from_imp, &imp_tgid, sizeof(imp_tgid), 0);
	xfer(from_out, &out_tgid, sizeof(out_tgid), 0);
	ACL_CHECK(aclrtMemSetPidToShareableHandle(sh, &imp_tgid, 1));
	say("aclrtMemSetPidToShareableHandle: whitelisted pid %d (the importer); pid %d (the outsider) is not",
	    imp_tgid, out_tgid);

	/* One child at a time, so the output reads in order; waiting is the sample's "done". */
	xfer(to_imp, &sh, sizeof(sh), 1);
	imp_ok = wait_ok(imp);
	xfer(to_out, &sh, sizeof(sh), 1);
	out_ok = wait_ok(out);

	ACL_CHECK(aclrtUnmapMem(va));
	ACL_CHECK(aclrtReleaseMemAddress(va));
	ACL_CHECK(aclrtFreePhysical(h));
	ACL_CHECK(aclrtResetDevice(0));
	say("unmapped, released, freed its handle; device 0 reset");
	free_hbm(ndev, free1, "now");
	for (uint32_t d = 0; d < ndev; d++)
		mem_ok &= free1[d] == free0[d];
	ACL_CHECK(aclFinalize());

	printf("%s: importer %s, outsider %s, device memory %s\n",
	       imp_ok && out_ok && mem_ok ? "DEMO OK" : "DEMO FAILED",
	       imp_ok ? "read the whole pattern on device 1" : "FAILED",
	       out_ok ? "refused (507899)" : "NOT refused as expected",
	       mem_ok ? "all back on every device" : "LEAKED");
	return imp_ok && out_ok && mem_ok ? 0 : 1;
}
