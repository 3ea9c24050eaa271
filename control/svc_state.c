/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The desired state on stable storage: the running state as a riov.v1.State, its writes, the one
 * way a change is kept (svc_save_or_undo) and the replay at start (riov_service_restore, see
 * service.h for the precedence of state file and configuration file).
 *
 * Security model: the state file is read back through the state store's integrity check
 * (SHA-256) and then decoded by protobuf-c; its content is applied through the same checks as an
 * RPC request (svc_net_add, svc_port_add, ...). A newer format is refused, a file that is not a
 * State is moved aside.
 *
 * What an acknowledged change is, decided once here: a change is kept (in memory, and answered
 * OK) exactly when riov_state_store_write() has renamed the new state file over the old one,
 * because from that rename on the next start replays it. So memory and disk never disagree:
 *  - a failure before the rename (creating, writing or fsyncing the temporary file, the rename
 *    itself) leaves the old state file: svc_save_or_undo() undoes the change in memory and the
 *    client gets the error;
 *  - a failure of the directory fsync after the rename (RIOV_STATE_STORE_NOT_SYNCED) is not
 *    undone, since the change is on disk and undoing it in memory would lose it at the next
 *    save while the next start would still apply it: the change is kept and answered OK, and
 *    the failure is logged, counted (save_not_synced, riov_state_save_not_synced_total) and
 *    shown as Node.Info health until the next write that is fully synced.
 *
 * Thread rules: control thread only.
 */
#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "control/config.h"
#include "control/service_internal.h"
#include "control/state_store.h"

RIOV_LOG_COMPONENT("riovd", RIOV_LOG_INFO);

void svc_state_build(struct riov_service *svc, Riov__V1__State *st, uint64_t generation)
{
	riov__v1__state__init(st);
	st->format = STATE_FORMAT;
	st->generation = generation;
	st->n_networks = svc->n_nets;
	st->networks = svc->nets;
	st->n_ports = svc->n_ports;
	st->ports = svc->ports;
	st->n_domains = svc->n_doms;
	st->domains = svc->doms;
	st->n_interrupts = svc->n_irqs;
	st->interrupts = svc->irqs;
	st->n_devices = 0;
	for (unsigned i = 0; i < svc->n_asg; i++)
		if (svc->asg[i]->spec != NULL)
			svc->dev_specs[st->n_devices++] = svc->asg[i]->spec;
	st->devices = svc->dev_specs;
	st->n_sriov = svc->n_sriov;
	st->sriov = svc->sriov;
}

int svc_state_save(struct riov_service *svc, char *err, size_t errlen)
{
	Riov__V1__State st;
	char why[256] = "";
	int rc;

	svc_state_build(svc, &st, svc->generation + 1);
	size_t len = riov__v1__state__get_packed_size(&st);
	uint8_t *buf = malloc(len ? len : 1);
	if (buf == NULL) {
		snprintf(err, errlen, "the state file could not be written: out of memory");
		return -ENOMEM;
	}
	riov__v1__state__pack(&st, buf);
	rc = riov_state_store_write(svc->store, buf, len, why, sizeof(why));
	free(buf);
	if (rc == RIOV_STATE_STORE_NOT_SYNCED) {
		/* on disk: kept (see the top of this file), reported */
		svc->save_not_synced++;
		snprintf(svc->save_error, sizeof(svc->save_error), "%s", why);
		RIOV_LOG(RIOV_LOG_ERR, "state saved, durability unconfirmed: %s", why);
		svc->generation++;
		return 0;
	}
	if (rc != 0) {
		snprintf(svc->save_error, sizeof(svc->save_error), "%s", why);
		snprintf(err, errlen, "the state file could not be written: %s", why);
		RIOV_LOG(RIOV_LOG_ERR, "state not saved: %s", why);
		return rc;
	}
	svc->save_error[0] = '\0';
	svc->generation++;
	return 0;
}

int svc_save_or_undo(struct riov_service *svc, svc_undo_fn undo, void *arg, char *msg,
		     size_t msglen, const char *what_fmt, ...)
{
	char why[256];
	va_list ap;
	int n, rc = svc_state_save(svc, why, sizeof(why));

	if (rc == 0)
		return 0;
	undo(svc, arg);
	va_start(ap, what_fmt);
	n = vsnprintf(msg, msglen, what_fmt, ap);
	va_end(ap);
	if (n >= 0 && (size_t)n < msglen)
		snprintf(msg + n, msglen - (size_t)n, ": %s", why);
	return rc;
}

