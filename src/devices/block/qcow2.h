/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The qcow2 on-disk format (QEMU's docs/interop/qcow2.txt, versions 2 and 3): header field
 * offsets, table entry bits and limits, shared by the backend (qcow2.c), image creation
 * (image_create.c) and xend's sharing rules.  Every multi-byte value on disk is big-endian.
 */
#ifndef XENO_DEVICES_BLOCK_QCOW2_H
#define XENO_DEVICES_BLOCK_QCOW2_H

#include <stddef.h>

/* Header fields: byte offsets of the version 2 header, then the version 3 additions. */
#define QCOW2_H_MAGIC             0  /* u32, BLK_QCOW2_MAGIC */
#define QCOW2_H_VERSION           4  /* u32, 2 or 3 */
#define QCOW2_H_BACKING_OFFSET    8  /* u64, 0: no backing file */
#define QCOW2_H_BACKING_SIZE      16 /* u32, bytes of the name, no NUL */
#define QCOW2_H_CLUSTER_BITS      20 /* u32 */
#define QCOW2_H_SIZE              24 /* u64, virtual disk bytes */
#define QCOW2_H_CRYPT_METHOD      32 /* u32, 0: none */
#define QCOW2_H_L1_SIZE           36 /* u32, entries */
#define QCOW2_H_L1_OFFSET         40 /* u64 */
#define QCOW2_H_RT_OFFSET         48 /* u64, refcount table */
#define QCOW2_H_RT_CLUSTERS       56 /* u32 */
#define QCOW2_H_NB_SNAPSHOTS      60 /* u32 */
#define QCOW2_H_SNAPSHOTS_OFFSET  64 /* u64 */
#define QCOW2_H_V2_LENGTH         72
#define QCOW2_H_INCOMPATIBLE      72  /* u64 */
#define QCOW2_H_COMPATIBLE        80  /* u64 */
#define QCOW2_H_AUTOCLEAR         88  /* u64 */
#define QCOW2_H_REFCOUNT_ORDER    96  /* u32, refcount bits = 1 << order */
#define QCOW2_H_HEADER_LENGTH     100 /* u32, >= 104 */
#define QCOW2_H_COMPRESSION_TYPE  104 /* u8, present when header_length > 104 */
#define QCOW2_H_V3_LENGTH         104
#define QCOW2_H_V3_LENGTH_WITH_CT 112 /* with the compression type, padded to 8 */

/* Incompatible feature bits (version 3). */
#define QCOW2_INCOMPAT_DIRTY       (1ULL << 0) /* lazy refcounts not yet repaired */
#define QCOW2_INCOMPAT_CORRUPT     (1ULL << 1)
#define QCOW2_INCOMPAT_DATA_FILE   (1ULL << 2)
#define QCOW2_INCOMPAT_COMPRESSION (1ULL << 3) /* compression type other than deflate */
#define QCOW2_INCOMPAT_EXTL2       (1ULL << 4)

/* Header extensions, after the header up to the end of cluster 0. */
#define QCOW2_EXT_END            0x00000000u
#define QCOW2_EXT_BACKING_FORMAT 0xe2792acau
#define QCOW2_EXT_FEATURE_TABLE  0x6803f857u
#define QCOW2_EXT_DATA_FILE      0x44415441u

/* L1 and L2 entries. */
#define QCOW2_OFLAG_COPIED     (1ULL << 63) /* refcount is exactly 1: writable in place */
#define QCOW2_OFLAG_COMPRESSED (1ULL << 62)
#define QCOW2_OFLAG_ZERO       (1ULL << 0)           /* version 3: the cluster reads as zeroes */
#define QCOW2_OFFSET_MASK      0x00fffffffffffe00ULL /* bits 9-55 */
#define QCOW2_L1_RESERVED      0x7f000000000001ffULL
#define QCOW2_L2_RESERVED      0x3f000000000001feULL /* of a standard cluster */
#define QCOW2_RT_RESERVED      0x00000000000001ffULL

/* Limits: QEMU's, so that every image QEMU makes opens and nothing we open is unbounded. */
#define QCOW2_MIN_CLUSTER_BITS 9
#define QCOW2_MAX_CLUSTER_BITS 21
#define QCOW2_MAX_L1_BYTES     (32u << 20)
#define QCOW2_MAX_RT_BYTES     (8u << 20)
#define QCOW2_MAX_BACKING_NAME 1023u
#define QCOW2_MAX_CHAIN        16u /* backing files below one image */

/*
 * The file a qcow2 image at image_path names as its backing file (name, from the header):
 * name itself when absolute, else name in image_path's directory, as QEMU resolves it.
 * Shared by the VMM's chain walk and xend's sharing rules, which must agree on the path.
 * Returns 0, or -ENAMETOOLONG when it does not fit in outlen.
 */
int qcow2_backing_resolve(const char *image_path, const char *name, char *out, size_t outlen);

#endif
