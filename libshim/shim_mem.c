// SPDX-License-Identifier: MIT
/*
 * libshim virtual memory management and sharing: physical handles,
 * reservations, mappings, access, export / set-pid / import.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "npu_dev.h"
#include "shim.h"
#include "uapi/npu_mem.h"

/*
 * The one rule from ACL memory attributes to the driver's page kinds: the
 * device memory attributes MallocPhysical accepts (4, 5, 10, 12-17, and 0
 * and 1 for older clients), the page kind of each, and the attribute
 * aclrtMemGetAllocationPropertiesFromHandle reports, as CANN rebuilds it from
 * the page and memory type (acl memory.cpp's table: MEM_HUGE on a device is
 * HBM huge pages, reported as HBM_MEM_HUGE).  An imported handle reports the
 * first attribute of its page kind.
 */
static const struct {
	aclrtMemAttr attr;
	uint32_t kind;
	aclrtMemAttr reported;
} attr_kinds[] = {
	{ ACL_HBM_MEM_NORMAL, NPU_MEM_PAGE_NORMAL, ACL_HBM_MEM_NORMAL },
	{ ACL_HBM_MEM_HUGE, NPU_MEM_PAGE_HUGE, ACL_HBM_MEM_HUGE },
	{ ACL_HBM_MEM_HUGE1G, NPU_MEM_PAGE_HUGE1G, ACL_HBM_MEM_HUGE1G },
	{ ACL_DDR_MEM, NPU_MEM_PAGE_NORMAL, ACL_HBM_MEM_NORMAL },
	{ ACL_HBM_MEM, NPU_MEM_PAGE_NORMAL, ACL_HBM_MEM_NORMAL },
	{ ACL_MEM_NORMAL, NPU_MEM_PAGE_NORMAL, ACL_HBM_MEM_NORMAL },
	{ ACL_MEM_P2P_NORMAL, NPU_MEM_PAGE_NORMAL, ACL_MEM_P2P_NORMAL },
	{ ACL_MEM_HUGE, NPU_MEM_PAGE_HUGE, ACL_HBM_MEM_HUGE },
	{ ACL_MEM_P2P_HUGE, NPU_MEM_PAGE_HUGE, ACL_MEM_P2P_HUGE },
	{ ACL_MEM_HUGE1G, NPU_MEM_PAGE_HUGE1G, ACL_HBM_MEM_HUGE1G },
	{ ACL_MEM_P2P_HUGE1G, NPU_MEM_PAGE_HUGE1G, ACL_MEM_P2P_HUGE1G },
};

#define N_ATTR_KINDS (sizeof(attr_kinds) / sizeof(attr_kinds[0]))

/* The page kind of device memory attribute @attr, or -1 if MallocPhysical refuses it. */
static int page_kind(aclrtMemAttr attr)
{
	size_t i;

	for (i = 0; i < N_ATTR_KINDS; i++)
		if (attr_kinds[i].attr == attr)
			return (int)attr_kinds[i].kind;
	return -1;
}

/* The attribute CANN reports for memory allocated with @attr. */
static aclrtMemAttr reported_attr(aclrtMemAttr attr)
{
	size_t i;

	for (i = 0; i < N_ATTR_KINDS; i++)
		if (attr_kinds[i].attr == attr)
			return attr_kinds[i].reported;
	return attr;
}

/* The attribute an imported handle of page kind @kind reports. */
static aclrtMemAttr kind_attr(uint32_t kind)
{
	size_t i;

	for (i = 0; i < N_ATTR_KINDS; i++)
		if (attr_kinds[i].kind == kind)
			return attr_kinds[i].attr;
	return ACL_HBM_MEM_NORMAL;
}

/* The granularity of @attr memory on device @dev, from DEVICE_INFO (caller holds the lock). */
static size_t dev_granularity(uint32_t dev, aclrtMemAttr attr)
{
	return page_kind(attr) == NPU_MEM_PAGE_HUGE1G ? shim.gran_1g[dev] : shim.gran[dev];
}

/* Round *size up to a multiple of @unit, @slack bytes short of SIZE_MAX at most: 0 or 207001. */
static aclError round_size(const char *func, size_t *size, size_t unit, size_t slack)
{
	if (*size > SIZE_MAX - unit - slack)
		return shim_fail(func, ACL_ERROR_RT_MEMORY_ALLOCATION, "size %zu is too large", *size);
	*size = (*size + unit - 1) / unit * unit;
	return ACL_SUCCESS;
}

/* Validate a prop as MallocPhysical does: 0 or shim_fail()'s code. */
static aclError check_prop(const char *func, const aclrtPhysicalMemProp *prop)
{
	if (!prop)
		return shim_arg_null(func, "prop");
	if (prop->handleType != ACL_MEM_HANDLE_TYPE_NONE)
		return shim_fail(func, ACL_ERROR_INVALID_PARAM,
				 "prop->handleType is %d, must be ACL_MEM_HANDLE_TYPE_NONE",
				 (int)prop->handleType);
	if (prop->allocationType != ACL_MEM_ALLOCATION_TYPE_PINNED)
		return shim_fail(func, ACL_ERROR_INVALID_PARAM,
				 "prop->allocationType is %d, must be ACL_MEM_ALLOCATION_TYPE_PINNED",
				 (int)prop->allocationType);
	switch (prop->location.type) {
	case ACL_MEM_LOCATION_TYPE_DEVICE:
		break;
	case ACL_MEM_LOCATION_TYPE_HOST:
	case ACL_MEM_LOCATION_TYPE_HOST_NUMA:
		return shim_fail(func, ACL_ERROR_RT_FEATURE_NOT_SUPPORT,
				 "prop->location.type %d: npu_mem simulates device memory only",
				 (int)prop->location.type);
	default:
		return shim_fail(func, ACL_ERROR_INVALID_PARAM,
				 "prop->location.type %d is not a valid location for physical memory",
				 (int)prop->location.type);
	}
	if (page_kind(prop->memAttr) < 0)
		return shim_fail(func, ACL_ERROR_INVALID_PARAM,
				 "prop->memAttr %d is not valid for device memory", (int)prop->memAttr);
	return ACL_SUCCESS;
}

