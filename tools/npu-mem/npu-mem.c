// SPDX-License-Identifier: GPL-2.0
/*
 * npu-mem: show what npu_mem.ko holds and who holds it, through its generic
 * netlink family "npu_mem" (uapi/npu_mem_netlink.h, uapi/npu_mem.yaml).
 *
 * Attributes this program does not know are ignored, so an older npu-mem
 * works with a newer module.  Exit status: 0 success, 1 the request failed
 * (module not loaded, permission denied, ...), 2 bad usage.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <netlink/genl/ctrl.h>
#include <netlink/genl/genl.h>
#include <netlink/netlink.h>

#include "uapi/npu_mem.h"
#include "uapi/npu_mem_netlink.h"

static const char *prog = "npu-mem";
static bool opt_json;

static void usage(FILE *f)
{
	fprintf(f,
"Usage: npu-mem [--json] COMMAND [OPTIONS]\n"
"Show the simulated NPU memory of npu_mem.ko and who holds it.\n"
"\n"
"Commands:\n"
"  devices                    each device: capacity, bytes used, live objects,\n"
"                             live shareable values\n"
"  objects [--device N] [--pid P]\n"
"                             each live physical object: id, device, size, owner,\n"
"                             export state, whitelist, holders, mappings;\n"
"                             --device: only objects on device N; --pid: only\n"
"                             objects allocated or held by bare tgid P\n"
"  procs                      each process with /dev/npu_mem open: bytes it\n"
"                             allocated and imported, handles, mappings\n"
"  watch [--count N]          print events as they happen, one per line with a\n"
"                             timestamp, until SIGINT/SIGTERM or N events\n"
"                             (needs CAP_SYS_ADMIN)\n"
"  info                       module ABI and netlink family versions\n"
"\n"
"Options:\n"
"  -j, --json                 machine-readable output: one JSON array for\n"
"                             devices/objects/procs (one element per line), one\n"
"                             JSON object per line for watch and info\n"
"  -q, --quiet                watch: do not announce on stderr that it listens\n"
"  -h, --help                 this text\n"
"\n"
"Permissions: without CAP_SYS_ADMIN, objects and procs show only the objects\n"
"and files of processes running with the caller's effective uid, holders of\n"
"other users are left out, and shareable values are never shown.\n"
"\n"
"Events: allocated, freed, exported, pids-set, imported, import-refused (with a\n"
"reason: not-whitelisted, pid-reused, self-import, duplicate, dead-value),\n"
"holder-died (the process exited with the handle), released (the last holder\n"
"let go; the memory is back on its device).\n"
"\n"
"Exit status: 0 success, 1 the request failed, 2 bad usage.\n"
"Do not screen-scrape the tables; use --json.\n");
}

static void __attribute__((format(printf, 1, 2))) errmsg(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* ---- attribute access: tolerant of unknown and short attributes */

static bool has(struct nlattr **tb, int i)
{
	return tb[i] != NULL;
}

static uint32_t get_u32(struct nlattr **tb, int i)
{
	return tb[i] && nla_len(tb[i]) >= 4 ? nla_get_u32(tb[i]) : 0;
}

static uint8_t get_u8(struct nlattr **tb, int i)
{
	return tb[i] && nla_len(tb[i]) >= 1 ? nla_get_u8(tb[i]) : 0;
}

static uint64_t get_u64(struct nlattr **tb, int i)
{
	return tb[i] && nla_len(tb[i]) >= 8 ? nla_get_u64(tb[i]) : 0;
}

/* A string attribute, or "" (also for one that is not NUL-terminated). */
static const char *get_str(struct nlattr **tb, int i)
{
	const char *s;
	int len;

	if (!tb[i])
		return "";
	s = nla_data(tb[i]);
	len = nla_len(tb[i]);
	return len > 0 && memchr(s, '\0', len) ? s : "";
}

/* Print @s as a JSON string. */
static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = *s;

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static const char *human_size(uint64_t bytes, char *buf, size_t len)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	unsigned int u = 0;
	double v = bytes;

	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, len, "%" PRIu64 " B", bytes);
	else
		snprintf(buf, len, "%.*f %s", v == (uint64_t)v ? 0 : 1, v, units[u]);
	return buf;
}

/* ---- netlink plumbing (the shape of iw's) */

struct nm {
	struct nl_sock *sock;
	int family;
};

