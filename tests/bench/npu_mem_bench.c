// SPDX-License-Identifier: GPL-2.0
/*
 * npu-mem-bench: npu_mem against its peers, measured side by side in one run
 * (run in the VM by tests/bench/run-bench, i.e. `make bench`).
 *
 * Every figure is printed as a human line and as a "CSV,section,metric,value,
 * unit,vs,ratio" line that run-bench collects.  Ratios compare figures taken
 * in the same run, which stay meaningful on a noisy machine; absolute times do
 * not.  Targets are tracked here, never asserted.
 *
 *   npu-mem-bench [--quick] [SECTION...]
 *   sections: latency share firsttouch mapping scaling concurrency (default: all)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/dma-heap.h>
#include <linux/memfd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/user/npu.h"

#define KIB (1ULL << 10)
#define GIB (1ULL << 30)

static int quick;

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static void die(const char *what)
{
	fprintf(stderr, "npu-mem-bench: %s: %s\n", what, strerror(errno));
	exit(1);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Percentile @p (0-100) of @n samples; sorts them. */
static double pct(double *v, size_t n, double p)
{
	size_t i;

	qsort(v, n, sizeof(*v), cmp_double);
	i = (size_t)(p / 100.0 * (n - 1) + 0.5);
	return v[i];
}

static void report(const char *section, const char *metric, double value,
		   const char *unit, const char *vs, double ratio)
{
	if (vs)
		printf("  %-44s %12.2f %-6s %6.2fx %s\n", metric, value, unit, ratio, vs);
	else
		printf("  %-44s %12.2f %s\n", metric, value, unit);
	printf("CSV,%s,%s,%.3f,%s,%s,%.3f\n", section, metric, value, unit,
	       vs ? vs : "", vs ? ratio : 0.0);
	fflush(stdout);
}

/* Shared, zeroed memory visible to forked children. */
static void *shared_alloc(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		die("mmap shared");
	return p;
}

static int alloc_kind(int fd, uint32_t dev, uint64_t size, uint32_t kind, uint32_t *h,
		      uint64_t *off)
{
	struct npu_mem_alloc a = { .device = dev, .size = size, .page_kind = kind };
	int r = ioctl(fd, NPU_MEM_IOCTL_ALLOC, &a);

	if (!r) {
		*h = a.handle;
		*off = a.mmap_offset;
	}
	return r;
}

static uint64_t granularity(void)
{
	struct npu_mem_device_info info = { .device = 0 };
	int fd = npu_open();

	if (fd < 0 || ioctl(fd, NPU_MEM_IOCTL_DEVICE_INFO, &info))
		die("DEVICE_INFO");
	close(fd);
	return info.granularity;
}

static void touch_pages(volatile char *p, size_t size)
{
	for (size_t i = 0; i < size; i += 4096)
		p[i] = 1;
}

static void send_fd(int sock, int fd)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 }, byte = 0;
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);

	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	if (sendmsg(sock, &msg, 0) != 1)
		die("sendmsg");
}

static int recv_fd(int sock)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 }, byte;
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *c;
	int fd;

	if (recvmsg(sock, &msg, 0) != 1)
		die("recvmsg");
	c = CMSG_FIRSTHDR(&msg);
	if (!c || c->cmsg_type != SCM_RIGHTS)
		die("no fd received");
	memcpy(&fd, CMSG_DATA(c), sizeof(int));
	return fd;
}

/* ---- 1. latency of each operation against a null ioctl ---- */

static double null_ioctl_p50;

