// SPDX-License-Identifier: GPL-2.0
/*
 * libascendcl across processes: the canonical export / set-pid / import flow
 * with and without a whitelist, import onto another device, and every
 * refusal with its exact aclError.  The parent exports, children import;
 * pids and shareable values travel over pipes.
 */
#include <fcntl.h>
#include <stdio.h>

#include "acl_util.h"

static const size_t G = 2 * MIB;
static uint32_t ndev;

struct chan {
	int to_child[2], to_parent[2];
};

static void chan_open(struct chan *c)
{
	if (pipe(c->to_child) || pipe(c->to_parent)) {
		perror("pipe");
		exit(2);
	}
}

static void send_u64(int fd, uint64_t v)
{
	if (write_full(fd, &v, sizeof(v)))
		exit(2);
}

static uint64_t recv_u64(int fd)
{
	uint64_t v;

	if (read_full(fd, &v, sizeof(v)))
		exit(2);
	return v;
}

/* Import @sh onto @dev, map it, check @expect at offset 0, write @reply there; tear down. */
static void import_and_use(const char *tag, uint64_t sh, int32_t dev, char expect, char reply, bool v2)
{
	aclrtDrvMemHandle h = NULL;
	aclrtPhysicalMemProp prop;
	char name[128], rd[256], wr[256];
	void *va = NULL;

#define N(s) (snprintf(name, sizeof(name), "%s: %s", tag, s), name)
	if (v2)
		ACL_OK(N("ImportFromShareableHandleV2 (current device)"),
		       aclrtMemImportFromShareableHandleV2(&sh, ACL_MEM_SHARE_HANDLE_TYPE_DEFAULT, 0, &h));
	else
		ACL_OK(N("ImportFromShareableHandle"), aclrtMemImportFromShareableHandle(sh, dev, &h));
	if (!h)
		return;
	ACL_OK(N("GetAllocationPropertiesFromHandle"), aclrtMemGetAllocationPropertiesFromHandle(h, &prop));
	TAP_CHECK(N("imported handle is bound to the importing device"),
		  prop.location.type == ACL_MEM_LOCATION_TYPE_DEVICE && prop.location.id == (uint32_t)dev);
	ACL_OK(N("ReserveMemAddress"), aclrtReserveMemAddress(&va, G, 0, NULL, 0));
	ACL_OK(N("MapMem"), aclrtMapMem(va, G, 0, h, 0));
	ACL_OK(N("Memcpy D2H"), aclrtMemcpy(rd, sizeof(rd), va, sizeof(rd), ACL_MEMCPY_DEVICE_TO_HOST));
	memset(wr, expect, sizeof(wr));
	TAP_CHECK(N("importer reads what the exporter wrote"), !memcmp(rd, wr, sizeof(rd)));
	memset(wr, reply, sizeof(wr));
	ACL_OK(N("Memcpy H2D (write back)"), aclrtMemcpy(va, sizeof(wr), wr, sizeof(wr), ACL_MEMCPY_HOST_TO_DEVICE));
	ACL_IS(N("exporting an imported handle is DRV_INTERNAL_ERROR"),
	       aclrtMemExportToShareableHandle(h, ACL_MEM_HANDLE_TYPE_NONE, 1, &sh), ACL_ERROR_RT_DRV_INTERNAL_ERROR);
	ACL_OK(N("UnmapMem"), aclrtUnmapMem(va));
	ACL_OK(N("ReleaseMemAddress"), aclrtReleaseMemAddress(va));
	ACL_OK(N("FreePhysical"), aclrtFreePhysical(h));
#undef N
}

static void *import_without_device(void *arg)
{
	aclrtDrvMemHandle h;

	return (void *)(intptr_t)aclrtMemImportFromShareableHandle(*(uint64_t *)arg, 0, &h);
}