/*
 * As CANN: the ACL layer checks memAttr (100000) and not handleType or
 * allocationType; the runtime the device id (107001); the driver the option
 * (207000, "not supported") and the rest of the prop.  prop->reserve is
 * ignored as MallocPhysical ignores it (README: "prop.reserve").
 */
aclError aclrtMemGetAllocationGranularity(aclrtPhysicalMemProp *prop, aclrtMemGranularityOptions option,
					  size_t *granularity)
{
	aclError e;

	if (!prop)
		return shim_arg_null(__func__, "prop");
	if (!granularity)
		return shim_arg_null(__func__, "granularity");
	switch (prop->location.type) {
	case ACL_MEM_LOCATION_TYPE_DEVICE:
		break;
	case ACL_MEM_LOCATION_TYPE_HOST:
	case ACL_MEM_LOCATION_TYPE_HOST_NUMA:
		return FAIL(ACL_ERROR_RT_FEATURE_NOT_SUPPORT,
			    "prop->location.type %d: npu_mem simulates device memory only",
			    (int)prop->location.type);
	default:	/* the driver's check of the memory side */
		return FAIL(ACL_ERROR_RT_PARAM_INVALID, "prop->location.type %d is not a memory location",
			    (int)prop->location.type);
	}
	if (page_kind(prop->memAttr) < 0)
		return FAIL(ACL_ERROR_INVALID_PARAM, "prop->memAttr %d is not valid for device memory",
			    (int)prop->memAttr);
	e = shim_lock(__func__, false);
	if (e)
		return e;
	e = shim_check_dev(__func__, "prop->location.id", prop->location.id);
	if (!e && (unsigned int)option > ACL_RT_MEM_ALLOC_GRANULARITY_RECOMMENDED)
		e = FAIL(ACL_ERROR_RT_FEATURE_NOT_SUPPORT, "option %d is not MINIMUM or RECOMMENDED",
			 (int)option);
	if (!e)
		*granularity = dev_granularity(prop->location.id, prop->memAttr);
	shim_unlock();
	return e;
}

/* ---- physical handles ---- */

static struct shim_handle *new_handle(const struct npu_dev_handle *dh, size_t size, int32_t dev,
				      const aclrtPhysicalMemProp *prop)
{
	struct shim_handle *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	h->token = shim_new_token();
	h->kid = dh->id;
	h->mmap_offset = dh->mmap_offset;
	h->size = size;
	h->dev = dev;
	h->prop = *prop;
	h->ref = 1;
	h->next = shim.handles;
	shim.handles = h;
	return h;
}

aclError aclrtMallocPhysical(aclrtDrvMemHandle *handle, size_t size, const aclrtPhysicalMemProp *prop,
			     uint64_t flags)
{
	struct shim_handle *h;
	aclError e;

	if (!handle)
		return shim_arg_null(__func__, "handle");
	if (!size)
		return shim_arg_zero(__func__, "size");
	if (flags)
		return shim_arg_flags(__func__, ACL_ERROR_INVALID_PARAM, flags, 0);
	e = check_prop(__func__, prop);
	if (e)
		return e;
	e = shim_lock(__func__, true);
	if (e)
		return e;
	e = shim_check_dev(__func__, "prop->location.id", prop->location.id);
	if (!e)
		e = shim_alloc_handle(__func__, prop->location.id, size, prop->memAttr, &h);
	if (!e) {
		h->prop = *prop;
		*handle = shim_handle_ptr(h);
	}
	shim_unlock();
	return e;
}

aclError shim_alloc_handle(const char *func, uint32_t dev, size_t size, aclrtMemAttr attr,
			   struct shim_handle **hp)
{
	struct shim_errctx c = { .dev = (int32_t)dev };
	aclrtPhysicalMemProp prop = {
		.handleType = ACL_MEM_HANDLE_TYPE_NONE,
		.allocationType = ACL_MEM_ALLOCATION_TYPE_PINNED,
		.memAttr = attr,
		.location = { .id = dev, .type = ACL_MEM_LOCATION_TYPE_DEVICE },
	};
	struct npu_dev_handle dh;
	aclError e;
	int ret;

	e = round_size(func, &size, dev_granularity(dev, attr), 0);
	if (e)
		return e;
	ret = npu_dev_alloc(shim.fd, dev, size, (uint32_t)page_kind(attr), &dh);
	if (ret) {
		c.size = size;
		return shim_fail_errno(func, SHIM_OP_ALLOC, -ret, &c);
	}
	*hp = new_handle(&dh, size, (int32_t)dev, &prop);
	if (!*hp) {
		npu_dev_free(shim.fd, dh.id);
		return shim_no_host_memory(func);
	}
	return ACL_SUCCESS;
}

/* The record of handle token @p, or 107000 (caller holds the lock). */
static aclError lookup_handle(const char *func, const void *p, struct shim_handle **hp)
{
	*hp = shim_find_handle(p);
	if (*hp)
		return ACL_SUCCESS;
	return shim_fail(func, ACL_ERROR_RT_PARAM_INVALID, "handle %p is not a live handle of this process",
			 p);
}

/*
 * Drop one reference of @h; at 0 free the driver handle and the record.
 * 0, or the aclError of a failed FREE (@h is then unchanged).
 */