static void bench_latency(void)
{
	int n = quick ? 2000 : 20000, m = quick ? 200 : 2000, fd = npu_open(), i;
	struct npu_mem_version ver = { 0 };
	double *t = calloc(n, sizeof(*t)), *shared, p50, p99, t0;
	uint64_t gran = granularity(), off, *values;
	uint32_t *handles;
	int chan[2][2];
	pid_t child;

	if (fd < 0 || !t)
		die("open");
	printf("\n[latency] %d null ioctls, %d of each operation\n", n, m);
	for (i = 0; i < n; i++) {
		t0 = now_ns();
		ioctl(fd, NPU_MEM_IOCTL_VERSION, &ver);
		t[i] = now_ns() - t0;
	}
	null_ioctl_p50 = pct(t, n, 50);
	report("latency", "null ioctl p50", null_ioctl_p50 / 1e3, "us", NULL, 0);
	report("latency", "null ioctl p99", pct(t, n, 99) / 1e3, "us", NULL, 0);

	for (i = 0; i < m; i++) {
		uint32_t h;

		t0 = now_ns();
		if (npu_alloc(fd, 0, 2 * MIB, &h, &off) || npu_free(fd, h))
			die("alloc+free");
		t[i] = now_ns() - t0;
	}
	p50 = pct(t, m, 50);
	p99 = pct(t, m, 99);
	report("latency", "alloc+free 2 MiB p50", p50 / 1e3, "us", "null ioctl", p50 / null_ioctl_p50);
	report("latency", "alloc+free 2 MiB p99", p99 / 1e3, "us", "null ioctl", p99 / null_ioctl_p50);

	/* export and set-pids here; import in a second process. */
	handles = calloc(m, sizeof(*handles));
	values = shared_alloc(m * sizeof(*values));
	shared = shared_alloc(m * sizeof(*shared));
	if (pipe(chan[0]) || pipe(chan[1]))
		die("pipe");
	child = fork();
	if (child == 0) {
		int cfd = npu_open();
		uint32_t h;

		/* Only our ends: a parent that dies must give us EOF, not a hang. */
		close(chan[0][1]);
		close(chan[1][0]);
		put64(chan[1][1], (uint64_t)npu_bare_tgid(cfd));
		get64(chan[0][0]);
		for (i = 0; i < m; i++) {
			t0 = now_ns();
			if (npu_import(cfd, values[i], 1, &h, NULL))
				_exit(4);
			shared[i] = now_ns() - t0;
		}
		_exit(0);
	}
	for (i = 0; i < m; i++)
		if (npu_alloc(fd, 0, gran, &handles[i], &off))
			die("alloc");
	for (i = 0; i < m; i++) {
		t0 = now_ns();
		if (npu_export(fd, handles[i], 0, &values[i]))
			die("export");
		t[i] = now_ns() - t0;
	}
	p50 = pct(t, m, 50);
	report("latency", "export p50", p50 / 1e3, "us", "null ioctl", p50 / null_ioctl_p50);
	report("latency", "export p99", pct(t, m, 99) / 1e3, "us", "null ioctl",
	       pct(t, m, 99) / null_ioctl_p50);
	{
		int32_t pid = (int32_t)get64(chan[1][0]);

		for (i = 0; i < m; i++) {
			t0 = now_ns();
			if (npu_set_pids(fd, values[i], &pid, 1))
				die("set-pids");
			t[i] = now_ns() - t0;
		}
	}
	p50 = pct(t, m, 50);
	report("latency", "set-pids (1 pid) p50", p50 / 1e3, "us", "null ioctl", p50 / null_ioctl_p50);
	report("latency", "set-pids (1 pid) p99", pct(t, m, 99) / 1e3, "us", "null ioctl",
	       pct(t, m, 99) / null_ioctl_p50);
	put64(chan[0][1], 1);
	if (reap(child) != 0)
		die("importer child");
	p50 = pct(shared, m, 50);
	p99 = pct(shared, m, 99);
	report("latency", "import p50", p50 / 1e3, "us", "null ioctl", p50 / null_ioctl_p50);
	report("latency", "import p99", p99 / 1e3, "us", "null ioctl", p99 / null_ioctl_p50);

	/* The peers' import: receiving an fd over SCM_RIGHTS (and closing it). */
	{
		int sv[2], mfd = memfd_create("bench", MFD_CLOEXEC);

		if (mfd < 0 || socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
			die("memfd/socketpair");
		for (i = 0; i < m; i++) {
			int fd;

			send_fd(sv[0], mfd);
			t0 = now_ns();
			fd = recv_fd(sv[1]);
			t[i] = now_ns() - t0;
			close(fd);
		}
		close(sv[0]);
		close(sv[1]);
		close(mfd);
		p50 = pct(t, m, 50);
		report("latency", "peer: SCM_RIGHTS fd receive p50", p50 / 1e3, "us", "null ioctl",
		       p50 / null_ioctl_p50);
	}
	for (i = 0; i < m; i++)
		npu_free(fd, handles[i]);
	munmap(values, m * sizeof(*values));
	munmap(shared, m * sizeof(*shared));
	free(handles);
	free(t);
	close(fd);
}

/* ---- 2. end-to-end sharing A -> B, against memfd and dma-buf heaps ---- */

enum peer { PEER_NPU, PEER_MEMFD, PEER_DMABUF };
static const char *const peer_name[] = { "npu_mem", "memfd+SCM_RIGHTS", "dma-buf heap+SCM_RIGHTS" };

/*
 * Process B of one round: receive the object, map it, touch every page, tell
 * A, then (untimed) drop everything.
 */
static void share_b(enum peer peer, int sock, uint64_t size, int npu_fd)
{
	uint32_t h = 0;
	uint64_t off = 0;
	void *va;
	int fd = -1;

	if (peer == PEER_NPU) {
		uint64_t value;

		if (read(sock, &value, sizeof(value)) != sizeof(value))
			die("read value");
		if (npu_import(npu_fd, value, 1, &h, &off))
			die("import");
		va = npu_map(npu_fd, off, size);
	} else {
		fd = recv_fd(sock);
		va = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (va == MAP_FAILED)
			va = NULL;
	}
	if (!va)
		die("B map");
	touch_pages(va, size);
	if (write(sock, "d", 1) != 1)
		die("write done");
	munmap(va, size);
	if (peer == PEER_NPU)
		npu_free(npu_fd, h);
	else
		close(fd);
}

/* Process A of one round; returns the end-to-end time in ns. */
static double share_a(enum peer peer, int sock, uint64_t size, int npu_fd, int heap_fd,
		      int32_t b_tgid)
{
	double t0 = now_ns(), t;
	uint32_t h = 0;
	uint64_t off;
	int fd = -1;
	char done;

	switch (peer) {
	case PEER_NPU: {
		uint64_t value;

		if (npu_alloc(npu_fd, 0, size, &h, &off) || npu_export(npu_fd, h, 0, &value) ||
		    npu_set_pids(npu_fd, value, &b_tgid, 1))
			die("A: alloc/export/set-pids");
		if (write(sock, &value, sizeof(value)) != sizeof(value))
			die("write value");
		break;
	}
	case PEER_MEMFD:
		fd = memfd_create("bench", MFD_CLOEXEC);
		if (fd < 0 || ftruncate(fd, size))
			die("memfd");
		send_fd(sock, fd);
		break;
	case PEER_DMABUF: {
		struct dma_heap_allocation_data d = {
			.len = size, .fd_flags = O_RDWR | O_CLOEXEC,
		};

		if (ioctl(heap_fd, DMA_HEAP_IOCTL_ALLOC, &d))
			die("DMA_HEAP_IOCTL_ALLOC");
		fd = d.fd;
		send_fd(sock, fd);
		break;
	}
	}
	if (read(sock, &done, 1) != 1)
		die("read done");
	t = now_ns() - t0;
	if (peer == PEER_NPU)
		npu_free(npu_fd, h);
	else
		close(fd);
	return t;
}

/* One line per peer; ratio > 1: npu_mem is that many times faster than the peer. */
static void report_share(const char *what, uint64_t size, const double *t)
{
	for (int p = PEER_NPU; p <= PEER_DMABUF; p++) {
		char metric[96];

		snprintf(metric, sizeof(metric), "%s %llu MiB: %s", what,
			 (unsigned long long)(size / MIB), peer_name[p]);
		if (p == PEER_NPU)
			report("share", metric, t[p] / 1e3, "us", NULL, 0);
		else
			report("share", metric, t[p] / 1e3, "us", "npu_mem speedup",
			       t[p] / t[PEER_NPU]);
	}
}

static void bench_share(void)
{
	static const uint64_t sizes[] = { 2 * MIB, 256 * MIB };
	int heap_fd = open("/dev/dma_heap/system", O_RDONLY | O_CLOEXEC);
	double med[3], p90[3];

	if (heap_fd < 0)
		die("open /dev/dma_heap/system");
	printf("\n[share] A allocates and shares, B maps and touches every page (median of rounds)\n");
	for (unsigned int s = 0; s < 2; s++) {
		uint64_t size = sizes[s];
		int rounds = size > 64 * MIB ? (quick ? 3 : 7) : (quick ? 20 : 100);
		double *t = calloc(rounds, sizeof(*t));

		for (int p = PEER_NPU; p <= PEER_DMABUF; p++) {
			int sv[2];
			pid_t b;
			int32_t b_tgid;
			int afd = npu_open();

			if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
				die("socketpair");
			b = fork();
			if (b == 0) {
				int bfd = npu_open();
				int32_t tg = npu_bare_tgid(bfd);

				close(sv[0]);
				if (write(sv[1], &tg, sizeof(tg)) != sizeof(tg))
					_exit(1);
				for (int r = 0; r < rounds; r++)
					share_b(p, sv[1], size, bfd);
				_exit(0);
			}
			close(sv[1]);
			if (read(sv[0], &b_tgid, sizeof(b_tgid)) != sizeof(b_tgid))
				die("read tgid");
			for (int r = 0; r < rounds; r++)
				t[r] = share_a(p, sv[0], size, afd, heap_fd, b_tgid);
			if (reap(b) != 0)
				die("process B failed");
			close(sv[0]);
			close(afd);
			med[p] = pct(t, rounds, 50);
			p90[p] = pct(t, rounds, 90);
		}
		report_share("share", size, med);
		/* Back-to-back rounds can outrun the zeroed reserve: show the tail too. */
		report_share("p90 of share", size, p90);
		free(t);
	}
	close(heap_fd);
}

/* ---- 3. map + first touch of a 1 GiB imported object vs memset ---- */

static void bench_firsttouch(void)
{
	uint64_t size = quick ? 256 * MIB : GIB, value, off;
	int chan[2], fd = npu_open();
	uint32_t h;
	pid_t b;

	printf("\n[firsttouch] import, map and write all of a %llu MiB HUGE1G object\n",
	       (unsigned long long)(size / MIB));
	if (alloc_kind(fd, 0, size, quick ? NPU_MEM_PAGE_HUGE : NPU_MEM_PAGE_HUGE1G, &h, &off) ||
	    npu_export(fd, h, NPU_MEM_EXPORT_DISABLE_PID_VALIDATION, &value))
		die("alloc/export 1 GiB");
	if (pipe(chan))
		die("pipe");
	b = fork();
	if (b == 0) {
		int bfd = npu_open();
		double t0, first, again;
		uint32_t bh;
		uint64_t boff;
		void *va;

		t0 = now_ns();
		if (npu_import(bfd, value, 1, &bh, &boff))
			die("import");
		va = npu_map(bfd, boff, size);
		if (!va)
			die("map");
		memset(va, 0x5a, size);
		first = now_ns() - t0;
		t0 = now_ns();
		memset(va, 0xa5, size);
		again = now_ns() - t0;
		report("firsttouch", "import+map+first write GB/s", size / first, "GB/s", NULL, 0);
		report("firsttouch", "memset over touched mapping GB/s", size / again, "GB/s", NULL, 0);
		report("firsttouch", "first touch / memset bandwidth", again / first, "ratio",
		       NULL, 0);
		_exit(0);
	}
	if (reap(b) != 0)
		die("first-touch child");
	npu_free(fd, h);
	close(fd);
}

/* ---- 3b. mmap cost, page tables and first touch of big mappings ---- */

enum map_peer { MP_NPU, MP_DMABUF, MP_HUGETLB, MP_PEERS };
static const char *const map_peer_name[] = { "npu_mem", "dma-buf heap", "hugetlb memfd" };

struct map_figures {
	double mmap_ns, first_ns, again_ns;	/* mmap; mmap + first write; memset after */
	long pte_kb;				/* VmPTE growth, mmap + first write */
	int ok;
};

static int write_file(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), ok;

	if (fd < 0)
		return -1;
	ok = write(fd, val, strlen(val)) == (ssize_t)strlen(val);
	close(fd);
	return ok ? 0 : -1;
}

