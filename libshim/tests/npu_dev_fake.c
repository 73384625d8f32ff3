// SPDX-License-Identifier: MIT
/*
 * A stand-in for npu_dev.c, for host tests that need aclInit to succeed:
 * the device file is /dev/null (so open and close are real cancellation
 * points, as in the library), each physical handle is a memfd, and a map is
 * a real mmap(MAP_SHARED | MAP_FIXED) of it over the caller's placeholder.
 * Sharing is not simulated (-ENOTTY, as a driver without the ioctl).
 */
#define _GNU_SOURCE	/* memfd_create */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>

#include "npu_dev_fake.h"
#include "uapi/npu_mem.h"

#define FAKE_MAX_HANDLES 1024

struct fake_handle {
	int memfd;		/* -1: slot free */
	uint64_t size;
	uint32_t dev;
	uint32_t page_kind;
};

static pthread_mutex_t fake_lock = PTHREAD_MUTEX_INITIALIZER;
static struct fake_handle fake_tab[FAKE_MAX_HANDLES];
static unsigned int fake_nr;
static uint64_t fake_used[NPU_DEV_FAKE_NDEV];
static uint64_t fake_gran[NPU_DEV_FAKE_NDEV];	/* 0: NPU_MEM_GRANULARITY */
static int fail_err;
static void (*fail_hole)(void *va, size_t size);

void npu_dev_fake_fail_map(int err, void (*hole)(void *va, size_t size))
{
	pthread_mutex_lock(&fake_lock);
	fail_err = err;
	fail_hole = hole;
	pthread_mutex_unlock(&fake_lock);
}

void npu_dev_fake_set_granularity(uint32_t dev, uint64_t granularity)
{
	pthread_mutex_lock(&fake_lock);
	fake_gran[dev] = granularity;
	pthread_mutex_unlock(&fake_lock);
}

/* Caller holds fake_lock. */
static uint64_t fake_granularity(uint32_t dev, uint32_t page_kind)
{
	if (page_kind == NPU_MEM_PAGE_HUGE1G)
		return NPU_MEM_GRANULARITY_HUGE1G;
	return fake_gran[dev] ? fake_gran[dev] : NPU_MEM_GRANULARITY;
}

unsigned int npu_dev_fake_handles(void)
{
	unsigned int n;

	pthread_mutex_lock(&fake_lock);
	n = fake_nr;
	pthread_mutex_unlock(&fake_lock);
	return n;
}

/* Caller holds fake_lock.  Ids are slot + 1 and are reused, as a kernel table's are. */
static struct fake_handle *fake_get(uint64_t id)
{
	if (!id || id > FAKE_MAX_HANDLES || !fake_tab[id - 1].size)
		return NULL;
	return &fake_tab[id - 1];
}

