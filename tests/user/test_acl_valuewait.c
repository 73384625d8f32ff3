// SPDX-License-Identifier: GPL-2.0
/*
 * aclrtValueWait / aclrtValueWrite between two processes on shared device
 * memory (exported without a whitelist, imported by a child): a wait holds
 * the work queued after it on its stream until the other process writes,
 * aclrtSynchronizeStream returns only then, and a ping-pong of waits and
 * writes across the processes completes in order (its rate is printed).
 */
#include <stdio.h>
#include <time.h>

#include "harness.h"
#include "acl_util.h"

static const size_t G = 2 * MIB;

/* CANN's ACL_ERROR_RT_STREAM_SYNC_TIMEOUT (not in our headers yet). */
#define SYNC_TIMEOUT 507046

/* Offsets in the shared 2 MiB */
#define FLAG 0		/* B -> A: data is there */
#define ACK 8		/* A -> B: A's work behind the wait ran */
#define PING 16
#define PONG 24
#define DATA 4096
#define DATA_LEN 256
#define LOG_B 8192	/* ping as B saw it when round i ran, per round */
#define LOG_A 16384	/* pong as A saw it */

static long now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000L + t.tv_nsec / 1000000L;
}

/* Device 0's free bytes (aclInit and aclFinalize around it). */
static size_t dev0_free(void)
{
	size_t f;

	if (aclInit(NULL) != ACL_SUCCESS)
		return (size_t)-1;
	f = acl_free_bytes(0);
	aclFinalize();
	return f;
}

struct chan {
	int to_child[2], to_parent[2];
};

/* The child (B): import @sh on device 0 and map it; *va. */
static aclrtDrvMemHandle import_map(struct __test_metadata *_metadata, uint64_t sh, void **va)
{
	aclrtDrvMemHandle h = NULL;

	ASSERT_ACL_OK(aclInit(NULL)) TH_LOG("B: aclInit");
	ASSERT_ACL_OK(aclrtSetDevice(0)) TH_LOG("B: SetDevice(0)");
	ASSERT_ACL_OK(aclrtMemImportFromShareableHandle(sh, 0, &h)) TH_LOG("B: import");
	ASSERT_ACL_OK(aclrtReserveMemAddress(va, G, 0, NULL, 0));
	ASSERT_ACL_OK(aclrtMapMem(*va, G, 0, h, 0)) TH_LOG("B: MapMem");
	return h;
}

static void unmap_free(struct __test_metadata *_metadata, const char *who, aclrtDrvMemHandle h, void *va)
{
	EXPECT_ACL_OK(aclrtUnmapMem(va)) TH_LOG("%s: UnmapMem", who);
	EXPECT_ACL_OK(aclrtReleaseMemAddress(va)) TH_LOG("%s: ReleaseMemAddress", who);
	EXPECT_ACL_OK(aclrtFreePhysical(h)) TH_LOG("%s: FreePhysical", who);
}

/* The parent (A): 2 MiB on device 0, zeroed, exported without a whitelist. */
static aclrtDrvMemHandle alloc_export(struct __test_metadata *_metadata, void **va, uint64_t *sh)
{
	aclrtPhysicalMemProp prop = acl_dev_prop(0, ACL_HBM_MEM_HUGE);
	aclrtDrvMemHandle h = NULL;

	ASSERT_ACL_OK(aclInit(NULL)) TH_LOG("A: aclInit");
	ASSERT_ACL_OK(aclrtSetDevice(0));
	ASSERT_ACL_OK(aclrtMallocPhysical(&h, G, &prop, 0)) TH_LOG("A: MallocPhysical");
	ASSERT_ACL_OK(aclrtReserveMemAddress(va, G, 0, NULL, 0));
	ASSERT_ACL_OK(aclrtMapMem(*va, G, 0, h, 0)) TH_LOG("A: MapMem");
	ASSERT_ACL_OK(aclrtMemset(*va, G, 0, G));
	ASSERT_ACL_OK(aclrtMemExportToShareableHandle(h, ACL_MEM_HANDLE_TYPE_NONE,
						      ACL_RT_VMM_EXPORT_FLAG_DISABLE_PID_VALIDATION, sh))
		TH_LOG("A: export (DISABLE_PID_VALIDATION)");
	return h;
}

