/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * virtio-blk (virtio 1.2 §5.2): one request queue served on the device's I/O thread, with
 * synchronous vectored I/O straight between the image and the guest's buffers.  The device
 * model never sees a guest address and never exits the VMM on guest input: a bad request
 * fails with VIRTIO_BLK_S_IOERR, a request it cannot even answer puts the device in
 * DEVICE_NEEDS_RESET.
 */
#ifndef XENO_DEVICES_VIRTIO_BLK_H
#define XENO_DEVICES_VIRTIO_BLK_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/block/backend.h"
#include "devices/virtio/virtio.h"

#define VIRTIO_BLK_SERIAL_MAX 20 /* bytes of the GET_ID string (§5.2.6) */

/* Feature bits (§5.2.3). */
#define VIRTIO_BLK_F_SEG_MAX      (1ULL << 2)
#define VIRTIO_BLK_F_RO           (1ULL << 5)
#define VIRTIO_BLK_F_BLK_SIZE     (1ULL << 6)
#define VIRTIO_BLK_F_FLUSH        (1ULL << 9)
#define VIRTIO_BLK_F_DISCARD      (1ULL << 13)
#define VIRTIO_BLK_F_WRITE_ZEROES (1ULL << 14)

/* Request types and status values (§5.2.6). */
#define VIRTIO_BLK_T_IN           0u
#define VIRTIO_BLK_T_OUT          1u
#define VIRTIO_BLK_T_FLUSH        4u
#define VIRTIO_BLK_T_GET_ID       8u
#define VIRTIO_BLK_T_DISCARD      11u
#define VIRTIO_BLK_T_WRITE_ZEROES 13u
#define VIRTIO_BLK_S_OK           0u
#define VIRTIO_BLK_S_IOERR        1u
#define VIRTIO_BLK_S_UNSUPP       2u

/* Flags of a discard / write-zeroes segment. */
#define VIRTIO_BLK_WZ_F_UNMAP 1u

#define VIRTIO_BLK_SECTOR_SIZE      512u
#define VIRTIO_BLK_QUEUE_SIZE       256u
#define VIRTIO_BLK_SEG_MAX          (VIRTIO_BLK_QUEUE_SIZE - 2) /* chain minus header, status */
#define VIRTIO_BLK_MAX_DWZ_SECTORS  (1u << 22) /* 2 GiB per discard/write-zeroes segment */
#define VIRTIO_BLK_MAX_DWZ_SEGMENTS 16u
#define VIRTIO_BLK_CONFIG_SIZE      60u /* up to write_zeroes_may_unmap and its padding */

struct virtio_blk_config {
	const char *path;   /* image file or block device */
	const char *format; /* "raw" or "qcow2"; NULL: qcow2 if the file has its magic, else raw */
	bool read_only;     /* opened O_RDONLY, VIRTIO_BLK_F_RO offered */
	const char *serial; /* GET_ID answer, at most 20 bytes used; NULL for none */
	enum blk_cache cache; /* BLK_CACHE_WRITEBACK (0) unless asked */
	bool no_lock;         /* take no OFD lock on the image and its backing files */
};

/* Counters of served requests; read with virtio_blk_stats from any thread. */
struct virtio_blk_stats {
	uint64_t reads;
	uint64_t writes;
	uint64_t flushes;
	uint64_t discards; /* DISCARD and WRITE_ZEROES requests */
	uint64_t read_bytes;
	uint64_t write_bytes;
	uint64_t errors;      /* requests answered VIRTIO_BLK_S_IOERR */
	uint64_t unsupported; /* requests answered VIRTIO_BLK_S_UNSUPP */
};

/*
 * Opens the image and makes a device ready for a transport.  Returns 0 and *ret (freed by
 * (*ret)->ops->free), -EINVAL for an unknown format or a serial over 20 bytes, -EBUSY if
 * another process holds the image's lock, or the backend's -errno; on failure err holds one
 * line naming the file and what is wrong.  Main thread.
 */
int virtio_blk_new(const struct virtio_blk_config *cfg, struct virtio_dev **ret, char *err,
                   size_t errlen) __attribute__((warn_unused_result));

/* A snapshot of dev's counters (dev made by virtio_blk_new).  Any thread. */
void virtio_blk_stats(const struct virtio_dev *dev, struct virtio_blk_stats *ret_stats);

extern const struct virtio_dev_ops virtio_blk_ops;

#endif