/*
 * In a process of its own (its page tables are the mapping's only): make the
 * peer's object of @size untimed, then time mmap(NULL) of it, the first write
 * of every byte, and a memset of the now mapped memory.
 */
static void map_child(enum map_peer peer, uint64_t size, int out)
{
	struct map_figures f = { 0 };
	uint64_t off = 0;
	long pte0;
	double t0;
	int fd = -1;
	void *va;

	switch (peer) {
	case MP_NPU: {
		uint32_t h;

		fd = npu_open();
		if (fd < 0 || alloc_kind(fd, 0, size, NPU_MEM_PAGE_HUGE, &h, &off))
			goto out;
		break;
	}
	case MP_DMABUF: {
		struct dma_heap_allocation_data d = {
			.len = size, .fd_flags = O_RDWR | O_CLOEXEC,
		};
		int heap = open("/dev/dma_heap/system", O_RDONLY | O_CLOEXEC);

		if (heap < 0 || ioctl(heap, DMA_HEAP_IOCTL_ALLOC, &d))
			goto out;
		fd = d.fd;
		break;
	}
	case MP_HUGETLB:
		fd = memfd_create("bench", MFD_CLOEXEC | MFD_HUGETLB | MFD_HUGE_2MB);
		if (fd < 0 || ftruncate(fd, size))
			goto out;
		break;
	default:
		goto out;
	}
	pte0 = vm_pte_kb();
	t0 = now_ns();
	va = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, off);
	f.mmap_ns = now_ns() - t0;
	if (va == MAP_FAILED)
		goto out;
	memset(va, 0x5a, size);
	f.first_ns = now_ns() - t0;
	f.pte_kb = vm_pte_kb() - pte0;
	t0 = now_ns();
	memset(va, 0xa5, size);
	f.again_ns = now_ns() - t0;
	f.ok = 1;
