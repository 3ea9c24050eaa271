/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * riov-perf: the guest side of a throughput and latency test (issue 17). Sends timestamped,
 * sequence-numbered Ethernet/IPv4/UDP frames at a paced rate on DPDK ports and receives them back,
 * counting per stream (one stream per tx->rx port pair) what came back, what did not, twice or out
 * of order, and how late. Modes: one trial at a fixed rate, or an RFC 2544 NDR/PDR search followed by
 * a latency trial at a fraction of NDR. Usage: riov-perf [EAL options] -- [options]; docs/riov-perf.md.
 *
 * Security model: received frames are anything the port hands over (perf_frame.h); they are copied
 * head-first with rte_pktmbuf_read, parsed with length checks, and only then counted.
 *
 * Thread rules: everything runs on the main lcore (tx pacing and rx polling interleaved); a
 * signal handler only sets a flag.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "perf_frame.h"
#include "perf_hist.h"
#include "perf_search.h"
#include "perf_stream.h"

#ifndef RIOV_VERSION
#define RIOV_VERSION "unknown"
#endif

#define EXIT_USAGE 2
#define MAX_STREAMS 64
#define MAX_SIZES 16
#define MAX_BURST 256
#define IMIX_LEN 12
#define NB_DESC 1024
#define BITMAP_LIMIT (1ull << 33) /* bits over all streams of a trial: 1 GiB */

static const uint16_t imix_pattern[IMIX_LEN] = { 64, 594, 64, 64, 594, 64, 1518, 64, 594, 64, 64, 594 };

enum mode { MODE_FIXED, MODE_NDR };

/* One entry of --sizes: a fixed frame size, or IMIX (size 0) */
struct size_spec {
	uint16_t size;
	char label[8];
};

struct opts {
	enum mode mode;
	unsigned npairs;
	uint16_t pair_tx[MAX_STREAMS], pair_rx[MAX_STREAMS];
	unsigned nsizes;
	struct size_spec sizes[MAX_SIZES];
	uint32_t flows;
	unsigned ndst;        /* --dst-mac: 1 (every stream) or one per stream */
	uint8_t dst_mac[MAX_STREAMS][6];
	double rate;          /* Mpps, or percent of line rate when rate_pct */
	bool rate_pct;
	bool rate_given;
	double line_rate;     /* Gbit/s */
	double duration, drain;
	double warmup;        /* seconds of learning frames before each size's first trial */
	double link_wait;     /* seconds to wait for every port's link before the first trial */
	double pdr_loss, precision, min_rate, latency_load;
	unsigned max_trials;
	unsigned burst;
	uint64_t drop_every;
	bool json, quiet;
};

/* Per stream, per trial: the sender's state and the receiver's counts */
struct stream {
	uint16_t tx_port, rx_port;
	uint8_t dst_mac[6];
	uint64_t planned, next_seq, sent;
	uint64_t lag;  /* frames behind the schedule after the last tx burst */
	uint64_t refused_frames; /* distinct frames the port refused at least once */
	struct riov_perf_tmpl tmpl; /* this trial's frame head */
	uint32_t next_flow;   /* next_seq % --flows */
	unsigned next_imix;   /* next_seq % IMIX_LEN */
	struct rte_mbuf *pend[MAX_BURST];
	unsigned npend;
	bool pend_refused;    /* pend holds frames the port refused before (new ones: only when empty) */
	struct riov_perf_stream_rx rx;
};

/* What one trial measured */
struct trial {
	double offered, achieved;   /* Mpps per stream */
	double tx_seconds;
	uint64_t sent, received, lost, duplicates, reordered;
	uint64_t foreign, stale, tx_refused, test_dropped;
	uint64_t tx_refused_frames; /* distinct frames behind tx_refused (which counts every refusal) */
	uint64_t max_lag;           /* frames: the furthest any stream fell behind its schedule */
	struct riov_perf_hist lat;  /* all streams */
};

static struct opts o;
static struct stream streams[MAX_STREAMS];
static struct rte_mempool *pool;
static uint16_t ports[RTE_MAX_ETHPORTS]; /* every port of a pair, polled for rx */
static unsigned n_ports;
static uint8_t trial_no;
static volatile sig_atomic_t stopping;
static uint64_t tsc_hz;
static double ns_per_tsc;
static const struct size_spec *cur_size;
static bool progress_shown;
static uint64_t drop_ctr;     /* --drop-every: riov-perf frames seen this trial */

/* Laid out for help2man too (deploy/man): "Usage:", "Options:", "Examples:" with "$ " */
static void usage(FILE *f)
{
	fprintf(f,
		"Usage: riov-perf [EAL options] -- [OPTIONS]\n"
		"Throughput and latency test on DPDK ports: sends paced, timestamped, numbered frames and\n"
		"counts per stream what comes back (lost, duplicated, reordered, latency); one trial at a\n"
		"fixed rate or an RFC 2544 NDR/PDR search.\n"
		"Exit status: 0 success, 1 runtime failure (EAL, ports, memory), 2 usage error, 130\n"
		"interrupted (SIGINT/SIGTERM end the current trial; what was measured is printed).\n\n"
		"Options:\n"
		"  --mode fixed|ndr          one trial at --rate, or NDR/PDR search (default fixed)\n"
		"  --pairs TX:RX,...         port pairs, one stream each (default: every port to itself)\n"
		"  --sizes LIST              frame sizes 64..1518 with FCS, or imix (7:4:1 of 64/594/1518);\n"
		"                            default 64\n"
		"  --flows N                 source MAC/IP round robin over N flows per stream (default 1)\n"
		"  --dst-mac MAC[,MAC...]    destination MAC: one for every stream, or one per stream in\n"
		"                            --pairs order (default ff:ff:ff:ff:ff:ff)\n"
		"  --rate R | P%%             per stream: Mpps, or percent of --line-rate (default 1, ndr:\n"
		"                            100%%)\n"
		"  --line-rate G             line rate in Gbit/s for %% rates and Gbit/s figures (default 10)\n"
		"  --duration S              trial length in seconds (default 5)\n"
		"  --drain S                 wait for frames after a trial, at most S seconds (default 0.5)\n"
		"  --warmup S                before each size's first trial, S seconds of learning frames\n"
		"                            at 0.1 Mpps per stream, not counted (RFC 2544; default 0.5)\n"
		"  --link-wait S             wait at most S seconds for every port's link before the\n"
		"                            first frame (default 10; 0: do not wait)\n"
		"  --pdr-loss P              PDR loss threshold in percent (default 0.5)\n"
		"  --search-precision R      stop the search when NDR/PDR are known within R Mpps (default\n"
		"                            1%% of the max rate)\n"
		"  --min-rate R              lowest rate the search tries, Mpps (default 0.01)\n"
		"  --trials N                at most N search trials per size (default 20)\n"
		"  --latency-load P          latency trial at P percent of NDR (default 50; 0: none)\n"
		"  --burst N                 frames per tx burst at most (default 32)\n"
		"  --drop-every N            test aid: discard every Nth received frame before counting\n"
		"  --json                    one JSON object on stdout instead of the table\n"
		"  --quiet                   no progress line on stderr\n"
		"  -h, --help                this text (riov-perf --help, or after --)\n"
		"  --version                 print riov-perf's version and exit\n\n"
		"Limited trials:\n"
		"A trial more than 1 %% short of its offered rate is limited, for one of two reasons,\n"
		"marked in the trial lines, the bounds and the tables, and as \"limit\" in the JSON:\n"
		"  (gen) generator      the ports took the frames (refused no more than 1 %% as many as\n"
		"                       were sent) but riov-perf's core sent no faster: the trial counts\n"
		"                       at its achieved rate, and a bound that passes there is riov-perf's\n"
		"                       ceiling (the system under test may go faster)\n"
		"  (bp) backpressure    the ports refused more than 1 %% as many frames as were sent (a\n"
		"                       switch that does not empty its virtio ring in time): the system\n"
		"                       under test did not take the offered load; the trial counts at the\n"
		"                       offered rate, what was not delivered as loss (NDR fails), and the\n"
		"                       search goes on below it\n\n"
		"EAL options are DPDK's (riov-perf --no-huge --help lists them); a port is any ethdev EAL\n"
		"gives, e.g. --vdev net_virtio_user0,path=SOCKET towards a switch.\n\n"
		"Examples:\n"
		"  $ riov-perf --no-huge --vdev net_ring0 -- --duration 1 --json\n"
		"  $ riov-perf --vdev net_virtio_user0,path=SOCKET -- --mode ndr\n"
		"  $ riov-perf ... -- --pairs 0:1,1:0 --dst-mac MAC1,MAC0\n");
}