static int nm_open(struct nm *nm)
{
	int ret;

	nm->sock = nl_socket_alloc();
	if (!nm->sock) {
		errmsg("cannot allocate a netlink socket");
		return -1;
	}
	ret = genl_connect(nm->sock);
	if (ret) {
		errmsg("cannot connect to generic netlink: %s", nl_geterror(ret));
		goto err_free;
	}
	nm->family = genl_ctrl_resolve(nm->sock, NPU_MEM_GENL_NAME);
	if (nm->family < 0) {
		errmsg("generic netlink family \"%s\" not found (is npu_mem.ko loaded?)",
		       NPU_MEM_GENL_NAME);
		goto err_free;
	}
	return 0;

err_free:
	nl_socket_free(nm->sock);
	return -1;
}

static int error_handler(struct sockaddr_nl *nla, struct nlmsgerr *err, void *arg)
{
	(void)nla;
	*(int *)arg = err->error;
	return NL_STOP;
}

static int finish_handler(struct nl_msg *msg, void *arg)
{
	(void)msg;
	*(int *)arg = 0;
	return NL_SKIP;
}

static int ack_handler(struct nl_msg *msg, void *arg)
{
	(void)msg;
	*(int *)arg = 0;
	return NL_STOP;
}

typedef void (*nm_handler)(struct nlattr **tb, struct nlmsghdr *nlh, void *arg);

struct nm_parse {
	int maxattr;
	nm_handler fn;
	void *arg;
};

static int valid_handler(struct nl_msg *msg, void *arg)
{
	struct nm_parse *p = arg;
	struct nlattr *tb[p->maxattr + 1];

	/* No policy: attributes above maxattr (newer modules) are skipped. */
	if (genlmsg_parse(nlmsg_hdr(msg), 0, tb, p->maxattr, NULL) < 0)
		return NL_SKIP;
	p->fn(tb, nlmsg_hdr(msg), p->arg);
	return NL_OK;
}

/* Send @cmd (a dump if @dump) and feed each reply to @fn.  Return: 0 or -errno. */
static int nm_request(struct nm *nm, uint8_t cmd, bool dump, int maxattr,
		      nm_handler fn, void *arg)
{
	struct nm_parse p = { .maxattr = maxattr, .fn = fn, .arg = arg };
	struct nl_msg *msg;
	struct nl_cb *cb;
	int err = 1, ret;

	msg = nlmsg_alloc();
	cb = nl_cb_alloc(NL_CB_DEFAULT);
	if (!msg || !cb) {
		ret = -ENOMEM;
		goto out;
	}
	if (!genlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, nm->family, 0,
			 dump ? NLM_F_DUMP : 0, cmd, NPU_MEM_GENL_VERSION)) {
		ret = -ENOMEM;
		goto out;
	}
	nl_cb_err(cb, NL_CB_CUSTOM, error_handler, &err);
	nl_cb_set(cb, NL_CB_FINISH, NL_CB_CUSTOM, finish_handler, &err);
	nl_cb_set(cb, NL_CB_ACK, NL_CB_CUSTOM, ack_handler, &err);
	nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, valid_handler, &p);
	ret = nl_send_auto(nm->sock, msg);
	if (ret < 0) {
		ret = -EIO;
		goto out;
	}
	while (err > 0) {
		ret = nl_recvmsgs(nm->sock, cb);
		if (ret < 0 && err > 0) {
			ret = -EIO;
			goto out;
		}
	}
	ret = err;
out:
	nl_cb_put(cb);
	nlmsg_free(msg);
	return ret;
}

static int nm_fail(const char *what, int err)
{
	errmsg("%s: %s", what, strerror(-err));
	return 1;
}

/* ---- devices */

struct list_state {
	unsigned int n;
	uint32_t device;	/* objects --device, or UINT32_MAX */
	int64_t pid;		/* objects --pid, or -1 */
};

static void list_sep(struct list_state *st)
{
	if (opt_json)
		fputs(st->n ? ",\n" : "[\n", stdout);
	st->n++;
}

static void list_end(struct list_state *st)
{
	if (opt_json)
		puts(st->n ? "\n]" : "[]");
}

