/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * riov's vhost-user device server (virtio-net back-end), control-thread face.
 *
 * A device owns one Unix socket (server mode: riovd listens; client mode: riovd connects and
 * reconnects with back-off) on the caller's libevent base. It negotiates features, maps the guest's
 * memory (memfd regions) into riovd and into the device's VT-d domain, sets up vrings, and hands each
 * ready vring to its owner (the dataplane port) through riov_vhost_ops. Every guest address used by
 * the dataplane comes from the VT-d domain set up here.
 *
 * Thread rules: control thread only. The owner's vring_stop() must not return while any worker
 * still touches the vring (publish-and-wait), so that memory can be unmapped right after.
 */
#ifndef RIOV_VMM_VHOST_H
#define RIOV_VMM_VHOST_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;
struct riov_vtd;
struct riov_vhost_dev;

#define RIOV_VHOST_MAX_QUEUE_PAIRS 16
#define RIOV_VHOST_MAX_VRINGS (2 * RIOV_VHOST_MAX_QUEUE_PAIRS)
#define RIOV_VHOST_MAX_MEM_REGIONS 64   /* reported by GET_MAX_MEM_SLOTS */
#define RIOV_VHOST_MAX_RING_SIZE 32768

/* Virtio feature bits the dataplane cares about (virtio 1.2 sections 5.1.3 and 6). */
#define RIOV_VIRTIO_NET_F_CSUM         0
#define RIOV_VIRTIO_NET_F_GUEST_CSUM   1
#define RIOV_VIRTIO_NET_F_MTU          3
#define RIOV_VIRTIO_NET_F_GUEST_TSO4   7
#define RIOV_VIRTIO_NET_F_GUEST_TSO6   8
#define RIOV_VIRTIO_NET_F_GUEST_ECN    9
#define RIOV_VIRTIO_NET_F_HOST_TSO4   11
#define RIOV_VIRTIO_NET_F_HOST_TSO6   12
#define RIOV_VIRTIO_NET_F_HOST_ECN    13
#define RIOV_VIRTIO_NET_F_MRG_RXBUF   15
#define RIOV_VIRTIO_NET_F_MQ          22
#define RIOV_VIRTIO_F_RING_INDIRECT   28
#define RIOV_VIRTIO_F_RING_EVENT_IDX  29
#define RIOV_VHOST_F_LOG_ALL          26
#define RIOV_VIRTIO_F_VERSION_1       32
#define RIOV_VIRTIO_F_IOMMU_PLATFORM  33
#define RIOV_VIRTIO_F_RING_PACKED     34
#define RIOV_VIRTIO_F_IN_ORDER        35
/** The name of virtio feature bit `bit` (0..63) as riov shows it: the virtio 1.2 name (5.1.3, 6)
 *  in lower case without its VIRTIO_F_ / VIRTIO_NET_F_ prefix ("mrg_rxbuf", "event_idx",
 *  "in_order", "packed", "iommu_platform" for VIRTIO_F_ACCESS_PLATFORM, "indirect" for
 *  VIRTIO_F_RING_INDIRECT_DESC; vhost-user's "protocol_features" and vhost's "log_all"), or NULL
 *  for a bit without a name here. Port.Add's features_off names the bits it withholds by these
 *  names (control/svc_port.c). Any thread. */
const char *riov_virtio_feature_name(unsigned bit);

/* The checksum and segmentation offloads, both ways (a port's "offloads" feature switch) */
#define RIOV_VIRTIO_NET_OFFLOADS                                                                  \
	((1ull << RIOV_VIRTIO_NET_F_CSUM) | (1ull << RIOV_VIRTIO_NET_F_GUEST_CSUM) |              \
	 (1ull << RIOV_VIRTIO_NET_F_GUEST_TSO4) | (1ull << RIOV_VIRTIO_NET_F_GUEST_TSO6) |        \
	 (1ull << RIOV_VIRTIO_NET_F_GUEST_ECN) | (1ull << RIOV_VIRTIO_NET_F_HOST_TSO4) |          \
	 (1ull << RIOV_VIRTIO_NET_F_HOST_TSO6) | (1ull << RIOV_VIRTIO_NET_F_HOST_ECN))

