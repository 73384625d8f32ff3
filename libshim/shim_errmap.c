// SPDX-License-Identifier: MIT
/*
 * The one place where a driver errno becomes an aclError, per operation,
 * with the message aclGetRecentErrMsg() returns.  The errnos are the ones
 * uapi/npu_mem.h and Documentation/npu_mem-abi.rst list for each operation;
 * the codes are what CANN returns for the same failure (libshim/README.md
 * lists them per call), so a program branches as it would on a real NPU.
 *
 * Message templates may use {sh} {tgid} {dev} {size} {handle}.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "shim.h"
#include "uapi/npu_mem.h"

#define OP(o) (1U << SHIM_OP_##o)
#define STR(x) #x
#define XSTR(x) STR(x)

/* One row a message: errno @err in any operation of @ops. */
struct errmap {
	unsigned int ops;
	int err;
	aclError code;
	const char *msg;
};

static const struct errmap errmap[] = {
	{ OP(OPEN), ENOENT, ACL_ERROR_RT_NO_DEVICE, "no /dev/npu_mem: is npu_mem.ko loaded?" },
	{ OP(OPEN), ENODEV, ACL_ERROR_RT_NO_DEVICE, "/dev/npu_mem has no device behind it" },
	{ OP(OPEN), EACCES, ACL_ERROR_RT_NO_PERMISSION, "no permission to open /dev/npu_mem" },
	{ OP(OPEN), EPROTO, ACL_ERROR_RT_FEATURE_NOT_SUPPORT,
	  "the loaded npu_mem driver speaks another ABI major version" },
	{ OP(INFO) | OP(ALLOC) | OP(IMPORT), ENODEV, ACL_ERROR_RT_INVALID_DEVICEID, "device {dev} does not exist" },
	{ OP(ALLOC), ENOMEM, ACL_ERROR_RT_MEMORY_ALLOCATION,
	  "out of memory on device {dev}: {size} bytes requested" },
	{ OP(ALLOC), EINVAL, ACL_ERROR_RT_PARAM_INVALID, "the driver rejected size {size} on device {dev}" },
	{ OP(FREE) | OP(EXPORT) | OP(MAP), ENOENT, ACL_ERROR_RT_PARAM_INVALID,
	  "the driver does not know handle {handle}" },
	{ OP(PROPS), ENOENT, ACL_ERROR_RT_PARAM_INVALID, "the driver does not know the handle it has just imported" },
	{ OP(EXPORT), EEXIST, ACL_ERROR_RT_DRV_INTERNAL_ERROR,
	  "handle {handle} was already exported as shareable handle {sh} (export once, reuse the value)" },
	{ OP(EXPORT), EPERM, ACL_ERROR_RT_DRV_INTERNAL_ERROR,
	  "handle {handle} was imported from shareable handle {sh}: imported handles cannot be exported" },
	{ OP(SETPID) | OP(IMPORT), ENOENT, ACL_ERROR_RT_INVALID_HANDLE,
	  "shareable handle {sh} does not exist (never exported, or every holder freed it)" },
	{ OP(SETPID), EACCES, ACL_ERROR_RT_DRV_INTERNAL_ERROR,
	  "caller tgid {tgid} is not the exporter of shareable handle {sh}: only the exporter sets its whitelist" },
	{ OP(SETPID), EPERM, ACL_ERROR_RT_NO_PERMISSION,
	  "shareable handle {sh} was exported with DISABLE_PID_VALIDATION: it has no whitelist" },
	{ OP(SETPID), E2BIG, ACL_ERROR_RT_PARAM_INVALID,
	  "the whitelist of shareable handle {sh} would exceed " XSTR(NPU_MEM_MAX_PIDS) " pids" },
	{ OP(SETPID), EINVAL, ACL_ERROR_RT_PARAM_INVALID,
	  "the pid list for {sh} has a negative pid, a pid no kernel can run (4194304 or more), or only zeros; or the fabric handle is malformed" },
	{ OP(SETPID) | OP(IMPORT), EAGAIN, ACL_ERROR_RT_OVER_LIMIT,
	  "this user looked up too many shareable handles that do not exist: lookups are refused for about a second (npu_mem's guess_budget)" },
	{ OP(IMPORT), EEXIST, ACL_ERROR_RT_INVALID_HANDLE,
	  "shareable handle {sh} is already imported by this process" },
	{ OP(IMPORT), EACCES, ACL_ERROR_RT_DRV_INTERNAL_ERROR,
	  "import refused: caller tgid {tgid} is not on the whitelist of shareable handle {sh} (or its entry was set before this process started: pid reuse)" },
	{ OP(IMPORT), ELOOP, ACL_ERROR_RT_DRV_INTERNAL_ERROR,
	  "import refused: this process exported shareable handle {sh} and cannot import it" },
	{ OP(MAP), ENOMEM, ACL_ERROR_RT_MEMORY_ALLOCATION, "out of memory mapping {size} bytes of handle {handle}" },
	{ OP(MAP), EAGAIN, ACL_ERROR_RT_MEMORY_ALLOCATION,
	  "mapping {size} bytes of handle {handle} would exceed the locked-memory limit (mlockall, RLIMIT_MEMLOCK)" },
	{ OP(MAP), EINVAL, ACL_ERROR_RT_DRV_INTERNAL_ERROR, "the driver refused to map handle {handle}" },
	{ OP(SETPID) | OP(IMPORT), EXDEV, ACL_ERROR_RT_INVALID_HANDLE,
	  "the fabric handle comes from another host (another npu_mem instance): no fabric link to it" },
	{ OP(IMPORT), EINVAL, ACL_ERROR_RT_PARAM_INVALID, "not a valid fabric handle" },
	/* IPC keys: CANN's driver answers an unknown key and most refusals with EINVAL, 507899. */
	{ OP(IPC_SETPID) | OP(IPC_IMPORT) | OP(IPC_CLOSE), ENOENT, ACL_ERROR_RT_DRV_INTERNAL_ERROR,
	  "IPC key {sh} does not exist (never exported, closed by its exporter, or its allocation was freed or its exporter exited)" },
	{ OP(IPC_SETPID), EACCES, ACL_ERROR_RT_DRV_INTERNAL_ERROR,
	  "caller tgid {tgid} did not export IPC key {sh}: only the exporter sets its pids" },
	{ OP(IPC_SETPID), EPERM, ACL_ERROR_RT_NO_PERMISSION,
	  "IPC key {sh} was exported with ACL_RT_IPC_MEM_EXPORT_FLAG_DISABLE_PID_VALIDATION: it has no whitelist" },
	{ OP(IPC_SETPID), E2BIG, ACL_ERROR_RT_DRV_INTERNAL_ERROR,
	  "the whitelist of IPC key {sh} would exceed " XSTR(NPU_MEM_MAX_PIDS) " pids" },
	{ OP(IPC_SETPID), EINVAL, ACL_ERROR_RT_DRV_INTERNAL_ERROR,
	  "the pid list for IPC key {sh} has a pid no kernel can run (4194304 or more)" },
	{ OP(IPC_SETPID) | OP(IPC_IMPORT), EAGAIN, ACL_ERROR_RT_OVER_LIMIT,
	  "this user looked up too many IPC keys that do not exist: lookups are refused for about a second (npu_mem's guess_budget)" },
	{ OP(IPC_IMPORT), EACCES, ACL_ERROR_RT_DRV_INTERNAL_ERROR,
	  "import refused: caller tgid {tgid} is not on the whitelist of IPC key {sh} (or its entry was set before this process started: pid reuse)" },
	{ OP(IPC_IMPORT), ELOOP, ACL_ERROR_RT_DRV_INTERNAL_ERROR,
	  "import refused: this process exported IPC key {sh}" },
	{ OP(IPC_IMPORT), ENODEV, ACL_ERROR_RT_INVALID_DEVICEID, "device {dev} does not exist" },
};