static int bad(const char *what, const char *arg)
{
	fprintf(stderr, "riov-perf: bad %s '%s' (try --help)\n", what, arg ? arg : "");
	return -EINVAL;
}

/* A finite positive double (or zero when zero_ok), all of s. */
static int parse_double(const char *s, double *v, bool zero_ok)
{
	char *end;
	errno = 0;
	double d = strtod(s, &end);
	if (errno || end == s || *end != '\0' || !isfinite(d) || d < 0 || (!zero_ok && d == 0))
		return -EINVAL;
	*v = d;
	return 0;
}

static int parse_u64(const char *s, uint64_t *v, uint64_t lo, uint64_t hi)
{
	char *end;
	errno = 0;
	if (s[0] == '-' || s[0] == '\0')
		return -EINVAL;
	unsigned long long u = strtoull(s, &end, 10);
	if (errno || *end != '\0' || u < lo || u > hi)
		return -EINVAL;
	*v = u;
	return 0;
}

static int parse_pairs(const char *arg)
{
	char buf[1024];
	if (strlen(arg) >= sizeof(buf))
		return bad("--pairs", arg);
	strcpy(buf, arg);
	o.npairs = 0;
	for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		uint64_t tx, rx;
		char *colon = strchr(tok, ':');
		if (o.npairs == MAX_STREAMS)
			return bad("--pairs (too many)", arg);
		if (colon)
			*colon = '\0';
		if (parse_u64(tok, &tx, 0, RTE_MAX_ETHPORTS - 1) < 0 ||
		    parse_u64(colon ? colon + 1 : tok, &rx, 0, RTE_MAX_ETHPORTS - 1) < 0)
			return bad("--pairs", arg);
		o.pair_tx[o.npairs] = (uint16_t)tx;
		o.pair_rx[o.npairs] = (uint16_t)rx;
		o.npairs++;
	}
	return o.npairs ? 0 : bad("--pairs", arg);
}

static int parse_sizes(const char *arg)
{
	char buf[512];
	if (strlen(arg) >= sizeof(buf))
		return bad("--sizes", arg);
	strcpy(buf, arg);
	o.nsizes = 0;
	for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		struct size_spec *z = &o.sizes[o.nsizes];
		uint64_t v;
		if (o.nsizes == MAX_SIZES)
			return bad("--sizes (too many)", arg);
		if (strcmp(tok, "imix") == 0) {
			z->size = 0;
			snprintf(z->label, sizeof(z->label), "imix");
		} else if (parse_u64(tok, &v, RIOV_PERF_SIZE_MIN, RIOV_PERF_SIZE_MAX) == 0) {
			z->size = (uint16_t)v;
			snprintf(z->label, sizeof(z->label), "%u", z->size);
		} else {
			return bad("--sizes (64..1518 or imix)", tok);
		}
		o.nsizes++;
	}
	return o.nsizes ? 0 : bad("--sizes", arg);
}

static int parse_rate(const char *arg)
{
	char buf[64];
	size_t n = strlen(arg);
	if (n == 0 || n >= sizeof(buf))
		return bad("--rate", arg);
	strcpy(buf, arg);
	o.rate_pct = buf[n - 1] == '%';
	if (o.rate_pct)
		buf[n - 1] = '\0';
	if (parse_double(buf, &o.rate, false) < 0 || (o.rate_pct && o.rate > 100))
		return bad("--rate", arg);
	o.rate_given = true;
	return 0;
}

/* --dst-mac against the streams, once their number is known (--pairs, or every port after EAL):
 * one MAC for all, or exactly one per stream. Returns 0 or -EINVAL (message printed). */
static int check_dst_macs(unsigned nstreams)
{
	if (o.ndst == 1 || o.ndst == nstreams)
		return 0;
	fprintf(stderr, "riov-perf: --dst-mac: %u MACs for %u stream%s (give one for all, or one per "
		"stream)\n", o.ndst, nstreams, nstreams == 1 ? "" : "s");
	return -EINVAL;
}

enum { OPTS_RUN, OPTS_HELP, OPTS_VERSION };

