// SPDX-License-Identifier: GPL-2.0
/*
 * FABRIC shareable handles (ACL_MEM_SHARE_HANDLE_TYPE_FABRIC) between a server
 * and client processes that exchange the 128-byte aclrtMemFabricHandle over
 * TCP on 127.0.0.1, as CANN's cross-server sample does: with and without a
 * whitelist, the server freeing first, a handle of another npu_mem instance
 * (107017), DEFAULT values passed as FABRIC and the other way round, and the
 * devices' memory back at the end of each test.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <sys/socket.h>

#include "harness.h"
#include "acl_util.h"

/* What the client tells the server, and the server the client, over the socket. */
enum { MSG_HELLO = 1, MSG_GO, MSG_DONE };

struct msg {
	int32_t type;
	int32_t pid;		/* HELLO: the client's bare tgid */
	int32_t result;		/* DONE: the client's verdict so far */
	aclrtMemFabricHandle fh;	/* GO: the handle to import */
};

static void send_msg(int fd, const struct msg *m)
{
	if (write_full(fd, m, sizeof(*m))) {
		perror("socket write");
		_exit(2);
	}
}

static void recv_msg(int fd, struct msg *m, int32_t type)
{
	if (read_full(fd, m, sizeof(*m)) || m->type != type) {
		fprintf(stderr, "socket read: no message %d\n", type);
		_exit(2);
	}
}

/* A listening TCP socket on 127.0.0.1 and its port. */
static int listen_local(uint16_t *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0)
		return -1;
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 4) ||
	    getsockname(fd, (struct sockaddr *)&a, &len)) {
		close(fd);
		return -1;
	}
	*port = ntohs(a.sin_port);
	return fd;
}

static int connect_local(uint16_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a))) {
		close(fd);
		return -1;
	}
	return fd;
}

FIXTURE(acl_fabric) {
	uint32_t ndev;
	size_t f0[2];
	size_t gran;
	int lfd;		/* the server's listening socket */
	uint16_t port;
};

FIXTURE_SETUP(acl_fabric)
{
	aclrtPhysicalMemProp p = acl_dev_prop(0, ACL_HBM_MEM_NORMAL);
	uint32_t d;

	setvbuf(stdout, NULL, _IOLBF, 0);
	ASSERT_ACL_OK(aclInit(NULL));
	ASSERT_ACL_OK(aclrtGetDeviceCount(&self->ndev));
	for (d = 0; d < 2 && d < self->ndev; d++)
		self->f0[d] = acl_free_bytes((int32_t)d);
	ASSERT_ACL_OK(aclrtSetDevice(0));
	ASSERT_ACL_OK(aclrtMemGetAllocationGranularity(&p, ACL_RT_MEM_ALLOC_GRANULARITY_MINIMUM, &self->gran));
	self->lfd = listen_local(&self->port);
	ASSERT_GE(self->lfd, 0) TH_LOG("listen on 127.0.0.1: %s (is lo up?)", strerror(errno));
}

FIXTURE_TEARDOWN(acl_fabric)
{
	uint32_t d;
	size_t f;

	close(self->lfd);
	aclFinalize();
	for (d = 0; d < 2 && d < self->ndev; d++) {
		aclrtSetDevice((int32_t)d);
		f = acl_wait_free(self->f0[d], 2000);
		aclrtResetDevice((int32_t)d);
		EXPECT_EQ(self->f0[d], f) TH_LOG("device %u's free memory is back to its start value", d);
	}
}

/* Server side: a physical allocation of one granule on device 0, mapped and filled with @fill. */
struct server_mem {
	aclrtDrvMemHandle h;
	void *va;
};

