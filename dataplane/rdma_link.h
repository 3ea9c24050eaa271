/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * RDMA peer links (DESIGN.md "Fabric", issue 15, part 2): guest frames to another riov node over
 * one reliable-connected queue pair per peer, set up with librdmacm, messages as rdma_msg.h
 * defines them. See docs/rdma.md for the state machine, the credits and the buffers.
 *
 * A context is this node on one RDMA device: its address (the VTEP address, on the device's
 * netdev), a listener on a port, the event channel of every connection, the protection domain.
 * A link is one peer: the node with the numerically lower IPv4 address connects, the other only
 * accepts, so that a pair never makes two connections; the connector retries with back-off
 * (RIOV_RDMA_BACKOFF_MIN_MS doubling to RIOV_RDMA_BACKOFF_MAX_MS) while the peer does not answer,
 * and after a disconnect or an error.
 *
 * Received frames are not copied: each one is a DPDK mbuf attached (external buffer) to its bytes
 * in a registered receive buffer; the buffer goes back to the link (and is posted again) when the
 * last mbuf of its frames is freed, on whatever thread frees it.
 *
 * Thread rules: the control thread calls everything but riov_rdma_link_tx() and
 * riov_rdma_link_poll(), which belong to the one worker that owns the link (never blocking,
 * allocating only mbufs). The control thread builds each connection and hands it to the worker
 * through an atomic pointer; a connection that goes down is freed once the worker has passed the
 * end of a tx or poll call after it was withdrawn, so the worker must keep calling
 * riov_rdma_link_poll() while the link exists. riov_rdma_link_destroy() requires that the worker
 * no longer calls anything on the link (riovd withdraws it from the worker first). The stats and
 * state functions may be called from any thread (counters are read without a lock).
 *
 * Errors: functions return 0 or a negative errno; every failed verbs or rdma_cm call is logged
 * with its reason (component "rdma").
 */
#ifndef RIOV_DATAPLANE_RDMA_LINK_H
#define RIOV_DATAPLANE_RDMA_LINK_H

#include <stdbool.h>
#include <stdint.h>

#include "dataplane/rdma_msg.h"

struct rte_mbuf;
struct rte_mempool;
struct riov_rdma_ctx;
struct riov_rdma_link;

#define RIOV_RDMA_PORT_DEFAULT 7471u        /* rdma_cm port (RDMA_PS_TCP) of the listener */
#define RIOV_RDMA_RECV_BUFS_DEFAULT 64u     /* receive buffers per link: the credit window */
#define RIOV_RDMA_SEND_BUFS_DEFAULT 64u     /* send buffers per link */
#define RIOV_RDMA_INLINE_DEFAULT 256u       /* inline bytes asked for (the QP's cap may be lower) */
#define RIOV_RDMA_SIGNAL_EVERY_DEFAULT 16u  /* a send completion every N sends */
#define RIOV_RDMA_BACKOFF_MIN_MS 100u       /* first retry of a connect */
#define RIOV_RDMA_BACKOFF_MAX_MS 5000u      /* longest wait between connects */
#define RIOV_RDMA_CM_TICK_MS 50u            /* riov_rdma_cm_poll() at least this often */
#define RIOV_RDMA_CM_TIMEOUT_MS 2000        /* address and route resolution */
#define RIOV_RDMA_BUFS_MAX 4096u            /* receive or send buffers per link */

/** A node on an RDMA device. Zero fields take their defaults. */
struct riov_rdma_conf {
	uint32_t local_ip;          /* this node's address (network order), on the RDMA device's netdev */
	uint16_t port;              /* listener port of every node; 0: RIOV_RDMA_PORT_DEFAULT */
	uint32_t msg_size;          /* receive and send buffer size (riov_rdma_msg_size_ok());
				     * 0: RIOV_RDMA_MSG_DEFAULT */
	uint16_t recv_bufs;         /* per link, up to RIOV_RDMA_BUFS_MAX */
	uint16_t send_bufs;         /* per link, up to RIOV_RDMA_BUFS_MAX */
	uint16_t inline_size;       /* asked for */
	uint16_t signal_every;      /* at most half the send queue */
	int socket_id;              /* buffers' NUMA socket (SOCKET_ID_ANY) */
	struct rte_mempool *rx_pool; /* mbufs that received frames are attached to; their own data
				      * rooms are not used (a pool with data room 0 will do) */
};