/* Options after EAL's. Returns OPTS_RUN, OPTS_HELP, OPTS_VERSION, or -EINVAL (message printed). */
static int parse_opts(int argc, char **argv)
{
	enum { O_MODE = 256, O_PAIRS, O_SIZES, O_FLOWS, O_DST, O_RATE, O_LINE, O_DUR, O_DRAIN, O_PDR,
	       O_PREC, O_MINR, O_TRIALS, O_LAT, O_BURST, O_DROP, O_JSON, O_QUIET, O_HELP, O_VERSION,
	       O_WARM, O_LINKW };
	static const struct option lo[] = {
		{ "mode", 1, NULL, O_MODE }, { "pairs", 1, NULL, O_PAIRS }, { "sizes", 1, NULL, O_SIZES },
		{ "flows", 1, NULL, O_FLOWS }, { "dst-mac", 1, NULL, O_DST }, { "rate", 1, NULL, O_RATE },
		{ "line-rate", 1, NULL, O_LINE }, { "duration", 1, NULL, O_DUR }, { "drain", 1, NULL, O_DRAIN },
		{ "warmup", 1, NULL, O_WARM }, { "link-wait", 1, NULL, O_LINKW },
		{ "pdr-loss", 1, NULL, O_PDR }, { "search-precision", 1, NULL, O_PREC },
		{ "min-rate", 1, NULL, O_MINR }, { "trials", 1, NULL, O_TRIALS },
		{ "latency-load", 1, NULL, O_LAT }, { "burst", 1, NULL, O_BURST },
		{ "drop-every", 1, NULL, O_DROP }, { "json", 0, NULL, O_JSON }, { "quiet", 0, NULL, O_QUIET },
		{ "help", 0, NULL, O_HELP }, { "version", 0, NULL, O_VERSION }, { NULL, 0, NULL, 0 },
	};
	uint64_t v;
	int c;

	o.mode = MODE_FIXED;
	o.nsizes = 1;
	o.sizes[0].size = 64;
	snprintf(o.sizes[0].label, sizeof(o.sizes[0].label), "64");
	o.flows = 1;
	o.ndst = 1;
	memset(o.dst_mac[0], 0xff, 6);
	o.rate = 1;
	o.line_rate = 10;
	o.duration = 5;
	o.drain = 0.5;
	o.warmup = 0.5;
	o.link_wait = 10;
	o.pdr_loss = 0.5;
	o.min_rate = 0.01;
	o.latency_load = 50;
	o.max_trials = 20;
	o.burst = 32;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", lo, NULL)) != -1) {
		const char *a = optarg;
		int rc = 0;
		switch (c) {
		case O_MODE:
			if (strcmp(a, "fixed") == 0)
				o.mode = MODE_FIXED;
			else if (strcmp(a, "ndr") == 0)
				o.mode = MODE_NDR;
			else
				rc = bad("--mode (fixed or ndr)", a);
			break;
		case O_PAIRS: rc = parse_pairs(a); break;
		case O_SIZES: rc = parse_sizes(a); break;
		case O_FLOWS:
			rc = parse_u64(a, &v, 1, 65536) < 0 ? bad("--flows (1..65536)", a) : 0;
			o.flows = (uint32_t)v;
			break;
		case O_DST: {
			int n = riov_perf_parse_mac_list(a, o.dst_mac, MAX_STREAMS);
			if (n == -E2BIG)
				rc = bad("--dst-mac (at most 64 MACs)", a);
			else if (n < 0)
				rc = bad("--dst-mac", a);
			else
				o.ndst = (unsigned)n;
			break;
		}
		case O_RATE: rc = parse_rate(a); break;
		case O_LINE: rc = parse_double(a, &o.line_rate, false) < 0 ? bad("--line-rate", a) : 0; break;
		case O_DUR:
			rc = parse_double(a, &o.duration, false) < 0 || o.duration > 3600 ?
				bad("--duration (seconds, at most 3600)", a) : 0;
			break;
		case O_DRAIN:
			rc = parse_double(a, &o.drain, true) < 0 || o.drain > 60 ? bad("--drain (0..60)", a) : 0;
			break;
		case O_WARM:
			rc = parse_double(a, &o.warmup, true) < 0 || o.warmup > 60 ? bad("--warmup (0..60)", a) : 0;
			break;
		case O_LINKW:
			rc = parse_double(a, &o.link_wait, true) < 0 || o.link_wait > 600 ?
				bad("--link-wait (0..600)", a) : 0;
			break;
		case O_PDR:
			rc = parse_double(a, &o.pdr_loss, true) < 0 || o.pdr_loss >= 100 ? bad("--pdr-loss", a) : 0;
			break;
		case O_PREC: rc = parse_double(a, &o.precision, false) < 0 ? bad("--search-precision", a) : 0; break;
		case O_MINR: rc = parse_double(a, &o.min_rate, false) < 0 ? bad("--min-rate", a) : 0; break;
		case O_TRIALS:
			rc = parse_u64(a, &v, 1, 1000) < 0 ? bad("--trials (1..1000)", a) : 0;
			o.max_trials = (unsigned)v;
			break;
		case O_LAT:
			rc = parse_double(a, &o.latency_load, true) < 0 || o.latency_load > 100 ?
				bad("--latency-load (percent, 0: none)", a) : 0;
			break;
		case O_BURST:
			rc = parse_u64(a, &v, 1, MAX_BURST) < 0 ? bad("--burst (1..256)", a) : 0;
			o.burst = (unsigned)v;
			break;
		case O_DROP: rc = parse_u64(a, &v, 2, UINT64_MAX) < 0 ? bad("--drop-every (2 or more)", a) : 0;
			o.drop_every = v;
			break;
		case O_JSON: o.json = true; break;
		case O_QUIET: o.quiet = true; break;
		case O_HELP: case 'h': return OPTS_HELP;
		case O_VERSION: return OPTS_VERSION;
		case ':': rc = bad("option (missing argument)", argv[optind - 1]); break;
		default: rc = bad("option", argv[optind - 1]); break;
		}
		if (rc < 0)
			return rc;
	}
	if (optind < argc)
		return bad("argument", argv[optind]);
	if (o.npairs && check_dst_macs(o.npairs) < 0)
		return -EINVAL;
	if (o.mode == MODE_NDR && !o.rate_given) {
		o.rate = 100;
		o.rate_pct = true;
	}
	return OPTS_RUN;
}

/* What parse_opts said, before or after EAL: -1 to go on, else the exit status */
static int opts_done(int rc)
{
	if (rc == OPTS_RUN)
		return -1;
	if (rc == OPTS_VERSION) {
		printf("riov-perf %s\n", RIOV_VERSION);
		return 0;
	}
	if (rc == OPTS_HELP) {
		usage(stdout);
		return 0;
	}
	return EXIT_USAGE; /* the message, with "try --help", is out: the whole text would bury it */
}

/* Average frame size with FCS */
static double avg_size(const struct size_spec *z)
{
	if (z->size)
		return z->size;
	double sum = 0;
	for (unsigned i = 0; i < IMIX_LEN; i++)
		sum += imix_pattern[i];
	return sum / IMIX_LEN;
}

