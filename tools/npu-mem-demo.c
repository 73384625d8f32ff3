// SPDX-License-Identifier: GPL-2.0
/*
 * npu-mem-demo: the project's main demonstration.
 *
 * An exporter process allocates device memory on device 0, writes a pattern
 * and exports it with a pid whitelist.  A whitelisted importer (another
 * process) imports it onto device 1, maps it and reads the pattern back.  A
 * process that is not on the whitelist is refused, and says why.  At the end
 * both devices' free memory is back where it started.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "uapi/npu_mem.h"

#define SIZE	(8ULL << 20)
#define PATTERN	"npu_mem: hello from the exporter, block %zu"

static int npu_open(void)
{
	int fd = open("/dev/" NPU_MEM_DEVICE_NAME, O_RDWR | O_CLOEXEC);

	if (fd < 0) {
		fprintf(stderr, "cannot open /dev/%s: %s (is npu_mem.ko loaded?)\n",
			NPU_MEM_DEVICE_NAME, strerror(errno));
		exit(1);
	}
	return fd;
}

static void die(const char *who, const char *what)
{
	fprintf(stderr, "%s: %s failed: %s\n", who, what, strerror(errno));
	exit(1);
}

static uint64_t dev_free(int fd, uint32_t dev)
{
	struct npu_mem_device_info info = { .device = dev };

	if (ioctl(fd, NPU_MEM_IOCTL_DEVICE_INFO, &info))
		die("demo", "DEVICE_INFO");
	return info.free;
}

static void *map_whole(int fd, uint64_t off, const char *who)
{
	/* Reserve an address range, then map the object into it (aclrtMapMem). */
	void *va = mmap(NULL, SIZE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (va == MAP_FAILED ||
	    mmap(va, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, off) == MAP_FAILED)
		die(who, "mmap");
	return va;
}

static const char *import_error(int err)
{
	switch (err) {
	case EACCES: return "not on the whitelist (ACL 507899)";
	case ENOENT: return "no such shareable handle (ACL 107017)";
	case EEXIST: return "already imported by this process (ACL 107017)";
	case ELOOP:  return "the exporter cannot import its own handle (ACL 507899)";
	case ENODEV: return "invalid device (ACL 107001)";
	default:     return strerror(err);
	}
}

/* Child: send our bare tgid, receive the value, try to import and read. */
static int importer(const char *name, int to_parent, int from_parent, uint32_t dev)
{
	struct npu_mem_bare_tgid tg = { 0 };
	struct npu_mem_import im = { .device = dev };
	int fd = npu_open();
	char *va;

	if (ioctl(fd, NPU_MEM_IOCTL_BARE_TGID, &tg))
		die(name, "BARE_TGID");
	if (write(to_parent, &tg.tgid, sizeof(tg.tgid)) != sizeof(tg.tgid) ||
	    read(from_parent, &im.shareable, sizeof(im.shareable)) != sizeof(im.shareable))
		die(name, "pipe");
	printf("[%s pid %d] importing 0x%016llx onto device %u\n", name, tg.tgid,
	       (unsigned long long)im.shareable, dev);
	if (ioctl(fd, NPU_MEM_IOCTL_IMPORT, &im)) {
		printf("[%s pid %d] import REFUSED: %s\n", name, tg.tgid, import_error(errno));
		return errno == EACCES ? 10 : 1;
	}
	va = map_whole(fd, im.mmap_offset, name);
	printf("[%s pid %d] mapped at %p, first block reads: \"%s\"\n", name, tg.tgid,
	       (void *)va, va);
	printf("[%s pid %d] last block reads:  \"%s\"\n", name, tg.tgid, va + SIZE - 4096);
	{
		char want[64];

		snprintf(want, sizeof(want), PATTERN, (size_t)(SIZE / 4096 - 1));
		if (strcmp(va + SIZE - 4096, want))
			return 1;
	}
	munmap(va, SIZE);
	close(fd);		/* frees the imported handle */
	return 0;
}

static pid_t spawn(const char *name, uint32_t dev, int *to_child, int *from_child)
{
	int a[2], b[2];
	pid_t pid;

	if (pipe(a) || pipe(b))
		die("demo", "pipe");
	pid = fork();
	if (pid == 0) {
		close(a[1]);
		close(b[0]);
		fflush(stdout);
		exit(importer(name, b[1], a[0], dev));
	}
	close(a[0]);
	close(b[1]);
	*to_child = a[1];
	*from_child = b[0];
	return pid;
}