static void device_row(struct nlattr **tb, struct nlmsghdr *nlh, void *arg)
{
	uint64_t total = get_u64(tb, NPU_MEM_A_DEV_TOTAL);
	uint64_t used = get_u64(tb, NPU_MEM_A_DEV_USED);
	uint64_t zeroed = get_u64(tb, NPU_MEM_A_DEV_ZERO_RESERVE);
	char b1[32], b2[32], b3[32], b4[32];

	(void)nlh;
	list_sep(arg);
	if (opt_json) {
		printf("{\"id\":%u,\"total\":%" PRIu64 ",\"used\":%" PRIu64
		       ",\"free\":%" PRIu64 ",\"objects\":%u,\"exports\":%u"
		       ",\"zero_reserve\":%" PRIu64 "}",
		       get_u32(tb, NPU_MEM_A_DEV_ID), total, used, total - used,
		       get_u32(tb, NPU_MEM_A_DEV_OBJECTS),
		       get_u32(tb, NPU_MEM_A_DEV_EXPORTS), zeroed);
		return;
	}
	printf("%-6u %12s %12s %12s %8u %8u %12s\n", get_u32(tb, NPU_MEM_A_DEV_ID),
	       human_size(total, b1, sizeof(b1)), human_size(used, b2, sizeof(b2)),
	       human_size(total - used, b3, sizeof(b3)),
	       get_u32(tb, NPU_MEM_A_DEV_OBJECTS), get_u32(tb, NPU_MEM_A_DEV_EXPORTS),
	       human_size(zeroed, b4, sizeof(b4)));
}

static int cmd_devices(struct nm *nm)
{
	struct list_state st = { 0 };
	int ret;

	if (!opt_json)
		printf("%-6s %12s %12s %12s %8s %8s %12s\n", "DEVICE", "TOTAL", "USED",
		       "FREE", "OBJECTS", "EXPORTS", "ZEROED");
	ret = nm_request(nm, NPU_MEM_CMD_GET_DEVICE, true, NPU_MEM_A_DEV_MAX,
			 device_row, &st);
	if (ret)
		return nm_fail("cannot list devices", ret);
	list_end(&st);
	return 0;
}

/* ---- objects */

struct holder {
	uint32_t tgid, device;
	bool imported;
};

/* Call @fn for each NPU_MEM_A_OBJ_HOLDER of @nlh (a repeated attribute). */
static void for_each_holder(struct nlmsghdr *nlh,
			    void (*fn)(const struct holder *h, void *arg), void *arg)
{
	struct genlmsghdr *ghdr = nlmsg_data(nlh);
	struct nlattr *a, *htb[NPU_MEM_A_HOLDER_MAX + 1];
	struct holder h;
	int rem;

	nla_for_each_attr(a, genlmsg_attrdata(ghdr, 0), genlmsg_attrlen(ghdr, 0), rem) {
		if (nla_type(a) != NPU_MEM_A_OBJ_HOLDER ||
		    nla_parse_nested(htb, NPU_MEM_A_HOLDER_MAX, a, NULL) < 0)
			continue;
		h.tgid = get_u32(htb, NPU_MEM_A_HOLDER_TGID);
		h.device = get_u32(htb, NPU_MEM_A_HOLDER_DEVICE);
		h.imported = has(htb, NPU_MEM_A_HOLDER_IMPORTED);
		fn(&h, arg);
	}
}

struct holder_print {
	unsigned int n;
	bool match;
	uint32_t pid;
};

static void holder_match(const struct holder *h, void *arg)
{
	struct holder_print *hp = arg;

	hp->match |= h->tgid == hp->pid;
}

static void holder_json(const struct holder *h, void *arg)
{
	struct holder_print *hp = arg;

	printf("%s{\"tgid\":%u,\"device\":%u,\"imported\":%s}", hp->n++ ? "," : "",
	       h->tgid, h->device, h->imported ? "true" : "false");
}

static void holder_text(const struct holder *h, void *arg)
{
	struct holder_print *hp = arg;

	printf("%s%u%s", hp->n++ ? "," : "", h->tgid, h->imported ? "(i)" : "");
}

static const char *const page_kinds[] = { "normal", "huge", "huge1g" };

static const char *page_kind_name(uint32_t k)
{
	return k < sizeof(page_kinds) / sizeof(page_kinds[0]) ? page_kinds[k] : "?";
}

