// SPDX-License-Identifier: GPL-2.0
/*
 * Loading npu_mem.ko: module parameters out of range are refused with EINVAL
 * (and the limits themselves load), and a load whose N-th allocation fails
 * (fail-nth, N = 1, 2, ... until a load reaches no N-th site; see
 * test_fail_nth.c) fails with ENOMEM and leaves no module behind, or succeeds.
 * Each init error path then runs once; the VM fails the run on a splat, and
 * kmemleak reports what a failed init leaked.  The module loader's own sites
 * (a few hundred, the kernel's code) come first: a load that npu_mem_init()
 * refuses before it allocates counts them, and N starts a few sites before
 * the end of them.  That part runs only with NPU_MEM_TEST_LOAD_NTH=1 in the
 * environment, as make coverage (scripts/coverage.sh) sets it: on the debug
 * kernels it takes minutes (600 sites and 200 loads on 6.12), and kmemleak
 * reports the kernel's own leak there: when kmem_cache_create() fails in
 * sysfs_slab_add(), kobject_init_and_add()'s copy of the cache's name is never
 * freed (6.12's mm/slub.c has no kobject_put() on that path).
 *
 * Runs in the test VM as root: it unloads npu_mem.ko and loads it from
 * /lib/npu_mem/npu_mem.ko with vm-run's parameters (/modparams) plus the ones
 * under test, and leaves it loaded with vm-run's parameters, its node with the
 * group and mode it had (devtmpfs recreates it root's, 0600; vm-run's init
 * applied the udev rule once).  Elsewhere it skips.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "harness.h"
#include "fail_nth.h"
#include "npu.h"
#include "npu_tool.h"
#include "uapi/npu_mem_netlink.h"

#define KO		"/lib/npu_mem/npu_mem.ko"
#define NODE		"/dev/" NPU_MEM_DEVICE_NAME
#define MODPARAMS	"/modparams"
#define MAX_NTH		5000
/* fail-nth far past any load's sites: what is left of it counts the sites. */
#define FAR_NTH		100000
/* Loader sites retried before npu_mem_init()'s: their count may vary a little. */
#define NTH_MARGIN	16

/* vm-run's parameters, one line each in /modparams, as one string; NULL if none. */
static char *base_params(void)
{
	static char buf[1024];
	size_t n;
	FILE *f = fopen(MODPARAMS, "re");

	if (!f)
		return NULL;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	for (size_t i = 0; i < n; i++)
		if (buf[i] == '\n')
			buf[i] = ' ';
	return buf;
}

/* Devices in npu-mem's device dump (one JSON object a line), or -1. */
static int dumped_devices(void)
{
	char cmd[256], line[512];
	int n = 0;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "%s --json devices", npu_mem_bin());
	p = popen(cmd, "r");
	if (!p)
		return -1;
	while (fgets(line, sizeof(line), p))
		n += strstr(line, "{\"id\":") != NULL;
	return pclose(p) == 0 ? n : -1;
}

/* ---- the device dump through raw generic netlink (as test_fail_nth.c) ---- */

static char nl_buf[65536] __attribute__((aligned(8)));

static int nl_socket(void)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);

	if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		close(fd);
		return -1;
	}
	return fd;
}

static int nl_send(int fd, uint16_t type, uint16_t flags, uint8_t cmd,
		   const void *attrs, size_t alen)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	struct {
		struct nlmsghdr n;
		struct genlmsghdr g;
		char a[64];
	} req;

	memset(&req, 0, sizeof(req));
	req.n.nlmsg_len = NLMSG_LENGTH(GENL_HDRLEN + alen);
	req.n.nlmsg_type = type;
	req.n.nlmsg_flags = NLM_F_REQUEST | flags;
	req.n.nlmsg_seq = 1;
	req.g.cmd = cmd;
	req.g.version = 1;
	memcpy(req.a, attrs, alen);
	return sendto(fd, &req, req.n.nlmsg_len, 0, (struct sockaddr *)&sa, sizeof(sa)) < 0 ? -1 : 0;
}