/* Mpps of line_rate Gbit/s at this size: 20 bytes of preamble and gap per frame */
static double line_mpps(const struct size_spec *z)
{
	return o.line_rate * 1e3 / ((avg_size(z) + 20) * 8);
}

static double gbps(const struct size_spec *z, double mpps)
{
	return mpps * (avg_size(z) + 20) * 8 / 1e3;
}

static double max_rate(const struct size_spec *z)
{
	return o.rate_pct ? line_mpps(z) * o.rate / 100 : o.rate;
}

static void on_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

/* ---- ports --------------------------------------------------------------------------------- */

static int port_start(uint16_t port)
{
	struct rte_eth_conf conf;
	struct rte_eth_dev_info info;
	uint16_t nrx = NB_DESC, ntx = NB_DESC;
	int rc;

	memset(&conf, 0, sizeof(conf));
	rc = rte_eth_dev_info_get(port, &info);
	if (rc == 0)
		rc = rte_eth_dev_configure(port, 1, 1, &conf);
	if (rc == 0)
		rc = rte_eth_dev_adjust_nb_rx_tx_desc(port, &nrx, &ntx);
	if (rc == 0)
		rc = rte_eth_rx_queue_setup(port, 0, nrx, rte_eth_dev_socket_id(port), NULL, pool);
	if (rc == 0)
		rc = rte_eth_tx_queue_setup(port, 0, ntx, rte_eth_dev_socket_id(port), NULL);
	if (rc == 0)
		rc = rte_eth_dev_start(port);
	if (rc < 0) {
		fprintf(stderr, "riov-perf: port %u: cannot start: %s\n", port, rte_strerror(-rc));
		return rc;
	}
	rte_eth_promiscuous_enable(port); /* not every driver has it; a loopback does not need it */
	return 0;
}

/* Every port's link up (a virtio-user port's once its switch has connected), or -ETIMEDOUT after
 * --link-wait seconds */
static int wait_links(void)
{
	if (o.link_wait == 0)
		return 0;
	uint64_t t_end = rte_rdtsc() + (uint64_t)(o.link_wait * (double)rte_get_tsc_hz());
	for (unsigned i = 0; i < n_ports; i++) {
		struct rte_eth_link link;
		for (;;) {
			memset(&link, 0, sizeof(link));
			if (rte_eth_link_get_nowait(ports[i], &link) < 0 || link.link_status == RTE_ETH_LINK_UP)
				break; /* a driver without link status: nothing to wait for */
			if (rte_rdtsc() >= t_end) {
				fprintf(stderr, "riov-perf: port %u: link down after %.0f s (--link-wait)\n",
					ports[i], o.link_wait);
				return -ETIMEDOUT;
			}
			rte_delay_ms(10);
		}
	}
	return 0;
}

static bool port_used(uint16_t port)
{
	for (unsigned i = 0; i < o.npairs; i++)
		if (o.pair_tx[i] == port || o.pair_rx[i] == port)
			return true;
	return false;
}

/* ---- a trial --------------------------------------------------------------------------------- */

/* Build up to n new frames of stream s into its pending array, from its template; their TSC is
 * stamped when they are handed to the port (tx_stream). Frames are built in sequence order, so the
 * flow and the IMIX position are counters, not divisions. */
static void tx_build(unsigned si, unsigned n)
{
	struct stream *s = &streams[si];
	struct rte_mbuf *m[MAX_BURST];

	if (rte_pktmbuf_alloc_bulk(pool, m, n) != 0)
		return; /* the pool is empty for now: frames in flight come back */
	for (unsigned i = 0; i < n; i++) {
		uint16_t len = (cur_size->size ? cur_size->size : imix_pattern[s->next_imix]) - RIOV_PERF_FCS;
		uint8_t *p = (uint8_t *)rte_pktmbuf_append(m[i], len);
		riov_perf_tmpl_write(&s->tmpl, p, len, s->next_flow, (uint32_t)s->next_seq);
		s->next_seq++;
		if (++s->next_flow == o.flows)
			s->next_flow = 0;
		if (++s->next_imix == IMIX_LEN)
			s->next_imix = 0;
		s->pend[s->npend++] = m[i];
	}
}

/* Send what is due of stream s. Returns frames refused by the port. */
static uint64_t tx_stream(unsigned si, uint64_t t0, double frames_per_tsc, uint64_t now)
{
	struct stream *s = &streams[si];
	uint64_t due = (uint64_t)((double)(now - t0) * frames_per_tsc);
	uint64_t refused = 0;

	if (due > s->planned)
		due = s->planned;
	if (s->npend == 0 && due > s->next_seq) {
		uint64_t n = due - s->next_seq;
		tx_build(si, (unsigned)(n < o.burst ? n : o.burst));
	}
	if (s->npend == 0)
		return 0;
	/* a frame's latency starts when it is handed to the port: one TSC for the burst, read right
	 * before it (frames the port refused earlier are stamped anew) */
	uint64_t stamp = rte_rdtsc();
	for (unsigned i = 0; i < s->npend; i++)
		riov_perf_frame_set_tsc(rte_pktmbuf_mtod(s->pend[i], uint8_t *), stamp);
	uint16_t k = rte_eth_tx_burst(s->tx_port, 0, s->pend, (uint16_t)s->npend);
	s->sent += k;
	refused = s->npend - k;
	if (!s->pend_refused)
		s->refused_frames += refused; /* a frame is counted at its first refusal only */
	memmove(s->pend, s->pend + k, (s->npend - k) * sizeof(s->pend[0]));
	s->npend -= k;
	s->pend_refused = s->npend > 0;
	s->lag = due > s->sent ? due - s->sent : 0;
	return refused;
}

static void rx_port(uint16_t port, struct trial *t)
{
	struct rte_mbuf *m[64];
	uint16_t n = rte_eth_rx_burst(port, 0, m, 64);
	if (n == 0)
		return;
	uint64_t now = rte_rdtsc();

	for (uint16_t i = 0; i < n; i++) {
		uint8_t copy[RIOV_PERF_MIN_FRAME];
		struct riov_perf_hdr h;
		const uint8_t *p = NULL;

		if (rte_pktmbuf_pkt_len(m[i]) >= RIOV_PERF_MIN_FRAME)
			p = rte_pktmbuf_read(m[i], 0, RIOV_PERF_MIN_FRAME, copy);
		if (p == NULL ||
		    riov_perf_frame_parse(p, RIOV_PERF_MIN_FRAME, rte_pktmbuf_pkt_len(m[i]), &h) < 0 ||
		    h.stream >= o.npairs || streams[h.stream].rx_port != port || h.tsc > now) {
			t->foreign++;
		} else if (h.trial != trial_no) {
			t->stale++;
		} else if (o.drop_every && ++drop_ctr % o.drop_every == 0) {
			t->test_dropped++;
		} else {
			uint64_t ns = (uint64_t)((double)(now - h.tsc) * ns_per_tsc);
			if (riov_perf_stream_rx(&streams[h.stream].rx, h.seq, ns) == RIOV_PERF_RX_OUT_OF_RANGE)
				t->foreign++;
		}
	}
	rte_pktmbuf_free_bulk(m, n);
}