/* Exporter side helpers */
static aclrtDrvMemHandle alloc_fill(int32_t dev, char fill, void **vap)
{
	aclrtPhysicalMemProp prop = acl_dev_prop((uint32_t)dev, ACL_HBM_MEM_HUGE);
	aclrtDrvMemHandle h = NULL;
	char wr[256];

	memset(wr, fill, sizeof(wr));
	ACL_OK("exporter: MallocPhysical", aclrtMallocPhysical(&h, G, &prop, 0));
	ACL_OK("exporter: ReserveMemAddress", aclrtReserveMemAddress(vap, G, 0, NULL, 0));
	ACL_OK("exporter: MapMem", aclrtMapMem(*vap, G, 0, h, 0));
	ACL_OK("exporter: Memcpy H2D", aclrtMemcpy(*vap, G, wr, sizeof(wr), ACL_MEMCPY_HOST_TO_DEVICE));
	return h;
}

static void unmap_free(aclrtDrvMemHandle h, void *va)
{
	ACL_OK("exporter: UnmapMem", aclrtUnmapMem(va));
	ACL_OK("exporter: ReleaseMemAddress", aclrtReleaseMemAddress(va));
	ACL_OK("exporter: FreePhysical", aclrtFreePhysical(h));
}

/* 1. With a whitelist: the canonical flow, and the refusals around it. */
static void flow_whitelist(void)
{
	struct chan c;
	aclrtDrvMemHandle h, hx;
	uint64_t sh, sh2;
	int32_t pid;
	pthread_t th;
	void *va, *ret;
	char rd[256], want[256];
	pid_t child;

	chan_open(&c);
	child = fork();
	if (child == 0) {
		aclrtDrvMemHandle hi = NULL;
		int32_t me;

		ACL_OK("importer: aclInit", aclInit(NULL));
		ACL_OK("importer: SetDevice(0)", aclrtSetDevice(0));
		ACL_OK("importer: DeviceGetBareTgid", aclrtDeviceGetBareTgid(&me));
		send_u64(c.to_parent[1], (uint64_t)me);
		sh = recv_u64(c.to_child[0]);
		/* before the exporter adds us */
		ACL_IS_MSG("importer: import before SetPid is refused (507899)",
			   aclrtMemImportFromShareableHandle(sh, 0, &hi), ACL_ERROR_RT_DRV_INTERNAL_ERROR,
			   "is not on the whitelist of shareable handle 0x");
		ACL_IS_MSG("importer: SetPid by a non-exporter is refused (507899)",
			   aclrtMemSetPidToShareableHandle(sh, &me, 1), ACL_ERROR_RT_DRV_INTERNAL_ERROR,
			   "is not the exporter");
		ACL_IS_MSG("importer: unknown shareable handle is INVALID_HANDLE (107017)",
			   aclrtMemImportFromShareableHandle(sh ^ 0x5a5a5a5a00000000ULL, 0, &hi),
			   ACL_ERROR_RT_INVALID_HANDLE, "does not exist");
		ACL_IS("importer: import onto device ndev is INVALID_DEVICEID (107001)",
		       aclrtMemImportFromShareableHandle(sh, (int32_t)ndev, &hi), ACL_ERROR_RT_INVALID_DEVICEID);
		pthread_create(&th, NULL, import_without_device, &sh);
		pthread_join(th, &ret);
		tap_result((intptr_t)ret == ACL_ERROR_RT_CONTEXT_NULL,
			   "importer: import from a thread without aclrtSetDevice is CONTEXT_NULL (107002)",
			   "got %d", (int)(intptr_t)ret);
		send_u64(c.to_parent[1], 1);	/* "add me now" */
		recv_u64(c.to_child[0]);	/* added */
		import_and_use("importer", sh, 0, 'A', 'B', false);
		/* one-to-one: a second import (any device) of a held value */
		ACL_OK("importer: import again for the duplicate check", aclrtMemImportFromShareableHandle(sh, 0, &hi));
		ACL_IS_MSG("importer: duplicate import is INVALID_HANDLE (107017)",
			   aclrtMemImportFromShareableHandle(sh, ndev > 1 ? 1 : 0, &hx), ACL_ERROR_RT_INVALID_HANDLE,
			   "already imported");
		ACL_OK("importer: FreePhysical", aclrtFreePhysical(hi));
		ACL_OK("importer: aclFinalize", aclFinalize());
		send_u64(c.to_parent[1], 2);	/* done */
		exit(tap_done());
	}
	ACL_OK("exporter: aclInit", aclInit(NULL));
	ACL_OK("exporter: SetDevice(0)", aclrtSetDevice(0));
	h = alloc_fill(0, 'A', &va);
	ACL_OK("exporter: ExportToShareableHandle (whitelist)",
	       aclrtMemExportToShareableHandle(h, ACL_MEM_HANDLE_TYPE_NONE, ACL_RT_VMM_EXPORT_FLAG_DEFAULT, &sh));
	TAP_CHECK("exporter: shareable value is not a small integer", sh > 0xffffffffULL);
	ACL_IS_MSG("exporter: second export is refused (507899)",
		   aclrtMemExportToShareableHandle(h, ACL_MEM_HANDLE_TYPE_NONE, 0, &sh2),
		   ACL_ERROR_RT_DRV_INTERNAL_ERROR, "already exported");
	ACL_IS_MSG("exporter: importing its own value is refused (507899)",
		   aclrtMemImportFromShareableHandle(sh, 0, &hx), ACL_ERROR_RT_DRV_INTERNAL_ERROR,
		   "cannot import");
	ACL_IS("exporter: V2 import of its own value is refused (507899)",
	       aclrtMemImportFromShareableHandleV2(&sh, ACL_MEM_SHARE_HANDLE_TYPE_DEFAULT, 0, &hx),
	       ACL_ERROR_RT_DRV_INTERNAL_ERROR);
	pid = (int32_t)recv_u64(c.to_parent[0]);
	send_u64(c.to_child[1], sh);
	recv_u64(c.to_parent[0]);
	ACL_OK("exporter: SetPidToShareableHandle", aclrtMemSetPidToShareableHandle(sh, &pid, 1));
	send_u64(c.to_child[1], 1);
	recv_u64(c.to_parent[0]);
	TAP_CHECK("importer exited cleanly", wait_child(child) == 0);
	ACL_OK("exporter: Memcpy D2H", aclrtMemcpy(rd, sizeof(rd), va, sizeof(rd), ACL_MEMCPY_DEVICE_TO_HOST));
	memset(want, 'B', sizeof(want));
	TAP_CHECK("exporter reads what the importer wrote back", !memcmp(rd, want, sizeof(rd)));
	ACL_OK("exporter: SetPid after the importer is gone still works (value alive)",
	       aclrtMemSetPidToShareableHandle(sh, &pid, 1));
	unmap_free(h, va);
	ACL_IS_MSG("exporter: SetPid on a dead value is INVALID_HANDLE (107017)",
		   aclrtMemSetPidToShareableHandle(sh, &pid, 1), ACL_ERROR_RT_INVALID_HANDLE, "does not exist");
	ACL_OK("exporter: aclFinalize", aclFinalize());
	close(c.to_child[0]); close(c.to_child[1]); close(c.to_parent[0]); close(c.to_parent[1]);
}

