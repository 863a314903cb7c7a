// SPDX-License-Identifier: GPL-2.0-only
/*
 * AML encoding.  PkgLength (§20.2.4) depends on the length of what follows, so an open
 * object reserves 4 bytes for it and aml_close() moves the body down when fewer suffice.
 */
#include "vmm/aml.h"

#include <string.h>

#define AML_ZERO_OP       0x00
#define AML_ONE_OP        0x01
#define AML_NAME_OP       0x08
#define AML_BYTE_PREFIX   0x0a
#define AML_WORD_PREFIX   0x0b
#define AML_DWORD_PREFIX  0x0c
#define AML_STRING_PREFIX 0x0d
#define AML_QWORD_PREFIX  0x0e
#define AML_SCOPE_OP      0x10
#define AML_BUFFER_OP     0x11
#define AML_PACKAGE_OP    0x12
#define AML_EXT_OP_PREFIX 0x5b
#define AML_DEVICE_OP     0x82
#define AML_ROOT_CHAR     '\\'

/* Large resource items (§6.4.3). */
#define RES_WORD_ADDRESS  0x88
#define RES_DWORD_ADDRESS 0x87
#define RES_IO            0x47
#define RES_END_TAG       0x79
#define RES_TYPE_MEMORY   0
#define RES_TYPE_IO       1
#define RES_TYPE_BUS      2
#define RES_MIN_MAX_FIXED 0x0c /* producer, positive decode, min and max fixed */

void aml_init(struct aml *a, uint8_t *buf, size_t cap)
{
	memset(a, 0, sizeof(*a));
	a->buf = buf;
	a->cap = cap;
}

void aml_bytes(struct aml *a, const void *data, size_t len)
{
	if (a->overflow || len > a->cap - a->len) {
		a->overflow = true;
		return;
	}
	memcpy(a->buf + a->len, data, len);
	a->len += len;
}

static void byte(struct aml *a, uint8_t b)
{
	aml_bytes(a, &b, 1);
}

static void le(struct aml *a, uint64_t v, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		byte(a, (uint8_t)(v >> (8 * i)));
}

void aml_nameseg(struct aml *a, const char *name)
{
	char seg[4] = { '_', '_', '_', '_' };
	size_t n;

	if (name[0] == AML_ROOT_CHAR) {
		byte(a, AML_ROOT_CHAR);
		name++;
	}
	n = strlen(name);
	memcpy(seg, name, n < 4 ? n : 4);
	aml_bytes(a, seg, 4);
}

void aml_integer(struct aml *a, uint64_t v)
{
	if (v == 0) {
		byte(a, AML_ZERO_OP);
	} else if (v == 1) {
		byte(a, AML_ONE_OP);
	} else if (v <= 0xff) {
		byte(a, AML_BYTE_PREFIX);
		le(a, v, 1);
	} else if (v <= 0xffff) {
		byte(a, AML_WORD_PREFIX);
		le(a, v, 2);
	} else if (v <= 0xffffffff) {
		byte(a, AML_DWORD_PREFIX);
		le(a, v, 4);
	} else {
		byte(a, AML_QWORD_PREFIX);
		le(a, v, 8);
	}
}

void aml_string(struct aml *a, const char *s)
{
	byte(a, AML_STRING_PREFIX);
	aml_bytes(a, s, strlen(s) + 1);
}

void aml_eisaid(struct aml *a, const char *id)
{
	uint32_t v;

	/* Three letters in 5 bits each, then four hex digits; stored big-endian (§19.6.35). */
	v = ((uint32_t)(id[0] - '@') << 26) | ((uint32_t)(id[1] - '@') << 21) |
	    ((uint32_t)(id[2] - '@') << 16);
	for (int i = 3; i < 7; i++) {
		char c = id[i];

		v |= (uint32_t)(c <= '9' ? c - '0' : c - 'A' + 10) << (4 * (6 - i));
	}
	byte(a, AML_DWORD_PREFIX);
	le(a, __builtin_bswap32(v), 4);
}

void aml_name(struct aml *a, const char *name)
{
	byte(a, AML_NAME_OP);
	aml_nameseg(a, name);
}