static void server_alloc(struct __test_metadata *_metadata, size_t g, char fill, struct server_mem *s)
{
	aclrtPhysicalMemProp prop = acl_dev_prop(0, ACL_HBM_MEM_NORMAL);

	s->h = NULL;
	s->va = NULL;
	ASSERT_ACL_OK(aclrtMallocPhysical(&s->h, g, &prop, 0));
	ASSERT_ACL_OK(aclrtReserveMemAddress(&s->va, g, 0, NULL, 0));
	ASSERT_ACL_OK(aclrtMapMem(s->va, g, 0, s->h, 0));
	ASSERT_ACL_OK(aclrtMemset(s->va, g, fill, g));
}

static void server_free(struct __test_metadata *_metadata, struct server_mem *s)
{
	EXPECT_ACL_OK(aclrtUnmapMem(s->va));
	EXPECT_ACL_OK(aclrtReleaseMemAddress(s->va));
	EXPECT_ACL_OK(aclrtFreePhysical(s->h));
}

/* Does [p, p + n) hold @val in every byte? */
static bool holds(const void *p, size_t n, unsigned char val)
{
	unsigned char *b = malloc(n);
	bool ok = b && aclrtMemcpy(b, n, p, n, ACL_MEMCPY_DEVICE_TO_HOST) == ACL_SUCCESS;
	size_t i;

	for (i = 0; ok && i < n; i++)
		ok = b[i] == val;
	free(b);
	return ok;
}

/* How a client behaves; the server's side of each test follows the same steps. */
struct client_plan {
	int32_t dev;
	bool whitelist;		/* refused until the server adds it */
	bool server_frees_first;
	size_t g;
};

/*
 * Client: connect, HELLO with its tgid, get the handle (GO), import it (after
 * being refused once when @whitelist), check the 'S' fill, write 'C', DONE;
 * with @server_frees_first wait for a second GO and read 'C' once more after
 * the server has let go.
 */
static void client(struct __test_metadata *_metadata, uint16_t port, const struct client_plan *cp)
{
	aclrtDrvMemHandle h = NULL, hx = NULL;
	aclrtPhysicalMemProp prop;
	struct msg m = { .type = MSG_HELLO };
	int fd = connect_local(port);
	char value[32];
	uint64_t inner;
	int32_t me = 0;
	void *va = NULL;

	if (fd < 0) {
		perror("connect 127.0.0.1");
		_exit(2);
	}
	EXPECT_ACL_OK(aclrtSetDevice(cp->dev));
	EXPECT_ACL_OK(aclrtDeviceGetBareTgid(&me));
	m.pid = me;
	send_msg(fd, &m);
	recv_msg(fd, &m, MSG_GO);
	if (cp->whitelist) {
		/* the message names the value the handle carries (bytes 24..31) */
		memcpy(&inner, m.fh.data + 24, sizeof(inner));
		snprintf(value, sizeof(value), "0x%llx ", (unsigned long long)inner);
		EXPECT_ACL_MSG(ACL_ERROR_RT_DRV_INTERNAL_ERROR, "whitelist",
			       aclrtMemImportFromShareableHandleV2(&m.fh, ACL_MEM_SHARE_HANDLE_TYPE_FABRIC, 0, &h))
			TH_LOG("client: import before the server whitelists it");
		EXPECT_ACL_MSG(ACL_ERROR_RT_DRV_INTERNAL_ERROR, value,
			       aclrtMemImportFromShareableHandleV2(&m.fh, ACL_MEM_SHARE_HANDLE_TYPE_FABRIC, 0, &h))
			TH_LOG("client: the refusal names the handle's value");
		EXPECT_ACL_MSG(ACL_ERROR_RT_DRV_INTERNAL_ERROR, "not the exporter",
			       aclrtMemSetPidToShareableHandleV2(&m.fh, ACL_MEM_SHARE_HANDLE_TYPE_FABRIC, &me, 1))
			TH_LOG("client: SetPid by a non-exporter");
		m.type = MSG_HELLO;
		m.pid = me;
		send_msg(fd, &m);	/* "add me" */
		recv_msg(fd, &m, MSG_GO);
	}
	EXPECT_ACL_OK(aclrtMemImportFromShareableHandleV2(&m.fh, ACL_MEM_SHARE_HANDLE_TYPE_FABRIC, 0, &h))
		TH_LOG("client: import the fabric handle on device %d", cp->dev);
	if (h) {
		EXPECT_ACL_OK(aclrtMemGetAllocationPropertiesFromHandle(h, &prop));
		EXPECT_TRUE(prop.location.id == (uint32_t)cp->dev) TH_LOG("client: the import is on its device");
		EXPECT_ACL_OK(aclrtReserveMemAddress(&va, cp->g, 0, NULL, 0));
		EXPECT_ACL_OK(aclrtMapMem(va, cp->g, 0, h, 0));
		EXPECT_TRUE(holds(va, cp->g, 'S')) TH_LOG("client reads the server's data");
		EXPECT_ACL_OK(aclrtMemset(va, cp->g, 'C', cp->g));
		EXPECT_ACL_MSG(ACL_ERROR_RT_INVALID_HANDLE, "already imported",
			       aclrtMemImportFromShareableHandleV2(&m.fh, ACL_MEM_SHARE_HANDLE_TYPE_FABRIC, 0, &hx))
			TH_LOG("client: a second import of the same handle");
		EXPECT_ACL(ACL_ERROR_RT_DRV_INTERNAL_ERROR,
			   aclrtMemExportToShareableHandleV2(h, 0, ACL_MEM_SHARE_HANDLE_TYPE_FABRIC, &m.fh))
			TH_LOG("client: exporting an imported handle");
	}
	m.type = MSG_DONE;
	m.result = _metadata->exit_code;
	send_msg(fd, &m);
	if (cp->server_frees_first) {
		recv_msg(fd, &m, MSG_GO);
		EXPECT_TRUE(va && holds(va, cp->g, 'C')) TH_LOG("client still reads after the server freed");
	}
	if (h) {
		EXPECT_ACL_OK(aclrtUnmapMem(va));
		EXPECT_ACL_OK(aclrtReleaseMemAddress(va));
		EXPECT_ACL_OK(aclrtFreePhysical(h));
	}
	m.type = MSG_DONE;
	send_msg(fd, &m);
	close(fd);
}