static void object_row(struct nlattr **tb, struct nlmsghdr *nlh, void *arg)
{
	struct list_state *st = arg;
	uint32_t dev = get_u32(tb, NPU_MEM_A_OBJ_DEVICE);
	uint32_t owner = get_u32(tb, NPU_MEM_A_OBJ_OWNER_TGID);
	bool exported = has(tb, NPU_MEM_A_OBJ_EXPORTED);
	struct holder_print hp = { 0 };
	char b[32], wl[32];

	if (st->device != UINT32_MAX && dev != st->device)
		return;
	if (st->pid >= 0) {
		hp.pid = st->pid;
		hp.match = owner == hp.pid;
		for_each_holder(nlh, holder_match, &hp);
		if (!hp.match)
			return;
	}

	list_sep(st);
	if (opt_json) {
		printf("{\"id\":%u,\"device\":%u,\"size\":%" PRIu64
		       ",\"page_kind\":\"%s\",\"owner_tgid\":%u,\"owner_comm\":",
		       get_u32(tb, NPU_MEM_A_OBJ_ID), dev, get_u64(tb, NPU_MEM_A_OBJ_SIZE),
		       page_kind_name(get_u32(tb, NPU_MEM_A_OBJ_PAGE_KIND)), owner);
		json_str(get_str(tb, NPU_MEM_A_OBJ_OWNER_COMM));
		printf(",\"exported\":%s", exported ? "true" : "false");
		if (has(tb, NPU_MEM_A_OBJ_SHAREABLE))
			printf(",\"shareable\":\"0x%016" PRIx64 "\"",
			       get_u64(tb, NPU_MEM_A_OBJ_SHAREABLE));
		if (exported)
			printf(",\"whitelist\":%s,\"whitelist_size\":%u",
			       get_u8(tb, NPU_MEM_A_OBJ_WHITELIST) ? "true" : "false",
			       get_u32(tb, NPU_MEM_A_OBJ_WHITELIST_SIZE));
		printf(",\"holders\":%u,\"mappings\":%u,\"holder_list\":[",
		       get_u32(tb, NPU_MEM_A_OBJ_HOLDERS),
		       get_u32(tb, NPU_MEM_A_OBJ_MAPPINGS));
		hp.n = 0;
		for_each_holder(nlh, holder_json, &hp);
		printf("]}");
		return;
	}
	if (!exported)
		snprintf(wl, sizeof(wl), "-");
	else if (!get_u8(tb, NPU_MEM_A_OBJ_WHITELIST))
		snprintf(wl, sizeof(wl), "off");
	else
		snprintf(wl, sizeof(wl), "%u pids", get_u32(tb, NPU_MEM_A_OBJ_WHITELIST_SIZE));
	printf("%-6u %-4u %10s %-7s %-7u %-15s %-8s %-8s %4u %4u  ",
	       get_u32(tb, NPU_MEM_A_OBJ_ID), dev,
	       human_size(get_u64(tb, NPU_MEM_A_OBJ_SIZE), b, sizeof(b)),
	       page_kind_name(get_u32(tb, NPU_MEM_A_OBJ_PAGE_KIND)), owner,
	       get_str(tb, NPU_MEM_A_OBJ_OWNER_COMM), exported ? "yes" : "no", wl,
	       get_u32(tb, NPU_MEM_A_OBJ_HOLDERS), get_u32(tb, NPU_MEM_A_OBJ_MAPPINGS));
	hp.n = 0;
	for_each_holder(nlh, holder_text, &hp);
	if (!hp.n)
		putchar('-');
	if (has(tb, NPU_MEM_A_OBJ_SHAREABLE))
		printf("  0x%016" PRIx64, get_u64(tb, NPU_MEM_A_OBJ_SHAREABLE));
	putchar('\n');
}

static int parse_uint(const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || !*s || *end || *s == '-' || v > max)
		return -1;
	*out = v;
	return 0;
}

static int cmd_objects(struct nm *nm, struct list_state *st)
{
	int ret;

	if (!opt_json)
		printf("%-6s %-4s %10s %-7s %-7s %-15s %-8s %-8s %4s %4s  %s\n", "OBJECT",
		       "DEV", "SIZE", "PAGES", "OWNER", "COMM", "EXPORTED", "WHITELST",
		       "HOLD", "MAPS", "HOLDER TGIDS ((i): imported)  [SHAREABLE]");
	ret = nm_request(nm, NPU_MEM_CMD_GET_OBJECT, true, NPU_MEM_A_OBJ_MAX,
			 object_row, st);
	if (ret)
		return nm_fail("cannot list objects", ret);
	list_end(st);
	return 0;
}