#define NLA_NEXT_OK(a, len)						\
	((len) >= (int)sizeof(*(a)) && (a)->nla_len >= sizeof(*(a)) && (a)->nla_len <= (len))
#define NLA_NEXT(a, len)						\
	((len) -= NLA_ALIGN((a)->nla_len), (struct nlattr *)((char *)(a) + NLA_ALIGN((a)->nla_len)))
#define NLA_DATA(a)	((void *)((char *)(a) + NLA_HDRLEN))

/*
 * The family's id, or 0, asked on @fd and read with a @bufsize-byte recv():
 * the kernel then sizes this socket's dump batches to @bufsize (netlink_dump()
 * uses the largest recv() length seen, from NLMSG_GOODSIZE up to 32 KiB).
 */
static uint16_t nl_family(int fd, size_t bufsize)
{
	struct {
		struct nlattr a;
		char name[16];
	} attr = { .a = { .nla_len = NLA_HDRLEN + sizeof(NPU_MEM_GENL_NAME),
			  .nla_type = CTRL_ATTR_FAMILY_NAME },
		   .name = NPU_MEM_GENL_NAME };
	struct nlmsghdr *h = (struct nlmsghdr *)nl_buf;
	struct nlattr *a;
	uint16_t id = 0;
	ssize_t n;
	int len;

	if (nl_send(fd, GENL_ID_CTRL, 0, CTRL_CMD_GETFAMILY, &attr, NLA_ALIGN(attr.a.nla_len)))
		return 0;
	n = recv(fd, nl_buf, bufsize, 0);
	if (n <= 0 || !NLMSG_OK(h, n) || h->nlmsg_type != GENL_ID_CTRL)
		return 0;
	len = h->nlmsg_len - NLMSG_LENGTH(GENL_HDRLEN);
	for (a = (struct nlattr *)((char *)NLMSG_DATA(h) + GENL_HDRLEN); NLA_NEXT_OK(a, len);
	     a = NLA_NEXT(a, len))
		if (a->nla_type == CTRL_ATTR_FAMILY_ID)
			id = *(uint16_t *)NLA_DATA(a);
	return id;
}

/*
 * The device dump in batches of @bufsize bytes.  Return: the device entries,
 * or -1; *@seen: a bit per device id; *@batches: the datagrams it took.
 */
static int nl_dump_devices(size_t bufsize, uint64_t *seen, int *batches)
{
	int fd = nl_socket(), devs = 0;
	uint16_t fam = fd < 0 ? 0 : nl_family(fd, bufsize);

	*seen = 0;
	*batches = 0;
	if (!fam || nl_send(fd, fam, NLM_F_DUMP, NPU_MEM_CMD_GET_DEVICE, NULL, 0))
		goto fail;
	for (;;) {
		ssize_t n = recv(fd, nl_buf, bufsize, 0);
		struct nlmsghdr *h;

		if (n <= 0)
			goto fail;
		++*batches;
		for (h = (struct nlmsghdr *)nl_buf; NLMSG_OK(h, n); h = NLMSG_NEXT(h, n)) {
			int len = h->nlmsg_len - NLMSG_LENGTH(GENL_HDRLEN);
			struct nlattr *a;

			if (h->nlmsg_type == NLMSG_DONE) {
				close(fd);
				return devs;
			}
			if (h->nlmsg_type != fam)
				goto fail;
			devs++;
			for (a = (struct nlattr *)((char *)NLMSG_DATA(h) + GENL_HDRLEN);
			     NLA_NEXT_OK(a, len); a = NLA_NEXT(a, len))
				if (a->nla_type == NPU_MEM_A_DEV_ID && *(uint32_t *)NLA_DATA(a) < 64)
					*seen |= 1ULL << *(uint32_t *)NLA_DATA(a);
		}
	}
fail:
	if (fd >= 0)
		close(fd);
	return -1;
}

/*
 * 64 devices take more than 8 KiB: in batches of 4096 to 4287 bytes the dump
 * stops and resumes at every offset within a device's entry (under 192
 * bytes).  Each must list every device once.
 */