static void rx_all(struct trial *t)
{
	for (unsigned i = 0; i < n_ports; i++)
		rx_port(ports[i], t);
}

static uint64_t total_received(void)
{
	uint64_t r = 0;
	for (unsigned i = 0; i < o.npairs; i++)
		r += streams[i].rx.received;
	return r;
}

static uint64_t total_sent(void)
{
	uint64_t r = 0;
	for (unsigned i = 0; i < o.npairs; i++)
		r += streams[i].sent;
	return r;
}

static void progress(uint64_t t0, uint64_t now, double offered)
{
	double el = (double)(now - t0) / (double)tsc_hz;
	uint64_t tx = total_sent(), rx = total_received(), refused = 0;
	double ach = el > 0 ? (double)tx / el / 1e6 / o.npairs : 0;
	for (unsigned i = 0; i < o.npairs; i++)
		refused += streams[i].refused_frames;
	fprintf(stderr, "%s[%s] %4.1f s  offered %.3f Mpps  achieved %.3f Mpps  sent %" PRIu64
		"  received %" PRIu64 "  not back yet %" PRIu64 "  port refused %" PRIu64 "%s",
		isatty(2) ? "\r" : "", cur_size->label, el, offered, ach, tx, rx, tx > rx ? tx - rx : 0,
		refused, isatty(2) ? "   " : "\n");
	progress_shown = true;
}

/* One trial at rate Mpps per stream on the current size. Returns 0, -EINTR, -ENOMEM. */
static int run_trial(double rate, struct trial *t)
{
	uint64_t planned = (uint64_t)ceil(rate * 1e6 * o.duration);
	double frames_per_tsc = rate * 1e6 / (double)tsc_hz;
	int rc = 0;

	memset(t, 0, sizeof(*t));
	riov_perf_hist_reset(&t->lat);
	t->offered = rate;
	if (planned > UINT32_MAX || planned * o.npairs > BITMAP_LIMIT) {
		fprintf(stderr, "riov-perf: %.3f Mpps for %.1f s is too many frames for one trial\n", rate,
			o.duration);
		return -E2BIG;
	}
	trial_no++;
	for (unsigned i = 0; i < o.npairs; i++) {
		struct stream *s = &streams[i];
		s->planned = planned;
		s->next_seq = s->sent = 0;
		s->npend = 0;
		s->pend_refused = false;
		s->refused_frames = 0;
		s->next_flow = 0;
		s->next_imix = 0;
		riov_perf_tmpl_init(&s->tmpl, s->dst_mac, trial_no, (uint8_t)i);
		if (riov_perf_stream_init(&s->rx, planned) < 0) {
			while (i--)
				riov_perf_stream_fini(&streams[i].rx);
			return -ENOMEM;
		}
	}

	uint64_t t0 = rte_rdtsc();
	uint64_t t_end = t0 + (uint64_t)(o.duration * (double)tsc_hz);
	/* a generator that falls behind gets 5 % more time, then the trial ends short of plan */
	uint64_t t_hard = t_end + (uint64_t)(o.duration * 0.05 * (double)tsc_hz) + tsc_hz / 1000;
	uint64_t next_progress = t0 + tsc_hz, t_last = t0, now = t0;
	bool done = false;

	progress_shown = false;
	drop_ctr = 0;
	while (!done && !stopping) {
		now = rte_rdtsc();
		done = true;
		for (unsigned i = 0; i < o.npairs; i++) {
			struct stream *s = &streams[i];
			if (s->sent == s->planned)
				continue;
			done = false;
			uint64_t before = s->sent;
			t->tx_refused += tx_stream(i, t0, frames_per_tsc, now);
			if (s->sent != before)
				t_last = now;
			if (s->lag > t->max_lag)
				t->max_lag = s->lag;
		}
		rx_all(t);
		if (now >= t_hard)
			break;
		if (!o.quiet && now >= next_progress) {
			progress(t0, now, rate);
			next_progress += tsc_hz;
		}
	}
	t->tx_seconds = (double)(t_last - t0) / (double)tsc_hz;
	for (unsigned i = 0; i < o.npairs; i++) {
		if (streams[i].npend)
			rte_pktmbuf_free_bulk(streams[i].pend, streams[i].npend);
		streams[i].npend = 0;
	}
	/* drain: until everything sent is back, or o.drain seconds */
	uint64_t sent = total_sent(), t_drain = rte_rdtsc() + (uint64_t)(o.drain * (double)tsc_hz);
	while (!stopping && total_received() < sent && rte_rdtsc() < t_drain)
		rx_all(t);
	if (progress_shown && isatty(2))
		fprintf(stderr, "\n");

	for (unsigned i = 0; i < o.npairs; i++) {
		struct stream *s = &streams[i];
		t->sent += s->sent;
		t->received += s->rx.received;
		t->lost += riov_perf_stream_lost(&s->rx, s->sent);
		t->duplicates += s->rx.duplicates;
		t->reordered += s->rx.reordered;
		t->tx_refused_frames += s->refused_frames;
		riov_perf_hist_merge(&t->lat, &s->rx.lat);
	}
	/* the last frame is due at t0 + planned / rate: sent over that span is the achieved rate */
	t->achieved = t->tx_seconds > 0 ? (double)t->sent / o.npairs / t->tx_seconds / 1e6 : 0;
	if (stopping)
		rc = -EINTR;
	return rc;
}

/* Keep the streams' receive state until printed; free it before the next trial */
static void trial_release(void)
{
	for (unsigned i = 0; i < o.npairs; i++)
		riov_perf_stream_fini(&streams[i].rx);
}

/* ---- output -------------------------------------------------------------------------------- */

static double us(uint64_t ns)
{
	return (double)ns / 1e3;
}

static double pct(uint64_t part, uint64_t whole)
{
	return whole ? (double)part * 100.0 / (double)whole : 0.0;
}