/* 2. Without a whitelist, V2 calls, import onto another device, value dies with its last holder. */
static void flow_no_whitelist(void)
{
	int32_t idev = ndev > 1 ? 1 : 0;
	aclrtDrvMemHandle h;
	struct chan c;
	uint64_t sh = 0;
	int32_t pid = 1;
	void *va;
	pid_t child;

	chan_open(&c);
	child = fork();
	if (child == 0) {
		aclrtDrvMemHandle hi;

		ACL_OK("importer2: aclInit", aclInit(NULL));
		ACL_OK("importer2: SetDevice", aclrtSetDevice(idev));
		sh = recv_u64(c.to_child[0]);
		import_and_use(idev ? "importer2 (device 1)" : "importer2", sh, idev, 'C', 'D', true);
		send_u64(c.to_parent[1], 1);
		recv_u64(c.to_child[0]);	/* exporter has freed: the value is dead */
		ACL_IS_MSG("importer2: import after every holder freed is INVALID_HANDLE (107017)",
			   aclrtMemImportFromShareableHandle(sh, idev, &hi), ACL_ERROR_RT_INVALID_HANDLE,
			   "does not exist");
		ACL_OK("importer2: aclFinalize", aclFinalize());
		exit(tap_done());
	}
	ACL_OK("exporter2: aclInit", aclInit(NULL));
	ACL_OK("exporter2: SetDevice(0)", aclrtSetDevice(0));
	h = alloc_fill(0, 'C', &va);
	ACL_OK("exporter2: ExportToShareableHandleV2 (DISABLE_PID_VALIDATION)",
	       aclrtMemExportToShareableHandleV2(h, ACL_RT_VMM_EXPORT_FLAG_DISABLE_PID_VALIDATION,
						 ACL_MEM_SHARE_HANDLE_TYPE_DEFAULT, &sh));
	ACL_IS_MSG("exporter2: SetPid on a no-whitelist value is NO_PERMISSION (207006)",
		   aclrtMemSetPidToShareableHandleV2(&sh, ACL_MEM_SHARE_HANDLE_TYPE_DEFAULT, &pid, 1),
		   ACL_ERROR_RT_NO_PERMISSION, "DISABLE_PID_VALIDATION");
	send_u64(c.to_child[1], sh);
	recv_u64(c.to_parent[0]);
	unmap_free(h, va);
	send_u64(c.to_child[1], 1);
	TAP_CHECK("importer2 exited cleanly", wait_child(child) == 0);
	ACL_OK("exporter2: aclFinalize", aclFinalize());
	close(c.to_child[0]); close(c.to_child[1]); close(c.to_parent[0]); close(c.to_parent[1]);
}