aclError shim_put_handle(const char *func, struct shim_handle *h)
{
	struct shim_errctx c = { .handle = shim_handle_ptr(h) };
	struct shim_handle **pp;
	int ret;

	if (h->ref > 1) {
		h->ref--;
		return ACL_SUCCESS;
	}
	ret = npu_dev_free(shim.fd, h->kid);
	if (ret)
		return shim_fail_errno(func, SHIM_OP_FREE, -ret, &c);
	for (pp = &shim.handles; *pp; pp = &(*pp)->next) {
		if (*pp == h) {
			*pp = h->next;
			break;
		}
	}
	free(h);
	return ACL_SUCCESS;
}

aclError aclrtFreePhysical(aclrtDrvMemHandle handle)
{
	struct shim_handle *h;
	aclError e;

	if (!handle)
		return shim_arg_null(__func__, "handle");
	e = shim_lock(__func__, true);
	if (e)
		return e;
	e = lookup_handle(__func__, handle, &h);
	if (e)
		goto out;
	if (h->map_ref && h->ref <= h->map_ref) {
		e = FAIL(ACL_ERROR_RT_PARAM_INVALID,
			 "handle %p is already freed: its %u remaining reference(s) belong to live mappings (unmap to release)",
			 handle, h->map_ref);
		goto out;
	}
	e = shim_put_handle(__func__, h);
out:
	shim_unlock();
	return e;
}

aclError aclrtMemGetAllocationPropertiesFromHandle(aclrtDrvMemHandle handle, aclrtPhysicalMemProp *prop)
{
	struct shim_handle *h;
	aclError e;

	if (!handle)
		return shim_arg_null(__func__, "handle");
	if (!prop)
		return shim_arg_null(__func__, "prop");
	e = shim_lock(__func__, false);
	if (e)
		return e;
	e = lookup_handle(__func__, handle, &h);
	if (!e) {
		/* Rebuilt as CANN does, not the prop as given (reserve is not kept). */
		memset(prop, 0, sizeof(*prop));
		prop->handleType = ACL_MEM_HANDLE_TYPE_NONE;
		prop->allocationType = ACL_MEM_ALLOCATION_TYPE_PINNED;
		prop->memAttr = reported_attr(h->prop.memAttr);
		prop->location.type = ACL_MEM_LOCATION_TYPE_DEVICE;
		prop->location.id = (uint32_t)h->dev;
	}
	shim_unlock();
	return e;
}

/* ---- reservations ---- */

/* For a message: what to call instead on a range the VMM calls do not own. */
static const char *shim_owner_hint(const struct shim_resv *r)
{
	if (r && r->owner == SHIM_RESV_MALLOC)
		return " (it is aclrtMalloc memory: aclrtFree it)";
	if (r && r->owner == SHIM_RESV_IPC)
		return " (it is an IPC import: aclrtIpcMemClose its key)";
	return "";
}

/*
 * Put a PROT_NONE placeholder at exactly [va, va + size), replacing nothing.
 * 0, or the errno (EEXIST: something is there).
 */
static int placeholder_at(void *va, size_t size)
{
	void *p = mmap(va, size, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);

	if (p == MAP_FAILED)
		return errno;
	if (p == va)
		return 0;
	munmap(p, size);	/* before 4.17 the flag is only a hint */
	return EEXIST;
}

/* Reserve @size bytes aligned to @align, at @expect if it is free: the address, or MAP_FAILED. */
static void *reserve_range(size_t size, size_t align, void *expect)
{
	uintptr_t base;
	size_t len;
	void *p;

	if (expect && !placeholder_at(expect, size))	/* 2 MiB aligned: checked by the caller */
		return expect;
	/* Over-reserve, then trim to an aligned range. */
	len = size + align;
	p = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return p;
	base = ((uintptr_t)p + align - 1) & ~(uintptr_t)(align - 1);
	if (base > (uintptr_t)p)
		munmap(p, base - (uintptr_t)p);
	if ((uintptr_t)p + len > base + size)
		munmap((void *)(base + size), (uintptr_t)p + len - (base + size));
	return (void *)base;
}

aclError aclrtReserveMemAddress(void **virPtr, size_t size, size_t alignment, void *expectPtr,
				uint64_t flags)
{
	struct shim_resv *r;
	void *p = NULL;
	size_t align;
	aclError e;

	if (!virPtr)
		return shim_arg_null(__func__, "virPtr");
	if (!size)
		return shim_arg_zero(__func__, "size");
	if (flags > 1)
		return shim_arg_flags(__func__, ACL_ERROR_INVALID_PARAM, flags, 1);
	/* The driver's checks, in its order: a misaligned expectPtr is refused, not moved. */
	if ((uintptr_t)expectPtr % NPU_MEM_GRANULARITY)
		return FAIL(ACL_ERROR_RT_PARAM_INVALID, "expectPtr %p is not a multiple of 0x%lx", expectPtr,
			    (unsigned long)NPU_MEM_GRANULARITY);
	if (alignment)
		return FAIL(ACL_ERROR_RT_PARAM_INVALID, "alignment is %zu, must be 0", alignment);
	/*
	 * Like the HAL (v3 svm): 2 MiB units, a multiple of every device's
	 * granularity; ranges of 1 GiB and more are 1 GiB aligned (and
	 * over-reserved by that).
	 */
	align = size >= NPU_MEM_GRANULARITY_HUGE1G ? NPU_MEM_GRANULARITY_HUGE1G : NPU_MEM_GRANULARITY;
	e = round_size(__func__, &size, NPU_MEM_GRANULARITY, align);
	if (e)
		return e;
	e = shim_lock(__func__, true);
	if (e)
		return e;
	r = calloc(1, sizeof(*r));
	if (!r) {
		e = shim_no_host_memory(__func__);
		goto out;
	}
	p = reserve_range(size, align, expectPtr);
	if (p == MAP_FAILED) {
		e = FAIL(ACL_ERROR_RT_MEMORY_ALLOCATION, "cannot reserve %zu bytes of address space: %s",
			 size, strerror(errno));
		free(r);
		goto out;
	}
	r->base = (uintptr_t)p;
	r->size = size;
	r->next = shim.resvs;
	shim.resvs = r;
out:
	shim_unlock();
	if (!e)
		*virPtr = p;
	return e;
}

