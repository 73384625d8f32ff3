// SPDX-License-Identifier: MIT
/*
 * The errno -> aclError mapping (shim_errmap.c), per driver operation, for
 * every errno the driver's uapi documents.  Linked against libascendcl.a to
 * reach the internal table.
 */
#include <errno.h>
#include <string.h>

#include "shim.h"
#include "tests/user/harness.h"

/* @op failing with @err gives @code, and a message "aclrtX: ..." that mentions @needle. */
#define want(name, op, err, code, needle) __want(_metadata, name, op, err, code, needle)
static void __want(struct __test_metadata *_metadata, const char *name, enum shim_op op, int err,
		   aclError code, const char *needle)
{
	struct shim_errctx c = { .sh = 0xabcdef0123ULL, .tgid = 4242, .dev = 1, .size = 4096 };
	aclError got = shim_fail_errno("aclrtX", op, err, &c);
	const char *m = aclGetRecentErrMsg();

	EXPECT_EQ(code, got) TH_LOG("%s: errno %d gave %d, want %d", name, err, got, code);
	EXPECT_EQ(code, shim_errno_code(op, err)) TH_LOG("%s: shim_errno_code()", name);
	EXPECT_TRUE(m && !strncmp(m, "aclrtX: ", 8) && (!needle || strstr(m, needle)))
		TH_LOG("%s: message \"%s\" lacks \"%s\"", name, m ? m : "(null)", needle ? needle : "");
}

TEST(alloc_and_free)
{
	want("alloc ENOMEM -> 207001", SHIM_OP_ALLOC, ENOMEM, ACL_ERROR_RT_MEMORY_ALLOCATION, "4096 bytes");
	want("alloc ENODEV -> 107001", SHIM_OP_ALLOC, ENODEV, ACL_ERROR_RT_INVALID_DEVICEID, "device 1");
	want("alloc EINVAL -> 107000", SHIM_OP_ALLOC, EINVAL, ACL_ERROR_RT_PARAM_INVALID, NULL);
	want("free ENOENT -> 107000", SHIM_OP_FREE, ENOENT, ACL_ERROR_RT_PARAM_INVALID, NULL);
}

TEST(export)
{
	want("export EEXIST -> 507899", SHIM_OP_EXPORT, EEXIST, ACL_ERROR_RT_DRV_INTERNAL_ERROR, "already exported");
	want("export EPERM (imported) -> 507899", SHIM_OP_EXPORT, EPERM, ACL_ERROR_RT_DRV_INTERNAL_ERROR,
	     "imported");
	want("export EINVAL -> 507899", SHIM_OP_EXPORT, EINVAL, ACL_ERROR_RT_DRV_INTERNAL_ERROR, NULL);
}

TEST(set_pids)
{
	want("set pids ENOENT -> 107017", SHIM_OP_SETPID, ENOENT, ACL_ERROR_RT_INVALID_HANDLE, "0xabcdef0123");
	want("set pids EACCES (not exporter) -> 507899", SHIM_OP_SETPID, EACCES, ACL_ERROR_RT_DRV_INTERNAL_ERROR,
	     "caller tgid 4242 is not the exporter of shareable handle 0xabcdef0123");
	want("set pids EPERM (no whitelist) -> 207006", SHIM_OP_SETPID, EPERM, ACL_ERROR_RT_NO_PERMISSION,
	     "DISABLE_PID_VALIDATION");
	want("set pids E2BIG -> 107000", SHIM_OP_SETPID, E2BIG, ACL_ERROR_RT_PARAM_INVALID, "65535");
	want("set pids EINVAL (pid out of range) -> 107000", SHIM_OP_SETPID, EINVAL, ACL_ERROR_RT_PARAM_INVALID,
	     "4194304");
	want("set pids EAGAIN (guess budget) -> 207012", SHIM_OP_SETPID, EAGAIN, ACL_ERROR_RT_OVER_LIMIT,
	     "guess_budget");
}

TEST(import)
{
	want("import ENOENT -> 107017", SHIM_OP_IMPORT, ENOENT, ACL_ERROR_RT_INVALID_HANDLE, "does not exist");
	want("import EEXIST -> 107017", SHIM_OP_IMPORT, EEXIST, ACL_ERROR_RT_INVALID_HANDLE, "already imported");
	want("import EACCES -> 507899", SHIM_OP_IMPORT, EACCES, ACL_ERROR_RT_DRV_INTERNAL_ERROR,
	     "import refused: caller tgid 4242 is not on the whitelist of shareable handle 0xabcdef0123");
	want("import ELOOP (self import) -> 507899", SHIM_OP_IMPORT, ELOOP, ACL_ERROR_RT_DRV_INTERNAL_ERROR,
	     "this process exported");
	want("import ENODEV -> 107001", SHIM_OP_IMPORT, ENODEV, ACL_ERROR_RT_INVALID_DEVICEID, NULL);
	want("import ENOMEM -> 207001", SHIM_OP_IMPORT, ENOMEM, ACL_ERROR_RT_MEMORY_ALLOCATION, NULL);
	want("import EAGAIN (guess budget) -> 207012", SHIM_OP_IMPORT, EAGAIN, ACL_ERROR_RT_OVER_LIMIT,
	     "guess_budget");
}

TEST(map_open_and_info)
{
	want("map ENOMEM -> 207001", SHIM_OP_MAP, ENOMEM, ACL_ERROR_RT_MEMORY_ALLOCATION, NULL);
	want("map EINVAL -> 507899", SHIM_OP_MAP, EINVAL, ACL_ERROR_RT_DRV_INTERNAL_ERROR, NULL);
	want("open ENOENT -> 207004", SHIM_OP_OPEN, ENOENT, ACL_ERROR_RT_NO_DEVICE, "npu_mem.ko");
	want("open EPROTO (ABI major) -> 207000", SHIM_OP_OPEN, EPROTO, ACL_ERROR_RT_FEATURE_NOT_SUPPORT, "ABI");
	want("info ENODEV -> 107001", SHIM_OP_INFO, ENODEV, ACL_ERROR_RT_INVALID_DEVICEID, NULL);
}

TEST(rules_shared_by_every_operation)
{
	want("any ENOTTY -> 207000", SHIM_OP_IMPORT, ENOTTY, ACL_ERROR_RT_FEATURE_NOT_SUPPORT, "does not implement");
	want("any EBADFD (fork) -> 507899", SHIM_OP_ALLOC, EBADFD, ACL_ERROR_RT_DRV_INTERNAL_ERROR,
	     "another process");
	want("unlisted errno -> 507899", SHIM_OP_EXPORT, EXDEV, ACL_ERROR_RT_DRV_INTERNAL_ERROR, "errno");
	want("unlisted ENOMEM -> 207001", SHIM_OP_TGID, ENOMEM, ACL_ERROR_RT_MEMORY_ALLOCATION, NULL);
}

TEST_HARNESS_MAIN
