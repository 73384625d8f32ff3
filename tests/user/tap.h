/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Minimal result reporting for the userspace tests: each check prints one
 * "ok - name" or "not ok - name: why" line, which tests/run-all counts, and
 * tap_done() turns any failure into a non-zero exit status.
 *
 * Superseded by the kselftest harness (harness.h, which says how to port a
 * test); kept until no test uses it.
 */
#ifndef NPU_MEM_TESTS_TAP_H
#define NPU_MEM_TESTS_TAP_H

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int tap_failed;

static inline void tap_result(int ok, const char *name, const char *fmt, ...)
{
	va_list ap;

	if (ok) {
		printf("ok - %s\n", name);
	} else {
		tap_failed++;
		printf("not ok - %s: ", name);
		va_start(ap, fmt);
		vprintf(fmt, ap);
		va_end(ap);
		printf("\n");
	}
	fflush(stdout);
}

/* Check that an expression is true. */
#define TAP_CHECK(name, cond) \
	tap_result(!!(cond), (name), "%s is false (errno %d: %s)", #cond, errno, strerror(errno))

/* Check that a call returning -1/errno failed with exactly the expected errno. */
#define TAP_ERRNO(name, call, want) do {					\
	int r_ = (call);							\
	int e_ = errno;								\
	tap_result(r_ == -1 && e_ == (want), (name),				\
		   "%s returned %d errno %d (%s), want errno %d (%s)", #call,	\
		   r_, r_ == -1 ? e_ : 0, r_ == -1 ? strerror(e_) : "none",	\
		   (want), strerror(want));					\
} while (0)

static inline int tap_done(void)
{
	return tap_failed ? 1 : 0;
}

#endif