static pid_t spawn_client(struct __test_metadata *_metadata, uint16_t port, const struct client_plan *cp)
{
	pid_t pid = fork();

	if (pid == 0) {
		client(_metadata, port, cp);
		_exit(_metadata->exit_code);
	}
	return pid;
}

/* The server's side of one client (@cp); @flags for the export. */
static void serve(struct __test_metadata *_metadata, FIXTURE_DATA(acl_fabric) *self,
		  const struct client_plan *cp, uint64_t flags)
{
	struct server_mem s;
	struct msg m, go = { .type = MSG_GO };
	int32_t one = 1;
	pid_t pid;
	int fd;

	server_alloc(_metadata, self->gran, 'S', &s);
	memset(&go.fh, 0xee, sizeof(go.fh));
	ASSERT_ACL_OK(aclrtMemExportToShareableHandleV2(s.h, flags, ACL_MEM_SHARE_HANDLE_TYPE_FABRIC, &go.fh));
	EXPECT_TRUE(!memcmp(go.fh.data, "NPUMEMFH", 8)) TH_LOG("the handle starts with npu_mem's magic");
	if (flags)
		EXPECT_ACL_MSG(ACL_ERROR_RT_NO_PERMISSION, "DISABLE_PID_VALIDATION",
			       aclrtMemSetPidToShareableHandleV2(&go.fh, ACL_MEM_SHARE_HANDLE_TYPE_FABRIC, &one, 1))
			TH_LOG("server: SetPid on a handle without validation");
	pid = spawn_client(_metadata, self->port, cp);
	ASSERT_GT(pid, 0);
	fd = accept(self->lfd, NULL, NULL);
	ASSERT_GE(fd, 0);
	recv_msg(fd, &m, MSG_HELLO);
	send_msg(fd, &go);
	if (cp->whitelist) {
		recv_msg(fd, &m, MSG_HELLO);
		EXPECT_ACL_OK(aclrtMemSetPidToShareableHandleV2(&go.fh, ACL_MEM_SHARE_HANDLE_TYPE_FABRIC, &m.pid, 1))
			TH_LOG("server: whitelist client %d", m.pid);
		send_msg(fd, &go);
	}
	recv_msg(fd, &m, MSG_DONE);
	EXPECT_EQ(0, m.result) TH_LOG("the client's checks so far");
	EXPECT_TRUE(holds(s.va, self->gran, 'C')) TH_LOG("server reads what the client wrote");
	if (cp->server_frees_first) {
		server_free(_metadata, &s);
		send_msg(fd, &go);
	}
	recv_msg(fd, &m, MSG_DONE);
	close(fd);
	EXPECT_EQ(0, wait_child(pid)) TH_LOG("the client's checks");
	if (!cp->server_frees_first)
		server_free(_metadata, &s);
}

