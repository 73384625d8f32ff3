// SPDX-License-Identifier: GPL-2.0
/*
 * npu-mem's printer (print.h): text or JSON on stdout, one call per field.
 */
#include <assert.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>

#include "print.h"

#define MAX_DEPTH 8

static bool json;

/*
 * The open JSON containers: level 0 is the top level (outside everything),
 * level d > 0 the container opened d deep.  members[d]: members or elements
 * written so far in it; lines[d]: it is a top-level array (one element a
 * line, its '[' deferred to its first element or its close).
 */
static struct {
	unsigned int depth;
	unsigned int members[MAX_DEPTH];
	bool lines[MAX_DEPTH];
} js;

void print_set_json(bool on)
{
	json = on;
}

bool print_is_json(void)
{
	return json;
}

static bool want_json(enum output_type t)
{
	return json && (t & PRINT_JSON);
}

static bool want_fp(enum output_type t, const char *fmt)
{
	return !json && (t & PRINT_FP) && fmt;
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

/* Start a member of the innermost container: the separator, then "key":. */
static void json_member(const char *key)
{
	unsigned int n = js.members[js.depth]++;

	if (js.lines[js.depth])
		fputs(n ? ",\n" : "[\n", stdout);
	else if (n)
		putchar(',');
	if (key) {
		json_str(key);
		putchar(':');
	}
}

/* JSON: open a container with bracket @open; a top-level array defers its '['. */
static void json_open(const char *key, char open)
{
	bool lines = !js.depth && open == '[';

	if (!json)
		return;
	if (js.depth)
		json_member(key);
	if (!lines)
		putchar(open);
	assert(js.depth + 1 < MAX_DEPTH);
	js.depth++;
	js.members[js.depth] = 0;
	js.lines[js.depth] = lines;
}

/* JSON: close the innermost container, an array or an object. */
static void json_close(char close)
{
	if (!json)
		return;
	assert(js.depth > 0);
	if (!js.lines[js.depth])
		putchar(close);
	else
		fputs(js.members[js.depth] ? "\n]" : "[]", stdout);
	js.depth--;
	if (!js.depth)
		putchar('\n');
}

void open_json_object(const char *key)
{
	json_open(key, '{');
}

void close_json_object(void)
{
	json_close('}');
}

void open_json_array(const char *key)
{
	json_open(key, '[');
}

void close_json_array(void)
{
	json_close(']');
}

/* The one place that writes a field: JSON with @jfmt, text with @fmt. */
static void print_field(enum output_type t, const char *key, const char *jfmt,
			const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (want_json(t)) {
		json_member(key);
		vprintf(jfmt, ap);
	} else if (want_fp(t, fmt)) {
		vprintf(fmt, ap);
	}
	va_end(ap);
}

void print_u32(enum output_type t, const char *key, const char *fmt, uint32_t v)
{
	print_field(t, key, "%u", fmt, v);
}

void print_u64(enum output_type t, const char *key, const char *fmt, uint64_t v)
{
	print_field(t, key, "%" PRIu64, fmt, v);
}

void print_bool(enum output_type t, const char *key, const char *fmt, bool v)
{
	print_field(t, key, "%s", fmt, v ? "true" : "false");
}

void print_0xhex(enum output_type t, const char *key, const char *fmt, uint64_t v)
{
	print_field(t, key, "\"0x%016" PRIx64 "\"", fmt, v);
}

void print_string(enum output_type t, const char *key, const char *fmt, const char *v)
{
	if (want_json(t)) {
		json_member(key);
		json_str(v);
	} else if (want_fp(t, fmt)) {
		printf(fmt, v);
	}
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

void print_size(enum output_type t, const char *key, const char *fmt, uint64_t v)
{
	char buf[32];

	print_u64(t & PRINT_JSON, key, NULL, v);
	if (want_fp(t, fmt))
		printf(fmt, human_size(v, buf, sizeof(buf)));
}

void print_fp(const char *fmt, ...)
{
	va_list ap;

	if (json)
		return;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
}

void print_nl(void)
{
	if (!json)
		putchar('\n');
}