int npu_dev_open(int *fdp, uint32_t *ndev)
{
	int fd = open("/dev/null", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	*fdp = fd;
	*ndev = NPU_DEV_FAKE_NDEV;
	return 0;
}

void npu_dev_close(int fd)
{
	close(fd);
}

int npu_dev_device_info(int fd, uint32_t dev, struct npu_dev_info *info)
{
	(void)fd;
	if (dev >= NPU_DEV_FAKE_NDEV)
		return -ENODEV;
	pthread_mutex_lock(&fake_lock);
	info->total = NPU_DEV_FAKE_MEM;
	info->free = NPU_DEV_FAKE_MEM - fake_used[dev];
	info->granularity = fake_granularity(dev, NPU_MEM_PAGE_NORMAL);
	info->granularity_huge1g = fake_granularity(dev, NPU_MEM_PAGE_HUGE1G);
	pthread_mutex_unlock(&fake_lock);
	return 0;
}

int npu_dev_bare_tgid(int fd, int32_t *tgid)
{
	(void)fd;
	*tgid = getpid();
	return 0;
}

int npu_dev_alloc(int fd, uint32_t dev, uint64_t size, uint32_t page_kind, struct npu_dev_handle *dh)
{
	struct fake_handle *h = NULL;
	unsigned int i;
	int ret = 0;

	(void)fd;
	if (dev >= NPU_DEV_FAKE_NDEV)
		return -ENODEV;
	pthread_mutex_lock(&fake_lock);
	if (!size || size % fake_granularity(dev, page_kind)) {
		ret = -EINVAL;
		goto out;
	}
	for (i = 0; i < FAKE_MAX_HANDLES && !h; i++)
		if (!fake_tab[i].size)
			h = &fake_tab[i];
	if (!h || size > NPU_DEV_FAKE_MEM - fake_used[dev]) {
		ret = -ENOMEM;
		goto out;
	}
	h->memfd = memfd_create("npu_dev_fake", MFD_CLOEXEC);
	if (h->memfd < 0 || ftruncate(h->memfd, (off_t)size)) {
		ret = -errno;
		if (h->memfd >= 0)
			close(h->memfd);
		goto out;
	}
	h->size = size;
	h->dev = dev;
	h->page_kind = page_kind;
	fake_used[dev] += size;
	fake_nr++;
	dh->id = (uint64_t)(h - fake_tab) + 1;
	dh->mmap_offset = dh->id;	/* the stand-in's mmap offset is the id */
out:
	pthread_mutex_unlock(&fake_lock);
	return ret;
}

int npu_dev_free(int fd, uint64_t id)
{
	struct fake_handle *h;

	(void)fd;
	pthread_mutex_lock(&fake_lock);
	h = fake_get(id);
	if (h) {
		close(h->memfd);	/* mappings keep the memory, as VMAs do */
		fake_used[h->dev] -= h->size;
		fake_nr--;
		h->size = 0;
	}
	pthread_mutex_unlock(&fake_lock);
	return h ? 0 : -ENOENT;
}

int npu_dev_handle_info(int fd, uint64_t id, struct npu_dev_handle_info *info)
{
	struct fake_handle *h;

	(void)fd;
	pthread_mutex_lock(&fake_lock);
	h = fake_get(id);
	if (h) {
		info->size = h->size;
		info->page_kind = h->page_kind;
		info->origin_device = h->dev;
	}
	pthread_mutex_unlock(&fake_lock);
	return h ? 0 : -ENOENT;
}

int npu_dev_export(int fd, uint64_t id, int no_validation, struct npu_dev_value *v)
{
	(void)fd; (void)id; (void)no_validation; (void)v;
	return -ENOTTY;
}

int npu_dev_set_pids(int fd, const struct npu_dev_value *v, const int32_t *pids, uint32_t n)
{
	(void)fd; (void)v; (void)pids; (void)n;
	return -ENOTTY;
}

int npu_dev_import(int fd, const struct npu_dev_value *v, uint32_t dev, struct npu_dev_handle *h)
{
	(void)fd; (void)v; (void)dev; (void)h;
	return -ENOTTY;
}

int npu_dev_unexport(int fd, uint64_t id)
{
	(void)fd; (void)id;
	return -ENOTTY;
}

/* As the kernel fails: after MAP_FIXED has removed the old mapping. */
int npu_dev_map(int fd, uint64_t offset, void *va, size_t size, int prot)
{
	uint64_t id = offset;	/* the stand-in's mmap_offset is the id */
	void (*hole)(void *, size_t) = NULL;
	struct fake_handle *h;
	int memfd = -1, err = 0;

	(void)fd;
	pthread_mutex_lock(&fake_lock);
	h = fake_get(id);
	if (h && size != h->size) {
		err = EINVAL;
	} else if (h && fail_err) {
		err = fail_err;
		hole = fail_hole;
		fail_err = 0;
		fail_hole = NULL;
	}
	if (h)
		memfd = h->memfd;
	if (h && !err && mmap(va, size, prot, MAP_SHARED | MAP_FIXED, memfd, 0) == MAP_FAILED)
		err = errno;
	pthread_mutex_unlock(&fake_lock);
	if (!err && h)
		return 0;
	munmap(va, size);
	if (!h)
		err = ENOENT;
	if (hole)
		hole(va, size);
	return -err;
}