TEST_F(acl_fabric, without_whitelist)
{
	struct client_plan cp = { .dev = self->ndev > 1 ? 1 : 0, .g = self->gran };

	serve(_metadata, self, &cp, ACL_RT_VMM_EXPORT_FLAG_DISABLE_PID_VALIDATION);
}

TEST_F(acl_fabric, with_whitelist)
{
	struct client_plan cp = { .dev = 0, .whitelist = true, .g = self->gran };

	serve(_metadata, self, &cp, ACL_RT_VMM_EXPORT_FLAG_DEFAULT);
}

/* The server lets go while the client maps the memory: the client keeps it (on device 1 if any). */
TEST_F(acl_fabric, server_frees_first)
{
	struct client_plan cp = { .dev = self->ndev > 1 ? 1 : 0, .whitelist = true,
				  .server_frees_first = true, .g = self->gran };

	serve(_metadata, self, &cp, ACL_RT_VMM_EXPORT_FLAG_DEFAULT);
}

/*
 * The handle's layout: magic, the instance bytes (8..23, the same for
 * every export of this module instance), the value, zeros.
 */
TEST_F(acl_fabric, handle_layout)
{
	aclrtMemFabricHandle a, b;
	struct server_mem s1, s2;
	static const uint8_t zero[96];

	server_alloc(_metadata, self->gran, 'x', &s1);
	server_alloc(_metadata, self->gran, 'y', &s2);
	ASSERT_ACL_OK(aclrtMemExportToShareableHandleV2(s1.h, 1, ACL_MEM_SHARE_HANDLE_TYPE_FABRIC, &a));
	ASSERT_ACL_OK(aclrtMemExportToShareableHandleV2(s2.h, 0, ACL_MEM_SHARE_HANDLE_TYPE_FABRIC, &b));
	EXPECT_TRUE(!memcmp(a.data, "NPUMEMFH", 8) && !memcmp(b.data, "NPUMEMFH", 8));
	EXPECT_TRUE(!memcmp(a.data + 8, b.data + 8, 16)) TH_LOG("one instance id per module instance");
	EXPECT_TRUE(memcmp(a.data + 8, zero, 16) != 0) TH_LOG("the instance id is not zero");
	EXPECT_TRUE(memcmp(a.data + 24, b.data + 24, 8) != 0) TH_LOG("two exports, two values");
	EXPECT_TRUE(!memcmp(a.data + 32, zero, 96) && !memcmp(b.data + 32, zero, 96)) TH_LOG("reserved bytes are 0");
	EXPECT_ACL_MSG(ACL_ERROR_RT_DRV_INTERNAL_ERROR, "already exported",
		       aclrtMemExportToShareableHandleV2(s1.h, 1, ACL_MEM_SHARE_HANDLE_TYPE_FABRIC, &b))
		TH_LOG("a second export of the same handle");
	server_free(_metadata, &s1);
	server_free(_metadata, &s2);
}

