// SPDX-License-Identifier: MIT
/*
 * libshim IPC memory keys: aclrtIpcMemGetExportKey, aclrtIpcMemSetImportPid,
 * aclrtIpcMemImportByKey, aclrtIpcMemClose.
 *
 * A key names aclrtMalloc memory as a value of kind NPU_MEM_SHARE_IPC_KEY:
 * the driver keeps the rules (unguessable values, whitelists with pid-reuse
 * checks, only the exporter sets pids, the memory lives while an importer
 * holds it, the key dies with its exporter's allocation or process, or at the
 * exporter's Close).  The library keeps what CANN's runtime keeps per
 * process: which keys it exported and which it imported, at which address.
 *
 * The key is CANN's shape, 64 lowercase hex digits and a NUL: the value in
 * the first 16, zeros after.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "npu_dev.h"
#include "shim.h"
#include "uapi/npu_mem.h"

/* CANN's pid limit per aclrtIpcMemSetImportPid call (the driver's ioctl holds 31). */
#define SHIM_IPC_MAX_PIDS	31

static void key_format(char key[SHIM_IPC_KEY_LEN + 1], uint64_t value)
{
	snprintf(key, SHIM_IPC_KEY_LEN + 1, "%016llx%048d", (unsigned long long)value, 0);
}

/*
 * The value @key names: 0, or 107000 for a length CANN refuses (empty, or no
 * NUL in 65 bytes), 507899 for a key of no shape of ours (CANN's driver
 * finds no such name).
 */
static aclError key_value(const char *func, const char *key, uint64_t *value)
{
	size_t len = strnlen(key, SHIM_IPC_KEY_LEN + 1);
	char want[SHIM_IPC_KEY_LEN + 1];
	unsigned long long v;

	if (!len || len > SHIM_IPC_KEY_LEN)
		return shim_fail(func, ACL_ERROR_RT_PARAM_INVALID,
				 "the key is %s: a key is 1 to %d characters", len ? "too long" : "empty",
				 SHIM_IPC_KEY_LEN);
	if (len == SHIM_IPC_KEY_LEN && sscanf(key, "%16llx", &v) == 1) {
		key_format(want, v);
		if (v && !strcmp(want, key)) {
			*value = v;
			return ACL_SUCCESS;
		}
	}
	return shim_fail(func, ACL_ERROR_RT_DRV_INTERNAL_ERROR, "\"%.*s\" is not an IPC key", (int)len,
			 key);
}

/* This process's record of @key (exported or imported), or NULL. */
static struct shim_ipc *find_key(const char *key)
{
	struct shim_ipc *k;

	for (k = shim.ipcs; k; k = k->next)
		if (!strncmp(k->key, key, sizeof(k->key)))
			return k;
	return NULL;
}

static void drop_record(struct shim_ipc *k)
{
	struct shim_ipc **pp;

	for (pp = &shim.ipcs; *pp != k; pp = &(*pp)->next)
		;
	*pp = k->next;
	free(k);
}

void shim_ipc_forget(const struct shim_map *m)
{
	struct shim_ipc *k, *kn;

	for (k = shim.ipcs; k; k = kn) {
		kn = k->next;
		if (k->m == m && !k->imported)
			drop_record(k);
	}
}

/* A new record, on the list: or NULL (out of memory). */
static struct shim_ipc *new_record(uint64_t value, struct shim_map *m, bool imported)
{
	struct shim_ipc *k = calloc(1, sizeof(*k));

	if (!k)
		return NULL;
	key_format(k->key, value);
	k->value = value;
	k->m = m;
	k->imported = imported;
	k->count = 1;
	k->next = shim.ipcs;
	shim.ipcs = k;
	return k;
}

aclError aclrtIpcMemGetExportKey(void *devPtr, size_t size, char *key, size_t len, uint64_t flags)
{
	struct npu_dev_value v = { .kind = NPU_MEM_SHARE_IPC_KEY };
	struct shim_ipc *k;
	struct shim_map *m;
	int32_t dev;
	aclError e;

	if (!devPtr)
		return shim_arg_null(__func__, "devPtr");
	if (!key)
		return shim_arg_null(__func__, "key");
	if (!size)
		return FAIL(ACL_ERROR_RT_PARAM_INVALID, "size is 0");
	if (flags > ACL_RT_IPC_MEM_EXPORT_FLAG_DISABLE_PID_VALIDATION)
		return shim_arg_flags(__func__, ACL_ERROR_RT_PARAM_INVALID, flags, 1);
	if (len <= SHIM_IPC_KEY_LEN)
		return FAIL(ACL_ERROR_RT_PARAM_INVALID, "len is %zu: a key needs %d bytes", len,
			    SHIM_IPC_KEY_LEN + 1);
	e = shim_lock(__func__, true);
	if (e)
		return e;
	e = shim_need_device(__func__, &dev);
	if (e)
		goto out;
	m = shim_find_map((uintptr_t)devPtr, 1);
	if (!m || m->r->owner != SHIM_RESV_MALLOC) {
		e = FAIL(ACL_ERROR_RT_DRV_INTERNAL_ERROR, "%p is not aclrtMalloc memory of this process%s",
			 devPtr, m ? " (VMM mappings and IPC imports cannot be exported by key)" : "");
		goto out;
	}
	if (m->va != (uintptr_t)devPtr || size > m->size) {
		e = FAIL(ACL_ERROR_RT_DRV_INTERNAL_ERROR,
			 "[%p, +0x%zx) is not within the allocation at %p of %zu bytes from its start: npu_mem shares whole allocations",
			 devPtr, size, (void *)m->va, m->size);
		goto out;
	}
	for (k = shim.ipcs; k && (k->imported || k->m != m); k = k->next)
		;
	if (k && k->no_validation != !!flags) {
		e = FAIL(ACL_ERROR_RT_DRV_INTERNAL_ERROR,
			 "%p is already exported as IPC key %s %s pid validation", devPtr, k->key,
			 k->no_validation ? "without" : "with");
		goto out;
	}
	if (k) {	/* one key per allocation: the same again */
		k->count++;
		memcpy(key, k->key, sizeof(k->key));
		goto out;
	}
	e = shim_export_value(__func__, SHIM_OP_IPC_EXPORT, m->h, flags, &v);
	if (e)
		goto out;
	k = new_record(v.value, m, false);
	if (!k) {
		npu_dev_unexport(shim.fd, m->h->kid);
		m->h->share = 0;
		e = shim_no_host_memory(__func__);
		goto out;
	}
	k->no_validation = flags;
	memcpy(key, k->key, sizeof(k->key));
out:
	shim_unlock();
	return e;
}