static void child_hold(struct __test_metadata *_metadata, struct chan *c)
{
	char data[DATA_LEN];
	aclrtDrvMemHandle h;
	aclrtStream s = NULL;
	void *va = NULL;
	uint64_t sh;

	sh = recv_u64(c->to_child[0]);
	h = import_map(_metadata, sh, &va);
	ASSERT_ACL_OK(aclrtCreateStream(&s));
	recv_u64(c->to_child[0]);	/* A has timed out once: now write */
	memset(data, 0x5a, sizeof(data));
	EXPECT_ACL_OK(aclrtMemcpy((char *)va + DATA, DATA_LEN, data, DATA_LEN, ACL_MEMCPY_HOST_TO_DEVICE))
		TH_LOG("B: writes the data");
	EXPECT_ACL_OK(aclrtValueWrite((char *)va + FLAG, 1, 0, s)) TH_LOG("B: ValueWrite(flag, 1)");
	EXPECT_ACL_OK(aclrtValueWait((char *)va + ACK, 2, ACL_STREAM_WAIT_VALUE_EQ, s))
		TH_LOG("B: ValueWait(ack == 2)");
	EXPECT_ACL_OK(aclrtSynchronizeStreamWithTimeout(s, 60000))
		TH_LOG("B: A's write queued behind its wait arrives");
	EXPECT_ACL_OK(aclrtDestroyStream(s));
	unmap_free(_metadata, "B", h, va);
	EXPECT_ACL_OK(aclFinalize());
}

/* A's copy and write wait behind a ValueWait until B writes the flag. */
TEST(wait_holds_until_another_process_writes)
{
	char got[DATA_LEN], want[DATA_LEN];
	aclrtDrvMemHandle h;
	aclrtStream s = NULL;
	struct chan c;
	void *va = NULL;
	uint64_t sh;
	long t0, took;
	size_t f0 = dev0_free();
	pid_t pid;

	ASSERT_EQ(0, pipe(c.to_child));
	ASSERT_EQ(0, pipe(c.to_parent));
	fflush(NULL);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		child_hold(_metadata, &c);
		_exit(_metadata->exit_code);
	}
	h = alloc_export(_metadata, &va, &sh);
	ASSERT_ACL_OK(aclrtCreateStream(&s));
	memset(got, 0, sizeof(got));
	EXPECT_ACL_OK(aclrtValueWait((char *)va + FLAG, 1, ACL_STREAM_WAIT_VALUE_EQ, s))
		TH_LOG("A: ValueWait(flag == 1) returns at once");
	EXPECT_ACL_OK(aclrtMemcpyAsync(got, sizeof(got), (char *)va + DATA, DATA_LEN,
				       ACL_MEMCPY_DEVICE_TO_HOST, s)) TH_LOG("A: a copy queued behind it");
	EXPECT_ACL_OK(aclrtValueWrite((char *)va + ACK, 2, 0, s)) TH_LOG("A: a write queued behind it");
	send_u64(c.to_child[1], sh);
	EXPECT_ACL(SYNC_TIMEOUT, aclrtSynchronizeStreamWithTimeout(s, 200))
		TH_LOG("A: nothing written yet: SynchronizeStreamWithTimeout(200 ms) times out");
	memset(want, 0, sizeof(want));
	EXPECT_EQ(0, memcmp(got, want, sizeof(got))) TH_LOG("A: the queued copy has not run");
	t0 = now_ms();
	send_u64(c.to_child[1], 1);
	EXPECT_ACL_OK(aclrtSynchronizeStream(s)) TH_LOG("A: SynchronizeStream returns once B wrote");
	took = now_ms() - t0;
	memset(want, 0x5a, sizeof(want));
	EXPECT_EQ(0, memcmp(got, want, sizeof(got)))
		TH_LOG("A: the queued copy ran after the wait: it read B's data");
	ksft_print_msg("A's SynchronizeStream returned %ld ms after B was told to write\n", took);
	EXPECT_EQ(0, wait_child(pid)) TH_LOG("B failed (above), or 128 + N: killed by signal N");
	EXPECT_ACL_OK(aclrtDestroyStream(s));
	unmap_free(_metadata, "A", h, va);
	EXPECT_ACL_OK(aclFinalize());
	EXPECT_EQ(f0, dev0_free()) TH_LOG("device 0's free memory is back to its start value");
}

#define ROUNDS 200

static void child_pong(struct __test_metadata *_metadata, struct chan *c)
{
	aclrtDrvMemHandle h;
	aclrtStream s = NULL;
	void *va = NULL;
	uint64_t i;

	h = import_map(_metadata, recv_u64(c->to_child[0]), &va);
	ASSERT_ACL_OK(aclrtCreateStream(&s));
	/* All queued at once: answer each ping i with pong i, logging the ping seen. */
	for (i = 1; i <= ROUNDS; i++) {
		EXPECT_ACL_OK(aclrtValueWait((char *)va + PING, i, ACL_STREAM_WAIT_VALUE_GEQ, s));
		EXPECT_ACL_OK(aclrtMemcpyAsync((char *)va + LOG_B + 8 * i, 8, (char *)va + PING, 8,
					       ACL_MEMCPY_DEVICE_TO_DEVICE, s));
		EXPECT_ACL_OK(aclrtValueWrite((char *)va + PONG, i, 0, s));
	}
	send_u64(c->to_parent[1], 1);
	EXPECT_ACL_OK(aclrtSynchronizeStreamWithTimeout(s, 120000)) TH_LOG("B: all rounds done");
	EXPECT_ACL_OK(aclrtDestroyStream(s));
	unmap_free(_metadata, "B", h, va);
	EXPECT_ACL_OK(aclFinalize());
}