static void check_dump_resumes(struct __test_metadata *_metadata)
{
	for (size_t bufsize = 4096; bufsize < 4096 + 192; bufsize++) {
		uint64_t seen;
		int batches, devs = nl_dump_devices(bufsize, &seen, &batches);

		EXPECT_EQ(64, devs) TH_LOG("%zu-byte batches: the dump's device entries", bufsize);
		EXPECT_EQ(~0ULL, seen) TH_LOG("%zu-byte batches: every device id", bufsize);
		EXPECT_LE(2, batches) TH_LOG("%zu-byte batches: the dump's datagrams", bufsize);
		if (devs != 64 || seen != ~0ULL || batches < 2)
			break;
	}
}

static bool loaded(void)
{
	return access("/sys/module/npu_mem", F_OK) == 0;
}

static int unload(void)
{
	return syscall(SYS_delete_module, "npu_mem", O_NONBLOCK);
}

/* finit_module() with vm-run's parameters and @extra after them (later ones win). */
static int load(const char *extra)
{
	char params[1280];
	int fd = open(KO, O_RDONLY | O_CLOEXEC), r, e;

	if (fd < 0)
		return -1;
	snprintf(params, sizeof(params), "%s %s", base_params(), extra);
	r = syscall(SYS_finit_module, fd, params, 0);
	e = errno;
	close(fd);
	errno = e;
	return r;
}

/* The node as vm-run's init left it, before a test unloads the module. */
static struct stat node_st;

/* The final load, with vm-run's parameters and node, for the tests after this one. */
static int load_for_suite(void)
{
	if (load(""))
		return -1;
	if (chown(NODE, node_st.st_uid, node_st.st_gid) || chmod(NODE, node_st.st_mode & 07777))
		return -1;
	return 0;
}

/* The module as loaded works: a device answers, memory comes and goes. */
static void check_works(struct __test_metadata *_metadata)
{
	uint64_t before = npu_dev_free(0);
	int fd = npu_open();
	uint32_t h = 0;

	ASSERT_LE(0, fd) TH_LOG("open /dev/npu_mem: %s", strerror(errno));
	EXPECT_NE(UINT64_MAX, before);
	EXPECT_EQ(0, npu_alloc(fd, 0, 2 * MIB, &h, NULL)) TH_LOG("ALLOC: %s", strerror(errno));
	EXPECT_EQ(0, npu_free(fd, h));
	close(fd);
	EXPECT_EQ(before, npu_dev_free(0));
}

/* In the test VM, as root, with npu_mem.ko loaded by vm-run. */
static bool in_vm(void)
{
	return getuid() == 0 && !access(KO, R_OK) && base_params() && loaded() &&
	       !stat(NODE, &node_st);
}

TEST(parameters_out_of_range_are_refused)
{
	static const char *const bad[] = {
		"num_devices=0", "num_devices=65",
		"mem_mb=0", "mem_mb=3",
		"zero_reserve_mb=3", "mem_mb=4 zero_reserve_mb=6",
		"test_granularity_kb=2", "test_granularity_kb=12", "test_granularity_kb=4096",
	};
	/* The limits themselves load; the first one's device dump takes several messages. */
	static const char *const good[] = {
		"num_devices=64 mem_mb=2 zero_reserve_mb=2",
		"test_granularity_kb=4", "test_granularity_kb=2048",
	};
	static const int good_devices[] = { 64, -1, -1 };

	if (!in_vm())
		SKIP(return, "not in the test VM as root with npu_mem.ko loaded");
	ASSERT_EQ(0, unload()) TH_LOG("unload npu_mem: %s", strerror(errno));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		EXPECT_EQ(-EINVAL, neg_errno(load(bad[i]))) TH_LOG("load with %s", bad[i]);
		EXPECT_FALSE(loaded()) TH_LOG("after %s", bad[i]);
		if (loaded())
			unload();
	}
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		EXPECT_EQ(0, load(good[i])) TH_LOG("load with %s: %s", good[i], strerror(errno));
		if (loaded()) {
			check_works(_metadata);
			if (good_devices[i] > 0) {
				EXPECT_EQ(good_devices[i], dumped_devices()) TH_LOG("%s", good[i]);
				check_dump_resumes(_metadata);
			}
			EXPECT_EQ(0, unload()) TH_LOG("unload: %s", strerror(errno));
		}
	}
	ASSERT_EQ(0, load_for_suite()) TH_LOG("load again as vm-run did: %s", strerror(errno));
	check_works(_metadata);
}

