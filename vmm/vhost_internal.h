/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vhost-user wire protocol constants and payload layouts (vmm internal; the unit tests and the fuzz
 * harness use them to speak as a front-end). Numbers from the vhost-user specification
 * (QEMU docs/interop/vhost-user.rst); layouts are little-endian, as on every host riov runs on.
 */
#ifndef RIOV_VMM_VHOST_INTERNAL_H
#define RIOV_VMM_VHOST_INTERNAL_H

#include <stdint.h>

#include "vmm/guest_mem_internal.h"

enum riov_vu_request {
	VU_GET_FEATURES = 1,
	VU_SET_FEATURES = 2,
	VU_SET_OWNER = 3,
	VU_RESET_OWNER = 4,
	VU_SET_MEM_TABLE = 5,
	VU_SET_LOG_BASE = 6,
	VU_SET_LOG_FD = 7,
	VU_SET_VRING_NUM = 8,
	VU_SET_VRING_ADDR = 9,
	VU_SET_VRING_BASE = 10,
	VU_GET_VRING_BASE = 11,
	VU_SET_VRING_KICK = 12,
	VU_SET_VRING_CALL = 13,
	VU_SET_VRING_ERR = 14,
	VU_GET_PROTOCOL_FEATURES = 15,
	VU_SET_PROTOCOL_FEATURES = 16,
	VU_GET_QUEUE_NUM = 17,
	VU_SET_VRING_ENABLE = 18,
	VU_SEND_RARP = 19,
	VU_NET_SET_MTU = 20,
	VU_SET_SLAVE_REQ_FD = 21,
	VU_IOTLB_MSG = 22,
	VU_GET_CONFIG = 24,
	VU_SET_CONFIG = 25,
	VU_GET_INFLIGHT_FD = 31,
	VU_SET_INFLIGHT_FD = 32,
	VU_RESET_DEVICE = 34,
	VU_GET_MAX_MEM_SLOTS = 36,
	VU_ADD_MEM_REG = 37,
	VU_REM_MEM_REG = 38,
	VU_SET_STATUS = 39,
	VU_GET_STATUS = 40,
	VU_REQUEST_MAX = 41,
};

/* back-end -> front-end requests (on the SET_SLAVE_REQ_FD channel) */
#define VU_SLAVE_IOTLB_MSG 1

/* header flags */
#define VU_VERSION_MASK   0x3u
#define VU_VERSION        0x1u
#define VU_FLAG_REPLY     (1u << 2)
#define VU_FLAG_NEED_REPLY (1u << 3)

#define VU_HDR_SIZE       12u
#define VU_MAX_PAYLOAD    4096u
#define VU_MAX_FDS        8u

/* protocol feature bits */
#define VU_PF_MQ                  0
#define VU_PF_LOG_SHMFD           1
#define VU_PF_RARP                2
#define VU_PF_REPLY_ACK           3
#define VU_PF_MTU                 4
#define VU_PF_SLAVE_REQ           5
#define VU_PF_CONFIG              9
#define VU_PF_INFLIGHT_SHMFD      12
#define VU_PF_RESET_DEVICE        13
#define VU_PF_CONFIGURE_MEM_SLOTS 15
#define VU_PF_STATUS              16

/* virtio feature bits not in vhost.h */
#define VU_VIRTIO_NET_F_CTRL_VQ     17
#define VU_VIRTIO_F_NOTIFY_ON_EMPTY 24
#define VU_VIRTIO_F_ANY_LAYOUT      27
#define VU_F_PROTOCOL_FEATURES      30

/* SET_VRING_KICK/CALL/ERR u64 */
#define VU_VRING_IDX_MASK 0xffull
#define VU_VRING_NOFD     (1ull << 8)

/* SET_VRING_ADDR flags */
#define VU_VRING_F_LOG    1u

/* memory table: nregions, padding, regions */
#define VU_MEM_BASELINE_REGIONS 8u

struct vu_vring_state {
	uint32_t index;
	uint32_t num;
};

struct vu_vring_addr {
	uint32_t index;
	uint32_t flags;
	uint64_t desc;
	uint64_t used;
	uint64_t avail;
	uint64_t log;
};

struct vu_mem_table_hdr {
	uint32_t nregions;
	uint32_t padding;
};

struct vu_mem_reg_single {
	uint64_t padding;
	struct riov_guest_region_desc r;
};

struct vu_log {
	uint64_t mmap_size;
	uint64_t mmap_offset;
};

struct vu_iotlb {
	uint64_t iova;
	uint64_t size;
	uint64_t uaddr;
	uint8_t perm;
	uint8_t type;
};
#define VU_IOTLB_MIN_SIZE 26u
#define VU_IOTLB_MISS 1
#define VU_IOTLB_UPDATE 2
#define VU_IOTLB_INVALIDATE 3
#define VU_IOTLB_ACCESS_FAIL 4

#define VU_CONFIG_HDR_SIZE 12u
#define VU_CONFIG_MAX 256u
struct vu_config_hdr {
	uint32_t offset;
	uint32_t size;
	uint32_t flags;
};

struct vu_inflight {
	uint64_t mmap_size;
	uint64_t mmap_offset;
	uint16_t num_queues;
	uint16_t queue_size;
};
#define VU_INFLIGHT_MIN_SIZE 20u

#endif