enum riov_rdma_link_state {
	RIOV_RDMA_LINK_DOWN = 0,    /* no connection; an acceptor waits for its peer */
	RIOV_RDMA_LINK_BACKOFF,     /* a connector waits before its next attempt */
	RIOV_RDMA_LINK_CONNECTING,  /* rdma_cm at work (resolve, connect, accept) */
	RIOV_RDMA_LINK_HELLO,       /* connected, waiting for the peer's HELLO */
	RIOV_RDMA_LINK_UP,          /* frames may flow */
};

/** Counters of a link: control thread (connection) and worker (traffic). */
struct riov_rdma_link_stats {
	/* control thread */
	uint64_t connects;          /* connection attempts started (connector) */
	uint64_t accepts;           /* connection requests accepted (acceptor) */
	uint64_t rejects;           /* connection requests refused (wrong side, busy, unknown) */
	uint64_t connect_errors;    /* attempts that failed (rejected, unreachable, resolve errors) */
	uint64_t established;
	uint64_t disconnects;       /* DISCONNECTED from the peer */
	uint64_t teardowns;         /* connections torn down, whatever the reason */
	uint64_t qp_fatal;          /* asynchronous QP errors */
	/* worker */
	uint64_t tx_frames, tx_bytes, tx_msgs, tx_inline, tx_signaled, tx_credit_msgs;
	uint64_t tx_keepalives;     /* probes of an idle connection (zero-length RDMA WRITEs) */
	uint64_t tx_no_credit;      /* tx calls stopped for lack of the peer's credits */
	uint64_t tx_no_buf;         /* tx calls stopped: every send buffer queued or in flight */
	uint64_t tx_discarded;      /* frames queued (taken) and lost with their connection */
	uint64_t tx_refused;        /* frames no message can take (too long or short, bad chain) */
	uint64_t rx_frames, rx_bytes, rx_msgs, rx_credit_msgs;
	uint64_t rx_nombuf;         /* frames dropped: the mbuf pool was empty */
	uint64_t wc_errors;         /* completions with an error status (flushes not counted) */
	uint64_t rnr_errors;        /* RNR retries exceeded (with RNR retry 7, never) */
	uint64_t post_errors;       /* ibv_post_send/ibv_post_srq_recv failures */
	uint64_t drops[RIOV_RDMA_DROP__MAX]; /* by cause, riov_rdma_drop_names */
	/* the current connection, 0 when there is none */
	uint32_t inline_size;       /* the QP's real inline cap */
	uint32_t msg_cap;           /* the longest message sent: min(ours, the peer's buffer) */
};

/** Create a context: the event channel (non-blocking), a listener bound to conf->local_ip and the
 *  port, the protection domain of the device that has the address. Control thread.
 *  @return 0 with *out; -EINVAL (bad conf), -ENODEV (no RDMA device has the address), or the
 *  errno of the failed call (logged). */
int riov_rdma_ctx_create(const struct riov_rdma_conf *conf, struct riov_rdma_ctx **out);

/** Destroy a context and every link still on it (see riov_rdma_link_destroy()). Mbufs still out
 *  keep their buffers' memory until they are freed. NULL is ignored. Control thread. */
void riov_rdma_ctx_destroy(struct riov_rdma_ctx *ctx);

/** The file descriptor to watch for readability (rdma_cm events). */
int riov_rdma_ctx_fd(const struct riov_rdma_ctx *ctx);

/** Handle the pending rdma_cm and device events, connects due after back-off, connections that
 *  failed on the worker and those the worker has let go. Never blocks. Control thread, when the
 *  fd is readable and on a timer.
 *  @return milliseconds until it wants to be called again (at most RIOV_RDMA_CM_TICK_MS). */
int riov_rdma_cm_poll(struct riov_rdma_ctx *ctx);

/** Whether the context's device went away (rdma_cm's DEVICE_REMOVAL on the listener, or a fatal
 *  device event): the owner must destroy the context (riov_rdma_ctx_destroy()) so that the
 *  kernel can finish removing the device, and make a new one when a device has the address
 *  again. Control thread. */
bool riov_rdma_ctx_removed(const struct riov_rdma_ctx *ctx);