aclError aclrtIpcMemSetImportPid(const char *key, int32_t *pid, size_t num)
{
	struct npu_dev_value v = { .kind = NPU_MEM_SHARE_IPC_KEY };
	aclError e;

	if (!key)
		return shim_arg_null(__func__, "key");
	if (!pid)
		return shim_arg_null(__func__, "pid");
	if (!num || num > SHIM_IPC_MAX_PIDS)
		return FAIL(ACL_ERROR_RT_PARAM_INVALID, "num is %zu: 1 to %d pids a call", num,
			    SHIM_IPC_MAX_PIDS);
	e = key_value(__func__, key, &v.value);
	if (e)
		return e;
	return shim_set_pids_value(__func__, SHIM_OP_IPC_SETPID, &v, pid, num);
}

aclError aclrtIpcMemImportByKey(void **devPtr, const char *key, uint64_t flags)
{
	struct npu_dev_value v = { .kind = NPU_MEM_SHARE_IPC_KEY };
	struct npu_dev_handle_info info;
	struct shim_handle *h;
	struct shim_ipc *k;
	struct shim_map *m;
	int32_t dev;
	aclError e;

	if (!devPtr)
		return shim_arg_null(__func__, "devPtr");
	if (!key)
		return shim_arg_null(__func__, "key");
	if (flags > ACL_RT_IPC_MEM_IMPORT_FLAG_ENABLE_PEER_ACCESS)
		return shim_arg_flags(__func__, ACL_ERROR_RT_PARAM_INVALID, flags, 1);
	e = key_value(__func__, key, &v.value);
	if (e)
		return e;
	e = shim_lock(__func__, true);
	if (e)
		return e;
	e = shim_need_device(__func__, &dev);
	if (e)
		goto out;
	k = find_key(key);
	if (k && k->imported) {	/* as CANN: the same address again */
		k->count++;
		*devPtr = (void *)k->m->va;
		goto out;
	}
	e = shim_import_value(__func__, SHIM_OP_IPC_IMPORT, &v, dev, &h);
	if (e)
		goto out;
	/* As CANN's runtime: peer access from this device to the exporter's. */
	if (flags & ACL_RT_IPC_MEM_IMPORT_FLAG_ENABLE_PEER_ACCESS &&
	    !npu_dev_handle_info(shim.fd, h->kid, &info) && info.origin_device != (uint32_t)dev &&
	    info.origin_device < SHIM_MAX_DEV)
		shim.peer[dev] |= 1ULL << info.origin_device;
	e = shim_map_whole(__func__, h, SHIM_RESV_IPC, &m);
	/* Mapped, the mapping's reference keeps it; if not, this frees it. */
	shim_put_handle(__func__, h);
	if (e)
		goto out;
	k = new_record(v.value, m, true);
	if (!k) {
		shim_unmap_whole(__func__, m);
		e = shim_no_host_memory(__func__);
		goto out;
	}
	*devPtr = (void *)m->va;
out:
	shim_unlock();
	return e;
}

aclError aclrtIpcMemClose(const char *key)
{
	struct shim_errctx c = { 0 };
	struct shim_ipc *k;
	uint64_t value;
	aclError e;
	int ret;

	if (!key)
		return shim_arg_null(__func__, "key");
	e = key_value(__func__, key, &value);
	if (e)
		return e;
	e = shim_lock(__func__, true);
	if (e)
		return e;
	k = find_key(key);
	if (!k) {
		e = FAIL(ACL_ERROR_RT_DRV_INTERNAL_ERROR,
			 "IPC key %s was not exported or imported by this process (or is closed)", key);
		goto out;
	}
	if (--k->count)
		goto out;
	if (k->imported) {
		e = shim_unmap_whole(__func__, k->m);
	} else {
		ret = npu_dev_unexport(shim.fd, k->m->h->kid);
		if (ret) {
			c.sh = value;
			e = shim_fail_errno(__func__, SHIM_OP_IPC_CLOSE, -ret, &c);
		} else {
			k->m->h->share = 0;
		}
	}
	if (e)
		k->count++;
	else
		drop_record(k);
out:
	shim_unlock();
	return e;
}
