// SPDX-License-Identifier: GPL-2.0
/*
 * mremap() of a mapping of device memory is refused whatever it asks: moving
 * it (same size, MREMAP_FIXED) fails with EPERM from the driver's mremap
 * callback after the kernel copied the VMA (and the copy is undone), growing
 * it fails with EFAULT (VM_DONTEXPAND), shrinking it with EINVAL (the VMA may
 * not be split).  Each time the mapping stays where it was with its data, and
 * the memory comes back when it is unmapped and freed: no holder is leaked.
 */
#define _GNU_SOURCE
#include <sys/mman.h>

#include "harness.h"
#include "npu.h"

#define SZ	(4 * MIB)
#define SEED	0x6d72656d

TEST(mremap_is_refused)
{
	static const struct {
		const char *what;
		size_t new_size;
		int flags;
		bool fixed;
		int err;
	} cases[] = {
		{ "move", SZ, MREMAP_MAYMOVE | MREMAP_FIXED, true, EPERM },
		{ "grow", 2 * SZ, MREMAP_MAYMOVE, false, EFAULT },
		{ "shrink", SZ / 2, 0, false, EINVAL },
	};
	uint64_t before = npu_dev_free(0), off;
	int fd = npu_open();
	uint32_t h;
	void *p;

	ASSERT_LE(0, fd) TH_LOG("open: %s", strerror(errno));
	ASSERT_EQ(0, npu_alloc(fd, 0, SZ, &h, &off));
	p = npu_map(fd, off, SZ);
	ASSERT_NE(NULL, p) TH_LOG("map: %s", strerror(errno));
	fill(p, SZ, SEED);

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		void *to = NULL, *q;

		if (cases[i].fixed) {
			to = mmap(NULL, SZ, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			ASSERT_NE(MAP_FAILED, to);
		}
		errno = 0;
		if (cases[i].fixed)
			q = mremap(p, SZ, cases[i].new_size, cases[i].flags, to);
		else
			q = mremap(p, SZ, cases[i].new_size, cases[i].flags);
		EXPECT_EQ(MAP_FAILED, q) TH_LOG("%s: mremap succeeded", cases[i].what);
		EXPECT_EQ(cases[i].err, errno) TH_LOG("%s: %s", cases[i].what, strerror(errno));
		EXPECT_TRUE(check(p, SZ, SEED))
			TH_LOG("%s: the mapping lost its data", cases[i].what);
		if (to)
			munmap(to, SZ);
	}

	EXPECT_EQ(0, munmap(p, SZ));
	EXPECT_EQ(0, npu_free(fd, h));
	close(fd);
	EXPECT_EQ(before, npu_dev_free(0)) TH_LOG("the memory came back");
}

TEST_HARNESS_MAIN