/* ---- fail-nth (see test_fail_nth.c) ---- */

static int nth_set(int nth_fd, unsigned int n)
{
	char buf[16];
	int len = snprintf(buf, sizeof(buf), "%u", n);

	return pwrite(nth_fd, buf, len, 0) == len ? 0 : -1;
}

static unsigned int nth_get(int nth_fd)
{
	char buf[16] = "";

	if (pread(nth_fd, buf, sizeof(buf) - 1, 0) <= 0)
		return ~0u;
	return strtoul(buf, NULL, 10);
}

TEST(load_fails_cleanly_at_each_allocation)
{
	unsigned int n, first, loader, left = 0, failed = 0, tolerated = 0;
	int nth_fd, r = -1, e = 0;

	if (!in_vm())
		SKIP(return, "not in the test VM as root with npu_mem.ko loaded");
	if (!getenv("NPU_MEM_TEST_LOAD_NTH"))
		SKIP(return, "make coverage's: NPU_MEM_TEST_LOAD_NTH=1 runs it");
	nth_fd = open("/proc/thread-self/fail-nth", O_RDWR | O_CLOEXEC);
	if (nth_fd < 0 || fault_attrs_setup())
		SKIP(return, "no fail-nth, failslab or fail_page_alloc (CONFIG_FAULT_INJECTION)");
	ASSERT_EQ(0, unload()) TH_LOG("unload npu_mem: %s", strerror(errno));

	/* The sites a load reaches before npu_mem_init() allocates anything. */
	ASSERT_EQ(0, nth_set(nth_fd, FAR_NTH));
	r = load("num_devices=0");
	e = errno;
	left = nth_get(nth_fd);
	ASSERT_EQ(0, nth_set(nth_fd, 0));
	EXPECT_EQ(-1, r);
	EXPECT_EQ(EINVAL, e) TH_LOG("num_devices=0: %s", strerror(e));
	ASSERT_LT(0, left) TH_LOG("a load reached more than %d sites", FAR_NTH);
	loader = FAR_NTH - left;
	first = loader > NTH_MARGIN ? loader - NTH_MARGIN : 1;

	for (n = first; n <= MAX_NTH; n++) {
		ASSERT_EQ(0, nth_set(nth_fd, n));
		r = load("");
		e = errno;
		left = nth_get(nth_fd);
		ASSERT_EQ(0, nth_set(nth_fd, 0));
		if (r == 0 && left != 0) {
			/* No N-th site: the plain load, which stays. */
			EXPECT_EQ(0, unload());
			r = load_for_suite();
			break;
		}
		if (r == 0) {
			/* An injected failure the load tolerated: a working module. */
			tolerated++;
			check_works(_metadata);
			EXPECT_EQ(0, unload()) TH_LOG("unload after a tolerated fault: %s",
						       strerror(errno));
			continue;
		}
		failed++;
		EXPECT_EQ(ENOMEM, e) TH_LOG("nth %u: the load failed with %s", n, strerror(e));
		EXPECT_FALSE(loaded()) TH_LOG("nth %u: a failed load left the module", n);
		if (_metadata->exit_code != KSFT_PASS)
			break;
	}
	close(nth_fd);
	TH_LOG("fail-nth: %u loader sites; from %u to %u: %u failed loads, %u tolerated",
	       loader, first, n - 1, failed, tolerated);
	if (!loaded())
		EXPECT_EQ(0, load_for_suite()) TH_LOG("load again: %s", strerror(errno));
	ASSERT_EQ(0, r) TH_LOG("no plain load within %d sites, or the last: %s", MAX_NTH,
			       strerror(errno));
	EXPECT_NE(0, failed) TH_LOG("no injected failure failed a load");
	check_works(_metadata);
}

TEST_HARNESS_MAIN