aclError aclrtReleaseMemAddress(void *virPtr)
{
	struct shim_resv **pp, *r;
	aclError e;

	if (!virPtr)
		return shim_arg_null(__func__, "virPtr");
	e = shim_lock(__func__, true);
	if (e)
		return e;
	for (pp = &shim.resvs; (r = *pp); pp = &r->next)
		if (r->base == (uintptr_t)virPtr)
			break;
	if (!r || r->owner != SHIM_RESV_USER) {
		e = FAIL(ACL_ERROR_RT_PARAM_INVALID, "%p is not the start of a reserved range%s", virPtr,
			 shim_owner_hint(r));
		goto out;
	}
	if (r->nmaps) {
		e = FAIL(ACL_ERROR_RT_DRV_INTERNAL_ERROR,
			 "range at %p still has %u mapping(s): aclrtUnmapMem them first", virPtr, r->nmaps);
		goto out;
	}
	*pp = r->next;
	shim_resv_unmap(r);
	free(r);
out:
	shim_unlock();
	return e;
}

/* ---- mappings ---- */

/* The protection that grants the union of the host's and the devices' access flags. */
static int access_prot(uint8_t host, const uint8_t dev[SHIM_MAX_DEV])
{
	unsigned int acc = host;
	uint32_t i;

	for (i = 0; i < SHIM_MAX_DEV; i++)
		acc |= dev[i];
	if ((acc & ACL_RT_MEM_ACCESS_FLAGS_READWRITE) == ACL_RT_MEM_ACCESS_FLAGS_READWRITE)
		return PROT_READ | PROT_WRITE;
	return acc ? PROT_READ : PROT_NONE;
}

/*
 * Where handle @h may be mapped: [va, va + size) inside one reservation that
 * is not broken, overlapping no mapping.  0 and *rp, or shim_fail()'s code.
 */
static aclError map_target(const char *func, void *virPtr, size_t size, const struct shim_handle *h,
			   struct shim_resv **rp)
{
	uintptr_t va = (uintptr_t)virPtr;
	size_t gran = dev_granularity((uint32_t)h->dev, h->prop.memAttr);
	struct shim_resv *r;
	struct shim_map *o;

	if (size != h->size)
		return shim_fail(func, ACL_ERROR_RT_DRV_INTERNAL_ERROR,
				 "size %zu is not the handle's size %zu (whole allocations only)", size, h->size);
	if (va % gran)
		return shim_fail(func, ACL_ERROR_RT_DRV_INTERNAL_ERROR,
				 "virPtr %p is not aligned to the granularity 0x%zx", virPtr, gran);
	r = shim_find_resv(va, size);
	if (!r || r->owner != SHIM_RESV_USER)
		return shim_fail(func, ACL_ERROR_RT_DRV_INTERNAL_ERROR,
				 "[%p, +0x%zx) is not inside one range from aclrtReserveMemAddress", virPtr, size);
	if (r->broken)
		return shim_fail(func, ACL_ERROR_RT_DRV_INTERNAL_ERROR,
				 "the reservation at %p is broken: a failed map left [%p, +0x%zx) unreserved (release the reservation)",
				 (void *)r->base, (void *)r->hole, r->hole_size);
	for (o = shim.maps; o; o = o->next)
		if (va < o->va + o->size && o->va < va + size)
			return shim_fail(func, ACL_ERROR_RT_DRV_INTERNAL_ERROR,
					 "[%p, +0x%zx) overlaps the mapping at %p", virPtr, size, (void *)o->va);
	*rp = r;
	return ACL_SUCCESS;
}

/*
 * mmap @m's handle into its reservation: 0 or a negative errno.  MAP_FIXED
 * may have removed the placeholder before the driver refused, and any mmap
 * may take the hole: put the placeholder back where nothing is.  Where
 * something is, this library cannot tell its own placeholder (the map failed
 * early) from someone else's memory: the reservation is broken, and nobody
 * unmaps that range.
 */
static int map_into(struct shim_map *m)
{
	int ret = npu_dev_map(shim.fd, m->h->mmap_offset, (void *)m->va, m->size,
			      access_prot(m->acc_host, m->acc_dev));

	if (ret && placeholder_at((void *)m->va, m->size)) {
		m->r->broken = true;
		m->r->hole = m->va;
		m->r->hole_size = m->size;
	}
	return ret;
}

static aclError do_map(const char *func, void *virPtr, size_t size, size_t offset,
		       aclrtDrvMemHandle handle, uint64_t flags, bool access)
{
	struct shim_errctx c = { .handle = handle, .size = size };
	struct shim_handle *h;
	struct shim_resv *r = NULL;
	struct shim_map *m;
	aclError e;
	int ret;

	if (!virPtr)
		return shim_arg_null(func, "virPtr");
	if (!size)
		return shim_arg_zero(func, "size");
	if (!handle)
		return shim_arg_null(func, "handle");
	if (flags)
		return shim_arg_flags(func, ACL_ERROR_INVALID_PARAM, flags, 0);
	if (offset)
		return shim_fail(func, ACL_ERROR_RT_PARAM_INVALID, "offset is %zu, must be 0", offset);
	e = shim_lock(func, true);
	if (e)
		return e;
	e = lookup_handle(func, handle, &h);
	if (!e)
		e = map_target(func, virPtr, size, h, &r);
	if (e)
		goto out;
	m = calloc(1, sizeof(*m));
	if (!m) {
		e = shim_no_host_memory(func);
		goto out;
	}
	m->va = (uintptr_t)virPtr;
	m->size = size;
	m->h = h;
	m->r = r;
	if (access)	/* the owning device gets read/write at once */
		m->acc_dev[h->dev] = ACL_RT_MEM_ACCESS_FLAGS_READWRITE;
	ret = map_into(m);
	if (ret) {
		free(m);
		c.dev = h->dev;
		e = shim_fail_errno(func, SHIM_OP_MAP, -ret, &c);
		if (r->broken)
			shim_fail_append("; the range could not be reserved again, so the reservation at %p is broken (release it)",
					 (void *)r->base);
		goto out;
	}
	m->next = shim.maps;
	shim.maps = m;
	r->nmaps++;
	h->ref++;
	h->map_ref++;
out:
	shim_unlock();
	return e;
}