out:
	if (write(out, &f, sizeof(f)) != sizeof(f))
		_exit(1);
	_exit(0);
}

static struct map_figures map_measure_once(enum map_peer peer, uint64_t size)
{
	struct map_figures f = { 0 };
	char pages[32];
	int p[2];
	pid_t c;

	/* hugetlb: a pool of exactly the pages the memfd needs, for this run only. */
	snprintf(pages, sizeof(pages), "%llu", (unsigned long long)(size / (2 * MIB)));
	if (peer == MP_HUGETLB && write_file("/proc/sys/vm/nr_hugepages", pages))
		return f;
	if (pipe(p))
		die("pipe");
	c = fork();
	if (c == 0)
		map_child(peer, size, p[1]);
	if (read(p[0], &f, sizeof(f)) != sizeof(f))
		f.ok = 0;
	reap(c);
	close(p[0]);
	close(p[1]);
	if (peer == MP_HUGETLB)
		write_file("/proc/sys/vm/nr_hugepages", "0");
	return f;
}

/* The median of @reps measurements of each figure (a noisy machine shares the cores). */
static struct map_figures map_measure(enum map_peer peer, uint64_t size, int reps)
{
	double mmap_ns[5], first_ns[5], again_ns[5], pte[5];
	struct map_figures f = { .ok = 1 }, one;