static void json_lat(FILE *f, const struct riov_perf_hist *h)
{
	fprintf(f, "{\"count\":%" PRIu64 ",\"min\":%.3f,\"mean\":%.3f,\"p50\":%.3f,\"p99\":%.3f,"
		"\"p99_9\":%.3f,\"max\":%.3f}", h->count, h->count ? us(h->min) : 0.0,
		riov_perf_hist_mean(h) / 1e3, us(riov_perf_hist_percentile(h, 50)),
		us(riov_perf_hist_percentile(h, 99)), us(riov_perf_hist_percentile(h, 99.9)), us(h->max));
}

/* the furthest behind schedule the sender fell, in microseconds at the offered rate */
static double max_lag_us(const struct trial *t)
{
	return t->offered > 0 ? (double)t->max_lag / t->offered : 0;
}

static double pacing_err(const struct trial *t)
{
	return t->offered > 0 ? (t->achieved / t->offered - 1) * 100 : 0;
}

/* What held t below its offered rate: the rule the search applies (perf_search.h) */
static enum riov_perf_limit trial_limit(const struct trial *t)
{
	struct riov_perf_trial_out out = { t->sent, t->received, t->achieved, t->tx_refused_frames };
	return riov_perf_trial_limit(t->offered, &out);
}

/* A trial as JSON, the streams' state still allocated */
static void json_trial(FILE *f, const struct size_spec *z, const struct trial *t)
{
	fprintf(f, "{\"offered_mpps\":%.6f,\"achieved_mpps\":%.6f,\"pacing_error_pct\":%.4f,"
		"\"offered_gbps\":%.4f,\"tx_seconds\":%.6f,\"sent\":%" PRIu64 ",\"received\":%" PRIu64
		",\"lost\":%" PRIu64 ",\"loss_pct\":%.6f,\"duplicates\":%" PRIu64 ",\"reordered\":%" PRIu64
		",\"foreign\":%" PRIu64 ",\"stale\":%" PRIu64 ",\"tx_refused\":%" PRIu64
		",\"tx_refused_frames\":%" PRIu64 ",\"limit\":\"%s\",\"test_dropped\":%" PRIu64
		",\"pacing_max_lag_us\":%.3f,\"latency_us\":",
		t->offered, t->achieved, pacing_err(t), gbps(z, t->offered), t->tx_seconds, t->sent,
		t->received, t->lost, pct(t->lost, t->sent), t->duplicates, t->reordered, t->foreign,
		t->stale, t->tx_refused, t->tx_refused_frames, riov_perf_limit_name(trial_limit(t)),
		t->test_dropped, max_lag_us(t));
	json_lat(f, &t->lat);
	fprintf(f, ",\"streams\":[");
	for (unsigned i = 0; i < o.npairs; i++) {
		const struct stream *s = &streams[i];
		uint64_t lost = riov_perf_stream_lost(&s->rx, s->sent);
		const uint8_t *d = s->dst_mac;
		fprintf(f, "%s{\"stream\":%u,\"tx_port\":%u,\"rx_port\":%u,"
			"\"dst_mac\":\"%02x:%02x:%02x:%02x:%02x:%02x\",\"sent\":%" PRIu64
			",\"received\":%" PRIu64 ",\"lost\":%" PRIu64 ",\"loss_pct\":%.6f,\"duplicates\":%" PRIu64
			",\"reordered\":%" PRIu64 ",\"latency_us\":", i ? "," : "", i, s->tx_port, s->rx_port,
			d[0], d[1], d[2], d[3], d[4], d[5], s->sent, s->rx.received, lost, pct(lost, s->sent),
			s->rx.duplicates, s->rx.reordered);
		json_lat(f, &s->rx.lat);
		fprintf(f, "}");
	}
	fprintf(f, "]}");
}

static void table_trial(FILE *f, const struct size_spec *z, const struct trial *t, const char *what)
{
	fprintf(f, "%s, size %s: offered %.4f Mpps/stream (%.3f Gbit/s), achieved %.4f Mpps "
		"(pacing error %+.3f %%, at most %.1f us behind), %.3f s\n", what, z->label, t->offered,
		gbps(z, t->offered), t->achieved, pacing_err(t), max_lag_us(t), t->tx_seconds);
	fprintf(f, "  %-6s %-4s %-4s %12s %12s %10s %8s %8s %8s %9s %9s %9s %9s\n", "stream", "tx", "rx",
		"sent", "received", "lost", "loss%", "dup", "reord", "p50 us", "p99 us", "p99.9 us", "max us");
	for (unsigned i = 0; i < o.npairs; i++) {
		const struct stream *s = &streams[i];
		const struct riov_perf_hist *h = &s->rx.lat;
		uint64_t lost = riov_perf_stream_lost(&s->rx, s->sent);
		fprintf(f, "  %-6u %-4u %-4u %12" PRIu64 " %12" PRIu64 " %10" PRIu64 " %8.4f %8" PRIu64
			" %8" PRIu64 " %9.2f %9.2f %9.2f %9.2f\n", i, s->tx_port, s->rx_port, s->sent,
			s->rx.received, lost, pct(lost, s->sent), s->rx.duplicates, s->rx.reordered,
			us(riov_perf_hist_percentile(h, 50)), us(riov_perf_hist_percentile(h, 99)),
			us(riov_perf_hist_percentile(h, 99.9)), us(h->max));
	}
	fprintf(f, "  foreign %" PRIu64 "  stale %" PRIu64 "  tx refused (retried) %" PRIu64 " (%" PRIu64
		" frames)", t->foreign, t->stale, t->tx_refused, t->tx_refused_frames);
	if (o.drop_every)
		fprintf(f, "  test-dropped %" PRIu64, t->test_dropped);
	fprintf(f, "\n");
	switch (trial_limit(t)) {
	case RIOV_PERF_LIMIT_GENERATOR:
		fprintf(f, "  (gen) generator limited: the ports took what they were offered, riov-perf's "
			"core sent no faster\n");
		break;
	case RIOV_PERF_LIMIT_BACKPRESSURE:
		fprintf(f, "  (bp) backpressure: the ports refused %" PRIu64 " frames (%.2f %% of those sent), "
			"the system under test did not take the offered load\n", t->tx_refused_frames,
			pct(t->tx_refused_frames, t->sent));
		break;
	default:
		break;
	}
}

/* ---- modes --------------------------------------------------------------------------------- */

struct search_ctx {
	FILE *json;       /* trials as JSON array elements, or NULL */
	unsigned n;
};