void svc_slot_restore(struct riov_service *svc, void *arg)
{
	struct svc_slot *slot = arg;

	insert_at(slot->arr, slot->n, slot->i, slot->v);
}

/* ------------------------------------------------------------------ restore */

static int restore_from_config(struct riov_service *svc, char *err, size_t errlen)
{
	const struct riov_config *c = svc->cfg;
	int rc;

	for (unsigned i = 0; i < c->n_nets; i++) {
		Riov__V1__NetworkSpec ns = RIOV__V1__NETWORK_SPEC__INIT;
		char *vteps[RIOV_CFG_MAX_VTEPS];
		static Riov__V1__StaticMac macs[RIOV_CFG_MAX_MACS];
		static Riov__V1__StaticMac *macp[RIOV_CFG_MAX_MACS];
		ns.name = (char *)c->nets[i];
		ns.mtu = c->net_mtu[i];
		ns.vni = c->net_vni[i];
		ns.evpn = c->net_evpn[i];
		for (unsigned k = 0; k < c->net_n_vteps[i] && k < RIOV_CFG_MAX_VTEPS; k++)
			vteps[ns.n_vteps++] = c->vteps[c->net_vtep_first[i] + k];
		ns.vteps = vteps;
		for (unsigned k = 0; k < c->net_n_macs[i] && k < RIOV_CFG_MAX_MACS; k++) {
			const struct riov_cfg_mac *cm = &c->macs[c->net_mac_first[i] + k];
			riov__v1__static_mac__init(&macs[k]);
			macs[k].mac = (char *)cm->mac;
			macs[k].vtep = (char *)(cm->vtep ? cm->target : "");
			macs[k].port = (char *)(cm->vtep ? "" : cm->target);
			macp[ns.n_macs++] = &macs[k];
		}
		ns.macs = macp;
		rc = svc_net_add(svc, &ns, err, errlen);
		if (rc != 0)
			return rc;
	}
	for (unsigned i = 0; i < c->n_ports; i++) {
		Riov__V1__PortSpec ps;
		char *feat[SVC_N_FEATURES];
		svc_port_from_config(&c->ports[i], &ps, feat);
		rc = svc_port_add(svc, &ps, err, errlen);
		if (rc != 0)
			return rc;
	}
	rc = svc_state_save(svc, err, errlen);
	if (rc == 0)
		RIOV_LOG(RIOV_LOG_NOTICE, "no state file: applied the configuration file's %u "
			 "network(s) and %u port(s) and saved them to %s", svc->n_nets, svc->n_ports,
			 riov_state_store_path(svc->store));
	return rc;
}