/* ---- procs: the kernel reports open files; sum them per process */

struct proc {
	uint32_t tgid, files, handles, mappings;
	char comm[32];
	uint64_t allocated, imported;
};

struct proc_list {
	struct proc *v;
	unsigned int n, cap;
	bool oom;
};

static void proc_row(struct nlattr **tb, struct nlmsghdr *nlh, void *arg)
{
	struct proc_list *pl = arg;
	uint32_t tgid = get_u32(tb, NPU_MEM_A_PROC_TGID);
	struct proc *p = NULL;
	unsigned int i;

	(void)nlh;
	for (i = 0; i < pl->n && !p; i++)
		if (pl->v[i].tgid == tgid)
			p = &pl->v[i];
	if (!p) {
		if (pl->n == pl->cap) {
			unsigned int cap = pl->cap ? 2 * pl->cap : 16;
			struct proc *v = realloc(pl->v, cap * sizeof(*v));

			if (!v) {
				pl->oom = true;
				return;
			}
			pl->v = v;
			pl->cap = cap;
		}
		p = &pl->v[pl->n++];
		memset(p, 0, sizeof(*p));
		p->tgid = tgid;
		snprintf(p->comm, sizeof(p->comm), "%s", get_str(tb, NPU_MEM_A_PROC_COMM));
	}
	p->files++;
	p->allocated += get_u64(tb, NPU_MEM_A_PROC_ALLOCATED);
	p->imported += get_u64(tb, NPU_MEM_A_PROC_IMPORTED);
	p->handles += get_u32(tb, NPU_MEM_A_PROC_HANDLES);
	p->mappings += get_u32(tb, NPU_MEM_A_PROC_MAPPINGS);
}

static int cmd_procs(struct nm *nm)
{
	struct proc_list pl = { 0 };
	struct list_state st = { 0 };
	char b1[32], b2[32];
	unsigned int i;
	int ret;

	ret = nm_request(nm, NPU_MEM_CMD_GET_PROC, true, NPU_MEM_A_PROC_MAX,
			 proc_row, &pl);
	if (!ret && pl.oom)
		ret = -ENOMEM;
	if (ret) {
		free(pl.v);
		return nm_fail("cannot list processes", ret);
	}
	if (!opt_json)
		printf("%-7s %-15s %5s %12s %12s %7s %8s\n", "TGID", "COMM", "FILES",
		       "ALLOCATED", "IMPORTED", "HANDLES", "MAPPINGS");
	for (i = 0; i < pl.n; i++) {
		struct proc *p = &pl.v[i];

		list_sep(&st);
		if (opt_json) {
			printf("{\"tgid\":%u,\"comm\":", p->tgid);
			json_str(p->comm);
			printf(",\"files\":%u,\"allocated\":%" PRIu64 ",\"imported\":%" PRIu64
			       ",\"handles\":%u,\"mappings\":%u}", p->files, p->allocated,
			       p->imported, p->handles, p->mappings);
			continue;
		}
		printf("%-7u %-15s %5u %12s %12s %7u %8u\n", p->tgid, p->comm, p->files,
		       human_size(p->allocated, b1, sizeof(b1)),
		       human_size(p->imported, b2, sizeof(b2)), p->handles, p->mappings);
	}
	list_end(&st);
	free(pl.v);
	return 0;
}

/* ---- info */