static int search_trial(void *arg, double rate, struct riov_perf_trial_out *out)
{
	struct search_ctx *c = arg;
	struct trial t;
	int rc = run_trial(rate, &t);
	if (rc < 0 && rc != -EINTR)
		return rc;
	out->sent = t.sent;
	out->received = t.received;
	out->achieved = t.achieved;
	out->refused = t.tx_refused_frames;
	enum riov_perf_limit lim = riov_perf_trial_limit(rate, out);
	if (c->json)
		fprintf(c->json, "%s{\"rate_mpps\":%.6f,\"achieved_mpps\":%.6f,\"sent\":%" PRIu64
			",\"received\":%" PRIu64 ",\"loss_pct\":%.6f,\"duplicates\":%" PRIu64
			",\"tx_refused_frames\":%" PRIu64 ",\"limit\":\"%s\"}", c->n ? "," : "", rate,
			t.achieved, t.sent, t.received, pct(t.lost, t.sent), t.duplicates, t.tx_refused_frames,
			riov_perf_limit_name(lim));
	else if (lim == RIOV_PERF_LIMIT_BACKPRESSURE)
		printf("  trial %2u: %.4f Mpps/stream (achieved %.4f)  sent %" PRIu64 "  lost %" PRIu64
		       " (%.4f %%)  (bp) [backpressure: port refused %" PRIu64 " frames, %.2f %% of the "
		       "offered load not delivered]\n", c->n + 1, rate, t.achieved, t.sent, t.lost,
		       pct(t.lost, t.sent), t.tx_refused_frames, riov_perf_offered_loss_pct(rate, out));
	else
		printf("  trial %2u: %.4f Mpps/stream (achieved %.4f)  sent %" PRIu64 "  lost %" PRIu64
		       " (%.4f %%)%s\n", c->n + 1, rate, t.achieved, t.sent, t.lost, pct(t.lost, t.sent),
		       lim == RIOV_PERF_LIMIT_GENERATOR ? "  (gen) [generator limited]" : "");
	fflush(stdout);
	c->n++;
	trial_release();
	return rc;
}

static void print_bound(const char *name, const struct size_spec *z, const struct riov_perf_bound *b)
{
	if (o.json) {
		printf("\"%s\":{\"found\":%s,\"mpps\":%.6f,\"gbps\":%.4f,\"total_mpps\":%.6f,\"upper_mpps\":%.6f,"
		       "\"sent\":%" PRIu64 ",\"received\":%" PRIu64 ",\"generator_limited\":%s,"
		       "\"limit\":\"%s\"}", name, b->found ? "true" : "false", b->rate, gbps(z, b->rate),
		       b->rate * o.npairs, b->upper, b->sent, b->received,
		       b->limit == RIOV_PERF_LIMIT_GENERATOR ? "true" : "false", riov_perf_limit_name(b->limit));
	} else if (b->found) {
		printf("  %s: %.4f Mpps/stream (%.3f Gbit/s), %.4f Mpps over %u stream(s); ", name, b->rate,
		       gbps(z, b->rate), b->rate * o.npairs, o.npairs);
		if (b->limit == RIOV_PERF_LIMIT_GENERATOR)
			printf("(gen) generator limited: riov-perf could send no faster, the system under test "
			       "may go faster\n");
		else if (b->limit == RIOV_PERF_LIMIT_BACKPRESSURE)
			printf("lowest failing %.4f (bp): backpressure, the system under test refused frames "
			       "offered there\n", b->upper);
		else if (b->upper > b->rate)
			printf("lowest failing %.4f\n", b->upper);
		else
			printf("the highest rate tried\n");
	} else {
		printf("  %s: not found (every trial down to %.4f Mpps failed%s)\n", name, b->upper,
		       b->limit == RIOV_PERF_LIMIT_BACKPRESSURE ? ", the lowest (bp) by backpressure" : "");
	}
}

/* RFC 2544's learning frames: a short trial at a low rate that nothing counts, so that the system
 * under test has learned the streams' addresses (and warmed its caches) before the first trial */
static int warm_up(const struct size_spec *z)
{
	struct trial t;
	double duration = o.duration;
	bool quiet = o.quiet;
	o.duration = o.warmup;
	o.quiet = true;
	int rc = run_trial(fmin(0.1, max_rate(z)), &t);
	o.duration = duration;
	o.quiet = quiet;
	if (rc == 0)
		trial_release();
	return rc;
}

static int run_size(const struct size_spec *z, bool first)
{
	struct trial t;
	int rc;

	cur_size = z;
	if (o.warmup > 0) {
		rc = warm_up(z);
		if (rc < 0)
			return rc;
	}
	if (o.json)
		printf("%s{\"size\":\"%s\",\"avg_frame_bytes\":%.2f,\"line_mpps\":%.6f,", first ? "" : ",",
		       z->label, avg_size(z), line_mpps(z));
	if (o.mode == MODE_FIXED) {
		rc = run_trial(max_rate(z), &t);
		if (rc < 0 && rc != -EINTR)
			return rc;
		if (o.json) {
			printf("\"trial\":");
			json_trial(stdout, z, &t);
			printf("}");
		} else {
			table_trial(stdout, z, &t, "fixed rate");
		}
		trial_release();
		return rc;
	}

	struct riov_perf_search_cfg cfg = {
		.max_rate = max_rate(z), .min_rate = o.min_rate, .pdr_loss = o.pdr_loss,
		.precision = o.precision > 0 ? o.precision : max_rate(z) / 100, .max_trials = o.max_trials,
	};
	struct riov_perf_search_result res;
	struct search_ctx c = { o.json ? stdout : NULL, 0 };
	if (cfg.min_rate > cfg.max_rate)
		cfg.min_rate = cfg.max_rate;
	if (o.json)
		printf("\"search\":{\"max_mpps\":%.6f,\"precision_mpps\":%.6f,\"pdr_loss_pct\":%.4f,\"trials\":[",
		       cfg.max_rate, cfg.precision, cfg.pdr_loss);
	else
		printf("NDR/PDR search, size %s: %.4f Mpps/stream down to %.4f, precision %.4f Mpps, "
		       "PDR loss <= %.3f %%\n", z->label, cfg.max_rate, cfg.min_rate, cfg.precision, cfg.pdr_loss);
	rc = riov_perf_search(&cfg, search_trial, &c, &res);
	if (rc < 0 && rc != -EINTR)
		return rc;
	if (o.json) {
		printf("],\"converged\":%s,", res.converged ? "true" : "false");
		print_bound("ndr", z, &res.ndr);
		printf(",");
		print_bound("pdr", z, &res.pdr);
		printf("}");
	} else {
		print_bound("NDR", z, &res.ndr);
		print_bound("PDR", z, &res.pdr);
		if (!res.converged)
			printf("  (stopped after %u trials, not within precision)\n", res.trials);
	}
	if (rc == 0 && res.ndr.found && o.latency_load > 0) {
		rc = run_trial(res.ndr.rate * o.latency_load / 100, &t);
		if (rc < 0 && rc != -EINTR)
			return rc;
		if (o.json) {
			printf(",\"latency_load_pct\":%.2f,\"latency_trial\":", o.latency_load);
			json_trial(stdout, z, &t);
		} else {
			char what[64];
			snprintf(what, sizeof(what), "latency at %.0f %% of NDR", o.latency_load);
			table_trial(stdout, z, &t, what);
		}
		trial_release();
	}
	if (o.json)
		printf("}");
	return rc;
}