static void open_object(struct aml *a, bool is_buffer)
{
	if (a->depth == AML_MAX_DEPTH) {
		a->overflow = true;
		return;
	}
	a->open_is_buffer[a->depth] = is_buffer;
	a->open[a->depth++] = a->len;
	le(a, 0, 4); /* room for the largest PkgLength */
}

void aml_scope(struct aml *a, const char *path)
{
	byte(a, AML_SCOPE_OP);
	open_object(a, false);
	aml_nameseg(a, path);
}

void aml_device(struct aml *a, const char *name)
{
	byte(a, AML_EXT_OP_PREFIX);
	byte(a, AML_DEVICE_OP);
	open_object(a, false);
	aml_nameseg(a, name);
}

void aml_package(struct aml *a, uint8_t count)
{
	byte(a, AML_PACKAGE_OP);
	open_object(a, false);
	byte(a, count);
}

void aml_buffer(struct aml *a)
{
	byte(a, AML_BUFFER_OP);
	open_object(a, true);
	le(a, 0, 5); /* room for the buffer size, a DWordPrefix integer */
}

/* Encodes a PkgLength covering itself and `body` bytes into out; returns its size. */
static size_t pkglength(size_t body, uint8_t out[4])
{
	size_t n = body + 1 <= 0x3f ? 1 : body + 2 <= 0xfff ? 2 : body + 3 <= 0xfffff ? 3 : 4;
	size_t total = body + n;

	if (n == 1) {
		out[0] = (uint8_t)total;
		return 1;
	}
	out[0] = (uint8_t)(((n - 1) << 6) | (total & 0xf));
	for (size_t i = 1; i < n; i++)
		out[i] = (uint8_t)(total >> (4 + 8 * (i - 1)));
	return n;
}

void aml_close(struct aml *a)
{
	uint8_t pl[4];
	size_t start, body, n;

	if (a->overflow || a->depth == 0) {
		a->overflow = true;
		return;
	}
	start = a->open[--a->depth];
	if (a->open_is_buffer[a->depth]) {
		/* Fill in the buffer size: everything after the 5 reserved integer bytes. */
		uint32_t size = (uint32_t)(a->len - start - 4 - 5);

		a->buf[start + 4] = AML_DWORD_PREFIX;
		memcpy(a->buf + start + 5, &size, 4);
	}
	body = a->len - start - 4;
	n = pkglength(body, pl);
	memmove(a->buf + start + n, a->buf + start + 4, body);
	memcpy(a->buf + start, pl, n);
	a->len = start + n + body;
}

static void word_address(struct aml *a, uint8_t type, uint8_t specific, uint16_t min, uint16_t max)
{
	byte(a, RES_WORD_ADDRESS);
	le(a, 13, 2);
	byte(a, type);
	byte(a, RES_MIN_MAX_FIXED);
	byte(a, specific);
	le(a, 0, 2); /* granularity */
	le(a, min, 2);
	le(a, max, 2);
	le(a, 0, 2); /* translation */
	le(a, (uint16_t)(max - min + 1), 2);
}

void aml_res_bus_range(struct aml *a, uint16_t min, uint16_t max)
{
	word_address(a, RES_TYPE_BUS, 0, min, max);
}

void aml_res_io_fixed(struct aml *a, uint16_t base, uint8_t len)
{
	byte(a, RES_IO);
	byte(a, 1); /* 16-bit decode */
	le(a, base, 2);
	le(a, base, 2);
	byte(a, 1);
	byte(a, len);
}

void aml_res_io_window(struct aml *a, uint16_t min, uint16_t max)
{
	word_address(a, RES_TYPE_IO, 3 /* ISA and non-ISA ranges */, min, max);
}

void aml_res_mem32_window(struct aml *a, uint32_t min, uint32_t max)
{
	byte(a, RES_DWORD_ADDRESS);
	le(a, 23, 2);
	byte(a, RES_TYPE_MEMORY);
	byte(a, RES_MIN_MAX_FIXED);
	byte(a, 1); /* read-write, non-cacheable */
	le(a, 0, 4);
	le(a, min, 4);
	le(a, max, 4);
	le(a, 0, 4);
	le(a, max - min + 1, 4);
}

void aml_res_end(struct aml *a)
{
	byte(a, RES_END_TAG);
	byte(a, 0); /* checksum 0: "treat as correct" */
}
