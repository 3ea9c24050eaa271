/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Next hops of remote VTEPs, kept current from the kernel (DESIGN.md "Fabric", issue 13): for each
 * watched IPv4 address, how the kernel reaches it (route, next hop, the next hop's MAC from the
 * neighbour table, control/kernel_net.h). The kernel's route and neighbour events (rtnetlink
 * multicast groups, one socket on the control thread's libevent loop) make it look again; a next
 * hop without a MAC yet is asked of the kernel (which ARPs for it through the uplink's exception
 * TAP) and retried with back-off, so riovd never resolves addresses itself.
 *
 * Security model: the kernel is trusted; its event messages only wake the watcher up (their
 * content is not used), every answer comes from a fresh request (kernel_net.h's parsing).
 *
 * Thread rules: the control thread (the libevent loop it is created with).
 */
#ifndef RIOV_CONTROL_NH_WATCH_H
#define RIOV_CONTROL_NH_WATCH_H

#include <stdint.h>

#include "control/kernel_net.h"

struct event_base;
struct riov_nh_watch;

/** Called whenever what the kernel says about ip changes (and once after riov_nh_watch_add()):
 *  status 0 with nh filled (nh->ifindex is the output interface: an uplink's TAP when the VTEP is
 *  reached through riov), or -ENETUNREACH / -EHOSTUNREACH / another -errno, nh NULL. ip in
 *  network order. */
typedef void (*riov_nh_cb)(void *arg, uint32_t ip, int status, const struct riov_kernel_nh *nh);

/** Open the event socket and register it with base. Returns 0 or -errno. */
int riov_nh_watch_create(struct event_base *base, riov_nh_cb cb, void *arg, struct riov_nh_watch **out);
/** Close everything; NULL allowed. No callback after this. */
void riov_nh_watch_destroy(struct riov_nh_watch *w);
/** Watch ip (counted: n adds need n dels). The first answer comes through the callback before
 *  this returns. Returns 0, -ENOMEM, -EINVAL (ip 0). */
int riov_nh_watch_add(struct riov_nh_watch *w, uint32_t ip);
/** Stop watching ip (one add undone). No-op for an ip not watched. */
void riov_nh_watch_del(struct riov_nh_watch *w, uint32_t ip);
/** Look again at every watched address now (e.g. after an uplink got its address). */
void riov_nh_watch_refresh(struct riov_nh_watch *w);

#endif
