/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * riov's vhost-user device server (virtio-net back-end): the device's life (create, destroy,
 * session release), feature negotiation and the device-level requests (owner, reset, protocol
 * features, queue count, config space, MTU, status, RARP). The rest is beside it (vhost_internal.h
 * lists the files): sockets, message dispatch, vrings, guest memory, IOTLB.
 *
 * Security model: the front-end is not trusted (vhost_msg.c checks every message before a handler
 * here runs). It may only ask for features and protocol features riov offered; a running device
 * keeps its features except dirty logging (migration), which pauses the vrings to restart them
 * with the log. Config space is read within VU_CONFIG_MAX (checked before the handler) and never
 * written. On disconnect or reset every vring is stopped through ops->vring_stop (which waits for
 * the workers) before memory is unmapped.
 *
 * Thread rules: control thread only (the caller's libevent base). No threads are created.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "vmm/vhost_internal.h"

RIOV_LOG_COMPONENT("vhost", RIOV_LOG_INFO);

/* ---- the session ------------------------------------------------------------------------------- */

void vu_session_release(struct riov_vhost_dev *dev, bool keep_proto)
{
	vu_vrings_stop_all(dev);
	for (unsigned q = 0; q < RIOV_VHOST_MAX_VRINGS; q++)
		vu_vring_reset(&dev->vr[q]);
	vu_mem_release(dev);
	vu_domains_detach(dev);
	vu_log_release(dev);
	vu_inflight_release(dev);
	vu_close_fd(&dev->log_fd);
	dev->features = 0;
	dev->features_set = false;
	dev->owner = false;
	dev->status = 0;
	dev->mtu = 0;
	if (!keep_proto) {
		dev->proto = 0;
		vu_close_fd(&dev->backend_fd);
	}
}

/* ---- negotiation ------------------------------------------------------------------------------- */

int vu_h_get_features(struct riov_vhost_dev *dev, struct vu_msg *m)
{
	return vu_reply_u64(m, dev->offered);
}

int vu_h_set_features(struct riov_vhost_dev *dev, struct vu_msg *m)
{
	VU_STOPS(SET_FEATURES, PAUSE_ANY);
	uint64_t f = vu_rd64(m->payload);
	uint64_t log_bit = 1ull << RIOV_VHOST_F_LOG_ALL;
	bool running = false;

	if (f & ~dev->offered)
		return -ENOTSUP;
	for (unsigned q = 0; q < vu_nvrings(dev); q++)
		running |= dev->vr[q].running;
	/* Only dirty logging may change under running vrings (migration start/stop). */
	if (running && dev->features_set && ((f ^ dev->features) & ~log_bit))
		return -EBUSY;
	uint64_t old = dev->features;
	uint32_t mask = 0;
	bool paused = (old ^ f) & log_bit;
	if (paused) {
		vu_hold(dev, true);
		mask = vu_vrings_stop_all(dev);
	}
	dev->features = f;
	dev->features_set = true;
	int rc = dev->ctx_mode ? vu_domains_attach(dev) : 0;
	for (unsigned q = 0; !rc && q < vu_nvrings(dev); q++)
		if (mask & (1u << q))
			vu_vring_try_start(dev, q);
	if (paused)
		vu_hold(dev, false);
	return rc;
}

int vu_h_get_proto(struct riov_vhost_dev *dev, struct vu_msg *m)
{
	return vu_reply_u64(m, dev->offered_proto);
}

int vu_h_set_proto(struct riov_vhost_dev *dev, struct vu_msg *m)
{
	uint64_t f = vu_rd64(m->payload);
	if (f & ~dev->offered_proto)
		return -ENOTSUP;
	dev->proto = f;
	return 0;
}

int vu_h_get_queue_num(struct riov_vhost_dev *dev, struct vu_msg *m)
{
	return vu_reply_u64(m, dev->p.max_queue_pairs);
}

/* ---- device-level requests --------------------------------------------------------------------- */

int vu_h_set_owner(struct riov_vhost_dev *dev, struct vu_msg *m)
{
	dev->owner = true;
	return 0;
}

/* RESET_OWNER and RESET_DEVICE */
int vu_h_reset(struct riov_vhost_dev *dev, struct vu_msg *m)
{
	VU_STOPS(RESET_OWNER, ANY);
	VU_STOPS(RESET_DEVICE, ANY);
	vu_session_release(dev, true);
	for (unsigned q = 0; q < RIOV_VHOST_MAX_VRINGS; q++)
		vu_ring_rec_forget(dev, q);   /* the rings start anew */
	return 0;
}

static void net_config(const struct riov_vhost_dev *dev, uint8_t cfg[VU_CONFIG_MAX])
{
	/* struct virtio_net_config (virtio 1.2 5.1.4), little-endian */
	uint16_t status = 1; /* VIRTIO_NET_S_LINK_UP */
	uint16_t mqp = dev->p.max_queue_pairs;
	uint16_t mtu = dev->mtu ? dev->mtu : dev->p.mtu;
	uint32_t speed = UINT32_MAX; /* unknown */
	memset(cfg, 0, VU_CONFIG_MAX);
	memcpy(cfg + 6, &status, 2);
	memcpy(cfg + 8, &mqp, 2);
	memcpy(cfg + 10, &mtu, 2);
	memcpy(cfg + 12, &speed, 4);
	cfg[16] = 0xff; /* duplex unknown */
}

int vu_h_get_config(struct riov_vhost_dev *dev, struct vu_msg *m)
{
	struct vu_config_hdr ch;
	uint8_t cfg[VU_CONFIG_MAX];
	memcpy(&ch, m->payload, sizeof(ch));
	net_config(dev, cfg);
	memcpy(m->reply, &ch, sizeof(ch));
	memcpy(m->reply + sizeof(ch), cfg + ch.offset, ch.size);
	m->reply_size = (uint32_t)sizeof(ch) + ch.size;
	return VU_REPLIED;
}

int vu_h_set_config(struct riov_vhost_dev *dev, struct vu_msg *m)
{
	/* virtio-net's config space is read-only for the driver in riov: accept, change nothing. */
	return 0;
}

/* QEMU sends the guest's MAC (the first six bytes of the u64, in memory order) once a migration
 * has landed on this back-end and the guest cannot announce itself (no GUEST_ANNOUNCE). */
int vu_h_send_rarp(struct riov_vhost_dev *dev, struct vu_msg *m)
{
	uint8_t mac[6];

	memcpy(mac, m->payload, sizeof(mac));
	if ((mac[0] & 1) || (mac[0] | mac[1] | mac[2] | mac[3] | mac[4] | mac[5]) == 0)
		return -EINVAL;   /* multicast or zero: not a guest's address */
	RIOV_LOG_PORT(RIOV_LOG_INFO, dev->name,
		      "front-end announces %02x:%02x:%02x:%02x:%02x:%02x (SEND_RARP)", mac[0],
		      mac[1], mac[2], mac[3], mac[4], mac[5]);
	dev->announces++;
	if (dev->p.ops->announce != NULL)
		dev->p.ops->announce(dev->p.ops_ctx, dev, mac);
	return 0;
}

/* The front-end's MTU for the guest (QEMU host_mtu=, sent when VIRTIO_NET_F_MTU is negotiated):
 * one above the port's would have the guest send frames riovd drops, so it is refused (the front-end
 * then fails to start the device, and says so) rather than let a path MTU black hole form. */
int vu_h_net_set_mtu(struct riov_vhost_dev *dev, struct vu_msg *m)
{
	uint64_t mtu = vu_rd64(m->payload);
	if (mtu < 68 || mtu > dev->p.mtu) {
		RIOV_LOG_PORT(RIOV_LOG_WARN, dev->name, "front-end asks for MTU %" PRIu64
			      ", the port's is %u: refused "
			      "(raise the port's or the network's MTU, or lower host_mtu)", mtu,
			      dev->p.mtu);
		return -EINVAL;
	}
	dev->mtu = (uint16_t)mtu;
	return 0;
}

int vu_h_set_status(struct riov_vhost_dev *dev, struct vu_msg *m)
{
	uint64_t st = vu_rd64(m->payload);
	if (st > 0xff)
		return -EINVAL;
	dev->status = (uint8_t)st;
	return 0;
}

int vu_h_get_status(struct riov_vhost_dev *dev, struct vu_msg *m)
{
	return vu_reply_u64(m, dev->status);
}

/* ---- public API -------------------------------------------------------------------------------- */

const char *riov_virtio_feature_name(unsigned bit)
{
	static const char *const names[64] = {
		[RIOV_VIRTIO_NET_F_CSUM] = "csum",
		[RIOV_VIRTIO_NET_F_GUEST_CSUM] = "guest_csum",
		[2] = "ctrl_guest_offloads",
		[RIOV_VIRTIO_NET_F_MTU] = "mtu",
		[5] = "mac",
		[RIOV_VIRTIO_NET_F_GUEST_TSO4] = "guest_tso4",
		[RIOV_VIRTIO_NET_F_GUEST_TSO6] = "guest_tso6",
		[RIOV_VIRTIO_NET_F_GUEST_ECN] = "guest_ecn",
		[10] = "guest_ufo",
		[RIOV_VIRTIO_NET_F_HOST_TSO4] = "host_tso4",
		[RIOV_VIRTIO_NET_F_HOST_TSO6] = "host_tso6",
		[RIOV_VIRTIO_NET_F_HOST_ECN] = "host_ecn",
		[14] = "host_ufo",
		[RIOV_VIRTIO_NET_F_MRG_RXBUF] = "mrg_rxbuf",
		[16] = "status",
		[VU_VIRTIO_NET_F_CTRL_VQ] = "ctrl_vq",
		[18] = "ctrl_rx",
		[19] = "ctrl_vlan",
		[20] = "ctrl_rx_extra",
		[21] = "guest_announce",
		[RIOV_VIRTIO_NET_F_MQ] = "mq",
		[23] = "ctrl_mac_addr",
		[VU_VIRTIO_F_NOTIFY_ON_EMPTY] = "notify_on_empty",
		[RIOV_VHOST_F_LOG_ALL] = "log_all",
		[VU_VIRTIO_F_ANY_LAYOUT] = "any_layout",
		[RIOV_VIRTIO_F_RING_INDIRECT] = "indirect",
		[RIOV_VIRTIO_F_RING_EVENT_IDX] = "event_idx",
		[VU_F_PROTOCOL_FEATURES] = "protocol_features",
		[RIOV_VIRTIO_F_VERSION_1] = "version_1",
		[RIOV_VIRTIO_F_IOMMU_PLATFORM] = "iommu_platform",
		[RIOV_VIRTIO_F_RING_PACKED] = "packed",
		[RIOV_VIRTIO_F_IN_ORDER] = "in_order",
		[36] = "order_platform",
		[37] = "sr_iov",
		[38] = "notification_data",
		[39] = "notif_config_data",
		[40] = "ring_reset",
		[41] = "admin_vq",
		[51] = "device_stats",
		[52] = "vq_notf_coal",
		[53] = "notf_coal",
		[54] = "guest_uso4",
		[55] = "guest_uso6",
		[56] = "host_uso",
		[57] = "hash_report",
		[58] = "guest_hdrlen",
		[59] = "rss",
		[60] = "rsc_ext",
		[61] = "standby",
		[62] = "speed_duplex",
	};
	return bit < 64 ? names[bit] : NULL;
}

static uint64_t offered_features(const struct riov_vhost_dev_params *p)
{
	static const unsigned bits[] = {
		RIOV_VIRTIO_F_VERSION_1, RIOV_VIRTIO_NET_F_MRG_RXBUF, VU_VIRTIO_NET_F_CTRL_VQ,
		RIOV_VIRTIO_NET_F_MTU,
		RIOV_VIRTIO_NET_F_MQ, RIOV_VIRTIO_F_RING_INDIRECT, RIOV_VIRTIO_F_RING_EVENT_IDX,
		RIOV_VIRTIO_F_IN_ORDER, RIOV_VIRTIO_F_IOMMU_PLATFORM, VU_VIRTIO_F_ANY_LAYOUT,
		VU_VIRTIO_F_NOTIFY_ON_EMPTY, RIOV_VHOST_F_LOG_ALL, VU_F_PROTOCOL_FEATURES,
	};
	uint64_t f = RIOV_VIRTIO_NET_OFFLOADS;
	for (size_t i = 0; i < sizeof(bits) / sizeof(bits[0]); i++)
		f |= 1ull << bits[i];
	if (p->packed)
		f |= 1ull << RIOV_VIRTIO_F_RING_PACKED;
	return f & ~p->features_off;
}

static uint64_t offered_protocol(void)
{
	static const unsigned bits[] = {
		VU_PF_MQ, VU_PF_LOG_SHMFD, VU_PF_RARP, VU_PF_REPLY_ACK, VU_PF_MTU, VU_PF_BACKEND_REQ,
		VU_PF_CONFIG, VU_PF_INFLIGHT_SHMFD, VU_PF_RESET_DEVICE, VU_PF_CONFIGURE_MEM_SLOTS,
		VU_PF_STATUS,
	};
	uint64_t f = 0;
	for (size_t i = 0; i < sizeof(bits) / sizeof(bits[0]); i++)
		f |= 1ull << bits[i];
	return f;
}

struct riov_vhost_dev *vu_dev_alloc(const struct riov_vhost_dev_params *p)
{
	struct riov_vhost_dev *dev = calloc(1, sizeof(*dev));
	if (!dev)
		return NULL;
	dev->p = *p;
	if (dev->p.mtu == 0)
		dev->p.mtu = 1500;
	snprintf(dev->name, sizeof(dev->name), "%s", p->name ? p->name : "vhost");
	dev->p.name = dev->name;
	dev->path = strdup(p->path ? p->path : "");
	if (!dev->path) {
		free(dev);
		return NULL;
	}
	dev->p.path = dev->path;
	dev->offered = offered_features(p);
	dev->offered_proto = offered_protocol();
	dev->listen_fd = dev->conn_fd = -1;
	dev->backend_fd = dev->log_fd = dev->inflight_fd = dev->miss_efd = -1;
	dev->rule = VU_STOP_ANY;   /* between messages (disconnect, destroy) any vring may stop */
	dev->may_stop = ~0u;
	for (unsigned q = 0; q < RIOV_VHOST_MAX_VRINGS; q++)
		dev->vr[q].kickfd = dev->vr[q].callfd = dev->vr[q].errfd = -1;
	return dev;
}

static bool params_ok(const struct riov_vhost_dev_params *p)
{
	return p && p->path && p->path[0] && p->base && p->vtd && p->ops && p->ops->vring_start &&
	       p->ops->vring_stop && p->max_queue_pairs >= 1 &&
	       p->max_queue_pairs <= RIOV_VHOST_MAX_QUEUE_PAIRS &&
	       (p->mode == RIOV_VHOST_SERVER || p->mode == RIOV_VHOST_CLIENT) && p->did != 0 &&
	       p->s1_did != 0 && p->s1_did != p->did &&
	       p->irte_base <= UINT32_MAX - RIOV_VHOST_MAX_VRINGS;
}

int riov_vhost_dev_create(const struct riov_vhost_dev_params *p, struct riov_vhost_dev **out)
{
	if (!out || !params_ok(p))
		return -EINVAL;
	struct riov_vhost_dev *dev = vu_dev_alloc(p);
	if (!dev)
		return -ENOMEM;
	vu_ring_rec_open(dev);
	int rc = vu_miss_open(dev);
	if (!rc)
		rc = p->mode == RIOV_VHOST_SERVER ? vu_server_listen(dev) : vu_client_start(dev);
	if (rc) {
		riov_vhost_dev_destroy(dev);
		return rc;
	}
	RIOV_LOG_PORT(RIOV_LOG_INFO, dev->name, "vhost-user %s on %s",
		      p->mode == RIOV_VHOST_SERVER ? "server" : "client", dev->path);
	*out = dev;
	return 0;
}

void riov_vhost_dev_destroy(struct riov_vhost_dev *dev)
{
	if (!dev)
		return;
	vu_sockets_close(dev);
	vu_session_release(dev, false);
	vu_miss_close(dev);
	vu_ring_rec_close(dev);
	free(dev->path);
	free(dev);
}

void riov_vhost_dev_stats(const struct riov_vhost_dev *dev, struct riov_vhost_dev_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->connected = dev->conn_fd >= 0;
	st->features = dev->features;
	st->protocol_features = dev->proto;
	st->mem_regions = dev->mem.n;
	st->mem_bytes = dev->mem.bytes;
	st->queue_pairs = 0;
	for (unsigned q = 0; q < vu_nvrings(dev); q++)
		if (dev->vr[q].running)
			st->queue_pairs = (uint16_t)(q / 2 + 1);
	st->messages = dev->messages;
	st->bad_messages = dev->bad_messages;
	st->refused = dev->refused;
	st->connects = dev->connects;
	st->disconnects = dev->disconnects;
	st->iotlb_refused = dev->iotlb_refused;
	st->iotlb_evictions = dev->iotlb_evictions;
	st->iotlb_updates = dev->iotlb_updates;
	st->iotlb_invalidations = dev->iotlb_invalidations;
	st->iotlb_miss_requests = dev->iotlb_miss_requests;
	st->memory_faults = dev->memory_faults;
	st->base_resyncs = dev->base_resyncs;
}
