// SPDX-License-Identifier: GPL-2.0
/*
 * A file opened read-only (O_RDONLY) is a reader's view of the device:
 * the queries work, IMPORT of a value shared with the process works, and its
 * mapping is read-only for good (mmap(PROT_READ, MAP_SHARED) works; PROT_WRITE
 * and a later mprotect(PROT_WRITE) fail with EACCES); what creates device
 * memory or gives others access to it (ALLOC, EXPORT, SET_PIDS) fails with
 * EBADF, as write(2) on such a file would.  FREE of its own handle works.
 */
#define _GNU_SOURCE
#include <sys/stat.h>

#include "harness.h"
#include "npu.h"

#define SZ (2 * MIB)
#define SEED 0x5a5a1234

static int npu_open_rdonly(void)
{
	return open("/dev/" NPU_MEM_DEVICE_NAME, O_RDONLY | O_CLOEXEC);
}

TEST(rdonly_fd_answers_queries)
{
	struct npu_mem_version ver = { 0 };
	struct npu_mem_device_info info = { .device = 0 };
	int fd = npu_open_rdonly();

	ASSERT_LE(0, fd) TH_LOG("open O_RDONLY: %s", strerror(errno));
	EXPECT_EQ(0, ioctl(fd, NPU_MEM_IOCTL_VERSION, &ver)) TH_LOG("VERSION");
	EXPECT_EQ(NPU_MEM_ABI_MAJOR, ver.abi_major);
	EXPECT_EQ(0, ioctl(fd, NPU_MEM_IOCTL_DEVICE_INFO, &info)) TH_LOG("DEVICE_INFO");
	EXPECT_EQ(getpid(), npu_bare_tgid(fd)) TH_LOG("BARE_TGID");
	close(fd);
}

TEST(rdonly_fd_cannot_allocate_or_share)
{
	uint64_t before = npu_dev_free(0), value;
	int ro = npu_open_rdonly(), rw = npu_open();
	int32_t pid = 1;
	uint32_t h;

	ASSERT_LE(0, ro) TH_LOG("open O_RDONLY: %s", strerror(errno));
	ASSERT_LE(0, rw) TH_LOG("open O_RDWR: %s", strerror(errno));
	EXPECT_EQ(-EBADF, neg_errno(npu_alloc(ro, 0, SZ, &h, NULL)))
		TH_LOG("ALLOC on a read-only fd");
	EXPECT_EQ(before, npu_dev_free(0)) TH_LOG("the refused ALLOC took no device memory");

	/* A value this process exported through its read-write file. */
	ASSERT_EQ(0, npu_alloc(rw, 0, SZ, &h, NULL));
	ASSERT_EQ(0, npu_export(rw, h, 0, &value));
	EXPECT_EQ(-EBADF, neg_errno(npu_set_pids(ro, value, &pid, 1)))
		TH_LOG("SET_PIDS through a read-only fd");
	EXPECT_EQ(0, npu_set_pids(rw, value, &pid, 1)) TH_LOG("SET_PIDS through the read-write fd");
	EXPECT_EQ(-EBADF, neg_errno(npu_export(ro, 1, 0, &value)))
		TH_LOG("EXPORT on a read-only fd");
	close(ro);
	close(rw);
}

/*
 * The importer, in a process of its own (the exporter may not import): import
 * @value through a read-only fd, map it read-only and check what it sees.
 */
static int read_only_importer(struct __test_metadata *_metadata, uint64_t value)
{
	struct npu_mem_handle_info info = { 0 };
	int fd = npu_open_rdonly();
	uint64_t off = 0, v2;
	uint32_t h = 0;
	void *va, *w;

	EXPECT_LE(0, fd) TH_LOG("open O_RDONLY: %s", strerror(errno));
	EXPECT_EQ(0, npu_import(fd, value, 1, &h, &off)) TH_LOG("IMPORT through a read-only fd");
	info.handle = h;
	EXPECT_EQ(0, ioctl(fd, NPU_MEM_IOCTL_HANDLE_INFO, &info)) TH_LOG("HANDLE_INFO");
	EXPECT_EQ(-EBADF, neg_errno(npu_export(fd, h, 0, &v2)))
		TH_LOG("EXPORT of the imported handle on a read-only fd");

	va = mmap(NULL, SZ, PROT_READ, MAP_SHARED, fd, off);
	EXPECT_NE(MAP_FAILED, va) TH_LOG("mmap(PROT_READ, MAP_SHARED) of a read-only fd: %s",
					 strerror(errno));
	if (va != MAP_FAILED) {
		EXPECT_TRUE(check(va, SZ, SEED)) TH_LOG("the mapping shows the exporter's data");
		EXPECT_EQ(-EACCES, neg_errno(mprotect(va, SZ, PROT_READ | PROT_WRITE)))
			TH_LOG("mprotect(PROT_WRITE) of the read-only fd's mapping");
		EXPECT_EQ(-EACCES, neg_errno(mprotect(va, SZ, PROT_WRITE)))
			TH_LOG("mprotect(PROT_WRITE alone)");
		EXPECT_TRUE(check(va, SZ, SEED)) TH_LOG("the mapping still reads");
		EXPECT_EQ(0, munmap(va, SZ));
	}
	w = mmap(NULL, SZ, PROT_READ | PROT_WRITE, MAP_SHARED, fd, off);
	EXPECT_EQ(MAP_FAILED, w) TH_LOG("mmap(PROT_WRITE, MAP_SHARED) of a read-only fd");
	EXPECT_EQ(EACCES, errno);
	w = mmap(NULL, SZ, PROT_READ, MAP_PRIVATE, fd, off);
	EXPECT_EQ(MAP_FAILED, w) TH_LOG("mmap(MAP_PRIVATE) is refused, as for any fd");
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(0, npu_free(fd, h)) TH_LOG("FREE of its own handle");
	close(fd);
	return _metadata->exit_code;
}

TEST(rdonly_fd_imports_and_maps_read_only)
{
	uint64_t off, value;
	uint32_t h;
	void *va;
	pid_t pid;
	int fd = npu_open();

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, npu_alloc(fd, 0, SZ, &h, &off));
	va = npu_map(fd, off, SZ);
	ASSERT_NE(NULL, va);
	fill(va, SZ, SEED);
	ASSERT_EQ(0, npu_export(fd, h, NPU_MEM_EXPORT_DISABLE_PID_VALIDATION, &value));

	pid = fork();
	if (pid == 0)
		_exit(read_only_importer(_metadata, value));
	EXPECT_EQ(0, reap(pid)) TH_LOG("the read-only importer's checks passed");
	EXPECT_TRUE(check(va, SZ, SEED)) TH_LOG("the exporter's data is unchanged");

	/* The refusal comes from the file's mode: a read-write fd's mapping may be made writable. */
	EXPECT_EQ(0, munmap(va, SZ));
	va = mmap(NULL, SZ, PROT_READ, MAP_SHARED, fd, off);
	ASSERT_NE(MAP_FAILED, va);
	EXPECT_EQ(0, mprotect(va, SZ, PROT_READ | PROT_WRITE))
		TH_LOG("mprotect(PROT_WRITE) of a read-write fd's read-only mapping");
	EXPECT_EQ(0, munmap(va, SZ));
	close(fd);
}

TEST_HARNESS_MAIN