aclError aclrtMapMem(void *virPtr, size_t size, size_t offset, aclrtDrvMemHandle handle, uint64_t flags)
{
	return do_map(__func__, virPtr, size, offset, handle, flags, true);
}

aclError aclrtMemMapNoAccess(void *virPtr, size_t size, size_t offset, aclrtDrvMemHandle handle,
			     uint64_t flags)
{
	return do_map(__func__, virPtr, size, offset, handle, flags, false);
}

/* The mapping that contains @p, or @code (caller holds the lock). */
static aclError find_map_at(const char *func, aclError code, const void *p, struct shim_map **mp)
{
	*mp = shim_find_map((uintptr_t)p, 1);
	if (*mp)
		return ACL_SUCCESS;
	return shim_fail(func, code, "nothing is mapped at %p", p);
}

/*
 * Put the placeholder back over mapping [va, va + size), so the reservation
 * stays whole: 0 or an errno.  If MAP_FIXED fails, the kernel may have
 * removed the mapping first: then fill the hole, and the mapping is gone.
 */
static int unmap_range(void *va, size_t size)
{
	void *p = mmap(va, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);
	int err;

	if (p == va)
		return 0;
	err = errno;
	return placeholder_at(va, size) ? err : 0;
}

aclError aclrtUnmapMem(void *virPtr)
{
	struct shim_map **pp, *m;
	struct shim_handle *h;
	aclError e;
	int ret;

	if (!virPtr)
		return shim_arg_null(__func__, "virPtr");
	e = shim_lock(__func__, true);
	if (e)
		return e;
	for (pp = &shim.maps; (m = *pp); pp = &m->next)
		if (m->va == (uintptr_t)virPtr)
			break;
	if (!m) {
		e = find_map_at(__func__, ACL_ERROR_RT_DRV_INTERNAL_ERROR, virPtr, &m);
		if (!e)
			e = FAIL(ACL_ERROR_RT_DRV_INTERNAL_ERROR,
				 "%p is inside the mapping at %p, not its start", virPtr, (void *)m->va);
		goto out;
	}
	if (m->r->owner != SHIM_RESV_USER) {
		e = FAIL(ACL_ERROR_RT_DRV_INTERNAL_ERROR, "%p is not a mapping of aclrtMapMem%s", virPtr,
			 shim_owner_hint(m->r));
		goto out;
	}
	ret = unmap_range(virPtr, m->size);
	if (ret) {
		e = FAIL(ACL_ERROR_RT_DRV_INTERNAL_ERROR, "cannot unmap %p: %s", virPtr, strerror(ret));
		goto out;
	}
	*pp = m->next;
	m->r->nmaps--;
	h = m->h;
	free(m);
	h->map_ref--;
	e = shim_put_handle(__func__, h);
out:
	shim_unlock();
	return e;
}

/* ---- whole allocations: aclrtMalloc and IPC imports ---- */

aclError shim_map_whole(const char *func, struct shim_handle *h, enum shim_resv_owner owner,
			struct shim_map **mp)
{
	struct shim_errctx c = { .handle = shim_handle_ptr(h), .size = h->size, .dev = h->dev };
	size_t align = dev_granularity((uint32_t)h->dev, h->prop.memAttr);
	struct shim_resv *r;
	struct shim_map *m;
	void *p;
	int ret;

	r = calloc(1, sizeof(*r));
	m = calloc(1, sizeof(*m));
	if (!r || !m)
		goto err_free;
	p = reserve_range(h->size, align, NULL);
	if (p == MAP_FAILED) {
		free(r);
		free(m);
		return shim_fail(func, ACL_ERROR_RT_MEMORY_ALLOCATION,
				 "cannot reserve %zu bytes of address space: %s", h->size, strerror(errno));
	}
	r->base = (uintptr_t)p;
	r->size = h->size;
	r->owner = owner;
	m->va = r->base;
	m->size = h->size;
	m->h = h;
	m->r = r;
	m->acc_dev[h->dev] = ACL_RT_MEM_ACCESS_FLAGS_READWRITE;
	ret = map_into(m);
	if (ret) {
		shim_resv_unmap(r);
		free(r);
		free(m);
		return shim_fail_errno(func, SHIM_OP_MAP, -ret, &c);
	}
	r->next = shim.resvs;
	shim.resvs = r;
	m->next = shim.maps;
	shim.maps = m;
	r->nmaps = 1;
	h->ref++;
	h->map_ref++;
	*mp = m;
	return ACL_SUCCESS;

err_free:
	free(r);
	free(m);
	return shim_no_host_memory(func);
}

aclError shim_unmap_whole(const char *func, struct shim_map *m)
{
	struct shim_handle *h = m->h;
	struct shim_resv **rp;
	struct shim_map **mp;

	for (mp = &shim.maps; *mp != m; mp = &(*mp)->next)
		;
	*mp = m->next;
	for (rp = &shim.resvs; *rp != m->r; rp = &(*rp)->next)
		;
	*rp = m->r->next;
	shim_resv_unmap(m->r);
	free(m->r);
	free(m);
	h->map_ref--;
	return shim_put_handle(func, h);
}