/* A packed virtqueue's descriptor (virtio 1.2 2.8.13) as it lies in the descriptor ring
 * (little-endian), and its two wrap flags (2.8.1): one definition for the dataplane, which serves
 * the ring (dataplane/virtq_packed.c), and vmm, which reads it to check a ring record
 * (vhost_ringrec.c). */
struct riov_vring_packed_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t id;          /* buffer id (of the chain's last descriptor) */
	uint16_t flags;
};
#define RIOV_VRING_PACKED_DESC_F_AVAIL (1u << 7)
#define RIOV_VRING_PACKED_DESC_F_USED  (1u << 15)

/* A packed vring's position as the dataplane last published it, in a file that outlives riovd
 * (riov_vhost_dev_params.ring_record). A packed ring keeps no index in guest memory, and QEMU
 * restores none for it when its back-end went away (it sends the base of the vring's last start
 * again), so a riovd killed or restarted under a running guest finds where to go on here, once
 * the ring itself confirms it (vmm/vhost_ringrec.c). The worker that serves the vring writes it
 * after each publish with riov_vring_rec_put(); vmm clears it when a front-end has been told
 * the position (GET_VRING_BASE) or resets the device. */
struct riov_vring_rec {
	_Atomic uint64_t pos;   /* 0: none. Bits 0-15 the position after the last used descriptor
				 * (index | wrap << 15); 16-31 that descriptor's chain length in ring
				 * slots (>= 1); 32-47 its buffer id; 48-63 its length's low 16 bits */
	_Atomic uint64_t chk;   /* the chain's head descriptor's addr (as in the ring) ^ a hash of
				 * pos: a record and the ring must agree on the buffer too */
};

static inline uint64_t riov_vring_rec_hash(uint64_t pos)
{
	return pos * 0x9e3779b97f4a7c15ull;
}

/** Record the position `at` (index | wrap << 15) reached by publishing a used descriptor for a
 *  chain of ndesc slots with buffer id `id`, length len, whose head descriptor's addr field reads
 *  addr_raw. pos is stored after chk. */
static inline void riov_vring_rec_put(struct riov_vring_rec *r, uint16_t at, uint16_t ndesc, uint16_t id,
				      uint32_t len, uint64_t addr_raw)
{
	const uint64_t pos = (uint64_t)at | (uint64_t)ndesc << 16 | (uint64_t)id << 32 |
			     (uint64_t)(len & 0xffff) << 48;
	atomic_store_explicit(&r->chk, addr_raw ^ riov_vring_rec_hash(pos), memory_order_relaxed);
	atomic_store_explicit(&r->pos, pos, memory_order_release);
}

/* What the dataplane needs to serve one vring. Ring pointers are host addresses obtained by
 * translating the ring's guest addresses through the device's domain (each ring lies within one
 * mapping; vmm checked that). Descriptor buffers are translated per packet by the dataplane. */
