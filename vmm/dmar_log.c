/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * DMAR faults from the kernel log (see assign.h): the parser of Linux intel-iommu fault lines in
 * /dev/kmsg records, and a reader that follows /dev/kmsg on the event loop. Linux 6.1 has no
 * iommufd fault queue, so the log is where the real IOMMU's faults of an assigned function show.
 * riov_assign_fault() (assign.c) records them in riov's VT-d model.
 *
 * Security model: /dev/kmsg records are untrusted text (any process may write /dev/kmsg): only
 * records of the kernel facility are parsed (a user process's records carry the user facility),
 * a record is copied into a bounded buffer and a NUL inside it refuses it, and every field is
 * bounded in digits and value. tests/fuzz/fuzz_kmsg.c fuzzes riov_dmar_parse().
 *
 * Thread rules: control thread only.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "vmm/assign.h"

#define KMSG_REC_MAX 8192

/* ---- DMAR fault lines */

/* Skip the literal lit at *p. */
static bool take(const char **p, const char *lit)
{
	size_t n = strlen(lit);
	if (strncmp(*p, lit, n) != 0)
		return false;
	*p += n;
	return true;
}

/* A hex number at *p, with or without "0x", at most maxdigits digits and max. */
static bool take_hex(const char **p, unsigned maxdigits, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	unsigned n = 0;

	take(p, "0x");
	while (isxdigit((unsigned char)**p)) {
		if (++n > maxdigits)
			return false;
		char c = (char)tolower((unsigned char)**p);
		v = v * 16 + (uint64_t)(c <= '9' ? c - '0' : c - 'a' + 10);
		(*p)++;
	}
	if (n == 0 || v > max)
		return false;
	*out = v;
	return true;
}

int riov_dmar_parse(const char *rec, size_t len, struct riov_dmar_fault *out)
{
	char text[512];
	const char *semi, *p;
	uint64_t prio = 0, bus, dev, fn, addr, reason;
	size_t n;

	if (rec == NULL || len == 0)
		return -EINVAL;
	/* header "prio,seq,usec,flags[,...];" then the message up to the first newline */
	n = len < sizeof(text) - 1 ? len : sizeof(text) - 1;
	memcpy(text, rec, n);
	text[n] = '\0';
	if (strlen(text) != n)
		return -EINVAL; /* NUL inside the record */
	semi = strchr(text, ';');
	if (semi == NULL)
		return -EINVAL;
	p = text;
	if (!isdigit((unsigned char)*p))
		return -EINVAL;
	while (isdigit((unsigned char)*p) && prio < 1024)
		prio = prio * 10 + (uint64_t)(*p++ - '0');
	if (*p != ',' || (prio >> 3) != 0)
		return -EINVAL; /* not the kernel facility (user records have facility >= 1) */
	p = semi + 1;
	char *nl = strchr(p, '\n');
	if (nl != NULL)
		*nl = '\0';
	p = strstr(p, "DMAR: [");
	if (p == NULL)
		return -EINVAL;
	p += strlen("DMAR: [");
	memset(out, 0, sizeof(*out));
	if (take(&p, "INTR-REMAP"))
		out->is_ir = true;
	else if (take(&p, "DMA Read"))
		out->is_write = false;
	else if (take(&p, "DMA Write"))
		out->is_write = true;
	else
		return -EINVAL;
	/* "NO_PASID]", "PASID 0x5]" or "]" */
	p = strstr(p, "] Request device [");
	if (p == NULL)
		return -EINVAL;
	p += strlen("] Request device [");
	if (!take_hex(&p, 2, 0xff, &bus) || !take(&p, ":") || !take_hex(&p, 2, 0x1f, &dev) ||
	    !take(&p, ".") || !take_hex(&p, 1, 7, &fn) || !take(&p, "]"))
		return -EINVAL;
	if (take(&p, " PASID ")) { /* older kernels: "... [bb:dd.f] PASID x fault addr ..." */
		uint64_t pasid;
		if (!take_hex(&p, 5, 0xfffff, &pasid))
			return -EINVAL;
	}
	if (!take(&p, out->is_ir ? " fault index " : " fault addr ") ||
	    !take_hex(&p, 16, UINT64_MAX, &addr) || !take(&p, " [fault reason ") ||
	    !take_hex(&p, 2, 0xff, &reason) || !take(&p, "]"))
		return -EINVAL;
	out->sid = (uint16_t)(bus << 8 | dev << 3 | fn);
	out->addr = addr;
	out->reason = (uint8_t)reason;
	return 0;
}

/* ---- /dev/kmsg */

struct riov_kmsg {
	int fd;
	struct event *ev;
	void (*cb)(void *arg, const struct riov_dmar_fault *f);
	void *arg;
	char *buf;
};

unsigned riov_kmsg_poll(struct riov_kmsg *k)
{
	unsigned found = 0;

	/* one read(2) returns one record; bounded so a log storm cannot hold the control thread */
	for (unsigned i = 0; i < 4096; i++) {
		ssize_t n = read(k->fd, k->buf, KMSG_REC_MAX);
		if (n < 0) {
			if (errno == EINTR || errno == EPIPE) /* EPIPE: records were overwritten */
				continue;
			break;
		}
		if (n == 0)
			break;
		struct riov_dmar_fault f;
		if (riov_dmar_parse(k->buf, (size_t)n, &f) == 0) {
			found++;
			k->cb(k->arg, &f);
		}
	}
	return found;
}

static void on_kmsg(evutil_socket_t fd, short what, void *arg)
{
	riov_kmsg_poll(arg);
}

int riov_kmsg_open(struct event_base *base, void (*cb)(void *arg, const struct riov_dmar_fault *f),
		   void *arg, struct riov_kmsg **out)
{
	struct riov_kmsg *k = calloc(1, sizeof(*k));
	int rc;

	if (k == NULL)
		return -ENOMEM;
	k->cb = cb;
	k->arg = arg;
	k->buf = malloc(KMSG_REC_MAX);
	k->fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (k->buf == NULL || k->fd < 0) {
		rc = k->buf == NULL ? -ENOMEM : -errno;
		goto fail;
	}
	/* only what happens from now on: older faults are not ours to attribute */
	if (lseek(k->fd, 0, SEEK_END) < 0) {
		rc = -errno;
		goto fail;
	}
	k->ev = event_new(base, k->fd, EV_READ | EV_PERSIST, on_kmsg, k);
	if (k->ev == NULL || event_add(k->ev, NULL) != 0) {
		rc = -ENOMEM;
		goto fail;
	}
	*out = k;
	return 0;
fail:
	riov_kmsg_close(k);
	return rc;
}

void riov_kmsg_close(struct riov_kmsg *k)
{
	if (k == NULL)
		return;
	if (k->ev != NULL)
		event_free(k->ev);
	if (k->fd >= 0)
		close(k->fd);
	free(k->buf);
	free(k);
}