/* The access descriptors of aclrtMemSetAccess: 0 or 100000. */
static aclError check_access_desc(const char *func, const aclrtMemAccessDesc *desc, size_t count)
{
	size_t i, j;

	for (i = 0; i < count; i++) {
		const aclrtMemAccessDesc *d = &desc[i];

		if (d->flags != ACL_RT_MEM_ACCESS_FLAGS_NONE && d->flags != ACL_RT_MEM_ACCESS_FLAGS_READ &&
		    d->flags != ACL_RT_MEM_ACCESS_FLAGS_READWRITE)
			return shim_fail(func, ACL_ERROR_INVALID_PARAM,
					 "desc[%zu].flags 0x%x is not an aclrtMemAccessFlags", i,
					 (unsigned int)d->flags);
		if (d->location.type != ACL_MEM_LOCATION_TYPE_HOST &&
		    d->location.type != ACL_MEM_LOCATION_TYPE_DEVICE)
			return shim_fail(func, ACL_ERROR_INVALID_PARAM,
					 "desc[%zu].location.type %d must be HOST or DEVICE", i,
					 (int)d->location.type);
		if (d->location.type == ACL_MEM_LOCATION_TYPE_HOST && d->location.id != 0)
			return shim_fail(func, ACL_ERROR_INVALID_PARAM,
					 "desc[%zu].location.id is %u, must be 0 for HOST", i, d->location.id);
		for (j = 0; j < sizeof(d->rsv); j++)
			if (d->rsv[j])
				return shim_fail(func, ACL_ERROR_INVALID_PARAM, "desc[%zu].rsv[%zu] is not 0",
						 i, j);
	}
	return ACL_SUCCESS;
}

/*
 * Apply @desc to mapping @m: its flags, and the protection of their union.
 * 0, or 107001 for a device that does not exist, or 507899 if mprotect
 * fails; then @m is unchanged.
 */
static aclError set_access(const char *func, struct shim_map *m, const aclrtMemAccessDesc *desc,
			   size_t count)
{
	uint8_t host = m->acc_host, dev[SHIM_MAX_DEV];
	char what[48];
	size_t i;

	memcpy(dev, m->acc_dev, sizeof(dev));
	for (i = 0; i < count; i++) {
		if (desc[i].location.type == ACL_MEM_LOCATION_TYPE_HOST) {
			host = (uint8_t)desc[i].flags;
			continue;
		}
		snprintf(what, sizeof(what), "desc[%zu].location.id", i);
		if (shim_check_dev(func, what, desc[i].location.id))
			return ACL_ERROR_RT_INVALID_DEVICEID;
		dev[desc[i].location.id] = (uint8_t)desc[i].flags;
	}
	if (mprotect((void *)m->va, m->size, access_prot(host, dev)))
		return shim_fail(func, ACL_ERROR_RT_DRV_INTERNAL_ERROR, "cannot change access of %p: %s",
				 (void *)m->va, strerror(errno));
	m->acc_host = host;
	memcpy(m->acc_dev, dev, sizeof(dev));
	return ACL_SUCCESS;
}

aclError aclrtMemSetAccess(void *virPtr, size_t size, aclrtMemAccessDesc *desc, size_t count)
{
	struct shim_map *m;
	aclError e;

	if (!virPtr)
		return shim_arg_null(__func__, "virPtr");
	if (!size)
		return shim_arg_zero(__func__, "size");
	if (!desc)
		return shim_arg_null(__func__, "desc");
	if (!count)
		return shim_arg_zero(__func__, "count");
	e = check_access_desc(__func__, desc, count);
	if (e)
		return e;
	e = shim_lock(__func__, true);
	if (e)
		return e;
	for (m = shim.maps; m; m = m->next)
		if (m->va == (uintptr_t)virPtr)
			break;
	if (m && m->size == size)
		e = set_access(__func__, m, desc, count);
	else
		e = FAIL(ACL_ERROR_RT_DRV_INTERNAL_ERROR, "[%p, +0x%zx) is not a range given to aclrtMapMem",
			 virPtr, size);
	shim_unlock();
	return e;
}

aclError aclrtMemGetAccess(void *virPtr, aclrtMemLocation *location, uint64_t *flag)
{
	struct shim_map *m;
	aclError e;

	if (!virPtr)
		return shim_arg_null(__func__, "virPtr");
	if (!location)
		return shim_arg_null(__func__, "location");
	if (!flag)
		return shim_arg_null(__func__, "flag");
	if (location->type != ACL_MEM_LOCATION_TYPE_HOST && location->type != ACL_MEM_LOCATION_TYPE_DEVICE)
		return FAIL(ACL_ERROR_INVALID_PARAM, "location->type %d must be HOST or DEVICE",
			    (int)location->type);
	e = shim_lock(__func__, false);
	if (e)
		return e;
	if (location->type == ACL_MEM_LOCATION_TYPE_DEVICE)
		e = shim_check_dev(__func__, "location->id", location->id);
	if (!e)
		e = find_map_at(__func__, ACL_ERROR_RT_DRV_INTERNAL_ERROR, virPtr, &m);
	if (!e)
		*flag = location->type == ACL_MEM_LOCATION_TYPE_HOST ? m->acc_host : m->acc_dev[location->id];
	shim_unlock();
	return e;
}

aclError aclrtMemRetainAllocationHandle(void *virPtr, aclrtDrvMemHandle *handle)
{
	struct shim_map *m;
	aclError e;

	if (!virPtr)
		return shim_arg_null(__func__, "virPtr");
	if (!handle)
		return shim_arg_null(__func__, "handle");
	e = shim_lock(__func__, true);
	if (e)
		return e;
	e = find_map_at(__func__, ACL_ERROR_RT_PARAM_INVALID, virPtr, &m);
	if (!e && m->r->owner != SHIM_RESV_USER)
		e = FAIL(ACL_ERROR_RT_PARAM_INVALID, "%p is not in a mapping of aclrtMapMem%s", virPtr,
			 shim_owner_hint(m->r));
	if (!e) {
		m->h->ref++;
		*handle = shim_handle_ptr(m->h);
	}
	shim_unlock();
	return e;
}

