/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The userspace tests are kselftest harness programs: TEST(), FIXTURE() and
 * TEST_F() with EXPECT_*() and ASSERT_*() (Documentation/dev-tools/kselftest.rst).
 * Each test runs in a process of its own, under a timeout, and the program
 * prints KTAP with a plan, which tests/run-all counts.  kselftest_harness.h
 * comes from the unpacked kernel source (the Makefile's KSFT_INC); this header
 * adds the project's defaults and checks.
 *
 * Processes a test forks report through their exit status, never through the
 * harness: they use EXPECT_*() (not ASSERT_*()), end with
 * _exit(_metadata->exit_code), and the test checks EXPECT_EQ(0, reap(pid))
 * (wait_child() in acl_util.h).  (A forked process must never return into the
 * harness's code, and an ASSERT_*() there would longjmp() into it.  Under
 * ThreadSanitizer the child ends with exit(), which sets status 66 after a
 * report: libshim/tests/test_acl_tsan.c.)
 *
 * Helpers that check take "struct __test_metadata *_metadata" first;
 * acl_util.h adds EXPECT_ACL_OK(call), EXPECT_ACL(want, call),
 * EXPECT_ACL_MSG(want, needle, call) and ASSERT_ACL*(); a test that cannot run
 * here says SKIP(return, "why").  A program whose tests are quick (the host
 * tests) may lower TEST_TIMEOUT_DEFAULT after including this header.
 */
#ifndef NPU_MEM_TESTS_HARNESS_H
#define NPU_MEM_TESTS_HARNESS_H

#include <errno.h>
#include <string.h>

/*
 * -Wextra's warnings that the harness trips over (as the kernel's selftests,
 * built without -Wextra, do not): its functions and the wrappers TEST() expands
 * to leave parameters unused, and EXPECT_EQ(2, u32) compares an int literal with
 * an unsigned value (the harness prints each side with its own signedness);
 * and the TEST_F() wrapper keeps a local across its setjmp() (-Wclobbered).
 */
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wclobbered"
#include "kselftest_harness.h"

/*
 * The VM runs under TCG emulation on a busy machine: a test gets minutes, not
 * the harness's 30 s.  A hang is still a failure, not a stuck run.
 */
#undef TEST_TIMEOUT_DEFAULT
#define TEST_TIMEOUT_DEFAULT 300

/* @r, or -errno when @r is -1: EXPECT_EQ(-EINVAL, neg_errno(ioctl(...))). */
static inline long neg_errno(long r)
{
	return r == -1 ? -(long)errno : r;
}

#endif