	for (int r = 0; r < reps; r++) {
		one = map_measure_once(peer, size);
		if (!one.ok)
			return one;
		mmap_ns[r] = one.mmap_ns;
		first_ns[r] = one.first_ns;
		again_ns[r] = one.again_ns;
		pte[r] = one.pte_kb;
	}
	f.mmap_ns = pct(mmap_ns, reps, 50);
	f.first_ns = pct(first_ns, reps, 50);
	f.again_ns = pct(again_ns, reps, 50);
	f.pte_kb = (long)pct(pte, reps, 50);
	return f;
}

static void bench_mapping(void)
{
	static const uint64_t sizes[] = { GIB, 4 * GIB };
	static const uint64_t quick_sizes[] = { 256 * MIB, GIB };

	printf("\n[mapping] mmap of a whole object, its first write and a memset after it,"
	       " in a fresh process (median of %d)\n", quick ? 1 : 3);
	for (unsigned int s = 0; s < 2; s++) {
		uint64_t size = quick ? quick_sizes[s] : sizes[s];
		double gib = (double)size / GIB;
		struct map_figures f[MP_PEERS];
		char m[128];

		for (int p = MP_NPU; p < MP_PEERS; p++)
			f[p] = map_measure(p, size, quick ? 1 : 3);
		if (!f[MP_NPU].ok) {
			printf("  npu_mem: could not map %llu MiB\n", (unsigned long long)(size / MIB));
			continue;
		}
		for (int p = MP_NPU; p < MP_PEERS; p++) {
			const struct map_figures *n = &f[MP_NPU], *x = &f[p];
			int npu = p == MP_NPU;

			if (!x->ok) {
				printf("  %s: could not map %llu MiB\n", map_peer_name[p],
				       (unsigned long long)(size / MIB));
				continue;
			}
			snprintf(m, sizeof(m), "map %llu MiB: mmap (%s)",
				 (unsigned long long)(size / MIB), map_peer_name[p]);
			report("mapping", m, x->mmap_ns / 1e3, "us", npu ? NULL : "npu_mem speedup",
			       x->mmap_ns / n->mmap_ns);
			snprintf(m, sizeof(m), "map %llu MiB: page tables per GiB (%s)",
				 (unsigned long long)(size / MIB), map_peer_name[p]);
			report("mapping", m, x->pte_kb / gib, "KiB", NULL, 0);
			snprintf(m, sizeof(m), "map %llu MiB: mmap+first write (%s)",
				 (unsigned long long)(size / MIB), map_peer_name[p]);
			report("mapping", m, x->first_ns / 1e6, "ms", npu ? NULL : "npu_mem speedup",
			       x->first_ns / n->first_ns);
			snprintf(m, sizeof(m), "map %llu MiB: memset after / mmap+first write (%s)",
				 (unsigned long long)(size / MIB), map_peer_name[p]);
			report("mapping", m, x->again_ns / x->first_ns, "ratio", NULL, 0);
		}
		if (f[MP_HUGETLB].ok) {
			/* The page-table goal against hugetlb, as one figure (<= 0: met). */
			snprintf(m, sizeof(m), "map %llu MiB: page tables per GiB (npu_mem - hugetlb memfd)",
				 (unsigned long long)(size / MIB));
			report("mapping", m, (f[MP_NPU].pte_kb - f[MP_HUGETLB].pte_kb) / gib, "KiB",
			       NULL, 0);
		}
	}
}

