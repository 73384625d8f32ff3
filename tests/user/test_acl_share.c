// SPDX-License-Identifier: GPL-2.0
/*
 * libascendcl across processes: the canonical export / set-pid / import flow
 * with and without a whitelist, import onto another device, and every
 * refusal with its exact aclError.  The parent exports, children import;
 * pids and shareable values travel over pipes.
 */
#include <fcntl.h>
#include <stdio.h>

#include "harness.h"
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

/* Import @sh onto @dev, map it, check @expect at offset 0, write @reply there; tear down. */
static void import_and_use(struct __test_metadata *_metadata, const char *tag, uint64_t sh, int32_t dev, char expect, char reply, bool v2)
{
	aclrtDrvMemHandle h = NULL;
	aclrtPhysicalMemProp prop;
	char rd[256], wr[256];
	void *va = NULL;

	if (v2) {
		EXPECT_ACL_OK(aclrtMemImportFromShareableHandleV2(&sh, ACL_MEM_SHARE_HANDLE_TYPE_DEFAULT, 0, &h))
			TH_LOG("%s: ImportFromShareableHandleV2 (current device)", tag);
	} else {
		EXPECT_ACL_OK(aclrtMemImportFromShareableHandle(sh, dev, &h))
			TH_LOG("%s: ImportFromShareableHandle", tag);
	}
	if (!h)
		return;
	EXPECT_ACL_OK(aclrtMemGetAllocationPropertiesFromHandle(h, &prop))
		TH_LOG("%s: GetAllocationPropertiesFromHandle", tag);
	EXPECT_TRUE(prop.location.type == ACL_MEM_LOCATION_TYPE_DEVICE && prop.location.id == (uint32_t)dev)
		TH_LOG("%s: imported handle is bound to the importing device", tag);
	EXPECT_ACL_OK(aclrtReserveMemAddress(&va, G, 0, NULL, 0))
		TH_LOG("%s: ReserveMemAddress", tag);
	EXPECT_ACL_OK(aclrtMapMem(va, G, 0, h, 0)) TH_LOG("%s: MapMem", tag);
	EXPECT_ACL_OK(aclrtMemcpy(rd, sizeof(rd), va, sizeof(rd), ACL_MEMCPY_DEVICE_TO_HOST))
		TH_LOG("%s: Memcpy D2H", tag);
	memset(wr, expect, sizeof(wr));
	EXPECT_TRUE(!memcmp(rd, wr, sizeof(rd)))
		TH_LOG("%s: importer reads what the exporter wrote", tag);
	memset(wr, reply, sizeof(wr));
	EXPECT_ACL_OK(aclrtMemcpy(va, sizeof(wr), wr, sizeof(wr), ACL_MEMCPY_HOST_TO_DEVICE))
		TH_LOG("%s: Memcpy H2D (write back)", tag);
	EXPECT_ACL(ACL_ERROR_RT_DRV_INTERNAL_ERROR,
		   aclrtMemExportToShareableHandle(h, ACL_MEM_HANDLE_TYPE_NONE, 1, &sh))
		TH_LOG("%s: exporting an imported handle is DRV_INTERNAL_ERROR", tag);
	EXPECT_ACL_OK(aclrtUnmapMem(va)) TH_LOG("%s: UnmapMem", tag);
	EXPECT_ACL_OK(aclrtReleaseMemAddress(va)) TH_LOG("%s: ReleaseMemAddress", tag);
	EXPECT_ACL_OK(aclrtFreePhysical(h)) TH_LOG("%s: FreePhysical", tag);
}

static void *import_without_device(void *arg)
{
	aclrtDrvMemHandle h;

	return (void *)(intptr_t)aclrtMemImportFromShareableHandle(*(uint64_t *)arg, 0, &h);
}