int main(void)
{
	struct npu_mem_version ver = { 0 };
	struct npu_mem_alloc al = { .device = 0, .size = SIZE, .page_kind = NPU_MEM_PAGE_HUGE };
	struct npu_mem_export ex = { 0 };
	struct npu_mem_set_pids sp = { .count = 1 };
	int fd = npu_open(), to_imp, from_imp, to_out, from_out, st_imp, st_out, ok;
	uint64_t free0, free1;
	pid_t imp, out;
	int32_t pid;
	char *va;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (ioctl(fd, NPU_MEM_IOCTL_VERSION, &ver))
		die("demo", "VERSION");
	free0 = dev_free(fd, 0);
	free1 = dev_free(fd, 1);
	printf("npu_mem ABI %u.%u, %u simulated devices; free: device 0 %llu MiB, device 1 %llu MiB\n",
	       ver.abi_major, ver.abi_minor, ver.num_devices,
	       (unsigned long long)(free0 >> 20), (unsigned long long)(free1 >> 20));

	if (ioctl(fd, NPU_MEM_IOCTL_ALLOC, &al))
		die("exporter", "ALLOC");
	printf("[exporter pid %d] allocated %llu MiB on device 0 (handle %u)\n", getpid(),
	       (unsigned long long)(SIZE >> 20), al.handle);
	va = map_whole(fd, al.mmap_offset, "exporter");
	for (size_t i = 0; i < SIZE / 4096; i++)
		snprintf(va + i * 4096, 4096, PATTERN, i);
	printf("[exporter pid %d] wrote \"%s\" ...\n", getpid(), va);

	ex.handle = al.handle;
	if (ioctl(fd, NPU_MEM_IOCTL_EXPORT, &ex))
		die("exporter", "EXPORT");
	printf("[exporter pid %d] exported as shareable handle 0x%016llx (pid whitelist on)\n",
	       getpid(), (unsigned long long)ex.shareable);

	imp = spawn("importer", 1, &to_imp, &from_imp);
	out = spawn("outsider", 0, &to_out, &from_out);
	if (read(from_imp, &pid, sizeof(pid)) != sizeof(pid))
		die("exporter", "pipe");
	sp.shareable = ex.shareable;
	sp.pids = (uintptr_t)&pid;
	if (ioctl(fd, NPU_MEM_IOCTL_SET_PIDS, &sp))
		die("exporter", "SET_PIDS");
	printf("[exporter pid %d] whitelisted pid %d (the importer); the outsider is not\n",
	       getpid(), pid);
	if (read(from_out, &pid, sizeof(pid)) != sizeof(pid) ||
	    write(to_out, &ex.shareable, sizeof(ex.shareable)) != sizeof(ex.shareable) ||
	    write(to_imp, &ex.shareable, sizeof(ex.shareable)) != sizeof(ex.shareable))
		die("exporter", "pipe");
	waitpid(out, &st_out, 0);
	waitpid(imp, &st_imp, 0);

	munmap(va, SIZE);
	close(fd);
	fd = npu_open();
	printf("[exporter pid %d] unmapped and freed\n", getpid());
	printf("free now: device 0 %llu MiB, device 1 %llu MiB\n",
	       (unsigned long long)(dev_free(fd, 0) >> 20),
	       (unsigned long long)(dev_free(fd, 1) >> 20));

	ok = WIFEXITED(st_imp) && WEXITSTATUS(st_imp) == 0 &&
	     WIFEXITED(st_out) && WEXITSTATUS(st_out) == 10 &&
	     dev_free(fd, 0) == free0 && dev_free(fd, 1) == free1;
	printf("%s: importer %s, outsider %s, device memory %s\n",
	       ok ? "DEMO OK" : "DEMO FAILED",
	       WIFEXITED(st_imp) && !WEXITSTATUS(st_imp) ? "read the pattern" : "FAILED",
	       WIFEXITED(st_out) && WEXITSTATUS(st_out) == 10 ? "refused" : "NOT refused",
	       dev_free(fd, 0) == free0 && dev_free(fd, 1) == free1 ? "all back" : "LEAKED");
	close(fd);
	return ok ? 0 : 1;
}
