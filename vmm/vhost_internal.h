/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The vhost-user device's insides (vmm internal): the wire protocol's numbers and payload layouts,
 * the one list of the requests riov serves (VU_MESSAGES, from which the request enum, the dispatch
 * table and the names are made), the device's state, and what the vhost*.c files call across each
 * other. The unit tests and the fuzz harness (tests/fuzz/fuzz_vhost_msg.c) use it to speak as a
 * front-end and to reach a device without a socket.
 *
 * Files: vhost.c (device life, negotiation, device-level requests, public API), vhost_socket.c
 * (server and client sockets, reconnect, the connection), vhost_msg.c (message I/O, checks and
 * dispatch), vhost_vring.c (vrings: start, stop, pause, their requests), vhost_mem.c (guest memory
 * table, dirty log, inflight), vhost_iotlb.c (VT-d domains, IOTLB requests, back-end channel),
 * vhost_ringrec.c (packed vrings' positions kept for the next riovd).
 *
 * Numbers and names from the vhost-user specification (QEMU docs/interop/vhost-user.rst), which
 * calls the back-end's own channel to the front-end the back-end channel (BACKEND_REQ_FD). Layouts
 * are little-endian, as on every host riov runs on.
 *
 * Thread rules: control thread only, except riov_vhost_dev.miss_req (see vhost.h miss_slot).
 */
#ifndef RIOV_VMM_VHOST_INTERNAL_H
#define RIOV_VMM_VHOST_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "vmm/guest_mem_internal.h"
#include "vmm/vhost.h"

struct event;

/* ---- the wire protocol ---------------------------------------------------------------------- */

/* back-end -> front-end requests (on the BACKEND_REQ_FD channel) */
#define VU_BACKEND_IOTLB_MSG 1

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
#define VU_PF_BACKEND_REQ         5
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

_Static_assert(VU_MEM_BASELINE_REGIONS <= VU_MAX_FDS, "a memory table's fds fit one message");

/* ---- the requests ---------------------------------------------------------------------------- */

/*
 * Every request riov serves, one row each. X(name, number, handler, payload, fds_min, fds_max,
 * early, refusable, stops):
 *   name       VU_<name> in enum riov_vu_request, "<name>" in logs
 *   number     the request's number in the specification
 *   handler    int vu_h_<handler>(dev, msg), declared below from this list
 *   payload    the payload's shape: sizes and the content check the dispatcher runs before the
 *              handler (VU_SHAPE_<payload> in vhost_msg.c)
 *   fds_*      how many file descriptors may come with it
 *   early      1: may arrive before SET_FEATURES
 *   refusable  1: the handler's failure is a refusal (a well-formed request riovd will not carry
 *              out): answered (REPLY_ACK), counted, the session goes on. 0: a failure ends it.
 *   stops      which running vrings the handler may stop, waiting for the workers (vring_stop of
 *              riov_vhost_ops returns only once no worker touches the vring): NONE; NAMED, the
 *              vring whose u32 index the payload starts with; ANY. PAUSE_*: the same, and it may
 *              hold (riov_vhost_ops.hold) while it stops vrings only to restart them.
 *              Checked: a handler that stops or holds beyond its row is counted (rule_breaks) and
 *              logged by vu_vring_stop()/vu_hold(); a handler that stops vrings states its row
 *              with VU_STOPS(), a _Static_assert against this column; and a unit test sends each
 *              request to running vrings and compares what stopped with this column.
 */
#define VU_MESSAGES(X)                                                                           \
	/* name                 no. handler            payload      fds   early refuse stops */    \
	X(GET_FEATURES,           1, get_features,      NONE_OR_U64, 0, 0, 1, 0, NONE)             \
	X(SET_FEATURES,           2, set_features,      U64,         0, 0, 1, 0, PAUSE_ANY)        \
	X(SET_OWNER,              3, set_owner,         NONE_OR_U64, 0, 0, 1, 0, NONE)             \
	X(RESET_OWNER,            4, reset,             NONE_OR_U64, 0, 0, 1, 0, ANY)              \
	X(SET_MEM_TABLE,          5, set_mem_table,     MEM_TABLE,   0, 8, 0, 1, PAUSE_ANY)        \
	X(SET_LOG_BASE,           6, set_log_base,      LOG,         1, 1, 0, 0, PAUSE_ANY)        \
	X(SET_LOG_FD,             7, set_log_fd,        NONE_OR_U64, 1, 1, 0, 0, NONE)             \
	X(SET_VRING_NUM,          8, set_vring_num,     VRING_STATE, 0, 0, 0, 0, NONE)             \
	X(SET_VRING_ADDR,         9, set_vring_addr,    VRING_ADDR,  0, 0, 0, 0, PAUSE_NAMED)      \
	X(SET_VRING_BASE,        10, set_vring_base,    VRING_STATE, 0, 0, 0, 0, NONE)             \
	X(GET_VRING_BASE,        11, get_vring_base,    VRING_STATE, 0, 0, 1, 0, NAMED)            \
	X(SET_VRING_KICK,        12, set_vring_kick,    VRING_FD,    0, 1, 0, 0, NONE)             \
	X(SET_VRING_CALL,        13, set_vring_call,    VRING_FD,    0, 1, 1, 0, NONE)             \
	X(SET_VRING_ERR,         14, set_vring_err,     VRING_FD,    0, 1, 1, 0, NONE)             \
	X(GET_PROTOCOL_FEATURES, 15, get_proto,         NONE_OR_U64, 0, 0, 1, 0, NONE)             \
	X(SET_PROTOCOL_FEATURES, 16, set_proto,         U64,         0, 0, 1, 0, NONE)             \
	X(GET_QUEUE_NUM,         17, get_queue_num,     NONE_OR_U64, 0, 0, 1, 0, NONE)             \
	X(SET_VRING_ENABLE,      18, set_vring_enable,  VRING_STATE, 0, 0, 1, 0, NAMED)            \
	X(SEND_RARP,             19, send_rarp,         U64,         0, 0, 1, 1, NONE)             \
	X(NET_SET_MTU,           20, net_set_mtu,       U64,         0, 0, 1, 1, NONE)             \
	X(SET_BACKEND_REQ_FD,    21, set_backend_req_fd, NONE_OR_U64, 1, 1, 1, 0, NONE)            \
	X(IOTLB_MSG,             22, iotlb_msg,         IOTLB,       0, 0, 0, 1, NONE)             \
	X(GET_CONFIG,            24, get_config,        CONFIG,      0, 0, 1, 0, NONE)             \
	X(SET_CONFIG,            25, set_config,        CONFIG,      0, 0, 1, 0, NONE)             \
	X(GET_INFLIGHT_FD,       31, get_inflight_fd,   INFLIGHT,    0, 0, 1, 0, NONE)             \
	X(SET_INFLIGHT_FD,       32, set_inflight_fd,   INFLIGHT,    1, 1, 1, 0, NONE)             \
	X(RESET_DEVICE,          34, reset,             NONE_OR_U64, 0, 0, 1, 0, ANY)              \
	X(GET_MAX_MEM_SLOTS,     36, get_max_mem_slots, NONE_OR_U64, 0, 0, 1, 0, NONE)             \
	X(ADD_MEM_REG,           37, add_mem_reg,       MEM_REG,     1, 1, 0, 1, NONE)             \
	/* one (ignored) fd allowed: old front-ends send it */                                    \
	X(REM_MEM_REG,           38, rem_mem_reg,       MEM_REG,     0, 1, 0, 1, ANY)              \
	X(SET_STATUS,            39, set_status,        U64,         0, 0, 1, 0, NONE)             \
	X(GET_STATUS,            40, get_status,        NONE_OR_U64, 0, 0, 1, 0, NONE)

#define VU_ENUM_ROW_(name, number, ...) VU_##name = (number),
enum riov_vu_request {
	VU_MESSAGES(VU_ENUM_ROW_)
	VU_REQUEST_MAX = 41,        /* one beyond the highest number above */
};
#undef VU_ENUM_ROW_

/* the stops column's values (bits) */
#define VU_STOP_NONE        0u
#define VU_STOP_NAMED       1u   /* the vring the message names */
#define VU_STOP_ANY         2u   /* any vring */
#define VU_STOP_HOLD        4u   /* may hold around stops that restart */
#define VU_STOP_PAUSE_NAMED (VU_STOP_NAMED | VU_STOP_HOLD)
#define VU_STOP_PAUSE_ANY   (VU_STOP_ANY | VU_STOP_HOLD)

/* VU_STOPS_OF_<name>: the stops column as a constant expression, for VU_STOPS() */
#define VU_STOPS_ROW_(name, number, handler, payload, fds_min, fds_max, early, refusable, stops) \
	VU_STOPS_OF_##name = VU_STOP_##stops,
enum { VU_MESSAGES(VU_STOPS_ROW_) };
#undef VU_STOPS_ROW_

/* Every row's number fits the table, and its fds the receive buffer. */
#define VU_ROW_CHECK_(name, number, handler, payload, fds_min, fds_max, ...)                    \
	_Static_assert((number) > 0 && (number) < VU_REQUEST_MAX, #name ": number out of range");  \
	_Static_assert((fds_min) <= (fds_max) && (fds_max) <= VU_MAX_FDS, #name ": fd counts");
VU_MESSAGES(VU_ROW_CHECK_)
#undef VU_ROW_CHECK_

/* In a handler that stops vrings: the build fails unless name's row says stops. */
#define VU_STOPS(name, stops)                                                                   \
	_Static_assert(VU_STOPS_OF_##name == VU_STOP_##stops,                                       \
		       #name " stops " #stops ": its row in VU_MESSAGES says otherwise")


/* ---- the device ------------------------------------------------------------------------------ */

struct vu_vring {
	uint32_t num;
	bool num_set;
	bool addr_set;
	bool kick_set;          /* a kick fd, or the no-fd flag, arrived */
	bool enabled;
	bool running;           /* ops->vring_start called, vring_stop not yet */
	bool irte_installed;
	uint32_t addr_flags;
	uint64_t desc, avail, used, log;
	uint16_t last_avail;
	uint16_t last_used;
	bool base_from_fe;      /* last_* came from SET_VRING_BASE and the vring has not started since
				 * (not from the dataplane's report of a stop) */
	int kickfd, callfd, errfd;
	/* while running: the rings' host addresses (desc, avail, used), so that a region can tell
	 * whether a running ring lives in it (each ring lies within one mapping) */
	const uint8_t *ring_h[3];
};

/* A message being received (reads are resumable: a front-end may stall mid-message). */
struct vu_rx {
	union {
		uint8_t b[VU_HDR_SIZE];
		struct {
			uint32_t request;
			uint32_t flags;
			uint32_t size;
		} h;
	} hdr;
	size_t hdr_have;
	size_t pay_have;
	uint64_t payload[VU_MAX_PAYLOAD / 8];
	int fds[VU_MAX_FDS];
	unsigned nfds;
	bool fd_error;          /* more than VU_MAX_FDS, or MSG_CTRUNC */
};

/* A received message as its handler sees it. */
struct vu_msg {
	uint32_t request;
	uint32_t flags;
	uint32_t size;
	const uint8_t *payload;
	int *fds;               /* a handler takes fds[i] over by setting it to -1 */
	unsigned nfds;
	/* reply prepared by a handler returning VU_REPLIED */
	uint8_t reply[VU_CONFIG_HDR_SIZE + VU_CONFIG_MAX];
	uint32_t reply_size;
	int reply_fd;           /* borrowed, not closed by the dispatcher */
};

/* handler results besides 0 and -errno */
#define VU_REPLIED 1

struct riov_vhost_dev {
	struct riov_vhost_dev_params p;
	char name[64];
	char *path;
	uint64_t offered;
	uint64_t offered_proto;

	/* server */
	int listen_fd;
	struct event *listen_ev;
	bool unlink_path;
	/* the socket's directory, opened once (vhost_socket.c): bind, connect and unlink go through
	 * it; sock_dev/sock_ino name the socket file riovd bound, the only one it unlinks */
	int dir_fd;
	bool dir_open;
	const char *base;             /* the socket's name in dir_fd (points into path) */
	uint64_t sock_dev, sock_ino;
	/* client */
	struct event *timer_ev;
	unsigned backoff_ms;

	/* the one connection */
	int conn_fd;
	struct event *conn_ev;
	struct vu_rx rx;

	/* session state (reset on disconnect) */
	uint64_t features;
	bool features_set;
	uint64_t proto;
	bool owner;
	struct riov_guest_mem mem;
	bool s2_ready, s2_created, s1_ready, s1_created;
	int ctx_mode;           /* 0 none, 1 multi-level, 2 nested */
	struct vu_vring vr[RIOV_VHOST_MAX_VRINGS];
	int backend_fd;         /* the back-end channel (BACKEND_REQ_FD), -1 if none */
	int log_fd;
	void *log_map;
	size_t log_map_len;
	uint8_t *log_base;
	uint64_t log_size;
	int inflight_fd;
	void *inflight_map;
	size_t inflight_len;
	uint16_t mtu;
	uint8_t status;

	/* IOTLB miss requests from the workers (riov_vhost_vring_info.miss_slot) */
	int miss_efd;
	struct event *miss_ev;
	_Atomic uint64_t miss_req[RIOV_VHOST_MAX_VRINGS];

	/* the stops rule of the message being handled (VU_MESSAGES), kept by the dispatcher */
	const char *rule_msg;   /* its name; NULL between messages (disconnect, destroy: any stop) */
	unsigned rule;          /* its VU_STOP_* bits */
	uint32_t may_stop;      /* the vrings it may stop (bit q) */
	bool holding;           /* inside hold(true) .. hold(false) */
	uint64_t rule_breaks;   /* a handler stopped or held beyond its row: a bug in riov */

	/* counters */
	uint64_t messages, bad_messages, refused, connects, disconnects;
	uint64_t iotlb_refused;   /* IOTLB updates refused (vhost_iotlb.c: reason logged) */
	uint64_t iotlb_evictions; /* first-stage entries dropped beyond what the front-end asked, to
				   * stay within the page-table limit (vhost_iotlb.c) */
	uint64_t iotlb_updates;   /* IOTLB updates taken into the first stage (vhost_iotlb.c) */
	uint64_t iotlb_invalidations; /* IOTLB invalidations handled (vhost_iotlb.c) */
	uint64_t iotlb_miss_requests; /* IOTLB miss requests sent on the back-end channel */
	bool s1_wide;             /* the first stage changed beyond the message's range (eviction,
				   * widened invalidation): the next flush is domain-selective */
	uint64_t memory_faults; /* front-end memory that faulted under riovd (vhost_mem.c) */
	int fault_efd;          /* written by the SIGBUS guard (guest_fault.c) while fault_ev */
	struct event *fault_ev; /* on fault_efd while front-end memory is mapped (vhost_mem.c) */
	int log_fault_h, inflight_fault_h;   /* guard handles of the log, inflight maps; 0 none */
	uint64_t announces;     /* SEND_RARP requests passed on to ops->announce */
	uint64_t base_resyncs;  /* vring bases taken from the used ring (vring_resync) or from the
				 * ring record (vhost_ringrec.c) */
	/* the ring record file (riov_vhost_dev_params.ring_record), mapped; NULL without one */
	struct vu_ring_rec_file *rec;
};

/* ---- the dispatch table (vhost_msg.c) -------------------------------------------------------- */

struct vu_handler {
	const char *name;
	int (*fn)(struct riov_vhost_dev *dev, struct vu_msg *m);
	uint16_t size_min, size_max;   /* payload bytes; exact when equal */
	int (*check)(struct riov_vhost_dev *dev, struct vu_msg *m);
	uint8_t fds_min, fds_max;
	bool before_features;          /* may arrive before SET_FEATURES */
	bool refusable;
	uint8_t stops;                 /* VU_STOP_* */
};

/* Made from VU_MESSAGES; rows of numbers not in the list are empty (fn NULL). */
extern const struct vu_handler vu_handlers[VU_REQUEST_MAX];

/** The request's name ("SET_MEM_TABLE"), or "unknown". */
const char *vu_request_name(uint32_t request);

/** Read and dispatch what the connection has (non-blocking). Returns 0, or -1 after closing it. */
int vu_conn_process(struct riov_vhost_dev *dev);
/** Close the fds of the message being received and start over at a header. */
void vu_rx_reset(struct vu_rx *rx);

/* the handlers, declared from VU_MESSAGES (one prototype per row; RESET_* share one) */
#define VU_PROTO_ROW_(name, number, handler, ...)                                                  \
	int vu_h_##handler(struct riov_vhost_dev *dev, struct vu_msg *m);
VU_MESSAGES(VU_PROTO_ROW_)
#undef VU_PROTO_ROW_

/* ---- vhost.c --------------------------------------------------------------------------------- */

/** Allocate and initialise a device with no socket and no miss eventfd (riov_vhost_dev_create
 *  adds them; the fuzz harness connects it to a socketpair). NULL without memory. */
struct riov_vhost_dev *vu_dev_alloc(const struct riov_vhost_dev_params *p);
/** Release everything the front-end set up, stopping every vring first. keep_proto: RESET_OWNER
 *  and RESET_DEVICE keep the negotiated protocol features and the back-end channel. */
void vu_session_release(struct riov_vhost_dev *dev, bool keep_proto);

/* ---- vhost_socket.c -------------------------------------------------------------------------- */

/** Listen on dev->path (a stale socket is replaced, a live one is not). Returns 0 or -errno. */
int vu_server_listen(struct riov_vhost_dev *dev);
/** Start connecting to dev->path, retrying with back-off until it works. Returns 0 or -ENOMEM. */
int vu_client_start(struct riov_vhost_dev *dev);
/** Take connected socket fd as the device's connection. Returns 0, or -ENOMEM (fd closed). */
int vu_conn_open(struct riov_vhost_dev *dev, int fd);
/** Drop the connection and everything the front-end set up; client mode reconnects. */
void vu_conn_close(struct riov_vhost_dev *dev);
/** Stop reconnecting, close the connection and the listening socket, remove the socket path. */
void vu_sockets_close(struct riov_vhost_dev *dev);

/* ---- vhost_vring.c --------------------------------------------------------------------------- */

/** Stop vring qid if it runs (ops->vring_stop: waits for the workers), then remove its IRTE. */
void vu_vring_stop(struct riov_vhost_dev *dev, unsigned qid);
/** Stop every running vring. Returns the set that ran (bit q). */
uint32_t vu_vrings_stop_all(struct riov_vhost_dev *dev);
/** Start vring qid if it is ready and its rings translate; otherwise it stays pending. */
void vu_vring_try_start(struct riov_vhost_dev *dev, unsigned qid);
void vu_vrings_try_start_all(struct riov_vhost_dev *dev);
/** Close a vring's fds and forget its state. */
void vu_vring_reset(struct vu_vring *vr);
/** ops->hold(on) (if the owner has one), for vrings stopped only to restart them. */
void vu_hold(struct riov_vhost_dev *dev, bool on);

/* ---- vhost_mem.c ----------------------------------------------------------------------------- */

/** Unmap every guest region from the domain and from riovd. */
void vu_mem_release(struct riov_vhost_dev *dev);
void vu_log_release(struct riov_vhost_dev *dev);
void vu_inflight_release(struct riov_vhost_dev *dev);

/* ---- vhost_iotlb.c --------------------------------------------------------------------------- */

/** Make sure the domains exist and the device's context entry points at them in the mode the
 *  features ask for (nested with VIRTIO_F_IOMMU_PLATFORM). Returns 0 or -errno. */
int vu_domains_attach(struct riov_vhost_dev *dev);
/** Clear the context entry and destroy the domains vmm created. */
void vu_domains_detach(struct riov_vhost_dev *dev);
/** Invalidate the IOTLB of the device's domains (domain-selective: only this device's cursors
 *  are concerned). */
void vu_iotlb_flush(struct riov_vhost_dev *dev);
/** Ask the front-end on the back-end channel for the translation of iova (IOTLB miss), if there
 *  is a channel; best effort. */
void vu_iotlb_miss(struct riov_vhost_dev *dev, uint64_t iova, unsigned access);
/** Create the eventfd and event the workers' IOTLB miss requests arrive on. Returns 0 or -ENOMEM. */
int vu_miss_open(struct riov_vhost_dev *dev);
void vu_miss_close(struct riov_vhost_dev *dev);

/* ---- packed vrings' positions for the next riovd (vhost_ringrec.c) ---------------------------- */

/** Map the device's ring record file (p.ring_record), creating or re-initialising it when it is
 *  missing or not one; what a previous riovd recorded in it is kept. Failing to is logged and
 *  leaves the device without one (never fatal). */
void vu_ring_rec_open(struct riov_vhost_dev *dev);
void vu_ring_rec_close(struct riov_vhost_dev *dev);
/** The record of vring qid, NULL without a record file. */
struct riov_vring_rec *vu_ring_rec(struct riov_vhost_dev *dev, unsigned qid);
/** The front-end learned (GET_VRING_BASE) or reset vring qid's position: forget the record. */
void vu_ring_rec_forget(struct riov_vhost_dev *dev, unsigned qid);
/** A packed vring about to start from a base the front-end sent: if its record shows where the
 *  ring went on to and the ring in guest memory (desc: its host address) confirms it, start
 *  there instead (logged, counted in base_resyncs). */
void vu_ring_rec_resume(struct riov_vhost_dev *dev, unsigned qid, const void *desc);
/** Whether the packed descriptor ring of num slots at desc shows that it went on from the
 *  record (pos, chk): the used descriptor the record names still at its slot, as the device
 *  wrote it, or every slot since made available again in its lap. Then *at is the recorded
 *  position (index | wrap << 15). Reads the ring (guest memory) only. */
bool vu_ring_rec_check(const void *desc, uint32_t num, uint64_t pos, uint64_t chk, uint16_t *at);

/* ---- small helpers --------------------------------------------------------------------------- */

static inline unsigned vu_nvrings(const struct riov_vhost_dev *dev)
{
	return 2u * dev->p.max_queue_pairs;
}

static inline bool vu_has_feature(const struct riov_vhost_dev *dev, unsigned bit)
{
	return dev->features & (1ull << bit);
}

static inline bool vu_has_proto(const struct riov_vhost_dev *dev, unsigned bit)
{
	return dev->proto & (1ull << bit);
}

/* The rings are packed virtqueues (virtio 1.2 2.8) */
static inline bool vu_packed(const struct riov_vhost_dev *dev)
{
	return vu_has_feature(dev, RIOV_VIRTIO_F_RING_PACKED);
}

static inline bool vu_iommu_on(const struct riov_vhost_dev *dev)
{
	return vu_has_feature(dev, RIOV_VIRTIO_F_IOMMU_PLATFORM);
}

static inline void vu_close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static inline uint64_t vu_rd64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, sizeof(v));
	return v;
}

static inline uint32_t vu_rd32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, sizeof(v));
	return v;
}

/* The message's first fd, taken over by the caller, or -1 if it has none. */
static inline int vu_take_fd(struct vu_msg *m)
{
	if (m->nfds == 0)
		return -1;
	int fd = m->fds[0];
	m->fds[0] = -1;
	return fd;
}

static inline int vu_reply_u64(struct vu_msg *m, uint64_t v)
{
	memcpy(m->reply, &v, sizeof(v));
	m->reply_size = sizeof(v);
	return VU_REPLIED;
}

#endif