/* Exporter side helpers */
static aclrtDrvMemHandle alloc_fill(struct __test_metadata *_metadata, int32_t dev, char fill, void **vap)
{
	aclrtPhysicalMemProp prop = acl_dev_prop((uint32_t)dev, ACL_HBM_MEM_HUGE);
	aclrtDrvMemHandle h = NULL;
	char wr[256];

	memset(wr, fill, sizeof(wr));
	EXPECT_ACL_OK(aclrtMallocPhysical(&h, G, &prop, 0)) TH_LOG("exporter: MallocPhysical");
	EXPECT_ACL_OK(aclrtReserveMemAddress(vap, G, 0, NULL, 0))
		TH_LOG("exporter: ReserveMemAddress");
	EXPECT_ACL_OK(aclrtMapMem(*vap, G, 0, h, 0)) TH_LOG("exporter: MapMem");
	EXPECT_ACL_OK(aclrtMemcpy(*vap, G, wr, sizeof(wr), ACL_MEMCPY_HOST_TO_DEVICE))
		TH_LOG("exporter: Memcpy H2D");
	return h;
}

static void unmap_free(struct __test_metadata *_metadata, aclrtDrvMemHandle h, void *va)
{
	EXPECT_ACL_OK(aclrtUnmapMem(va)) TH_LOG("exporter: UnmapMem");
	EXPECT_ACL_OK(aclrtReleaseMemAddress(va)) TH_LOG("exporter: ReleaseMemAddress");
	EXPECT_ACL_OK(aclrtFreePhysical(h)) TH_LOG("exporter: FreePhysical");
}