aclError aclrtMemGetAddressRange(void *ptr, void **pbase, size_t *psize)
{
	struct shim_map *m;
	aclError e;

	if (!ptr)
		return shim_arg_null(__func__, "ptr");
	if (!pbase && !psize)
		return FAIL(ACL_ERROR_INVALID_PARAM, "pbase and psize are both NULL");
	e = shim_lock(__func__, false);
	if (e)
		return e;
	e = find_map_at(__func__, ACL_ERROR_RT_PARAM_INVALID, ptr, &m);
	if (!e && pbase)
		*pbase = (void *)m->va;
	if (!e && psize)
		*psize = m->size;
	shim_unlock();
	return e;
}

/* ---- sharing ---- */

aclError shim_export_value(const char *func, enum shim_op op, struct shim_handle *h,
			   bool no_validation, struct npu_dev_value *v)
{
	struct shim_errctx c = { .handle = shim_handle_ptr(h), .dev = h->dev, .sh = h->share };
	int ret;

	/* The driver refuses a second export and an imported handle. */
	ret = npu_dev_export(shim.fd, h->kid, no_validation, v);
	if (ret)
		return shim_fail_errno(func, op, -ret, &c);
	h->share = v->value;
	return ACL_SUCCESS;
}

static aclError do_export(const char *func, aclrtDrvMemHandle handle, uint64_t flags,
			  struct npu_dev_value *v)
{
	struct shim_handle *h;
	aclError e;

	if (flags > ACL_RT_VMM_EXPORT_FLAG_DISABLE_PID_VALIDATION)
		return shim_arg_flags(func, ACL_ERROR_RT_PARAM_INVALID, flags, 1);
	e = shim_lock(func, true);
	if (e)
		return e;
	e = lookup_handle(func, handle, &h);
	if (!e)
		e = shim_export_value(func, SHIM_OP_EXPORT, h, flags, v);
	shim_unlock();
	return e;
}

aclError aclrtMemExportToShareableHandle(aclrtDrvMemHandle handle, aclrtMemHandleType handleType,
					 uint64_t flags, uint64_t *shareableHandle)
{
	struct npu_dev_value v = { .kind = 0 };
	aclError e;

	if (!handle)
		return shim_arg_null(__func__, "handle");
	if (!shareableHandle)
		return shim_arg_null(__func__, "shareableHandle");
	if (handleType != ACL_MEM_HANDLE_TYPE_NONE)
		return FAIL(ACL_ERROR_INVALID_PARAM, "handleType is %d, must be ACL_MEM_HANDLE_TYPE_NONE",
			    (int)handleType);
	e = do_export(__func__, handle, flags, &v);
	if (!e)
		*shareableHandle = v.value;
	return e;
}

/*
 * The driver's kind for a V2 share type: a DEFAULT value is 8 bytes at
 * *shareableHandle (as V1's), a FABRIC one an aclrtMemFabricHandle.
 */
static aclError share_kind(const char *func, aclrtMemSharedHandleType t, uint32_t *kind)
{
	if (t == ACL_MEM_SHARE_HANDLE_TYPE_DEFAULT) {
		*kind = 0;
		return ACL_SUCCESS;
	}
	if (t == ACL_MEM_SHARE_HANDLE_TYPE_FABRIC) {
		*kind = NPU_MEM_SHARE_FABRIC;
		return ACL_SUCCESS;
	}
	return shim_fail(func, ACL_ERROR_RT_PARAM_INVALID, "shareType %d is not an aclrtMemSharedHandleType",
			 (int)t);
}

/* What names the value a V2 caller passes at @p. */
static void value_from(struct npu_dev_value *v, uint32_t kind, const void *p)
{
	memset(v, 0, sizeof(*v));
	v->kind = kind;
	if (kind == NPU_MEM_SHARE_FABRIC) {
		memcpy(v->fabric, p, sizeof(v->fabric));
		/* The value it carries, for messages and the handle's record (the driver reads @fabric). */
		memcpy(&v->value, v->fabric + offsetof(struct npu_mem_fabric_handle, shareable),
		       sizeof(v->value));
	} else {
		memcpy(&v->value, p, sizeof(v->value));
	}
}

aclError aclrtMemExportToShareableHandleV2(aclrtDrvMemHandle handle, uint64_t flags,
					   aclrtMemSharedHandleType shareType, void *shareableHandle)
{
	struct npu_dev_value v;
	uint32_t kind = 0;
	aclError e;

	if (!handle)
		return shim_arg_null(__func__, "handle");
	if (!shareableHandle)
		return shim_arg_null(__func__, "shareableHandle");
	e = share_kind(__func__, shareType, &kind);
	if (e)
		return e;
	memset(&v, 0, sizeof(v));
	v.kind = kind;
	e = do_export(__func__, handle, flags, &v);
	if (e)
		return e;
	if (kind == NPU_MEM_SHARE_FABRIC)
		memcpy(shareableHandle, v.fabric, sizeof(aclrtMemFabricHandle));
	else
		memcpy(shareableHandle, &v.value, sizeof(v.value));
	return ACL_SUCCESS;
}