static int restore_from_state(struct riov_service *svc, const Riov__V1__State *st, char *err,
			      size_t errlen)
{
	char why[256];

	if (st->format > STATE_FORMAT) {
		snprintf(err, errlen, "%s has state format %u, newer than this riovd understands (%u); "
			 "run a newer riovd or move the file away", riov_state_store_path(svc->store),
			 st->format, STATE_FORMAT);
		return -EPROTO;
	}
	for (size_t i = 0; i < st->n_networks; i++) {
		why[0] = '\0';
		if (svc_net_add(svc, st->networks[i], why, sizeof(why)) != 0) {
			RIOV_LOG(RIOV_LOG_ERR, "state file: network not restored: %s", why);
			svc->restore_failed++;
		}
	}
	/* VF counts before ports and devices: an eth port or a device may be a VF */
	for (size_t i = 0; i < st->n_sriov; i++) {
		Riov__V1__SriovSpec *sp;
		why[0] = '\0';
		if (svc->n_sriov >= SRIOV_MAX || svc_sriov_index(svc, str_or_empty(st->sriov[i]->pf)) >= 0 ||
		    svc_sriov_apply(svc, st->sriov[i], why, sizeof(why)) != 0 ||
		    (sp = svc_msg_dup(&st->sriov[i]->base)) == NULL) {
			RIOV_LOG(RIOV_LOG_ERR, "state file: VF count of %s not restored: %s",
				 str_or_empty(st->sriov[i]->pf), why[0] ? why : "duplicate or out of memory");
			svc->restore_failed++;
			continue;
		}
		svc->sriov[svc->n_sriov++] = sp;
	}
	for (size_t i = 0; i < st->n_ports; i++) {
		why[0] = '\0';
		if (svc_port_add(svc, st->ports[i], why, sizeof(why)) != 0) {
			RIOV_LOG(RIOV_LOG_ERR, "state file: port not restored: %s", why);
			svc->restore_failed++;
		}
	}
	for (size_t i = 0; i < st->n_devices; i++) {
		why[0] = '\0';
		if (svc_dev_assign(svc, st->devices[i], why, sizeof(why)) != 0) {
			RIOV_LOG(RIOV_LOG_ERR, "state file: device %s not restored: %s",
				 str_or_empty(st->devices[i]->name), why);
			svc->restore_failed++;
		}
	}
	for (size_t i = 0; i < st->n_domains; i++) {
		uint32_t did;
		why[0] = '\0';
		if (svc_dom_create(svc, st->domains[i], &did, why, sizeof(why)) != 0) {
			RIOV_LOG(RIOV_LOG_ERR, "state file: domain %u not restored: %s",
				 st->domains[i]->domain_id, why);
			svc->restore_failed++;
		}
	}
	for (size_t i = 0; i < st->n_interrupts; i++) {
		Riov__V1__InterruptSetting *old;
		why[0] = '\0';
		if (svc_irq_set(svc, st->interrupts[i], &old, why, sizeof(why)) != 0) {
			RIOV_LOG(RIOV_LOG_ERR, "state file: interrupt setting not restored: %s", why);
			svc->restore_failed++;
		} else if (old) {
			riov__v1__interrupt_setting__free_unpacked(old, NULL);
		}
	}
	svc->generation = st->generation;
	RIOV_LOG(RIOV_LOG_NOTICE, "restored state from %s (generation %" PRIu64 "): %u network(s), "
		 "%u port(s), %u domain(s), %u interrupt setting(s), %u assigned function(s), %u SR-IOV "
		 "PF(s); the configuration file's networks and ports are not used",
		 riov_state_store_path(svc->store), st->generation, svc->n_nets, svc->n_ports, svc->n_doms,
		 svc->n_irqs, svc->n_asg, svc->n_sriov);
	if (svc->restore_failed)
		RIOV_LOG(RIOV_LOG_ERR, "%u object(s) of the state file could not be restored and are "
			 "left out (see above); the next change saves the state without them",
			 svc->restore_failed);
	return 0;
}

static int restore_any(struct riov_service *svc, char *err, size_t errlen)
{
	char why[512] = "";
	void *buf = NULL;
	size_t len = 0;
	int rc;

	rc = riov_state_store_read(svc->store, &buf, &len, why, sizeof(why));
	if (rc == -ENOENT)
		return restore_from_config(svc, err, errlen);
	if (rc == -EBADMSG) {
		RIOV_LOG(RIOV_LOG_ERR, "%s", why);
		RIOV_LOG(RIOV_LOG_ERR, "the state file was corrupt: starting from the configuration "
			 "file's networks and ports instead");
		return restore_from_config(svc, err, errlen);
	}
	if (rc != 0) {
		snprintf(err, errlen, "%s", why);
		return rc;
	}
	Riov__V1__State *st = riov__v1__state__unpack(NULL, len, buf);
	free(buf);
	if (st == NULL) {
		char moved[PATH_MAX] = "";
		riov_state_store_quarantine(svc->store, moved, sizeof(moved));
		RIOV_LOG(RIOV_LOG_ERR, "%s does not hold a riov.v1.State: moved aside to %s; starting "
			 "from the configuration file's networks and ports instead",
			 riov_state_store_path(svc->store), moved);
		return restore_from_config(svc, err, errlen);
	}
	rc = restore_from_state(svc, st, err, errlen);
	riov__v1__state__free_unpacked(st, NULL);
	return rc;
}

int riov_service_restore(struct riov_service *svc, char *err, size_t errlen)
{
	svc_evpn_restore_begin(svc); /* EVPN networks: the kernel is reconciled once, at the end */
	int rc = restore_any(svc, err, errlen);
	svc_evpn_restore_end(svc);
	svc_rdma_sync(svc); /* RDMA links to the VTEPs restored, on the uplink's address */
	return rc;
}
