/* SPDX-License-Identifier: GPL-2.0 */
/*
 * npu-mem's printer: one call per field writes either the text form or the
 * JSON form of it, after iproute2's lib/json_print.c.
 *
 * PRINT_FP fields appear only in text output, PRINT_JSON fields only in JSON,
 * PRINT_ANY fields in both.  @key names a JSON member (NULL inside an array);
 * @fmt is the printf format of the text form (NULL: no text form).
 *
 * JSON layout: an array opened at the top level has one element per line
 * ("[\n", ",\n" between elements, "\n]\n"; "[]\n" when empty, and nothing at
 * all until its first element or its close); any other array or object is
 * written on one line; an object closed at the top level ends its line.
 */
#ifndef NPU_MEM_PRINT_H
#define NPU_MEM_PRINT_H

#include <stdbool.h>
#include <stdint.h>

enum output_type {
	PRINT_FP = 1,
	PRINT_JSON = 2,
	PRINT_ANY = PRINT_FP | PRINT_JSON,
};

void print_set_json(bool on);
bool print_is_json(void);

/* JSON only: in text output these write nothing. */
void open_json_object(const char *key);
void close_json_object(void);
void open_json_array(const char *key);
void close_json_array(void);

void print_u32(enum output_type t, const char *key, const char *fmt, uint32_t v);
void print_u64(enum output_type t, const char *key, const char *fmt, uint64_t v);
void print_bool(enum output_type t, const char *key, const char *fmt, bool v);
void print_string(enum output_type t, const char *key, const char *fmt, const char *v);
/* JSON: the string "0x" and 16 hex digits (a JSON number may lose bits). */
void print_0xhex(enum output_type t, const char *key, const char *fmt, uint64_t v);
/* JSON: the number of bytes; text: a human-readable size ("2 MiB") as %s. */
void print_size(enum output_type t, const char *key, const char *fmt, uint64_t v);
/* Text only: printf(@fmt, ...) (table headers), and a newline (end of a row). */
void print_fp(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void print_nl(void);

#endif /* NPU_MEM_PRINT_H */