/* 1. With a whitelist: the canonical flow, and the refusals around it. */
static void flow_whitelist(struct __test_metadata *_metadata)
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

		EXPECT_ACL_OK(aclInit(NULL)) TH_LOG("importer: aclInit");
		EXPECT_ACL_OK(aclrtSetDevice(0)) TH_LOG("importer: SetDevice(0)");
		EXPECT_ACL_OK(aclrtDeviceGetBareTgid(&me)) TH_LOG("importer: DeviceGetBareTgid");
		send_u64(c.to_parent[1], (uint64_t)me);
		sh = recv_u64(c.to_child[0]);
		/* before the exporter adds us */
		EXPECT_ACL_MSG(ACL_ERROR_RT_DRV_INTERNAL_ERROR, "is not on the whitelist of shareable handle 0x",
			       aclrtMemImportFromShareableHandle(sh, 0, &hi))
			TH_LOG("importer: import before SetPid is refused (507899)");
		EXPECT_ACL_MSG(ACL_ERROR_RT_DRV_INTERNAL_ERROR, "is not the exporter",
			       aclrtMemSetPidToShareableHandle(sh, &me, 1))
			TH_LOG("importer: SetPid by a non-exporter is refused (507899)");
		EXPECT_ACL_MSG(ACL_ERROR_RT_INVALID_HANDLE, "does not exist",
			       aclrtMemImportFromShareableHandle(sh ^ 0x5a5a5a5a00000000ULL, 0, &hi))
			TH_LOG("importer: unknown shareable handle is INVALID_HANDLE (107017)");
		EXPECT_ACL(ACL_ERROR_RT_INVALID_DEVICEID,
			   aclrtMemImportFromShareableHandle(sh, (int32_t)ndev, &hi))
			TH_LOG("importer: import onto device ndev is INVALID_DEVICEID (107001)");
		pthread_create(&th, NULL, import_without_device, &sh);
		pthread_join(th, &ret);
		EXPECT_TRUE((intptr_t)ret == ACL_ERROR_RT_CONTEXT_NULL)
			TH_LOG("importer: import from a thread without aclrtSetDevice is CONTEXT_NULL (107002): got %d", (int)(intptr_t)ret);
		send_u64(c.to_parent[1], 1);	/* "add me now" */
		recv_u64(c.to_child[0]);	/* added */
		import_and_use(_metadata, "importer", sh, 0, 'A', 'B', false);
		/* one-to-one: a second import (any device) of a held value */
		EXPECT_ACL_OK(aclrtMemImportFromShareableHandle(sh, 0, &hi))
			TH_LOG("importer: import again for the duplicate check");
		EXPECT_ACL_MSG(ACL_ERROR_RT_INVALID_HANDLE, "already imported",
			       aclrtMemImportFromShareableHandle(sh, ndev > 1 ? 1 : 0, &hx))
			TH_LOG("importer: duplicate import is INVALID_HANDLE (107017)");
		EXPECT_ACL_OK(aclrtFreePhysical(hi)) TH_LOG("importer: FreePhysical");
		EXPECT_ACL_OK(aclFinalize()) TH_LOG("importer: aclFinalize");
		send_u64(c.to_parent[1], 2);	/* done */
		_exit(_metadata->exit_code);
	}
	EXPECT_ACL_OK(aclInit(NULL)) TH_LOG("exporter: aclInit");
	EXPECT_ACL_OK(aclrtSetDevice(0)) TH_LOG("exporter: SetDevice(0)");
	h = alloc_fill(_metadata, 0, 'A', &va);
	EXPECT_ACL_OK(aclrtMemExportToShareableHandle(h, ACL_MEM_HANDLE_TYPE_NONE, ACL_RT_VMM_EXPORT_FLAG_DEFAULT, &sh))
		TH_LOG("exporter: ExportToShareableHandle (whitelist)");
	EXPECT_TRUE(sh > 0xffffffffULL) TH_LOG("exporter: shareable value is not a small integer");
	EXPECT_ACL_MSG(ACL_ERROR_RT_DRV_INTERNAL_ERROR, "already exported",
		       aclrtMemExportToShareableHandle(h, ACL_MEM_HANDLE_TYPE_NONE, 0, &sh2))
		TH_LOG("exporter: second export is refused (507899)");
	EXPECT_ACL_MSG(ACL_ERROR_RT_DRV_INTERNAL_ERROR, "cannot import",
		       aclrtMemImportFromShareableHandle(sh, 0, &hx))
		TH_LOG("exporter: importing its own value is refused (507899)");
	EXPECT_ACL(ACL_ERROR_RT_DRV_INTERNAL_ERROR,
		   aclrtMemImportFromShareableHandleV2(&sh, ACL_MEM_SHARE_HANDLE_TYPE_DEFAULT, 0, &hx))
		TH_LOG("exporter: V2 import of its own value is refused (507899)");
	pid = (int32_t)recv_u64(c.to_parent[0]);
	send_u64(c.to_child[1], sh);
	recv_u64(c.to_parent[0]);
	EXPECT_ACL_OK(aclrtMemSetPidToShareableHandle(sh, &pid, 1))
		TH_LOG("exporter: SetPidToShareableHandle");
	send_u64(c.to_child[1], 1);
	recv_u64(c.to_parent[0]);
	EXPECT_TRUE(wait_child(child) == 0) TH_LOG("importer exited cleanly");
	EXPECT_ACL_OK(aclrtMemcpy(rd, sizeof(rd), va, sizeof(rd), ACL_MEMCPY_DEVICE_TO_HOST))
		TH_LOG("exporter: Memcpy D2H");
	memset(want, 'B', sizeof(want));
	EXPECT_TRUE(!memcmp(rd, want, sizeof(rd)))
		TH_LOG("exporter reads what the importer wrote back");
	EXPECT_ACL_OK(aclrtMemSetPidToShareableHandle(sh, &pid, 1))
		TH_LOG("exporter: SetPid after the importer is gone still works (value alive)");
	unmap_free(_metadata, h, va);
	EXPECT_ACL_MSG(ACL_ERROR_RT_INVALID_HANDLE, "does not exist",
		       aclrtMemSetPidToShareableHandle(sh, &pid, 1))
		TH_LOG("exporter: SetPid on a dead value is INVALID_HANDLE (107017)");
	EXPECT_ACL_OK(aclFinalize()) TH_LOG("exporter: aclFinalize");
	close(c.to_child[0]); close(c.to_child[1]); close(c.to_parent[0]); close(c.to_parent[1]);
}

