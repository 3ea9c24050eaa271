/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vhost-user messages: non-blocking, resumable reads of header, payload and descriptors; the
 * dispatch table made from VU_MESSAGES (vhost_internal.h) and the checks it runs before any
 * handler; replies.
 *
 * Security model: the front-end at the other end of the socket (QEMU, DPDK virtio-user, anything
 * that can connect) is not trusted, and no field of a received message is assumed sensible. The
 * header is checked (version, request known, payload size bounded by VU_MAX_PAYLOAD before
 * anything is read into the buffer), then the table row checks the payload size and the number
 * of file descriptors for that request, whether it may come before SET_FEATURES, and the payload's
 * content where its shape needs it (vring indices compared as the full u32/u64 the wire carries,
 * never narrowed first; memory table counts; config ranges), all before the handler runs. At most
 * VU_MAX_FDS descriptors are accepted per message (MSG_CTRUNC or more is an error) and every
 * received descriptor is either taken over by the handler or closed here, on every path. A message
 * that breaks a rule is counted, logged rate-limited, and closes that connection only. A front-end
 * that stalls mid-message cannot block the control thread (reads resume at the next wake-up);
 * replies are sent with MSG_DONTWAIT and a front-end that does not read them is disconnected.
 *
 * Thread rules: control thread only.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/log.h"
#include "vmm/vhost_internal.h"

RIOV_LOG_COMPONENT("vhost", RIOV_LOG_INFO);

#define MSGS_PER_WAKEUP 256

/* ---- content checks, run before the handler --------------------------------------------------- */

static int c_vring_state(struct riov_vhost_dev *dev, struct vu_msg *m)
{
	/* the full u32 index, before anything narrows it (CVE-2020-10723 class) */
	return vu_rd32(m->payload) < vu_nvrings(dev) ? 0 : -ERANGE;
}

static int c_vring_fd(struct riov_vhost_dev *dev, struct vu_msg *m)
{
	uint64_t v = vu_rd64(m->payload);
	if (v & ~(VU_VRING_IDX_MASK | VU_VRING_NOFD))
		return -EINVAL;
	if ((v & VU_VRING_IDX_MASK) >= vu_nvrings(dev))
		return -ERANGE;
	unsigned want = (v & VU_VRING_NOFD) ? 0 : 1;
	return m->nfds == want ? 0 : -EBADF;
}

static int c_mem_table(struct riov_vhost_dev *dev, struct vu_msg *m)
{
	uint32_t n = vu_rd32(m->payload);
	if (n > VU_MEM_BASELINE_REGIONS)
		return -E2BIG;
	if (m->size < sizeof(struct vu_mem_table_hdr) + n * sizeof(struct riov_guest_region_desc))
		return -EMSGSIZE;
	return n == m->nfds ? 0 : -EBADF;
}

static int c_config(struct riov_vhost_dev *dev, struct vu_msg *m)
{
	struct vu_config_hdr ch;
	memcpy(&ch, m->payload, sizeof(ch));
	if (ch.size > VU_CONFIG_MAX || ch.offset > VU_CONFIG_MAX - ch.size)
		return -EINVAL;
	return m->size == VU_CONFIG_HDR_SIZE + ch.size ? 0 : -EMSGSIZE;
}

/* ---- the table --------------------------------------------------------------------------------- */

/* VU_MESSAGES' payload shapes: size min, size max, content check */
#define VU_SHAPE_NONE_OR_U64 0, 8, NULL
#define VU_SHAPE_U64 8, 8, NULL
#define VU_SHAPE_VRING_STATE sizeof(struct vu_vring_state), sizeof(struct vu_vring_state), c_vring_state
#define VU_SHAPE_VRING_ADDR sizeof(struct vu_vring_addr), sizeof(struct vu_vring_addr), c_vring_state
#define VU_SHAPE_VRING_FD 8, 8, c_vring_fd
#define VU_SHAPE_MEM_TABLE sizeof(struct vu_mem_table_hdr),                                       \
	sizeof(struct vu_mem_table_hdr) + VU_MEM_BASELINE_REGIONS * sizeof(struct riov_guest_region_desc), \
	c_mem_table
#define VU_SHAPE_MEM_REG sizeof(struct vu_mem_reg_single), sizeof(struct vu_mem_reg_single), NULL
#define VU_SHAPE_LOG sizeof(struct vu_log), sizeof(struct vu_log), NULL
#define VU_SHAPE_IOTLB VU_IOTLB_MIN_SIZE, sizeof(struct vu_iotlb), NULL
#define VU_SHAPE_CONFIG VU_CONFIG_HDR_SIZE, VU_CONFIG_HDR_SIZE + VU_CONFIG_MAX, c_config
#define VU_SHAPE_INFLIGHT VU_INFLIGHT_MIN_SIZE, sizeof(struct vu_inflight), NULL

