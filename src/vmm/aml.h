/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A minimal AML encoder (ACPI 6.4 §20.2) for the few objects our DSDT needs: names with
 * integers, strings, packages and buffers, devices and scopes.  Objects are appended to a
 * byte buffer; an object with a body (scope, device, package, buffer) is opened, filled, and
 * closed, and closing writes its PkgLength.  Pure; the tables it builds are unit-tested.
 */
#ifndef XENO_VMM_AML_H
#define XENO_VMM_AML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AML_MAX_DEPTH 8

struct aml {
	uint8_t *buf;
	size_t cap;
	size_t len;
	bool overflow; /* something did not fit; the result is unusable */
	unsigned int depth;
	size_t open[AML_MAX_DEPTH]; /* where each open object's PkgLength goes */
	bool open_is_buffer[AML_MAX_DEPTH];
};

void aml_init(struct aml *a, uint8_t *buf, size_t cap);

void aml_bytes(struct aml *a, const void *data, size_t len);
/* A NameString of 1-4 characters, padded with '_' (one NameSeg, or "\\" prefixed root path). */
void aml_nameseg(struct aml *a, const char *name);
/* The shortest integer encoding (Zero, One, Byte/Word/DWord/QWordPrefix). */
void aml_integer(struct aml *a, uint64_t v);
void aml_string(struct aml *a, const char *s);
/* EISA id such as "PNP0A03" as its compressed 32-bit integer. */
void aml_eisaid(struct aml *a, const char *id);

/* Name (NAME, ...): follow with exactly one data object. */
void aml_name(struct aml *a, const char *name);

/* Open objects, closed by aml_close() in reverse order. */
void aml_scope(struct aml *a, const char *path);
void aml_device(struct aml *a, const char *name);
void aml_package(struct aml *a, uint8_t count);
void aml_buffer(struct aml *a); /* the buffer size is written at close */
void aml_close(struct aml *a);

/* Resource template items (§6.4) for a PCI root bridge's _CRS, inside aml_buffer(). */
void aml_res_bus_range(struct aml *a, uint16_t min, uint16_t max);
void aml_res_io_fixed(struct aml *a, uint16_t base, uint8_t len);
void aml_res_io_window(struct aml *a, uint16_t min, uint16_t max);
void aml_res_mem32_window(struct aml *a, uint32_t min, uint32_t max);
void aml_res_end(struct aml *a);

#endif