/* 2. Without a whitelist, V2 calls, import onto another device, value dies with its last holder. */
static void flow_no_whitelist(struct __test_metadata *_metadata)
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

		EXPECT_ACL_OK(aclInit(NULL)) TH_LOG("importer2: aclInit");
		EXPECT_ACL_OK(aclrtSetDevice(idev)) TH_LOG("importer2: SetDevice");
		sh = recv_u64(c.to_child[0]);
		import_and_use(_metadata, idev ? "importer2 (device 1)" : "importer2", sh, idev, 'C', 'D', true);
		send_u64(c.to_parent[1], 1);
		recv_u64(c.to_child[0]);	/* exporter has freed: the value is dead */
		EXPECT_ACL_MSG(ACL_ERROR_RT_INVALID_HANDLE, "does not exist",
			       aclrtMemImportFromShareableHandle(sh, idev, &hi))
			TH_LOG("importer2: import after every holder freed is INVALID_HANDLE (107017)");
		EXPECT_ACL_OK(aclFinalize()) TH_LOG("importer2: aclFinalize");
		_exit(_metadata->exit_code);
	}
	EXPECT_ACL_OK(aclInit(NULL)) TH_LOG("exporter2: aclInit");
	EXPECT_ACL_OK(aclrtSetDevice(0)) TH_LOG("exporter2: SetDevice(0)");
	h = alloc_fill(_metadata, 0, 'C', &va);
	EXPECT_ACL_OK(aclrtMemExportToShareableHandleV2(h, ACL_RT_VMM_EXPORT_FLAG_DISABLE_PID_VALIDATION,
						 ACL_MEM_SHARE_HANDLE_TYPE_DEFAULT, &sh))
							TH_LOG("exporter2: ExportToShareableHandleV2 (DISABLE_PID_VALIDATION)");
	EXPECT_ACL_MSG(ACL_ERROR_RT_NO_PERMISSION, "DISABLE_PID_VALIDATION",
		       aclrtMemSetPidToShareableHandleV2(&sh, ACL_MEM_SHARE_HANDLE_TYPE_DEFAULT, &pid, 1))
		TH_LOG("exporter2: SetPid on a no-whitelist value is NO_PERMISSION (207006)");
	send_u64(c.to_child[1], sh);
	recv_u64(c.to_parent[0]);
	unmap_free(_metadata, h, va);
	send_u64(c.to_child[1], 1);
	EXPECT_TRUE(wait_child(child) == 0) TH_LOG("importer2 exited cleanly");
	EXPECT_ACL_OK(aclFinalize()) TH_LOG("exporter2: aclFinalize");
	close(c.to_child[0]); close(c.to_child[1]); close(c.to_parent[0]); close(c.to_parent[1]);
}