static void info_row(struct nlattr **tb, struct nlmsghdr *nlh, void *arg)
{
	(void)nlh;
	*(bool *)arg = true;
	if (opt_json) {
		printf("{\"abi_major\":%u,\"abi_minor\":%u,\"genl_version\":%u"
		       ",\"num_devices\":%u,\"admin\":%s,\"tool_abi_major\":%u"
		       ",\"tool_abi_minor\":%u,\"tool_genl_version\":%u}\n",
		       get_u32(tb, NPU_MEM_A_INFO_ABI_MAJOR),
		       get_u32(tb, NPU_MEM_A_INFO_ABI_MINOR),
		       get_u32(tb, NPU_MEM_A_INFO_GENL_VERSION),
		       get_u32(tb, NPU_MEM_A_INFO_NUM_DEVICES),
		       has(tb, NPU_MEM_A_INFO_ADMIN) ? "true" : "false",
		       NPU_MEM_ABI_MAJOR, NPU_MEM_ABI_MINOR, NPU_MEM_GENL_VERSION);
		return;
	}
	printf("module:       npu_mem, ABI %u.%u, netlink family version %u\n",
	       get_u32(tb, NPU_MEM_A_INFO_ABI_MAJOR), get_u32(tb, NPU_MEM_A_INFO_ABI_MINOR),
	       get_u32(tb, NPU_MEM_A_INFO_GENL_VERSION));
	printf("devices:      %u\n", get_u32(tb, NPU_MEM_A_INFO_NUM_DEVICES));
	printf("view:         %s\n", has(tb, NPU_MEM_A_INFO_ADMIN) ?
	       "everything (CAP_SYS_ADMIN)" : "own user's objects and files only");
	printf("this tool:    ABI %u.%u, netlink family version %u\n",
	       NPU_MEM_ABI_MAJOR, NPU_MEM_ABI_MINOR, NPU_MEM_GENL_VERSION);
}

static int cmd_info(struct nm *nm)
{
	bool got = false;
	int ret;

	ret = nm_request(nm, NPU_MEM_CMD_GET_INFO, false, NPU_MEM_A_INFO_MAX,
			 info_row, &got);
	if (ret)
		return nm_fail("cannot get module information", ret);
	if (!got) {
		errmsg("the module sent no information");
		return 1;
	}
	return 0;
}

/* ---- watch */

static const char *const event_names[] = {
	[NPU_MEM_EVENT_ALLOCATED] = "allocated",
	[NPU_MEM_EVENT_FREED] = "freed",
	[NPU_MEM_EVENT_EXPORTED] = "exported",
	[NPU_MEM_EVENT_PIDS_SET] = "pids-set",
	[NPU_MEM_EVENT_IMPORTED] = "imported",
	[NPU_MEM_EVENT_IMPORT_REFUSED] = "import-refused",
	[NPU_MEM_EVENT_HOLDER_DIED] = "holder-died",
	[NPU_MEM_EVENT_RELEASED] = "released",
};

static const char *const reason_names[] = {
	[NPU_MEM_REFUSAL_NOT_WHITELISTED] = "not-whitelisted",
	[NPU_MEM_REFUSAL_PID_REUSED] = "pid-reused",
	[NPU_MEM_REFUSAL_SELF_IMPORT] = "self-import",
	[NPU_MEM_REFUSAL_DUPLICATE] = "duplicate",
	[NPU_MEM_REFUSAL_DEAD_VALUE] = "dead-value",
};

/* @names[@v], or "unknown-@v" in @buf for values from a newer module. */
static const char *enum_name(const char *const *names, size_t n, uint32_t v,
			     char *buf, size_t len)
{
	if (v < n && names[v])
		return names[v];
	snprintf(buf, len, "unknown-%u", v);
	return buf;
}

struct watch_state {
	unsigned long seen, count;	/* count 0: no limit */
};

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
	stop_signal = sig;
}