struct riov_vhost_vring_info {
	uint16_t qid;                 /* even: guest RX (device writes), odd: guest TX (device reads) */
	uint16_t size;                /* power of two, 1..32768 */
	/* split ring (virtio 1.2 2.7) / packed ring (2.8, VIRTIO_F_RING_PACKED in features): */
	void *desc;                   /* struct vring_desc[size] / the descriptor ring (16 B each) */
	void *avail;                  /* struct vring_avail + ring[size] + used_event / the driver
				       * event suppression area (4 bytes, the device reads it) */
	void *used;                   /* struct vring_used + ring[size] + avail_event / the device
				       * event suppression area (4 bytes, the device writes it) */
	uint16_t last_avail_idx;      /* from SET_VRING_BASE; packed: the index in bits 0-14, the
				       * wrap counter in bit 15 (a new ring: 0x8000) */
	uint16_t last_used_idx;       /* packed: as last_avail_idx */
	uint64_t features;            /* negotiated virtio features */
	struct riov_vtd *vtd;         /* translation for descriptor addresses: unit + source-id */
	uint16_t sid;
	int callfd;                   /* -1 if none; the interrupt goes through the IRTE below */
	                              /* (informational: SET_VRING_CALL may swap the eventfd of a
	                               * running vring in the IRTE and close this one; raise with
	                               * riov_vtd_irq_raise(msi_addr, msi_data), never write it) */
	uint64_t msi_addr;            /* remappable MSI for this vring's interrupt (riov_vtd_irq_raise) */
	uint32_t msi_data;
	/* dirty log (VHOST_F_LOG_ALL with LOG_SHMFD), NULL when not logging */
	uint8_t *log_base;
	uint64_t log_size;
	/* added by vmm: guest-physical address of the used ring for dirty logging (SET_VRING_ADDR
	 * with VHOST_VRING_F_LOG), 0 when the front-end did not ask for used-ring logging */
	uint64_t log_guest_addr;
	/* added by vmm: IOTLB miss requests from the worker (a vIOMMU guest's first stage had no
	 * translation): store (iova & ~0xfff) | access << 1 | 1 in *miss_slot, then write 1 to
	 * miss_efd; the control thread sends the front-end an IOTLB miss for it on the back-end
	 * channel (if the front-end set one up; best effort, so the worker asks again while it
	 * waits). The slot stays valid until vring_stop() returns. */
	_Atomic uint64_t *miss_slot;
	int miss_efd;
	/* added by vmm: where a packed vring's worker records its published position
	 * (riov_vring_rec_put after each publish); NULL for split rings or without a record file.
	 * Valid until vring_stop() returns. */
	struct riov_vring_rec *ring_rec;
};

struct riov_vhost_ops {
	/** A vring became ready (addresses, base, kick set and enabled): start serving it. */
	void (*vring_start)(void *ctx, struct riov_vhost_dev *dev, const struct riov_vhost_vring_info *vi);
	/** Stop serving vring qid; return only once no worker touches it. Report the indices reached
	 *  (packed rings: with their wrap counters in bit 15, as vring_info gave them). */
	void (*vring_stop)(void *ctx, struct riov_vhost_dev *dev, uint16_t qid, uint16_t *last_avail_idx,
			   uint16_t *last_used_idx);
	/** The front-end connected (true) or went away (false). May be NULL. */
	void (*link_change)(void *ctx, struct riov_vhost_dev *dev, bool up);
	/** on: vmm is about to stop running vrings only to restart them (a memory table that replaces
	 *  a range, dirty logging switched on or off, a running ring's addresses re-sent): until
	 *  hold(false), which follows within the same message, keep packets for the guest in a
	 *  bounded queue instead of dropping them. May be NULL. */
	void (*hold)(void *ctx, struct riov_vhost_dev *dev, bool on);
	/** The front-end announced the guest's MAC address (SEND_RARP: QEMU after a live migration
	 *  landed here): make the network reach that address through this device, and tell the
	 *  network's other ports, as a RARP from the guest would. May be NULL. */
	void (*announce)(void *ctx, struct riov_vhost_dev *dev, const uint8_t mac[6]);
};

enum riov_vhost_mode { RIOV_VHOST_SERVER = 0, RIOV_VHOST_CLIENT = 1 };

struct riov_vhost_dev_params {
	const char *name;             /* port name, for logs */
	const char *path;             /* Unix socket path */
	enum riov_vhost_mode mode;
	uint16_t max_queue_pairs;     /* 1..RIOV_VHOST_MAX_QUEUE_PAIRS */
	uint64_t features_off;        /* virtio feature bits to withhold (e.g. mrg_rxbuf off) */
	uint16_t mtu;                 /* the port's MTU (VIRTIO_NET_F_MTU, NET_SET_MTU); 0 = 1500 */
	bool packed;                  /* the owner serves packed virtqueues: VIRTIO_F_RING_PACKED is
				       * offered (unless features_off withholds it) */
	struct event_base *base;
	struct riov_vtd *vtd;         /* the unit this device's DMA goes through */
	uint16_t sid;                 /* the device's source-id */
	uint16_t did;                 /* second-stage domain id for guest memory (created by vmm) */
	uint16_t s1_did;              /* first-stage domain id used when the guest has a vIOMMU */
	uint32_t irte_base;           /* IRTE indexes irte_base .. irte_base + 2*max_queue_pairs - 1 */
	const char *ring_record;      /* the file (created if missing) where packed vrings' positions
				       * are recorded for the next riovd (struct riov_vring_rec); in a
				       * directory only riovd writes, on a file system that empties at
				       * boot (/run). NULL: none, and a riovd restarted under a QEMU
				       * guest with packed rings cannot go on serving them */
	const struct riov_vhost_ops *ops;
	void *ops_ctx;
};