/* ---- 4. import latency against the number of live shareable values ---- */

static long slab_kb(void)
{
	char line[256];
	long kb = -1;
	FILE *f = fopen("/proc/meminfo", "r");

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "Slab: %ld kB", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return kb;
}

/*
 * The same random pattern on a kernel lookup that is not ours: fcntl(F_GETFD)
 * of one of N open eventfds (fd table, then a struct file each).  Its ratio
 * says what cold data costs a lookup on this machine.
 */
static void bench_scaling_peer(const long *counts, int ncounts, double *t, int samples)
{
	long max = counts[ncounts - 1], open_fds = 0;
	struct rlimit rl = { .rlim_cur = max + 64, .rlim_max = max + 64 };
	int *fds = calloc(max, sizeof(*fds));
	double base = 0;

	if (!fds || setrlimit(RLIMIT_NOFILE, &rl))
		die("setrlimit RLIMIT_NOFILE (peer: eventfds)");
	for (int c = 0; c < ncounts; c++) {
		char metric[96];
		double p50;

		for (; open_fds < counts[c]; open_fds++) {
			fds[open_fds] = eventfd(0, EFD_CLOEXEC);
			if (fds[open_fds] < 0)
				die("eventfd");
		}
		srandom(c + 1);
		for (int i = 0; i < samples; i++) {
			long k = random() % open_fds;
			double t0 = now_ns();

			if (fcntl(fds[k], F_GETFD) < 0)
				die("F_GETFD");
			t[i] = now_ns() - t0;
		}
		p50 = pct(t, samples, 50);
		if (c == 0)
			base = p50;
		snprintf(metric, sizeof(metric), "peer: F_GETFD p50 with %ld open eventfds", counts[c]);
		report("scaling", metric, p50 / 1e3, "us", "1 open eventfd", p50 / base);
	}
	for (long i = 0; i < open_fds; i++)
		close(fds[i]);
	free(fds);
}