static void event_row(struct nlattr **tb, struct nlmsghdr *nlh, void *arg)
{
	struct watch_state *ws = arg;
	struct genlmsghdr *ghdr = nlmsg_data(nlh);
	uint64_t ns = get_u64(tb, NPU_MEM_A_EV_TIME);
	char ts[64], tbuf[32], ebuf[24], rbuf[24], b[32];
	const char *ev, *reason = NULL;
	time_t sec = ns / 1000000000;
	struct tm tm;

	if (ghdr->cmd != NPU_MEM_CMD_EVENT || (ws->count && ws->seen >= ws->count))
		return;
	ws->seen++;
	localtime_r(&sec, &tm);
	strftime(tbuf, sizeof(tbuf), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(ts, sizeof(ts), "%s.%06u", tbuf, (unsigned int)(ns % 1000000000 / 1000));
	ev = enum_name(event_names, sizeof(event_names) / sizeof(event_names[0]),
		       get_u32(tb, NPU_MEM_A_EV_TYPE), ebuf, sizeof(ebuf));
	if (has(tb, NPU_MEM_A_EV_REASON))
		reason = enum_name(reason_names, sizeof(reason_names) / sizeof(reason_names[0]),
				   get_u32(tb, NPU_MEM_A_EV_REASON), rbuf, sizeof(rbuf));

	if (opt_json) {
		printf("{\"time\":\"%s\",\"time_ns\":%" PRIu64 ",\"event\":\"%s\"", ts, ns, ev);
		if (has(tb, NPU_MEM_A_EV_OBJ))
			printf(",\"object\":%u", get_u32(tb, NPU_MEM_A_EV_OBJ));
		if (has(tb, NPU_MEM_A_EV_DEVICE))
			printf(",\"device\":%u", get_u32(tb, NPU_MEM_A_EV_DEVICE));
		if (has(tb, NPU_MEM_A_EV_SIZE))
			printf(",\"size\":%" PRIu64, get_u64(tb, NPU_MEM_A_EV_SIZE));
		if (has(tb, NPU_MEM_A_EV_TGID)) {
			printf(",\"tgid\":%u,\"comm\":", get_u32(tb, NPU_MEM_A_EV_TGID));
			json_str(get_str(tb, NPU_MEM_A_EV_COMM));
		}
		if (reason)
			printf(",\"reason\":\"%s\"", reason);
		if (has(tb, NPU_MEM_A_EV_PIDS))
			printf(",\"pids\":%u", get_u32(tb, NPU_MEM_A_EV_PIDS));
		if (has(tb, NPU_MEM_A_EV_SHAREABLE))
			printf(",\"shareable\":\"0x%016" PRIx64 "\"",
			       get_u64(tb, NPU_MEM_A_EV_SHAREABLE));
		printf("}\n");
	} else {
		printf("%s %-14s", ts, ev);
		if (has(tb, NPU_MEM_A_EV_OBJ))
			printf(" object %u", get_u32(tb, NPU_MEM_A_EV_OBJ));
		if (has(tb, NPU_MEM_A_EV_DEVICE))
			printf(" device %u", get_u32(tb, NPU_MEM_A_EV_DEVICE));
		if (has(tb, NPU_MEM_A_EV_SIZE))
			printf(" size %s", human_size(get_u64(tb, NPU_MEM_A_EV_SIZE), b, sizeof(b)));
		if (has(tb, NPU_MEM_A_EV_TGID))
			printf(" pid %u (%s)", get_u32(tb, NPU_MEM_A_EV_TGID),
			       get_str(tb, NPU_MEM_A_EV_COMM));
		if (has(tb, NPU_MEM_A_EV_PIDS))
			printf(" pids %u", get_u32(tb, NPU_MEM_A_EV_PIDS));
		if (has(tb, NPU_MEM_A_EV_SHAREABLE))
			printf(" value 0x%016" PRIx64, get_u64(tb, NPU_MEM_A_EV_SHAREABLE));
		if (reason)
			printf(" reason %s", reason);
		putchar('\n');
	}
	fflush(stdout);
}

/* Notifications carry sequence number 0: accept them. */
static int no_seq_check(struct nl_msg *msg, void *arg)
{
	(void)msg;
	(void)arg;
	return NL_OK;
}

static int cmd_watch(struct nm *nm, unsigned long count, bool quiet)
{
	struct nm_parse p = { .maxattr = NPU_MEM_A_EV_MAX, .fn = event_row };
	struct watch_state ws = { .count = count };
	struct sigaction sa = { .sa_handler = on_signal };
	sigset_t block, orig;
	struct pollfd pfd;
	struct nl_cb *cb;
	int grp, ret;

	grp = genl_ctrl_resolve_grp(nm->sock, NPU_MEM_GENL_NAME, NPU_MEM_GENL_MCGRP_EVENTS);
	if (grp < 0) {
		errmsg("multicast group \"%s\" not found: %s", NPU_MEM_GENL_MCGRP_EVENTS,
		       nl_geterror(grp));
		return 1;
	}
	ret = nl_socket_add_membership(nm->sock, grp);
	if (ret) {
		errmsg("cannot join the \"%s\" group: %s%s", NPU_MEM_GENL_MCGRP_EVENTS,
		       nl_geterror(ret), ret == -NLE_PERM ? " (needs CAP_SYS_ADMIN)" : "");
		return 1;
	}
	nl_socket_set_nonblocking(nm->sock);
	nl_socket_set_buffer_size(nm->sock, 1 << 20, 0);
	cb = nl_cb_alloc(NL_CB_DEFAULT);
	if (!cb) {
		errmsg("out of memory");
		return 1;
	}
	p.arg = &ws;
	nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, valid_handler, &p);
	nl_cb_set(cb, NL_CB_SEQ_CHECK, NL_CB_CUSTOM, no_seq_check, NULL);

	/* Signals are only delivered inside ppoll(): no wakeup is lost. */
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigprocmask(SIG_BLOCK, &block, &orig);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (!quiet)
		fprintf(stderr, "%s: listening for events\n", prog);

	pfd.fd = nl_socket_get_fd(nm->sock);
	pfd.events = POLLIN;
	ret = 0;
	while (!stop_signal && (!count || ws.seen < count)) {
		if (ppoll(&pfd, 1, NULL, &orig) < 0) {
			if (errno == EINTR)
				continue;
			errmsg("poll: %s", strerror(errno));
			ret = 1;
			break;
		}
		ret = nl_recvmsgs(nm->sock, cb);
		if (ret == -NLE_NOMEM) {
			/* ENOBUFS: the socket overflowed; say so and go on. */
			errmsg("events were lost (receive buffer overflow)");
		} else if (ret < 0 && ret != -NLE_AGAIN) {
			errmsg("cannot receive events: %s", nl_geterror(ret));
			ret = 1;
			break;
		}
		ret = 0;
	}
	nl_cb_put(cb);
	return ret;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ "device", required_argument, NULL, 'd' },
		{ "pid", required_argument, NULL, 'p' },
		{ "count", required_argument, NULL, 'c' },
		{ NULL, 0, NULL, 0 },
	};
	struct list_state st = { .device = UINT32_MAX, .pid = -1 };
	bool quiet = false, have_dev = false, have_pid = false, have_count = false;
	unsigned long count = 0;
	const char *cmd;
	uint64_t v;
	struct nm nm;
	int c, ret;

	/* GNU getopt permutes: options may come before or after the command. */
	while ((c = getopt_long(argc, argv, "jqhd:p:c:", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			opt_json = true;
			break;
		case 'q':
			quiet = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'd':
			if (parse_uint(optarg, UINT32_MAX - 1, &v)) {
				errmsg("--device: not a device id: %s", optarg);
				return 2;
			}
			st.device = v;
			have_dev = true;
			break;
		case 'p':
			if (parse_uint(optarg, INT32_MAX, &v)) {
				errmsg("--pid: not a pid: %s", optarg);
				return 2;
			}
			st.pid = v;
			have_pid = true;
			break;
		case 'c':
			if (parse_uint(optarg, ULONG_MAX, &v) || !v) {
				errmsg("--count: not a positive number: %s", optarg);
				return 2;
			}
			count = v;
			have_count = true;
			break;
		default:
			fprintf(stderr, "Try '%s --help'.\n", prog);
			return 2;
		}
	}
	if (optind >= argc) {
		errmsg("no command given; try '%s --help'", prog);
		return 2;
	}
	cmd = argv[optind++];
	if (optind < argc) {
		errmsg("unexpected argument '%s'", argv[optind]);
		return 2;
	}
	if (strcmp(cmd, "devices") && strcmp(cmd, "objects") && strcmp(cmd, "procs") &&
	    strcmp(cmd, "watch") && strcmp(cmd, "info")) {
		errmsg("unknown command '%s'; try '%s --help'", cmd, prog);
		return 2;
	}
	if ((have_dev || have_pid) && strcmp(cmd, "objects")) {
		errmsg("--device and --pid only apply to 'objects'");
		return 2;
	}
	if ((have_count || quiet) && strcmp(cmd, "watch")) {
		errmsg("--count and --quiet only apply to 'watch'");
		return 2;
	}

	if (nm_open(&nm))
		return 1;
	if (!strcmp(cmd, "devices"))
		ret = cmd_devices(&nm);
	else if (!strcmp(cmd, "objects"))
		ret = cmd_objects(&nm, &st);
	else if (!strcmp(cmd, "procs"))
		ret = cmd_procs(&nm);
	else if (!strcmp(cmd, "info"))
		ret = cmd_info(&nm);
	else
		ret = cmd_watch(&nm, count, quiet);
	nl_socket_free(nm.sock);
	if (fflush(stdout) == EOF && !ret) {
		errmsg("write error: %s", strerror(errno));
		ret = 1;
	}
	return ret;
}