/** Create a device and start listening (server) or connecting (client). Returns 0 or -errno
 *  (-EINVAL bad parameters, -EADDRINUSE socket path busy, ...). */
int riov_vhost_dev_create(const struct riov_vhost_dev_params *p, struct riov_vhost_dev **out);
/** Disconnect the front-end (stopping every vring through ops), unmap, close, free. NULL allowed. */
void riov_vhost_dev_destroy(struct riov_vhost_dev *dev);

/** Confine a vhost-user socket path to the directory root (socket_dir): a relative given resolves
 *  under root, an absolute one must lie inside it; no ".." component, no symbolic link on the way
 *  (each directory opened with O_NOFOLLOW from the one before), at the path nothing or a socket.
 *  On success *dir_fd is an O_PATH fd of the socket's directory, which the caller closes once the
 *  device is created (the device opens the directory for itself), and out is
 *  "/proc/self/fd/<dir_fd>/<name>": the path for riov_vhost_dev_params.path, reaching the checked
 *  directory through its fd whatever happens to the names on the way.
 *  Returns 0, or -errno with why filled (a phrase naming the rule broken): -EINVAL (empty, "..",
 *  outside root, a directory), -ENAMETOOLONG, -ELOOP (a symbolic link), -ENOTDIR, -ENOENT (a
 *  directory on the way is missing), -EEXIST (a file that is not a socket is at the path). */
int riov_vhost_socket_confine(const char *root, const char *given, int *dir_fd, char *out,
			      size_t outlen, char *why, size_t whylen);

struct riov_vhost_dev_stats {
	bool connected;
	uint64_t features;
	uint64_t protocol_features;
	uint32_t mem_regions;
	uint64_t mem_bytes;
	uint16_t queue_pairs;         /* set up by the guest: the highest queue pair with a running
				       * vring (MQ) */
	uint64_t messages;            /* vhost-user messages handled */
	uint64_t bad_messages;        /* messages that closed the connection */
	uint64_t refused;             /* well-formed requests refused with the session kept (memory
				       * regions that overlap, do not fit, or are not there; IOTLB
				       * messages, iotlb_refused among them; a bad SEND_RARP) */
	uint64_t connects;
	uint64_t disconnects;
	uint64_t iotlb_refused;       /* IOTLB updates refused (too large, outside guest memory) */
	uint64_t iotlb_evictions;     /* first-stage IOTLB emptied or widened to stay in bounds */
	uint64_t iotlb_updates;       /* IOTLB updates taken (a vIOMMU guest mapped something) */
	uint64_t iotlb_invalidations; /* IOTLB invalidations handled (it unmapped something) */
	uint64_t iotlb_miss_requests; /* IOTLB misses sent to the front-end on the back-end channel
				       * (a vring's rings or a buffer had no translation yet) */
	uint64_t memory_faults;       /* guest memory that faulted under riovd (a file the front-end
				       * shrank): each dropped the session, riovd went on */
	uint64_t base_resyncs;        /* vrings started from the used ring's index instead of the
				       * base the front-end sent (it had lost track: a virtio-user
				       * front-end reconnecting to a restarted riovd) */
};
void riov_vhost_dev_stats(const struct riov_vhost_dev *dev, struct riov_vhost_dev_stats *st);

#endif