aclError shim_set_pids_value(const char *func, enum shim_op op, const struct npu_dev_value *v,
			     const int32_t *pid, size_t pidNum)
{
	struct shim_errctx c = { .sh = v->value };
	bool any = false;
	aclError e;
	size_t i;
	int ret;

	if (pidNum > NPU_MEM_MAX_PIDS)
		return shim_fail(func, ACL_ERROR_RT_PARAM_INVALID, "pidNum %zu is more than %d",
				 pidNum, NPU_MEM_MAX_PIDS);
	for (i = 0; i < pidNum; i++) {
		if (pid[i] < 0)
			return shim_fail(func, ACL_ERROR_RT_DRV_INTERNAL_ERROR, "pid[%zu] is %d: pids are bare tgids (> 0)",
					 i, (int)pid[i]);
		any |= pid[i] != 0;
	}
	if (!any)
		return shim_fail(func, ACL_ERROR_RT_DRV_INTERNAL_ERROR,
				 "every pid in the list is 0: nothing to add to the whitelist");
	e = shim_lock(func, false);
	if (e)
		return e;
	/* The driver refuses a value without a whitelist and a caller that did not export it. */
	ret = npu_dev_set_pids(shim.fd, v, pid, (uint32_t)pidNum);
	if (ret) {
		npu_dev_bare_tgid(shim.fd, &c.tgid);
		e = shim_fail_errno(func, op, -ret, &c);
	}
	shim_unlock();
	return e;
}

aclError aclrtMemSetPidToShareableHandle(uint64_t shareableHandle, int32_t *pid, size_t pidNum)
{
	struct npu_dev_value v = { .kind = 0, .value = shareableHandle };

	if (!pid)
		return shim_arg_null(__func__, "pid");
	if (!pidNum)
		return shim_arg_zero(__func__, "pidNum");
	return shim_set_pids_value(__func__, SHIM_OP_SETPID, &v, pid, pidNum);
}

aclError aclrtMemSetPidToShareableHandleV2(void *shareableHandle, aclrtMemSharedHandleType shareType,
					   int32_t *pid, size_t pidNum)
{
	struct npu_dev_value v;
	uint32_t kind = 0;
	aclError e;

	if (!shareableHandle)
		return shim_arg_null(__func__, "shareableHandle");
	if (!pid)
		return shim_arg_null(__func__, "pid");
	if (!pidNum)
		return shim_arg_zero(__func__, "pidNum");
	e = share_kind(__func__, shareType, &kind);
	if (e)
		return e;
	value_from(&v, kind, shareableHandle);
	return shim_set_pids_value(__func__, SHIM_OP_SETPID, &v, pid, pidNum);
}

aclError shim_import_value(const char *func, enum shim_op op, const struct npu_dev_value *v,
			   int32_t dev, struct shim_handle **hp)
{
	struct shim_errctx c = { .sh = v->value, .dev = dev };
	struct npu_dev_handle_info info;
	aclrtPhysicalMemProp prop;
	struct shim_handle *h;
	struct npu_dev_handle dh;
	int ret;

	/* The driver refuses the exporter and a second import. */
	ret = npu_dev_import(shim.fd, v, (uint32_t)dev, &dh);
	if (ret) {
		npu_dev_bare_tgid(shim.fd, &c.tgid);
		return shim_fail_errno(func, op, -ret, &c);
	}
	ret = npu_dev_handle_info(shim.fd, dh.id, &info);
	if (ret) {
		npu_dev_free(shim.fd, dh.id);
		return shim_fail_errno(func, SHIM_OP_PROPS, -ret, &c);
	}
	memset(&prop, 0, sizeof(prop));
	prop.handleType = ACL_MEM_HANDLE_TYPE_NONE;
	prop.allocationType = ACL_MEM_ALLOCATION_TYPE_PINNED;
	prop.memAttr = kind_attr(info.page_kind);
	prop.location.type = ACL_MEM_LOCATION_TYPE_DEVICE;
	prop.location.id = (uint32_t)dev;
	h = new_handle(&dh, info.size, dev, &prop);
	if (!h) {
		npu_dev_free(shim.fd, dh.id);
		return shim_no_host_memory(func);
	}
	h->share = v->value;
	*hp = h;
	return ACL_SUCCESS;
}

/* dev < 0: the calling thread's current device (V2). */
static aclError do_import(const char *func, const struct npu_dev_value *v, int32_t dev,
			  aclrtDrvMemHandle *handle)
{
	struct shim_handle *h;
	int32_t cur;
	aclError e;

	e = shim_lock(func, true);
	if (e)
		return e;
	if (dev >= 0)
		e = shim_check_dev(func, "device", dev);
	if (!e)
		e = shim_need_device(func, &cur);
	if (!e)
		e = shim_import_value(func, SHIM_OP_IMPORT, v, dev < 0 ? cur : dev, &h);
	if (!e)
		*handle = shim_handle_ptr(h);
	shim_unlock();
	return e;
}

aclError aclrtMemImportFromShareableHandle(uint64_t shareableHandle, int32_t deviceId,
					   aclrtDrvMemHandle *handle)
{
	struct npu_dev_value v = { .kind = 0, .value = shareableHandle };

	if (!handle)
		return shim_arg_null(__func__, "handle");
	if (deviceId < 0)	/* without opening the device */
		return shim_check_dev(__func__, "device", deviceId);
	return do_import(__func__, &v, deviceId, handle);
}

aclError aclrtMemImportFromShareableHandleV2(void *shareableHandle, aclrtMemSharedHandleType shareType,
					     uint64_t flags, aclrtDrvMemHandle *handle)
{
	struct npu_dev_value v;
	uint32_t kind = 0;
	aclError e;

	if (!shareableHandle)
		return shim_arg_null(__func__, "shareableHandle");
	if (!handle)
		return shim_arg_null(__func__, "handle");
	if (flags)
		return shim_arg_flags(__func__, ACL_ERROR_INVALID_PARAM, flags, 0);
	e = share_kind(__func__, shareType, &kind);
	if (e)
		return e;
	value_from(&v, kind, shareableHandle);
	return do_import(__func__, &v, -1, handle);
}