static void bench_scaling(void)
{
	static const long counts[] = { 1, 1000, 100000, 1000000 };
	int samples = quick ? 200 : 1000, fd = npu_open(), ncounts = quick ? 3 : 4;
	uint64_t gran = granularity(), off;
	long live = 0, max = counts[ncounts - 1];
	uint64_t *values = shared_alloc(max * sizeof(*values));
	double *t = shared_alloc(samples * sizeof(*t)), base = 0;
	uint32_t *handles = calloc(max, sizeof(*handles));
	long slab0 = slab_kb();

	printf("\n[scaling] import latency with N live shareable values (granularity %llu KiB)\n",
	       (unsigned long long)(gran / KIB));
	for (int c = 0; c < ncounts; c++) {
		char metric[96];
		double p50;
		pid_t b;

		for (; live < counts[c]; live++)
			if (npu_alloc(fd, 0, gran, &handles[live], &off) ||
			    npu_export(fd, handles[live], NPU_MEM_EXPORT_DISABLE_PID_VALIDATION,
				       &values[live]))
				die("alloc/export (raise mem_mb or use a smaller granularity)");
		if (counts[c] == 100000) {
			long slab = slab_kb();

			report("scaling", "kernel memory per exported object", (slab - slab0) * 1024.0 /
			       live, "bytes", NULL, 0);
		}
		b = fork();
		if (b == 0) {
			int bfd = npu_open();
			uint32_t bh;

			srandom(c + 1);
			for (int i = 0; i < samples; i++) {
				long k = random() % live;
				double t0 = now_ns();

				if (npu_import(bfd, values[k], 1, &bh, NULL))
					_exit(4);
				t[i] = now_ns() - t0;
				npu_free(bfd, bh);
			}
			_exit(0);
		}
		if (reap(b) != 0)
			die("scaling child");
		p50 = pct(t, samples, 50);
		if (c == 0)
			base = p50;
		snprintf(metric, sizeof(metric), "import p50 with %ld live values", counts[c]);
		report("scaling", metric, p50 / 1e3, "us", "1 live value", p50 / base);
	}
	for (long i = 0; i < live; i++)
		npu_free(fd, handles[i]);
	free(handles);
	munmap(values, max * sizeof(*values));
	close(fd);
	bench_scaling_peer(counts, ncounts, t, samples);
	munmap(t, samples * sizeof(*t));
}

