/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * seq_check: reads the pcap stream a receiving guest writes (dpdk-testpmd forwarding its virtio
 * port to a net_pcap port whose tx_pcap is a FIFO) and checks the sequence numbers dpdk-testpmd's
 * flowgen engine puts in the frames it sends: flow k goes to IPv4 destination 10.253.0.0 + k, and
 * flowgen counts k up by one for every frame its TX ring accepted (it backs the counter out for the
 * ones the ring refused), so with --flowgen-flows=2147483647 the destination address is a sequence
 * number over everything the sender handed to riovd.
 *
 * It counts frames, sequence numbers seen twice (a frame delivered twice), frames that arrive
 * after a higher sequence number (reordered), and the numbers never seen below the highest
 * (missing). A frame that arrives after the stream paused (PAUSE_MS without a frame: riovd was
 * down) is reported with the gap before it: what was lost across the pause. Progress lines go to
 * stdout every 200 ms and when the stream goes idle for 50 ms, and a last one at its end:
 *   seq frames=N other=O dups=D reorder=R max=M missing=X
 *   resume frames=N seq=S gap=G pause_ms=P missing=X
 * (N counts the frame itself, X includes the gap). A receiver that is descheduled pauses too.
 * Frames that are not flowgen's (another destination, not UDP to port 1001) count as "other".
 * Exit status 0, or 1 on a malformed stream or no memory.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SEQ_BASE 0x0afd0000u    /* flowgen's first destination, 10.253.0.0 */
#define PAUSE_MS 100
#define MAX_FRAME 65535u

struct seen {
	uint8_t *bits;
	uint64_t nbytes;
};

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Mark seq seen; returns true if it was already. */
static int mark(struct seen *s, uint32_t seq)
{
	uint64_t byte = seq / 8;
	if (byte >= s->nbytes) {
		uint64_t n = s->nbytes ? s->nbytes : 1u << 20;
		while (n <= byte)
			n *= 2;
		uint8_t *b = realloc(s->bits, n);
		if (b == NULL)
			return -1;
		memset(b + s->nbytes, 0, n - s->nbytes);
		s->bits = b;
		s->nbytes = n;
	}
	uint8_t bit = (uint8_t)(1u << (seq % 8));
	int was = (s->bits[byte] & bit) != 0;
	s->bits[byte] |= bit;
	return was;
}

static uint64_t frames, other, dups, reorder, distinct, printed = UINT64_MAX;
static int64_t max = -1;

static void progress(void)
{
	printed = frames;
	printf("seq frames=%llu other=%llu dup=%llu reorder=%llu max=%lld missing=%lld\n",
	       (unsigned long long)frames, (unsigned long long)other, (unsigned long long)dups,
	       (unsigned long long)reorder, (long long)max, (long long)(max + 1 - (int64_t)distinct));
}

/* The stream, read in large pieces; while it is idle for 50 ms the progress is printed, so that
 * what a reader of stdout sees is current when the writer pauses. */
static struct {
	int fd;
	uint8_t buf[1 << 20];
	size_t pos, len;
} in;

static bool read_all(void *dst, size_t need)
{
	while (in.len - in.pos < need) {
		memmove(in.buf, in.buf + in.pos, in.len - in.pos);
		in.len -= in.pos;
		in.pos = 0;
		struct pollfd p = { .fd = in.fd, .events = POLLIN };
		int rc = poll(&p, 1, 50);
		if (rc == 0) {
			if (printed != frames)
				progress();
			continue;
		}
		if (rc < 0 && errno == EINTR)
			continue;
		ssize_t r = read(in.fd, in.buf + in.len, sizeof(in.buf) - in.len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return false;
		in.len += (size_t)r;
	}
	memcpy(dst, in.buf + in.pos, need);
	in.pos += need;
	return true;
}

static uint32_t rd32(const uint8_t *p, bool swap)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return swap ? __builtin_bswap32(v) : v;
}

int main(int argc, char **argv)
{
	static uint8_t frame[MAX_FRAME];
	uint8_t gh[24], rh[16];
	struct seen s = { 0 };
	uint64_t last_frame_ms = 0, last_print = 0;

	in.fd = argc > 1 ? open(argv[1], O_RDONLY) : 0;
	if (in.fd < 0) {
		perror(argv[1]);
		return 1;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!read_all(gh, sizeof(gh))) {
		progress();
		return 0;   /* nothing was written */
	}
	uint32_t magic;
	memcpy(&magic, gh, 4);
	bool swap = magic == 0xd4c3b2a1u || magic == 0x4d3cb2a1u;
	if (!swap && magic != 0xa1b2c3d4u && magic != 0xa1b23c4du) {
		fprintf(stderr, "seq_check: not a pcap stream (magic %#x)\n", magic);
		return 1;
	}
	while (read_all(rh, sizeof(rh))) {
		uint32_t incl = rd32(rh + 8, swap);
		if (incl > MAX_FRAME) {
			fprintf(stderr, "seq_check: record of %u bytes\n", incl);
			return 1;
		}
		if (!read_all(frame, incl))
			break;
		uint64_t t = now_ms();
		frames++;
		/* Ethernet, IPv4 without options, UDP to flowgen's port 1001 */
		if (incl < 14 + 20 + 8 || frame[12] != 0x08 || frame[13] != 0x00 || frame[14] != 0x45 ||
		    frame[23] != 17 || frame[36] != 0x03 || frame[37] != 0xe9) {
			other++;
			continue;
		}
		uint32_t dst;
		memcpy(&dst, frame + 30, 4);
		uint32_t seq = ntohl(dst) - SEQ_BASE;
		if (seq > 0x7fffffffu) {
			other++;
			continue;
		}
		int was = mark(&s, seq);
		if (was < 0) {
			fprintf(stderr, "seq_check: no memory for sequence %u\n", seq);
			return 1;
		}
		if (was) {
			dups++;
		} else {
			distinct++;
			if ((int64_t)seq < max)
				reorder++;
		}
		long long gap = (long long)seq - max - 1;
		if ((int64_t)seq > max)
			max = seq;
		if (last_frame_ms && t - last_frame_ms >= PAUSE_MS)
			printf("resume frames=%llu seq=%u gap=%lld pause_ms=%llu missing=%lld\n",
			       (unsigned long long)frames, seq, gap, (unsigned long long)(t - last_frame_ms),
			       (long long)(max + 1 - (int64_t)distinct));
		last_frame_ms = t;
		if (t - last_print >= 200) {
			last_print = t;
			progress();
		}
	}
	progress();
	printf("end\n");
	free(s.bits);
	return 0;
}
