/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Making new disk images: raw (a sparse file) or qcow2 version 3 with 64 KiB clusters,
 * optionally on a backing file.  Used by xeno-img (which xm image-create runs) and by the
 * tests; runs on whatever thread calls it and never logs.
 */
#ifndef XENO_DEVICES_BLOCK_IMAGE_CREATE_H
#define XENO_DEVICES_BLOCK_IMAGE_CREATE_H

#include <stddef.h>
#include <stdint.h>

/* The largest virtual size image_create accepts: 64 TiB, as QEMU's qcow2 driver. */
#define IMAGE_CREATE_MAX_BYTES (64ULL << 40)

/*
 * Creates the image file path, which must not exist yet (O_EXCL), of format "raw" or
 * "qcow2" and size_bytes (a multiple of 512, at most IMAGE_CREATE_MAX_BYTES).  With
 * backing (qcow2 only), the new image is an overlay on it: backing is stored as given (a
 * relative name is resolved against path's directory when the image is opened), its format
 * is probed and recorded, and size_bytes 0 means the backing image's size.  The backing
 * chain is opened read-only and unlocked to check it.  The file is synced before return.
 * Returns 0, or -errno with one line in err; on failure no file is left behind.
 */
int image_create(const char *path, const char *format, uint64_t size_bytes, const char *backing,
                 char *err, size_t errlen) __attribute__((warn_unused_result));

#endif