/* Import of @fh as FABRIC in a child on device 0: its aclError (or 1000000 + exit status). */
static int child_import(const aclrtMemFabricHandle *fh, aclrtMemSharedHandleType type)
{
	aclrtDrvMemHandle h = NULL;
	pid_t pid = fork();
	int st;

	if (pid == 0) {
		aclError e = aclrtSetDevice(0);

		if (!e)
			e = aclrtMemImportFromShareableHandleV2((void *)fh, type, 0, &h);
		if (!e)
			aclrtFreePhysical(h);
		printf("# child import (type %d): %d: %s\n", (int)type, e, e ? aclGetRecentErrMsg() : "");
		_exit(e == ACL_SUCCESS ? 0 : e == ACL_ERROR_RT_INVALID_HANDLE ? 17 :
		      e == ACL_ERROR_RT_PARAM_INVALID ? 10 : e == ACL_ERROR_RT_DRV_INTERNAL_ERROR ? 99 : 3);
	}
	st = wait_child(pid);
	return st == 0 ? ACL_SUCCESS : st == 17 ? ACL_ERROR_RT_INVALID_HANDLE :
	       st == 10 ? ACL_ERROR_RT_PARAM_INVALID : st == 99 ? ACL_ERROR_RT_DRV_INTERNAL_ERROR : 1000000 + st;
}

/* Bytes 8..23 altered: a handle of another npu_mem instance (another host) is refused with 107017. */
TEST_F(acl_fabric, foreign_instance)
{
	aclrtMemFabricHandle fh, foreign;
	struct server_mem s;
	int32_t pid = 1;
	int i;

	server_alloc(_metadata, self->gran, 'S', &s);
	ASSERT_ACL_OK(aclrtMemExportToShareableHandleV2(s.h, 1, ACL_MEM_SHARE_HANDLE_TYPE_FABRIC, &fh));
	EXPECT_EQ(ACL_SUCCESS, child_import(&fh, ACL_MEM_SHARE_HANDLE_TYPE_FABRIC)) TH_LOG("the handle itself imports");
	for (i = 8; i < 24; i += 5) {
		foreign = fh;
		foreign.data[i] ^= 0x40;
		EXPECT_EQ(ACL_ERROR_RT_INVALID_HANDLE, child_import(&foreign, ACL_MEM_SHARE_HANDLE_TYPE_FABRIC))
			TH_LOG("byte %d altered: another instance's handle", i);
	}
	memset(foreign.data + 8, 0, 16);
	EXPECT_EQ(ACL_ERROR_RT_INVALID_HANDLE, child_import(&foreign, ACL_MEM_SHARE_HANDLE_TYPE_FABRIC))
		TH_LOG("instance bytes zeroed");
	foreign = fh;
	foreign.data[9] ^= 1;
	EXPECT_ACL_MSG(ACL_ERROR_RT_INVALID_HANDLE, "another",
		       aclrtMemSetPidToShareableHandleV2(&foreign, ACL_MEM_SHARE_HANDLE_TYPE_FABRIC, &pid, 1))
		TH_LOG("SetPid of another instance's handle");
	server_free(_metadata, &s);
}