/* 3. The exporter frees first; the importer's handle keeps the memory alive. */
static void flow_exporter_frees_first(void)
{
	aclrtDrvMemHandle h;
	struct chan c;
	uint64_t sh = 0;
	void *va;
	pid_t child;

	chan_open(&c);
	child = fork();
	if (child == 0) {
		ACL_OK("importer3: aclInit", aclInit(NULL));
		ACL_OK("importer3: SetDevice", aclrtSetDevice(0));
		sh = recv_u64(c.to_child[0]);
		recv_u64(c.to_child[0]);	/* exporter has freed its handle */
		import_and_use("importer3 (exporter already freed)", sh, 0, 'E', 'F', false);
		ACL_OK("importer3: aclFinalize", aclFinalize());
		exit(tap_done());
	}
	ACL_OK("exporter3: aclInit", aclInit(NULL));
	ACL_OK("exporter3: SetDevice(0)", aclrtSetDevice(0));
	h = alloc_fill(0, 'E', &va);
	ACL_OK("exporter3: Export (no whitelist)",
	       aclrtMemExportToShareableHandle(h, ACL_MEM_HANDLE_TYPE_NONE, 1, &sh));
	send_u64(c.to_child[1], sh);
	ACL_OK("exporter3: FreePhysical while mapped", aclrtFreePhysical(h));
	send_u64(c.to_child[1], 1);	/* still mapped here: the value stays alive */
	TAP_CHECK("importer3 exited cleanly", wait_child(child) == 0);
	ACL_OK("exporter3: UnmapMem (last holder)", aclrtUnmapMem(va));
	ACL_OK("exporter3: ReleaseMemAddress", aclrtReleaseMemAddress(va));
	ACL_OK("exporter3: aclFinalize", aclFinalize());
	close(c.to_child[0]); close(c.to_child[1]); close(c.to_parent[0]); close(c.to_parent[1]);
}