/* EAL's runtime directory (/run/dpdk/<file-prefix>): with --no-shconf or --in-memory it holds
 * only the telemetry socket, which DPDK unlinks at exit but leaves the directory, one per run */
static char eal_rundir[PATH_MAX];

static void remove_eal_rundir(void)
{
	if (eal_rundir[0] != '\0')
		(void)rmdir(eal_rundir);
}

int main(int argc, char **argv)
{
	int dd = -1, rc, eal_argc = argc;

	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--") == 0) {
			dd = i;
			break;
		}
	/* riov-perf --help and --version alone are ours, not EAL's (help2man runs them so) */
	if (dd < 0 && argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
				    strcmp(argv[1], "--version") == 0))
		dd = 0;
	/* options first, so that a bad one is refused before EAL is up */
	if (dd >= 0) {
		argv[dd] = argv[0];
		rc = opts_done(parse_opts(argc - dd, argv + dd));
		if (rc >= 0)
			return rc;
		eal_argc = dd;
	}
	atexit(remove_eal_rundir); /* before EAL's own atexit handlers: it runs after them */
	rc = rte_eal_init(eal_argc, argv);
	if (rc >= 0)
		snprintf(eal_rundir, sizeof(eal_rundir), "%s", rte_eal_get_runtime_dir());
	if (rc < 0) {
		fprintf(stderr, "riov-perf: EAL: %s\n", rte_strerror(rte_errno));
		return 1;
	}
	if (dd < 0) {
		argv[rc] = argv[0];
		rc = opts_done(parse_opts(argc - rc, argv + rc));
		if (rc >= 0) {
			rte_eal_cleanup();
			return rc;
		}
	}
	tsc_hz = rte_get_tsc_hz();
	ns_per_tsc = 1e9 / (double)tsc_hz;
	uint16_t nports = rte_eth_dev_count_avail();
	if (nports == 0) {
		fprintf(stderr, "riov-perf: no ports (give EAL a --vdev, e.g. net_ring0)\n");
		rte_eal_cleanup();
		return EXIT_USAGE;
	}
	if (o.npairs == 0) {
		uint16_t p;
		RTE_ETH_FOREACH_DEV(p) {
			if (o.npairs == MAX_STREAMS)
				break;
			o.pair_tx[o.npairs] = o.pair_rx[o.npairs] = p;
			o.npairs++;
		}
		if (check_dst_macs(o.npairs) < 0) {
			rte_eal_cleanup();
			return EXIT_USAGE;
		}
	}
	for (unsigned i = 0; i < o.npairs; i++) {
		if (!rte_eth_dev_is_valid_port(o.pair_tx[i]) || !rte_eth_dev_is_valid_port(o.pair_rx[i])) {
			fprintf(stderr, "riov-perf: --pairs %u:%u: no such port (%u ports)\n", o.pair_tx[i],
				o.pair_rx[i], nports);
			rte_eal_cleanup();
			return EXIT_USAGE;
		}
		streams[i].tx_port = o.pair_tx[i];
		streams[i].rx_port = o.pair_rx[i];
		memcpy(streams[i].dst_mac, o.dst_mac[o.ndst == 1 ? 0 : i], 6);
	}
	unsigned nused = 0;
	for (uint16_t p = 0; p < RTE_MAX_ETHPORTS; p++)
		if (rte_eth_dev_is_valid_port(p) && port_used(p))
			ports[n_ports++] = p, nused++;
	pool = rte_pktmbuf_pool_create("riov_perf", 8192 + nused * 4 * NB_DESC + o.npairs * MAX_BURST, 256, 0,
				       RTE_MBUF_DEFAULT_BUF_SIZE, rte_socket_id());
	if (pool == NULL) {
		fprintf(stderr, "riov-perf: mbuf pool: %s\n", rte_strerror(rte_errno));
		rte_eal_cleanup();
		return 1;
	}
	for (unsigned i = 0; i < n_ports; i++) {
		if (port_start(ports[i]) < 0) {
			rte_eal_cleanup();
			return 1;
		}
	}
	if (wait_links() < 0) {
		rte_eal_cleanup();
		return 1;
	}
	for (unsigned i = 0; i < o.nsizes; i++) {
		double planned = ceil(max_rate(&o.sizes[i]) * 1e6 * o.duration);
		if (planned > UINT32_MAX || planned * o.npairs > (double)BITMAP_LIMIT) {
			fprintf(stderr, "riov-perf: %.3f Mpps for %.1f s is too many frames for one trial "
				"(2^32 per stream, 2^33 in all)\n", max_rate(&o.sizes[i]), o.duration);
			rte_eal_cleanup();
			return EXIT_USAGE;
		}
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);

	if (o.json) {
		printf("{\"tool\":\"riov-perf\",\"version\":\"%s\",\"mode\":\"%s\",\"tsc_hz\":%" PRIu64
		       ",\"duration_s\":%.3f,\"line_rate_gbps\":%.3f,\"flows\":%u,\"pairs\":[",
		       RIOV_VERSION, o.mode == MODE_NDR ? "ndr" : "fixed", tsc_hz, o.duration, o.line_rate, o.flows);
		for (unsigned i = 0; i < o.npairs; i++)
			printf("%s[%u,%u]", i ? "," : "", o.pair_tx[i], o.pair_rx[i]);
		printf("],\"results\":[");
	}
	rc = 0;
	for (unsigned i = 0; i < o.nsizes && rc == 0; i++)
		rc = run_size(&o.sizes[i], i == 0);
	if (o.json)
		printf("],\"status\":\"%s\"}\n", rc == 0 ? "ok" : rc == -EINTR ? "interrupted" : "error");
	fflush(stdout);
	for (unsigned i = 0; i < n_ports; i++) {
		rte_eth_dev_stop(ports[i]);
		rte_eth_dev_close(ports[i]);
	}
	rte_eal_cleanup();
	if (rc == -EINTR)
		return 130;
	return rc == 0 ? 0 : 1;
}