#define VU_TABLE_ROW_(name, number, handler, payload, fds_min, fds_max, early, refusable, stops) \
	[VU_##name] = { #name, vu_h_##handler, VU_SHAPE_##payload, fds_min, fds_max, early,      \
			refusable, VU_STOP_##stops },

const struct vu_handler vu_handlers[VU_REQUEST_MAX] = { VU_MESSAGES(VU_TABLE_ROW_) };

const char *vu_request_name(uint32_t req)
{
	return req < VU_REQUEST_MAX && vu_handlers[req].fn ? vu_handlers[req].name : "unknown";
}

/* ---- replies ----------------------------------------------------------------------------------- */

static int vu_send(struct riov_vhost_dev *dev, uint32_t request, const void *payload, uint32_t size, int fd)
{
	struct {
		uint32_t request, flags, size;
	} h = { request, VU_VERSION | VU_FLAG_REPLY, size };
	struct iovec iov[2] = { { &h, VU_HDR_SIZE }, { (void *)payload, size } };
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} cb;
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = size ? 2 : 1 };

	if (dev->conn_fd < 0)
		return -ENOTCONN;
	if (fd >= 0) {
		memset(&cb, 0, sizeof(cb));
		mh.msg_control = cb.buf;
		mh.msg_controllen = sizeof(cb.buf);
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	ssize_t n;
	do {
		n = sendmsg(dev->conn_fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
	} while (n < 0 && errno == EINTR);
	if (n != (ssize_t)(VU_HDR_SIZE + size))
		return -EIO;
	return 0;
}

static void msg_close_fds(struct vu_msg *m)
{
	for (unsigned i = 0; i < m->nfds; i++)
		vu_close_fd(&m->fds[i]);
}

/* ---- dispatch ---------------------------------------------------------------------------------- */

/* Why m may not reach its handler h (the table's checks), or NULL. */
static const char *msg_refuse(struct riov_vhost_dev *dev, const struct vu_handler *h, struct vu_msg *m)
{
	int rc;

	if ((m->flags & VU_VERSION_MASK) != VU_VERSION)
		return "bad version";
	if (!h || !h->fn)
		return "unknown request";
	if (m->size < h->size_min || m->size > h->size_max)
		return "payload size";
	if (m->nfds < h->fds_min || m->nfds > h->fds_max)
		return "fd count";
	if (!h->before_features && !dev->features_set)
		return "before SET_FEATURES";
	if (h->check && (rc = h->check(dev, m)) != 0)
		return rc == -EBADF ? "fd count" : rc == -ERANGE ? "vring index" : "payload";
	return NULL;
}

/* The handler of m may stop what its row's stops column says; vu_vring_stop() and vu_hold()
 * check it. A named vring's index is the payload's first u32, which c_vring_state checked. */
static void rule_enter(struct riov_vhost_dev *dev, const struct vu_handler *h, const struct vu_msg *m)
{
	dev->rule_msg = h->name;
	dev->rule = h->stops;
	dev->may_stop = 0;
	if (h->stops & VU_STOP_ANY) {
		dev->may_stop = ~0u;
	} else if ((h->stops & VU_STOP_NAMED) && h->check == c_vring_state) {
		uint32_t q = vu_rd32(m->payload);
		dev->may_stop = q < vu_nvrings(dev) ? 1u << q : 0;
	}
}

static void rule_leave(struct riov_vhost_dev *dev)
{
	if (dev->holding) {
		dev->rule_breaks++;
		RIOV_LOG_PORT(RIOV_LOG_ERR, dev->name, "%s left the vrings held (a bug)",
			      dev->rule_msg);
		vu_hold(dev, false);
	}
	dev->rule_msg = NULL;
	dev->rule = VU_STOP_ANY;
	dev->may_stop = ~0u;
}

static int vu_dispatch(struct riov_vhost_dev *dev, struct vu_msg *m)
{
	const struct vu_handler *h = m->request < VU_REQUEST_MAX ? &vu_handlers[m->request] : NULL;
	const char *why;
	bool need_ack;
	int rc;

	dev->messages++;
	m->reply_fd = -1;
	m->reply_size = 0;
	why = msg_refuse(dev, h, m);
	if (why) {
		RIOV_LOG_PORT_RL(RIOV_LOG_WARN, dev->name, "malformed %s (%u) size %u fds %u: %s",
				 vu_request_name(m->request), m->request, m->size, m->nfds, why);
		msg_close_fds(m);
		return -EBADMSG;
	}

	RIOV_LOG_PORT(RIOV_LOG_DEBUG, dev->name, "%s size %u fds %u", h->name, m->size, m->nfds);
	rule_enter(dev, h, m);
	rc = h->fn(dev, m);
	rule_leave(dev);
	msg_close_fds(m);
	/* after the handler: SET_PROTOCOL_FEATURES that turns REPLY_ACK on is acknowledged */
	need_ack = (m->flags & VU_FLAG_NEED_REPLY) && vu_has_proto(dev, VU_PF_REPLY_ACK);
	if (rc < 0) {
		RIOV_LOG_PORT_RL(RIOV_LOG_WARN, dev->name, "%s failed: %s%s", h->name,
				 strerror(-rc),
				 h->refusable ? " (refused; the session goes on)" : "");
		if (need_ack) {
			uint64_t err = 1;
			vu_send(dev, m->request, &err, sizeof(err), -1);
		}
		if (h->refusable) {
			dev->refused++;
			return 0;
		}
		return rc;
	}
	if (rc == VU_REPLIED)
		return vu_send(dev, m->request, m->reply, m->reply_size, m->reply_fd);
	if (need_ack) {
		uint64_t ok = 0;
		return vu_send(dev, m->request, &ok, sizeof(ok), -1);
	}
	return 0;
}

/* ---- receive ----------------------------------------------------------------------------------- */

void vu_rx_reset(struct vu_rx *rx)
{
	for (unsigned i = 0; i < rx->nfds; i++)
		vu_close_fd(&rx->fds[i]);
	rx->nfds = 0;
	rx->fd_error = false;
	rx->hdr_have = 0;
	rx->pay_have = 0;
}

/* One recvmsg: returns bytes (>0), 0 at EOF, -EAGAIN, or -errno. Descriptors are appended to the
 * current message; beyond VU_MAX_FDS they are closed and the message is marked bad. */
static ssize_t rx_recv(struct riov_vhost_dev *dev, void *buf, size_t len)
{
	struct vu_rx *rx = &dev->rx;
	union {
		char buf[CMSG_SPACE(sizeof(int) * VU_MAX_FDS)];
		struct cmsghdr align;
	} cb;
	struct iovec iov = { buf, len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cb.buf,
			     .msg_controllen = sizeof(cb.buf) };
	ssize_t n;

	do {
		n = recvmsg(dev->conn_fd, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ? -EAGAIN : -errno;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t cnt = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < cnt; i++) {
			int fd;
			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (rx->nfds < VU_MAX_FDS) {
				rx->fds[rx->nfds++] = fd;
			} else {
				close(fd);
				rx->fd_error = true;
			}
		}
	}
	if (mh.msg_flags & MSG_CTRUNC)
		rx->fd_error = true;   /* the kernel dropped descriptors that did not fit */
	return n;
}

/* The complete message in dev->rx, dispatched; every fd taken over or closed. Returns the
 * dispatcher's result. */
static int rx_dispatch(struct riov_vhost_dev *dev)
{
	struct vu_rx *rx = &dev->rx;
	struct vu_msg m;

	m.request = rx->hdr.h.request;
	m.flags = rx->hdr.h.flags;
	m.size = rx->hdr.h.size;
	m.payload = (const uint8_t *)rx->payload;
	m.fds = rx->fds;
	m.nfds = rx->nfds;
	int rc = vu_dispatch(dev, &m);
	rx->nfds = 0;   /* every fd was taken over or closed by the dispatcher */
	vu_rx_reset(rx);
	return rc;
}

int vu_conn_process(struct riov_vhost_dev *dev)
{
	struct vu_rx *rx = &dev->rx;

	for (int msgs = 0; msgs < MSGS_PER_WAKEUP;) {
		ssize_t n;
		if (rx->hdr_have < VU_HDR_SIZE) {
			n = rx_recv(dev, rx->hdr.b + rx->hdr_have, VU_HDR_SIZE - rx->hdr_have);
			if (n > 0) {
				rx->hdr_have += (size_t)n;
				if (rx->hdr_have == VU_HDR_SIZE && rx->hdr.h.size > VU_MAX_PAYLOAD) {
					RIOV_LOG_PORT_RL(RIOV_LOG_WARN, dev->name,
							 "%s payload of %u bytes too large",
							 vu_request_name(rx->hdr.h.request),
							 rx->hdr.h.size);
					goto bad;
				}
			}
		} else {
			n = rx_recv(dev, (uint8_t *)rx->payload + rx->pay_have, rx->hdr.h.size - rx->pay_have);
			if (n > 0)
				rx->pay_have += (size_t)n;
		}
		if (n == -EAGAIN)
			return 0;
		if (n == 0) {
			if (rx->hdr_have) {
				RIOV_LOG_PORT_RL(RIOV_LOG_WARN, dev->name,
						 "front-end closed mid-message (%zu header bytes)",
						 rx->hdr_have);
				dev->bad_messages++;
			} else {
				RIOV_LOG_PORT(RIOV_LOG_INFO, dev->name, "front-end disconnected");
			}
			vu_conn_close(dev);
			return -1;
		}
		if (n < 0) {
			RIOV_LOG_PORT_RL(RIOV_LOG_WARN, dev->name, "recvmsg: %s",
					 strerror((int)-n));
			vu_conn_close(dev);
			return -1;
		}
		if (rx->fd_error) {
			RIOV_LOG_PORT_RL(RIOV_LOG_WARN, dev->name, "too many file descriptors");
			goto bad;
		}
		if (rx->hdr_have < VU_HDR_SIZE || rx->pay_have < rx->hdr.h.size)
			continue;
		msgs++;
		if (rx_dispatch(dev) < 0) {
			dev->bad_messages++;
			vu_conn_close(dev);
			return -1;
		}
	}
	return 0;
bad:
	dev->messages++;
	dev->bad_messages++;
	vu_conn_close(dev);
	return -1;
}
