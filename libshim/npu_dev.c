// SPDX-License-Identifier: MIT
/*
 * Every ioctl and mmap libshim makes on /dev/npu_mem (uapi/npu_mem.h).
 * Functions return 0 or the kernel's negative errno.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "npu_dev.h"
#include "uapi/npu_mem.h"

static int xioctl(int fd, unsigned long cmd, void *arg)
{
	int ret;

	do {
		ret = ioctl(fd, cmd, arg);
	} while (ret < 0 && errno == EINTR);
	return ret < 0 ? -errno : 0;
}

int npu_dev_open(int *fdp, uint32_t *ndev)
{
	struct npu_mem_version v;
	int fd, ret;

	fd = open(NPU_DEV_PATH, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	memset(&v, 0, sizeof(v));
	ret = xioctl(fd, NPU_MEM_IOCTL_VERSION, &v);
	if (!ret && v.abi_major != NPU_MEM_ABI_MAJOR)
		ret = -EPROTO;
	if (ret) {
		close(fd);
		return ret;
	}
	*fdp = fd;
	*ndev = v.num_devices;
	return 0;
}

void npu_dev_close(int fd)
{
	close(fd);
}

int npu_dev_device_info(int fd, uint32_t dev, struct npu_dev_info *info)
{
	struct npu_mem_device_info a;
	int ret;

	memset(&a, 0, sizeof(a));
	a.device = dev;
	ret = xioctl(fd, NPU_MEM_IOCTL_DEVICE_INFO, &a);
	if (!ret) {
		info->total = a.total;
		info->free = a.free;
		info->granularity = a.granularity;
		info->granularity_huge1g = a.granularity_huge1g;
	}
	return ret;
}

int npu_dev_bare_tgid(int fd, int32_t *tgid)
{
	struct npu_mem_bare_tgid a;
	int ret;

	memset(&a, 0, sizeof(a));
	ret = xioctl(fd, NPU_MEM_IOCTL_BARE_TGID, &a);
	if (!ret)
		*tgid = a.tgid;
	return ret;
}

int npu_dev_alloc(int fd, uint32_t dev, uint64_t size, uint32_t page_kind, struct npu_dev_handle *h)
{
	struct npu_mem_alloc a;
	int ret;

	memset(&a, 0, sizeof(a));
	a.device = dev;
	a.page_kind = page_kind;
	a.size = size;
	ret = xioctl(fd, NPU_MEM_IOCTL_ALLOC, &a);
	if (!ret) {
		h->id = a.handle;
		h->mmap_offset = a.mmap_offset;
	}
	return ret;
}

int npu_dev_free(int fd, uint64_t id)
{
	struct npu_mem_free a;

	memset(&a, 0, sizeof(a));
	a.handle = (uint32_t)id;
	return xioctl(fd, NPU_MEM_IOCTL_FREE, &a);
}

int npu_dev_handle_info(int fd, uint64_t id, struct npu_dev_handle_info *info)
{
	struct npu_mem_handle_info a;
	int ret;

	memset(&a, 0, sizeof(a));
	a.handle = (uint32_t)id;
	ret = xioctl(fd, NPU_MEM_IOCTL_HANDLE_INFO, &a);
	if (!ret) {
		info->size = a.size;
		info->page_kind = a.page_kind;
		info->origin_device = a.origin_device;
	}
	return ret;
}

int npu_dev_export(int fd, uint64_t id, int no_validation, struct npu_dev_value *v)
{
	struct npu_mem_export a;
	int ret;

	_Static_assert(sizeof(v->fabric) == sizeof(a.fabric), "fabric handle size");
	memset(&a, 0, sizeof(a));
	a.handle = (uint32_t)id;
	a.flags = v->kind | (no_validation ? NPU_MEM_EXPORT_DISABLE_PID_VALIDATION : 0);
	ret = xioctl(fd, NPU_MEM_IOCTL_EXPORT, &a);
	if (!ret) {
		v->value = a.shareable;
		memcpy(v->fabric, &a.fabric, sizeof(v->fabric));
	}
	return ret;
}

int npu_dev_set_pids(int fd, const struct npu_dev_value *v, const int32_t *pids, uint32_t n)
{
	struct npu_mem_set_pids a;

	memset(&a, 0, sizeof(a));
	a.flags = v->kind;
	if (v->kind == NPU_MEM_SHARE_FABRIC)
		memcpy(&a.fabric, v->fabric, sizeof(a.fabric));
	else
		a.shareable = v->value;
	a.pids = (uintptr_t)pids;
	a.count = n;
	return xioctl(fd, NPU_MEM_IOCTL_SET_PIDS, &a);
}

int npu_dev_import(int fd, const struct npu_dev_value *v, uint32_t dev, struct npu_dev_handle *h)
{
	struct npu_mem_import a;
	int ret;

	memset(&a, 0, sizeof(a));
	a.flags = v->kind;
	if (v->kind == NPU_MEM_SHARE_FABRIC)
		memcpy(&a.fabric, v->fabric, sizeof(a.fabric));
	else
		a.shareable = v->value;
	a.device = dev;
	ret = xioctl(fd, NPU_MEM_IOCTL_IMPORT, &a);
	if (!ret) {
		h->id = a.handle;
		h->mmap_offset = a.mmap_offset;
	}
	return ret;
}

int npu_dev_unexport(int fd, uint64_t id)
{
	struct npu_mem_unexport a;

	memset(&a, 0, sizeof(a));
	a.handle = (uint32_t)id;
	return xioctl(fd, NPU_MEM_IOCTL_UNEXPORT, &a);
}

int npu_dev_map(int fd, uint64_t offset, void *va, size_t size, int prot)
{
	if (mmap(va, size, prot, MAP_SHARED | MAP_FIXED, fd, (off_t)offset) == MAP_FAILED)
		return -errno;
	return 0;
}