/* What each operation is, for messages of errnos without a row. */
static const char *const op_what[SHIM_OP_COUNT] = {
	[SHIM_OP_OPEN] = "open /dev/npu_mem",
	[SHIM_OP_INFO] = "device info",
	[SHIM_OP_TGID] = "bare tgid",
	[SHIM_OP_ALLOC] = "alloc",
	[SHIM_OP_FREE] = "free",
	[SHIM_OP_PROPS] = "handle properties",
	[SHIM_OP_EXPORT] = "export",
	[SHIM_OP_SETPID] = "set pids",
	[SHIM_OP_IMPORT] = "import",
	[SHIM_OP_MAP] = "map",
	[SHIM_OP_IPC_EXPORT] = "IPC key export",
	[SHIM_OP_IPC_SETPID] = "IPC key set pids",
	[SHIM_OP_IPC_IMPORT] = "IPC key import",
	[SHIM_OP_IPC_CLOSE] = "IPC key close",
};

static const struct errmap *lookup(enum shim_op op, int err)
{
	size_t i;

	if ((unsigned int)op >= SHIM_OP_COUNT)
		return NULL;
	for (i = 0; i < sizeof(errmap) / sizeof(errmap[0]); i++)
		if ((errmap[i].ops & (1U << op)) && errmap[i].err == err)
			return &errmap[i];
	return NULL;
}