/* 3. The exporter frees first; the importer's handle keeps the memory alive. */
static void flow_exporter_frees_first(struct __test_metadata *_metadata)
{
	aclrtDrvMemHandle h;
	struct chan c;
	uint64_t sh = 0;
	void *va;
	pid_t child;

	chan_open(&c);
	child = fork();
	if (child == 0) {
		EXPECT_ACL_OK(aclInit(NULL)) TH_LOG("importer3: aclInit");
		EXPECT_ACL_OK(aclrtSetDevice(0)) TH_LOG("importer3: SetDevice");
		sh = recv_u64(c.to_child[0]);
		recv_u64(c.to_child[0]);	/* exporter has freed its handle */
		import_and_use(_metadata, "importer3 (exporter already freed)", sh, 0, 'E', 'F', false);
		EXPECT_ACL_OK(aclFinalize()) TH_LOG("importer3: aclFinalize");
		_exit(_metadata->exit_code);
	}
	EXPECT_ACL_OK(aclInit(NULL)) TH_LOG("exporter3: aclInit");
	EXPECT_ACL_OK(aclrtSetDevice(0)) TH_LOG("exporter3: SetDevice(0)");
	h = alloc_fill(_metadata, 0, 'E', &va);
	EXPECT_ACL_OK(aclrtMemExportToShareableHandle(h, ACL_MEM_HANDLE_TYPE_NONE, 1, &sh))
		TH_LOG("exporter3: Export (no whitelist)");
	send_u64(c.to_child[1], sh);
	EXPECT_ACL_OK(aclrtFreePhysical(h)) TH_LOG("exporter3: FreePhysical while mapped");
	send_u64(c.to_child[1], 1);	/* still mapped here: the value stays alive */
	EXPECT_TRUE(wait_child(child) == 0) TH_LOG("importer3 exited cleanly");
	EXPECT_ACL_OK(aclrtUnmapMem(va)) TH_LOG("exporter3: UnmapMem (last holder)");
	EXPECT_ACL_OK(aclrtReleaseMemAddress(va)) TH_LOG("exporter3: ReleaseMemAddress");
	EXPECT_ACL_OK(aclFinalize()) TH_LOG("exporter3: aclFinalize");
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
static void flow_pid_reuse(struct __test_metadata *_metadata)
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
	EXPECT_ACL_OK(aclInit(NULL)) TH_LOG("exporter4: aclInit");
	EXPECT_ACL_OK(aclrtSetDevice(0)) TH_LOG("exporter4: SetDevice(0)");
	h = alloc_fill(_metadata, 0, 'G', &va);
	EXPECT_ACL_OK(aclrtMemExportToShareableHandle(h, ACL_MEM_HANDLE_TYPE_NONE, 0, &sh))
		TH_LOG("exporter4: Export (whitelist)");
	EXPECT_ACL_OK(aclrtMemSetPidToShareableHandle(sh, &stale, 1))
		TH_LOG("exporter4: SetPid of an exited process's pid");
	if (old_max < 0 || sysctl_write(pid_max, (long)stale + 1)) {
		/* SKIP() would turn a failure above into a skip */
		if (_metadata->exit_code == KSFT_PASS)
			SKIP(goto out, "cannot lower pid_max: pid-reuse check skipped");
		goto out;
	} else {
		for (i = 0; i < 4096; i++) {
			y = fork();
			if (y == 0) {
				if (getpid() != stale)
					_exit(3);
				EXPECT_ACL_OK(aclInit(NULL)) TH_LOG("reuser: aclInit");
				EXPECT_ACL_OK(aclrtSetDevice(0)) TH_LOG("reuser: SetDevice");
				EXPECT_ACL_MSG(ACL_ERROR_RT_DRV_INTERNAL_ERROR, "whitelist",
					       aclrtMemImportFromShareableHandle(sh, 0, &hi))
					TH_LOG("reuser: a process reusing a whitelisted pid is refused (507899)");
				aclFinalize();
				_exit(_metadata->exit_code);
			}
			st = wait_child(y);
			if (y == stale) {
				EXPECT_TRUE(st == 0) TH_LOG("pid reuser exited cleanly");
				break;
			}
		}
		sysctl_write(pid_max, old_max);
		if (i == 4096)
			EXPECT_TRUE(0)
				TH_LOG("pid reuse happened: pid %d was never handed out again", (int)stale);
	}
out:
	unmap_free(_metadata, h, va);
	EXPECT_ACL_OK(aclFinalize()) TH_LOG("exporter4: aclFinalize");
}

/* Device free memory before each test; after it, it must be back there. */
FIXTURE(acl_share) {
	size_t f0[2];
};

FIXTURE_SETUP(acl_share)
{
	uint32_t d;

	setvbuf(stdout, NULL, _IOLBF, 0);
	ASSERT_ACL_OK(aclInit(NULL));
	ASSERT_ACL_OK(aclrtGetDeviceCount(&ndev));
	for (d = 0; d < 2 && d < ndev; d++)
		self->f0[d] = acl_free_bytes((int32_t)d);
	aclFinalize();
}

FIXTURE_TEARDOWN(acl_share)
{
	uint32_t d;
	size_t f1;

	aclInit(NULL);
	for (d = 0; d < 2 && d < ndev; d++) {
		f1 = acl_free_bytes((int32_t)d);
		EXPECT_EQ(self->f0[d], f1)
			TH_LOG("device %u free memory is back to its start value", d);
	}
	aclFinalize();
}

/* 1. With a whitelist: the canonical flow, and the refusals around it. */
TEST_F(acl_share, whitelist)
{
	flow_whitelist(_metadata);
}

/* 2. Without a whitelist, V2 calls, import onto another device, value dies with its last holder. */
TEST_F(acl_share, no_whitelist)
{
	flow_no_whitelist(_metadata);
}

/* 3. The exporter frees first; the importer's handle keeps the memory alive. */
TEST_F(acl_share, exporter_frees_first)
{
	flow_exporter_frees_first(_metadata);
}

/* 4. A whitelist entry does not authorize a later process that reuses the pid. */
TEST_F_TIMEOUT(acl_share, pid_reuse, 900)
{
	flow_pid_reuse(_metadata);
}

TEST_HARNESS_MAIN
