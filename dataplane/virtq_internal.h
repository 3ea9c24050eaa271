/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Split virtqueue layout (virtio 1.2 section 2.7) and virtio-net header (section 5.1.6), private to
 * dataplane/virtq.c and its tests. All fields are little-endian in guest memory.
 *
 * Security model: these structures live in guest memory. Nothing here is trusted: virtq.c reads
 * each field once (indices with atomic loads, descriptors copied out) and checks it before use.
 */
#ifndef RIOV_DATAPLANE_VIRTQ_INTERNAL_H
#define RIOV_DATAPLANE_VIRTQ_INTERNAL_H

#include <stdint.h>

/* virtio 1.2 2.7.5 */
#define RIOV_VRING_DESC_F_NEXT     1u
#define RIOV_VRING_DESC_F_WRITE    2u
#define RIOV_VRING_DESC_F_INDIRECT 4u
/* 2.7.10 / 2.7.7 */
#define RIOV_VRING_USED_F_NO_NOTIFY     1u
#define RIOV_VRING_AVAIL_F_NO_INTERRUPT 1u

/* Alignment the spec requires of each part (2.7, table "Virtqueue Part Alignment"). */
#define RIOV_VRING_DESC_ALIGN  16u
#define RIOV_VRING_AVAIL_ALIGN 2u
#define RIOV_VRING_USED_ALIGN  4u

/* Bounds the device applies to guest input. */
#define RIOV_VIRTQ_MAX_INDIRECT 32768u        /* entries in one indirect table */
#define RIOV_VIRTQ_MAX_PAYLOAD  65536u        /* TX payload after the virtio-net header */

struct riov_vring_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

struct riov_vring_avail {
	uint16_t flags;
	uint16_t idx;
	uint16_t ring[];      /* [size], then uint16_t used_event (EVENT_IDX) */
};

struct riov_vring_used_elem {
	uint32_t id;
	uint32_t len;
};

struct riov_vring_used {
	uint16_t flags;
	uint16_t idx;
	struct riov_vring_used_elem ring[]; /* [size], then uint16_t avail_event (EVENT_IDX) */
};

/* struct virtio_net_hdr_mrg_rxbuf / virtio 1.x header; legacy without MRG_RXBUF stops at 10 bytes. */
struct riov_virtio_net_hdr {
	uint8_t flags;
	uint8_t gso_type;
	uint16_t hdr_len;
	uint16_t gso_size;
	uint16_t csum_start;
	uint16_t csum_offset;
	uint16_t num_buffers;
} __attribute__((packed));

#define RIOV_VIRTIO_NET_HDR_NUM_BUFFERS_OFF 10u

/* Bytes of each ring part for a queue of `size` entries (with the EVENT_IDX trailer). */
static inline uint64_t riov_vring_desc_bytes(uint32_t size)
{
	return 16ull * size;
}
static inline uint64_t riov_vring_avail_bytes(uint32_t size)
{
	return 4ull + 2ull * size + 2ull;
}
static inline uint64_t riov_vring_used_bytes(uint32_t size)
{
	return 4ull + 8ull * size + 2ull;
}

/* virtio 1.2 2.7.10.1: interrupt needed if event_idx lies in [old, new). */
static inline int riov_vring_need_event(uint16_t event_idx, uint16_t new_idx, uint16_t old)
{
	return (uint16_t)(new_idx - event_idx - 1) < (uint16_t)(new_idx - old);
}

#endif