/*
 * Errnos without a row: ENOTTY (an ioctl the loaded module does not have:
 * VERSION in a module of ABI 1.x) is 207000, ENOMEM 207001, anything else
 * (EFAULT, EBADFD, ...) 507899, CANN's code for a driver refusal.
 */
aclError shim_errno_code(enum shim_op op, int err)
{
	const struct errmap *m = lookup(op, err);

	if (m)
		return m->code;
	if (err == ENOTTY)
		return ACL_ERROR_RT_FEATURE_NOT_SUPPORT;
	if (err == ENOMEM)
		return ACL_ERROR_RT_MEMORY_ALLOCATION;
	return ACL_ERROR_RT_DRV_INTERNAL_ERROR;
}

static void expand(char *out, size_t len, const char *tmpl, const struct shim_errctx *c)
{
	static const struct shim_errctx none;
	size_t n = 0;
	int k;

	if (!c)
		c = &none;
	while (*tmpl && n + 1 < len) {
		k = 0;
		if (!strncmp(tmpl, "{sh}", 4))
			k = snprintf(out + n, len - n, "0x%llx", (unsigned long long)c->sh), tmpl += 4;
		else if (!strncmp(tmpl, "{tgid}", 6))
			k = snprintf(out + n, len - n, "%d", (int)c->tgid), tmpl += 6;
		else if (!strncmp(tmpl, "{dev}", 5))
			k = snprintf(out + n, len - n, "%d", (int)c->dev), tmpl += 5;
		else if (!strncmp(tmpl, "{size}", 6))
			k = snprintf(out + n, len - n, "%llu", (unsigned long long)c->size), tmpl += 6;
		else if (!strncmp(tmpl, "{handle}", 8))
			k = snprintf(out + n, len - n, "%p", c->handle), tmpl += 8;
		else
			out[n++] = *tmpl++;
		if (k > 0)
			n += (size_t)k;
		if (n >= len)
			n = len - 1;
	}
	out[n] = '\0';
}

aclError shim_fail_errno(const char *func, enum shim_op op, int err, const struct shim_errctx *ctx)
{
	const struct errmap *m = lookup(op, err);
	aclError code = shim_errno_code(op, err);
	const char *what = (unsigned int)op < SHIM_OP_COUNT ? op_what[op] : "operation";
	char buf[320];

	if (m) {
		expand(buf, sizeof(buf), m->msg, ctx);
		return shim_fail(func, code, "%s", buf);
	}
	if (err == EBADFD)
		return shim_fail(func, code, "driver %s: /dev/npu_mem was opened by another process "
				 "(state does not survive fork; call aclInit here)", what);
	if (code == ACL_ERROR_RT_FEATURE_NOT_SUPPORT)
		return shim_fail(func, code, "the loaded npu_mem driver does not implement %s (%s)",
				 what, strerror(err));
	return shim_fail(func, code, "driver %s failed: %s (errno %d)", what, strerror(err), err);
}