/* Write @val to a /proc/sys file; 0 on success. */
static int sysctl_write(const char *path, long val)
{
	char buf[32];
	int fd = open(path, O_WRONLY), ok;

	if (fd < 0)
		return -1;
	snprintf(buf, sizeof(buf), "%ld", val);
	ok = write(fd, buf, strlen(buf)) == (ssize_t)strlen(buf);
	close(fd);
	return ok ? 0 : -1;
}

static long sysctl_read(const char *path)
{
	char buf[32] = "";
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	return n > 0 ? atol(buf) : -1;
}

static pid_t spawn_and_reap(void)
{
	pid_t x = fork();

	if (x == 0)
		_exit(0);
	wait_child(x);
	return x;
}

/*
 * 4. A whitelist entry does not authorize a later process that reuses the
 * pid.  Pids are steered by shrinking pid_max right above a freed pid P (>= 310),
 * so that allocation wraps (to 300) and soon hands out P again.
 */
static void flow_pid_reuse(void)
{
	static const char *pid_max = "/proc/sys/kernel/pid_max";
	aclrtDrvMemHandle h, hi;
	long old_max = sysctl_read(pid_max);
	uint64_t sh = 0;
	int32_t stale;
	pid_t x, y;
	int i, st;
	void *va;

	do
		x = spawn_and_reap();
	while (x > 0 && x < 310);
	stale = (int32_t)x;
	ACL_OK("exporter4: aclInit", aclInit(NULL));
	ACL_OK("exporter4: SetDevice(0)", aclrtSetDevice(0));
	h = alloc_fill(0, 'G', &va);
	ACL_OK("exporter4: Export (whitelist)", aclrtMemExportToShareableHandle(h, ACL_MEM_HANDLE_TYPE_NONE, 0, &sh));
	ACL_OK("exporter4: SetPid of an exited process's pid", aclrtMemSetPidToShareableHandle(sh, &stale, 1));
	if (old_max < 0 || sysctl_write(pid_max, (long)stale + 1)) {
		printf("# cannot lower pid_max: pid-reuse check skipped\n");
	} else {
		for (i = 0; i < 4096; i++) {
			y = fork();
			if (y == 0) {
				if (getpid() != stale)
					_exit(3);
				ACL_OK("reuser: aclInit", aclInit(NULL));
				ACL_OK("reuser: SetDevice", aclrtSetDevice(0));
				ACL_IS_MSG("reuser: a process reusing a whitelisted pid is refused (507899)",
					   aclrtMemImportFromShareableHandle(sh, 0, &hi), ACL_ERROR_RT_DRV_INTERNAL_ERROR,
					   "whitelist");
				aclFinalize();
				exit(tap_done());
			}
			st = wait_child(y);
			if (y == stale) {
				TAP_CHECK("pid reuser exited cleanly", st == 0);
				break;
			}
		}
		sysctl_write(pid_max, old_max);
		if (i == 4096)
			tap_result(0, "pid reuse happened", "pid %d was never handed out again", (int)stale);
	}
	unmap_free(h, va);
	ACL_OK("exporter4: aclFinalize", aclFinalize());
}

int main(void)
{
	size_t f0[2] = { 0, 0 }, f1[2];
	uint32_t d;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (aclInit(NULL) != ACL_SUCCESS || aclrtGetDeviceCount(&ndev) != ACL_SUCCESS) {
		tap_result(0, "aclInit and GetDeviceCount", "%s", aclGetRecentErrMsg());
		return tap_done();
	}
	for (d = 0; d < 2 && d < ndev; d++)
		f0[d] = acl_free_bytes((int32_t)d);
	aclFinalize();

	flow_whitelist();
	flow_no_whitelist();
	flow_exporter_frees_first();
	flow_pid_reuse();

	aclInit(NULL);
	for (d = 0; d < 2 && d < ndev; d++) {
		f1[d] = acl_free_bytes((int32_t)d);
		tap_result(f1[d] == f0[d], d ? "device 1 free memory is back to its start value" :
			   "device 0 free memory is back to its start value", "%zu != %zu", f1[d], f0[d]);
	}
	aclFinalize();
	return tap_done();
}