/* ROUNDS round trips, each a wait in one process for the other's write. */
TEST(ping_pong_across_processes)
{
	aclrtDrvMemHandle h;
	aclrtStream s = NULL;
	struct chan c;
	void *va = NULL;
	uint64_t sh, i, pong = 0, log[2], bad;
	long t0, took;
	size_t f0 = dev0_free();
	pid_t pid;

	ASSERT_EQ(0, pipe(c.to_child));
	ASSERT_EQ(0, pipe(c.to_parent));
	fflush(NULL);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		child_pong(_metadata, &c);
		_exit(_metadata->exit_code);
	}
	h = alloc_export(_metadata, &va, &sh);
	ASSERT_ACL_OK(aclrtCreateStream(&s));
	send_u64(c.to_child[1], sh);
	recv_u64(c.to_parent[0]);	/* B has queued its side */
	t0 = now_ms();
	for (i = 1; i <= ROUNDS; i++) {
		EXPECT_ACL_OK(aclrtValueWrite((char *)va + PING, i, 0, s));
		EXPECT_ACL_OK(aclrtValueWait((char *)va + PONG, i, ACL_STREAM_WAIT_VALUE_EQ, s));
		EXPECT_ACL_OK(aclrtMemcpyAsync((char *)va + LOG_A + 8 * i, 8, (char *)va + PONG, 8,
					       ACL_MEMCPY_DEVICE_TO_DEVICE, s));
	}
	EXPECT_ACL_OK(aclrtSynchronizeStreamWithTimeout(s, 120000)) TH_LOG("A: all rounds done");
	took = now_ms() - t0;
	EXPECT_ACL_OK(aclrtMemcpy(&pong, 8, (char *)va + PONG, 8, ACL_MEMCPY_DEVICE_TO_HOST));
	EXPECT_EQ(ROUNDS, pong) TH_LOG("B answered the last ping");
	EXPECT_EQ(0, wait_child(pid)) TH_LOG("B failed (above)");
	for (i = 1, bad = 0; i <= ROUNDS; i++) {
		EXPECT_ACL_OK(aclrtMemcpy(log, 16, (char *)va + LOG_A + 8 * i, 8, ACL_MEMCPY_DEVICE_TO_HOST));
		EXPECT_ACL_OK(aclrtMemcpy(log + 1, 8, (char *)va + LOG_B + 8 * i, 8, ACL_MEMCPY_DEVICE_TO_HOST));
		bad += log[0] != i || log[1] < i;
	}
	EXPECT_EQ(0, bad) TH_LOG("each round's copy ran after its wait: A saw pong i, B a ping >= i");
	ksft_print_msg("%d round trips between two processes in %ld ms (%.0f/s)\n", ROUNDS, took,
		       took ? ROUNDS * 1000.0 / took : 0.0);
	EXPECT_ACL_OK(aclrtDestroyStream(s));
	unmap_free(_metadata, "A", h, va);
	EXPECT_ACL_OK(aclFinalize());
	EXPECT_EQ(f0, dev0_free()) TH_LOG("device 0's free memory is back to its start value");
}

/* A writer that dies before writing: the wait goes on; DestroyStreamForce drops it. */
TEST(writer_dies_wait_stays)
{
	aclrtDrvMemHandle h;
	aclrtStream s = NULL;
	struct chan c;
	void *va = NULL;
	uint64_t sh;
	size_t f0 = dev0_free();
	pid_t pid;

	ASSERT_EQ(0, pipe(c.to_child));
	ASSERT_EQ(0, pipe(c.to_parent));
	fflush(NULL);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		aclrtDrvMemHandle hc;
		void *vc = NULL;

		hc = import_map(_metadata, recv_u64(c.to_child[0]), &vc);
		(void)hc;
		_exit(_metadata->exit_code);	/* no write, no cleanup: the kernel's */
	}
	h = alloc_export(_metadata, &va, &sh);
	ASSERT_ACL_OK(aclrtCreateStream(&s));
	EXPECT_ACL_OK(aclrtValueWait((char *)va + FLAG, 1, ACL_STREAM_WAIT_VALUE_EQ, s));
	send_u64(c.to_child[1], sh);
	EXPECT_EQ(0, wait_child(pid)) TH_LOG("B failed (above)");
	EXPECT_ACL(SYNC_TIMEOUT, aclrtSynchronizeStreamWithTimeout(s, 100)) TH_LOG("A: still waiting");
	EXPECT_ACL_OK(aclrtDestroyStreamForce(s)) TH_LOG("A: DestroyStreamForce drops the wait");
	unmap_free(_metadata, "A", h, va);
	EXPECT_ACL_OK(aclFinalize());
	EXPECT_EQ(f0, dev0_free()) TH_LOG("device 0's free memory is back to its start value");
}

TEST_HARNESS_MAIN