/* DEFAULT values passed as FABRIC and the other way round, and share types that do not exist. */
TEST_F(acl_fabric, wrong_types)
{
	aclrtMemFabricHandle fh, asfab;
	struct server_mem s, d;
	uint64_t v1 = 0, inner;
	int32_t pid = 1;

	server_alloc(_metadata, self->gran, 'S', &s);
	server_alloc(_metadata, self->gran, 'D', &d);
	ASSERT_ACL_OK(aclrtMemExportToShareableHandleV2(s.h, 1, ACL_MEM_SHARE_HANDLE_TYPE_FABRIC, &fh));
	ASSERT_ACL_OK(aclrtMemExportToShareableHandle(d.h, ACL_MEM_HANDLE_TYPE_NONE, 1, &v1));
	memcpy(&inner, fh.data + 24, sizeof(inner));
	/* a fabric handle read as a DEFAULT value (its first 8 bytes), and its inner value as DEFAULT */
	EXPECT_EQ(ACL_ERROR_RT_INVALID_HANDLE, child_import(&fh, ACL_MEM_SHARE_HANDLE_TYPE_DEFAULT))
		TH_LOG("a fabric handle passed as DEFAULT");
	memset(&asfab, 0, sizeof(asfab));
	memcpy(asfab.data, &inner, sizeof(inner));
	EXPECT_EQ(ACL_ERROR_RT_INVALID_HANDLE, child_import(&asfab, ACL_MEM_SHARE_HANDLE_TYPE_DEFAULT))
		TH_LOG("the fabric value passed as a DEFAULT one: a value is found only as its own kind");
	/* a DEFAULT value in a FABRIC call: no magic, a malformed fabric handle */
	memset(&asfab, 0, sizeof(asfab));
	memcpy(asfab.data, &v1, sizeof(v1));
	EXPECT_EQ(ACL_ERROR_RT_PARAM_INVALID, child_import(&asfab, ACL_MEM_SHARE_HANDLE_TYPE_FABRIC))
		TH_LOG("a DEFAULT value passed as FABRIC");
	/* a fabric handle whose value is that DEFAULT value */
	asfab = fh;
	memcpy(asfab.data + 24, &v1, sizeof(v1));
	EXPECT_EQ(ACL_ERROR_RT_INVALID_HANDLE, child_import(&asfab, ACL_MEM_SHARE_HANDLE_TYPE_FABRIC))
		TH_LOG("a DEFAULT value wrapped in a fabric handle");
	/* the same from the exporter's SetPid (both exported without a whitelist: any finding is 207006) */
	EXPECT_ACL(ACL_ERROR_RT_NO_PERMISSION, aclrtMemSetPidToShareableHandleV2(&fh, ACL_MEM_SHARE_HANDLE_TYPE_FABRIC, &pid, 1))
		TH_LOG("the right type is found");
	EXPECT_ACL(ACL_ERROR_RT_INVALID_HANDLE, aclrtMemSetPidToShareableHandleV2(&fh, ACL_MEM_SHARE_HANDLE_TYPE_DEFAULT, &pid, 1))
		TH_LOG("SetPid: a fabric handle as DEFAULT");
	EXPECT_ACL(ACL_ERROR_RT_INVALID_HANDLE, aclrtMemSetPidToShareableHandle(inner, &pid, 1))
		TH_LOG("SetPid V1 of the fabric value");
	memset(&asfab, 0, sizeof(asfab));
	memcpy(asfab.data, &v1, sizeof(v1));
	EXPECT_ACL(ACL_ERROR_RT_PARAM_INVALID, aclrtMemSetPidToShareableHandleV2(&asfab, ACL_MEM_SHARE_HANDLE_TYPE_FABRIC, &pid, 1))
		TH_LOG("SetPid: a DEFAULT value as FABRIC");
	/* share types that do not exist */
	EXPECT_ACL(ACL_ERROR_RT_PARAM_INVALID,
		   aclrtMemSetPidToShareableHandleV2(&fh, (aclrtMemSharedHandleType)3, &pid, 1));
	EXPECT_ACL(ACL_ERROR_RT_PARAM_INVALID,
		   aclrtMemSetPidToShareableHandleV2(&fh, (aclrtMemSharedHandleType)0, &pid, 1));
	EXPECT_EQ(ACL_ERROR_RT_PARAM_INVALID, child_import(&fh, (aclrtMemSharedHandleType)4));
	EXPECT_ACL(ACL_ERROR_RT_PARAM_INVALID,
		   aclrtMemExportToShareableHandleV2(s.h, 1, (aclrtMemSharedHandleType)3, &asfab));
	server_free(_metadata, &s);
	server_free(_metadata, &d);
}

TEST_HARNESS_MAIN
