/* SPDX-License-Identifier: MIT */
/*
 * libshim's only view of /dev/npu_mem.  Every ioctl and every mmap of the
 * device file lives in npu_dev.c; the rest of the library calls these
 * functions, which return 0 or a negative errno (the kernel's, unchanged).
 */
#ifndef NPU_MEM_SHIM_NPU_DEV_H
#define NPU_MEM_SHIM_NPU_DEV_H

#include <stddef.h>
#include <stdint.h>

#define NPU_DEV_PATH "/dev/npu_mem"

/* A handle ALLOC or IMPORT made: the driver's id and the offset that maps it. */
struct npu_dev_handle {
	uint64_t id;
	uint64_t mmap_offset;	/* for npu_dev_map() */
};

/* What the driver reports about one physical handle of this process. */
struct npu_dev_handle_info {
	uint64_t size;		/* bytes */
	uint32_t page_kind;	/* NPU_MEM_PAGE_* */
	uint32_t origin_device;	/* the device the memory was allocated on */
};

/* What the driver reports about one device (DEVICE_INFO). */
struct npu_dev_info {
	uint64_t total;			/* bytes */
	uint64_t free;			/* bytes */
	uint64_t granularity;		/* of NORMAL and HUGE page kinds */
	uint64_t granularity_huge1g;	/* of HUGE1G */
};

/* Open the device and check its ABI major; *ndev = number of simulated devices. */
int npu_dev_open(int *fd, uint32_t *ndev);
void npu_dev_close(int fd);

int npu_dev_device_info(int fd, uint32_t dev, struct npu_dev_info *info);
int npu_dev_bare_tgid(int fd, int32_t *tgid);

int npu_dev_alloc(int fd, uint32_t dev, uint64_t size, uint32_t page_kind,
		  struct npu_dev_handle *h);
int npu_dev_free(int fd, uint64_t id);
int npu_dev_handle_info(int fd, uint64_t id, struct npu_dev_handle_info *info);

/*
 * A shared value as the driver names it: its kind (0 for a VMM value, or
 * NPU_MEM_SHARE_IPC_KEY or _FABRIC) and the value; a fabric value travels
 * in its 128-byte handle (struct npu_mem_fabric_handle), which is what
 * SET_PIDS and IMPORT are given.
 */
struct npu_dev_value {
	uint32_t kind;
	uint64_t value;
	uint8_t fabric[128];
};

/*
 * Export handle @id as a value of @v->kind (fills the rest of @v).
 * @no_validation: no pid whitelist (ACL's DISABLE_PID_VALIDATION).
 */
int npu_dev_export(int fd, uint64_t id, int no_validation, struct npu_dev_value *v);
int npu_dev_set_pids(int fd, const struct npu_dev_value *v, const int32_t *pids, uint32_t n);
int npu_dev_import(int fd, const struct npu_dev_value *v, uint32_t dev, struct npu_dev_handle *h);
/* Withdraw the IPC key handle @id was exported as. */
int npu_dev_unexport(int fd, uint64_t id);

/*
 * Map the handle at @offset (its mmap_offset from ALLOC or IMPORT) over [va, va + size), which lies
 * in a reservation of ours: MAP_FIXED replaces the PROT_NONE placeholder.
 * prot: PROT_* bits.  On failure the range may be left empty: the kernel
 * removes the old mapping before the driver's mmap handler can refuse.
 */
int npu_dev_map(int fd, uint64_t offset, void *va, size_t size, int prot);

#endif /* NPU_MEM_SHIM_NPU_DEV_H */
