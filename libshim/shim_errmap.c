// SPDX-License-Identifier: MIT
/*
 * The one place where a driver errno becomes an aclError, per operation,
 * with the message aclGetRecentErrMsg() returns.  Codes follow what CANN
 * returns for the same failure (docs: /work/shared/acl-api.md §3.2).
 *
 * Message templates may use {sh} {tgid} {dev} {size} {handle}.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "shim.h"

struct errmap {
	int err;
	aclError code;
	const char *msg;
};

#define END { 0, 0, NULL }

static const struct errmap map_open[] = {
	{ ENOENT, ACL_ERROR_RT_NO_DEVICE, "no /dev/npu_mem: is npu_mem.ko loaded?" },
	{ ENODEV, ACL_ERROR_RT_NO_DEVICE, "/dev/npu_mem has no device behind it" },
	{ ENXIO, ACL_ERROR_RT_NO_DEVICE, "/dev/npu_mem has no device behind it" },
	{ EACCES, ACL_ERROR_RT_NO_PERMISSION, "no permission to open /dev/npu_mem" },
	{ EPROTO, ACL_ERROR_RT_FEATURE_NOT_SUPPORT,
	  "the loaded npu_mem driver speaks another ABI major version" },
	END
};

static const struct errmap map_info[] = {
	{ ENODEV, ACL_ERROR_RT_INVALID_DEVICEID, "device {dev} does not exist" },
	{ EINVAL, ACL_ERROR_RT_INVALID_DEVICEID, "device {dev} does not exist" },
	END
};

static const struct errmap map_tgid[] = {
	END
};

static const struct errmap map_alloc[] = {
	{ ENOMEM, ACL_ERROR_RT_MEMORY_ALLOCATION,
	  "out of memory on device {dev}: {size} bytes requested" },
	{ ENOSPC, ACL_ERROR_RT_MEMORY_ALLOCATION,
	  "out of memory on device {dev}: {size} bytes requested" },
	{ ENODEV, ACL_ERROR_RT_INVALID_DEVICEID, "device {dev} does not exist" },
	{ EINVAL, ACL_ERROR_RT_PARAM_INVALID, "the driver rejected size {size} on device {dev}" },
	END
};

static const struct errmap map_free[] = {
	{ ENOENT, ACL_ERROR_RT_PARAM_INVALID, "the driver does not know handle {handle}" },
	{ EINVAL, ACL_ERROR_RT_PARAM_INVALID, "the driver does not know handle {handle}" },
	END
};

static const struct errmap map_props[] = {
	{ ENOENT, ACL_ERROR_RT_PARAM_INVALID, "the driver does not know the imported handle" },
	END
};

static const struct errmap map_export[] = {
	{ EEXIST, ACL_ERROR_RT_DRV_INTERNAL_ERROR, "handle {handle} was already exported" },
	{ EALREADY, ACL_ERROR_RT_DRV_INTERNAL_ERROR, "handle {handle} was already exported" },
	{ EPERM, ACL_ERROR_RT_DRV_INTERNAL_ERROR,
	  "handle {handle} was imported: imported handles cannot be exported" },
	{ ENOENT, ACL_ERROR_RT_PARAM_INVALID, "the driver does not know handle {handle}" },
	{ ENOSPC, ACL_ERROR_RT_RESOURCE_ALLOC_FAIL, "the driver has no shareable values left" },
	{ ENOMEM, ACL_ERROR_RT_MEMORY_ALLOCATION, "out of memory" },
	{ EINVAL, ACL_ERROR_RT_DRV_INTERNAL_ERROR, "the driver refused to export handle {handle}" },
	END
};

static const struct errmap map_setpid[] = {
	{ ENOENT, ACL_ERROR_RT_INVALID_HANDLE,
	  "shareable handle {sh} does not exist (never exported, or every holder freed it)" },
	{ EACCES, ACL_ERROR_RT_DRV_INTERNAL_ERROR,
	  "caller tgid {tgid} is not the exporter of shareable handle {sh}: only the exporter sets its whitelist" },
	{ EPERM, ACL_ERROR_RT_NO_PERMISSION,
	  "shareable handle {sh} was exported with DISABLE_PID_VALIDATION: it has no whitelist" },
	{ ENOSPC, ACL_ERROR_RT_PARAM_INVALID, "the whitelist of shareable handle {sh} would exceed 65535 pids" },
	{ E2BIG, ACL_ERROR_RT_PARAM_INVALID, "the whitelist of shareable handle {sh} would exceed 65535 pids" },
	{ ENOMEM, ACL_ERROR_RT_MEMORY_ALLOCATION, "out of memory" },
	{ EINVAL, ACL_ERROR_RT_DRV_INTERNAL_ERROR, "the driver rejected the pid list for {sh}" },
	END
};

static const struct errmap map_import[] = {
	{ ENOENT, ACL_ERROR_RT_INVALID_HANDLE,
	  "shareable handle {sh} does not exist (never exported, or every holder freed it)" },
	{ EEXIST, ACL_ERROR_RT_INVALID_HANDLE,
	  "shareable handle {sh} is already imported by this process" },
	{ EACCES, ACL_ERROR_RT_DRV_INTERNAL_ERROR,
	  "import refused: caller tgid {tgid} is not on the whitelist of shareable handle {sh} (or its entry was set before this process started: pid reuse)" },
	{ ELOOP, ACL_ERROR_RT_DRV_INTERNAL_ERROR,
	  "import refused: this process exported shareable handle {sh} and cannot import it" },
	{ EBUSY, ACL_ERROR_RT_DRV_INTERNAL_ERROR, "shareable handle {sh} is being released" },
	{ ENODEV, ACL_ERROR_RT_INVALID_DEVICEID, "device {dev} does not exist" },
	{ ENOMEM, ACL_ERROR_RT_MEMORY_ALLOCATION, "out of memory" },
	{ EINVAL, ACL_ERROR_RT_DRV_INTERNAL_ERROR, "the driver rejected the import of {sh}" },
	END
};

static const struct errmap map_map[] = {
	{ ENOMEM, ACL_ERROR_RT_MEMORY_ALLOCATION, "out of memory mapping {size} bytes of handle {handle}" },
	{ EAGAIN, ACL_ERROR_RT_MEMORY_ALLOCATION, "out of memory mapping {size} bytes of handle {handle}" },
	{ EINVAL, ACL_ERROR_RT_DRV_INTERNAL_ERROR, "the driver refused to map handle {handle}" },
	{ EACCES, ACL_ERROR_RT_DRV_INTERNAL_ERROR, "the driver refused to map handle {handle}" },
	{ EPERM, ACL_ERROR_RT_DRV_INTERNAL_ERROR, "the driver refused to map handle {handle}" },
	{ ENOENT, ACL_ERROR_RT_PARAM_INVALID, "the driver does not know handle {handle}" },
	END
};

static const struct {
	const char *what;
	const struct errmap *map;
} ops[SHIM_OP_COUNT] = {
	[SHIM_OP_OPEN] = { "open /dev/npu_mem", map_open },
	[SHIM_OP_INFO] = { "device info", map_info },
	[SHIM_OP_TGID] = { "bare tgid", map_tgid },
	[SHIM_OP_ALLOC] = { "alloc", map_alloc },
	[SHIM_OP_FREE] = { "free", map_free },
	[SHIM_OP_PROPS] = { "handle properties", map_props },
	[SHIM_OP_EXPORT] = { "export", map_export },
	[SHIM_OP_SETPID] = { "set pids", map_setpid },
	[SHIM_OP_IMPORT] = { "import", map_import },
	[SHIM_OP_MAP] = { "map", map_map },
};

static const struct errmap *lookup(enum shim_op op, int err)
{
	const struct errmap *m;

	if ((unsigned int)op >= SHIM_OP_COUNT)
		return NULL;
	for (m = ops[op].map; m->msg; m++)
		if (m->err == err)
			return m;
	return NULL;
}

/* Rules shared by every operation, after the per-operation table. */
aclError shim_errno_code(enum shim_op op, int err)
{
	const struct errmap *m = lookup(op, err);

	if (m)
		return m->code;
	if (err == ENOTTY || err == ENOSYS || err == EOPNOTSUPP)
		return ACL_ERROR_RT_FEATURE_NOT_SUPPORT;
	if (err == ENOMEM)
		return ACL_ERROR_RT_MEMORY_ALLOCATION;
	if (err == EBADFD)	/* a file opened by another process (fork) */
		return ACL_ERROR_RT_DRV_INTERNAL_ERROR;
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
	char buf[320];

	if (m) {
		expand(buf, sizeof(buf), m->msg, ctx);
		return shim_fail(func, code, "%s", buf);
	}
	if (err == EBADFD)
		return shim_fail(func, code, "driver %s: /dev/npu_mem was opened by another process "
				 "(state does not survive fork; call aclInit here)", ops[op].what);
	if (code == ACL_ERROR_RT_FEATURE_NOT_SUPPORT)
		return shim_fail(func, code, "the loaded npu_mem driver does not implement %s (%s)",
				 ops[op].what, strerror(err));
	return shim_fail(func, code, "driver %s failed: %s (errno %d)", ops[op].what, strerror(err), err);
}