/** Let librdmacm drop the devices that are gone: it keeps its own verbs context of each device
 *  until it notices, at a device list sync, that the device left, and the kernel's removal of a
 *  device whose driver cannot disassociate its users (rxe) waits for that context to close. It
 *  notices only while another RDMA device is listed (with none, librdmacm keeps the old one until
 *  the process exits). Control thread, after riov_rdma_ctx_destroy() of a removed device's
 *  context, until a new context is made. */
void riov_rdma_devices_sync(void);

/** The process stops: close the verbs context librdmacm keeps of every RDMA device. librdmacm
 *  opens one per device it resolves an address on and closes it only when a device list sync
 *  finds the device gone, never at exit. A device whose driver cannot disassociate its users
 *  (rxe) is removed only once every context of it is closed, and it holds its netdev until
 *  then: with Soft-RoCE on an uplink's TAP, closing the TAP (riovd's stop) waits for the rxe
 *  device, which waits for this context, in the same process: riovd hung in the TAP's close,
 *  uninterruptibly, even after SIGKILL. Every context must have been destroyed first; after
 *  this call librdmacm must not be called again (its list still holds the closed contexts).
 *  Control thread, once, when riovd stops, before its uplinks go. */
void riov_rdma_devices_release(void);

/** A link to the node at peer_ip (network order): registers its buffers; the connector side
 *  starts connecting at the next riov_rdma_cm_poll(). Control thread.
 *  @return 0 with *out; -EINVAL (the peer is this node or not unicast), -EEXIST, -ENOMEM, or
 *  the errno of a failed registration. */
int riov_rdma_link_create(struct riov_rdma_ctx *ctx, uint32_t peer_ip, struct riov_rdma_link **out);

/** Tear the link down and free it; the worker must have stopped using it. Control thread. */
void riov_rdma_link_destroy(struct riov_rdma_link *link);

/** Tear the link's connection down (as on an error); a connector reconnects after back-off.
 *  Control thread. */
void riov_rdma_link_reset(struct riov_rdma_link *link, const char *why);

enum riov_rdma_link_state riov_rdma_link_state(const struct riov_rdma_link *link);
const char *riov_rdma_link_state_name(enum riov_rdma_link_state s);
void riov_rdma_link_stats(const struct riov_rdma_link *link, struct riov_rdma_link_stats *out);
/** Whether this node connects (its address is the lower one) or accepts. */
int riov_rdma_link_is_connector(const struct riov_rdma_link *link);

/** Frames for the peer, m[i] in VNI vni[i]: copied from their mbuf chains into messages of up to
 *  the peer's buffer size in the registered send buffers, several frames each. The messages wait
 *  in a queue, oldest first, and are posted as far as the peer's credits and the send queue allow
 *  (here, and in riov_rdma_link_poll() when credits come): while they wait they fill up, so
 *  batching grows with the load, and the send buffers are the link's queue. Worker; never blocks.
 *  @return how many of m[0..n) it took, in order: queued or sent (tx_frames), or refused because
 *  no message can carry them (tx_refused); the caller frees those and keeps the rest (not up, or
 *  every send buffer taken: tx_no_buf), which it drops or sends another way. Frames taken are
 *  lost only with their connection (tx_discarded). */
uint16_t riov_rdma_link_tx(struct riov_rdma_link *link, struct rte_mbuf **m, const uint32_t *vni, uint16_t n);

/** Completions: send buffers back, the peer's HELLO and credits, received frames into out[] (at
 *  most max; an mbuf per frame, or a chain of two for a frame over 65535 bytes, attached to the
 *  receive buffer) with their VNIs in vni_out[]; buffers whose frames were freed posted again,
 *  credits sent when due. Worker; never blocks; also the worker's quiescent point for the link.
 *  @return the number of frames. */
uint16_t riov_rdma_link_poll(struct riov_rdma_link *link, struct rte_mbuf **out, uint32_t *vni_out, uint16_t max);

/** The longest frame riov_rdma_link_tx() can take now (0 when the link is not up). */
uint32_t riov_rdma_link_frame_max(const struct riov_rdma_link *link);
/** The same for a frame with offload metadata (RTE_MBUF_F_TX_TCP_SEG or a partial checksum):
 *  riov_rdma_link_tx() sends it whole with its metadata (rdma_msg.h's offload block), and the
 *  receiving node segments it, if at all, at its own egress port. */
uint32_t riov_rdma_link_ol_frame_max(const struct riov_rdma_link *link);

#endif