/* ---- 5. concurrency: P processes importing and freeing ---- */

static void bench_concurrency(void)
{
	static const int procs[] = { 1, 2, 4, 8 };
	int per = quick ? 500 : 100000, fd = npu_open();
	int total = per * 8;
	uint64_t gran = granularity(), off;
	uint64_t *values = calloc(total, sizeof(*values));
	uint32_t *handles = calloc(total, sizeof(*handles));
	double one = 0;

	printf("\n[concurrency] P processes, each importing and freeing %d values\n", per);
	for (int i = 0; i < total; i++)
		if (npu_alloc(fd, 0, gran, &handles[i], &off) ||
		    npu_export(fd, handles[i], NPU_MEM_EXPORT_DISABLE_PID_VALIDATION, &values[i]))
			die("alloc/export");
	/* Second pass: the same processes doing null ioctls, what the machine allows. */
	for (unsigned int c = 0; c < 2 * sizeof(procs) / sizeof(procs[0]); c++) {
		int null_peer = c >= sizeof(procs) / sizeof(procs[0]);
		int go[2], p = procs[c % (sizeof(procs) / sizeof(procs[0]))];
		struct npu_mem_version ver = { 0 };
		double t0, ops;
		char metric[64];
		pid_t kids[8];

		if (pipe(go))
			die("pipe");
		for (int k = 0; k < p; k++) {
			kids[k] = fork();
			if (kids[k] == 0) {
				int kfd = npu_open();
				char x;
				uint32_t h;

				close(go[1]);
				if (read(go[0], &x, 1) != 0)
					_exit(5);
				for (int i = 0; i < per && !null_peer; i++)
					if (npu_import(kfd, values[k * per + i], 0, &h, NULL) ||
					    npu_free(kfd, h))
						_exit(4);
				for (int i = 0; i < 2 * per && null_peer; i++)
					if (ioctl(kfd, NPU_MEM_IOCTL_VERSION, &ver))
						_exit(4);
				_exit(0);
			}
		}
		close(go[0]);
		usleep(100000);		/* let every child reach read() */
		t0 = now_ns();
		close(go[1]);		/* start them all */
		for (int k = 0; k < p; k++)
			if (reap(kids[k]) != 0)
				die("concurrency child");
		ops = 2.0 * per * p / ((now_ns() - t0) / 1e9);
		if (p == 1)
			one = ops;
		snprintf(metric, sizeof(metric), "%s ops/s with %d process%s",
			 null_peer ? "peer: null ioctl" : "import+free", p, p == 1 ? "" : "es");
		report("concurrency", metric, ops, "ops/s", "1 process", ops / one);
	}
	for (int i = 0; i < total; i++)
		npu_free(fd, handles[i]);
	free(values);
	free(handles);
	close(fd);
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		void (*fn)(void);
	} sections[] = {
		{ "latency", bench_latency },
		{ "share", bench_share },
		{ "firsttouch", bench_firsttouch },
		{ "mapping", bench_mapping },
		{ "scaling", bench_scaling },
		{ "concurrency", bench_concurrency },
	};
	int first = 1, any = 0;
	struct utsname uts;

	if (argc > 1 && !strcmp(argv[1], "--quick")) {
		quick = 1;
		first = 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!uname(&uts))
		printf("CSV,env,guest kernel,%s %s,,,\n", uts.release, uts.version);
	for (unsigned int s = 0; s < sizeof(sections) / sizeof(sections[0]); s++) {
		int run = first >= argc;

		for (int a = first; a < argc; a++)
			run |= !strcmp(argv[a], sections[s].name);
		if (run) {
			sections[s].fn();
			any = 1;
		}
	}
	if (!any) {
		fprintf(stderr, "usage: npu-mem-bench [--quick] [latency|share|firsttouch|mapping|scaling|concurrency]...\n");
		return 2;
	}
	return 0;
}
