/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * riovd: start-up (command line, configuration, EAL), the control thread's libevent loop, signals,
 * readiness (sd_notify) and shutdown.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <systemd/sd-daemon.h>

#include "common/log.h"
#include "control/config.h"
#include "control/rpc_server.h"
#include "control/service.h"
#include "control/watchdog.h"
#include "dataplane/dp.h"
#include "vmm/guest_fault.h"

RIOV_LOG_COMPONENT("riovd", RIOV_LOG_INFO);

#ifndef RIOV_VERSION
#define RIOV_VERSION "unknown"
#endif

struct riovd {
	struct riov_config cfg;
	struct event_base *base;
	struct riov_dp *dp;
	struct riov_service *svc;
	struct event *ev_int, *ev_term, *ev_usr1, *ev_stats, *ev_fault;
	struct riov_watchdog *watchdog;
	int exit_code;
};

static void on_fault_hang(evutil_socket_t fd, short what, void *arg)
{
	struct riovd *d = arg;

	(void)fd;
	(void)what;
	RIOV_LOG(RIOV_LOG_WARN, "test fault RIOV_FAULT_HANG_WORKER_MS: worker 0 stops polling now");
	riov_dp_fault_hang_worker(d->dp, 0);
}

/* Test-only faults from the environment (built with fault injection; meson -Dfault_injection):
 * RIOV_FAULT_HANG_WORKER_MS=N: N ms after ready, worker 0 stops polling (the watchdog test);
 * RIOV_FAULT_KILL_DIRECT_FRAMES=N: once the workers have delivered N frames guest to guest, the
 * burst that passes N kills riovd (SIGKILL) after the sender's chains went back and before the
 * receiver's used index moved (the restart drill: no frame is delivered twice). */
static bool fault_number(const char *name, unsigned long long max, unsigned long long *out)
{
	const char *v = getenv(name);
	char *end;

	if (v == NULL)
		return false;
	if (!RIOV_FAULT_INJECTION) {
		RIOV_LOG(RIOV_LOG_WARN, "%s ignored: fault injection is not built in", name);
		return false;
	}
	errno = 0;
	*out = strtoull(v, &end, 10);
	if (errno != 0 || end == v || *end != '\0' || *out == 0 || *out > max) {
		RIOV_LOG(RIOV_LOG_WARN, "%s='%s' ignored: not a number from 1 to %llu", name, v, max);
		return false;
	}
	return true;
}

static void faults_arm(struct riovd *d)
{
	unsigned long long n;

	if (fault_number("RIOV_FAULT_HANG_WORKER_MS", 3600000ull, &n)) {
		struct timeval tv = { .tv_sec = (time_t)(n / 1000u), .tv_usec = (suseconds_t)(n % 1000u) * 1000 };
		d->ev_fault = evtimer_new(d->base, on_fault_hang, d);
		if (d->ev_fault != NULL)
			evtimer_add(d->ev_fault, &tv);
		RIOV_LOG(RIOV_LOG_WARN, "test fault armed: worker 0 stops polling %llu ms after ready", n);
	}
	if (fault_number("RIOV_FAULT_KILL_DIRECT_FRAMES", 1ull << 40, &n)) {
		riov_dp_fault_kill_direct(d->dp, n);
		RIOV_LOG(RIOV_LOG_WARN, "test fault armed: riovd kills itself in the guest-to-guest burst "
			 "that passes %llu frames", n);
	}
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: riovd [OPTIONS]\n"
		"riov's node daemon: serves guests over vhost-user and switches their traffic.\n\n"
		"  -c, --config FILE          start-up configuration (libconfig format; see riovd.conf(5)\n"
		"                             in docs/); without it riovd runs on embedded defaults\n"
		"  -w, --workers CPULIST      CPUs for poll-mode workers, e.g. 1 or 2-3 (default: the\n"
		"                             last CPU)\n"
		"      --control-cpu N        CPU for the control thread (default: a CPU no worker uses)\n"
		"      --socket-dir DIR       base directory for relative vhost-user socket paths\n"
		"      --rpc-socket PATH      control API Unix socket (default /run/riov/riovd.sock)\n"
		"      --state-dir DIR        where desired state is kept (default /var/lib/riov); a state\n"
		"                             file there wins over the config file's networks and ports\n"
		"      --metrics-listen A:P   Prometheus endpoint (off unless given)\n"
		"      --rpc-listen A:P       TLS control API endpoint (needs --tls-cert/--tls-key/--tls-ca)\n"
		"      --tls-cert F, --tls-key F, --tls-ca F\n"
		"      --memory-mb N          DPDK memory without hugepages (default 512)\n"
		"      --stats-interval S     log port counters every S seconds (0: off)\n"
		"      --idle-sleep-us N      an idle worker sleeps N us between polls (0: busy-poll, the default)\n"
		"      --log-level SPEC       log levels, e.g. info or notice,vhost=debug (riovctl log levels\n"
		"                             lists the components; env RIOV_LOG_LEVEL is applied first)\n"
		"      --print-config         print the effective configuration's embedded defaults and exit\n"
		"  -h, --help                 this text\n"
		"  -V, --version              print riovd's version and exit\n\n"
		"Signals: SIGTERM/SIGINT stop (printing final counters), SIGUSR1 prints counters.\n");
}

/* Parse "1", "2-3", "1,3-4" into a CPU bitmap. Returns the number of CPUs or -1. */
static int parse_cpulist(const char *s, cpu_set_t *set)
{
	CPU_ZERO(set);
	while (*s) {
		char *end;
		long a = strtol(s, &end, 10), b;
		if (end == s || a < 0 || a >= CPU_SETSIZE)
			return -1;
		b = a;
		s = end;
		if (*s == '-') {
			b = strtol(s + 1, &end, 10);
			if (end == s + 1 || b < a || b >= CPU_SETSIZE)
				return -1;
			s = end;
		}
		for (long c = a; c <= b; c++)
			CPU_SET((int)c, set);
		if (*s == ',')
			s++;
		else if (*s != '\0')
			return -1;
	}
	return CPU_COUNT(set);
}

enum {
	OPT_CONTROL_CPU = 256, OPT_SOCKET_DIR, OPT_RPC_SOCKET, OPT_STATE_DIR, OPT_METRICS, OPT_RPC_LISTEN,
	OPT_TLS_CERT, OPT_TLS_KEY, OPT_TLS_CA, OPT_MEMORY, OPT_STATS, OPT_IDLE_SLEEP, OPT_PRINT_CONFIG,
	OPT_LOG_LEVEL,
};

static void copy_opt(char *dst, size_t len, const char *v, const char *opt)
{
	if (strlen(v) >= len) {
		fprintf(stderr, "riovd: %s: value too long\n", opt);
		exit(2);
	}
	snprintf(dst, len, "%s", v);
}

static int parse_args(struct riovd *d, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "workers", required_argument, NULL, 'w' },
		{ "control-cpu", required_argument, NULL, OPT_CONTROL_CPU },
		{ "socket-dir", required_argument, NULL, OPT_SOCKET_DIR },
		{ "rpc-socket", required_argument, NULL, OPT_RPC_SOCKET },
		{ "state-dir", required_argument, NULL, OPT_STATE_DIR },
		{ "metrics-listen", required_argument, NULL, OPT_METRICS },
		{ "rpc-listen", required_argument, NULL, OPT_RPC_LISTEN },
		{ "tls-cert", required_argument, NULL, OPT_TLS_CERT },
		{ "tls-key", required_argument, NULL, OPT_TLS_KEY },
		{ "tls-ca", required_argument, NULL, OPT_TLS_CA },
		{ "memory-mb", required_argument, NULL, OPT_MEMORY },
		{ "stats-interval", required_argument, NULL, OPT_STATS },
		{ "idle-sleep-us", required_argument, NULL, OPT_IDLE_SLEEP },
		{ "log-level", required_argument, NULL, OPT_LOG_LEVEL },
		{ "print-config", no_argument, NULL, OPT_PRINT_CONFIG },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 },
	};
	const char *config = NULL;
	char err[512];
	int c, rc;

	/* First pass: the config file, so that flags override it. */
	while ((c = getopt_long(argc, argv, "c:w:hV", opts, NULL)) != -1) {
		if (c == 'h') {
			usage(stdout);
			exit(0);
		} else if (c == 'V') {
			printf("riovd %s\n", RIOV_VERSION);
			exit(0);
		} else if (c == OPT_PRINT_CONFIG) {
			fputs(riov_config_default_text, stdout);
			exit(0);
		} else if (c == 'c') {
			config = optarg;
		} else if (c == '?') {
			usage(stderr);
			exit(2);
		}
	}
	if (optind < argc) {
		fprintf(stderr, "riovd: unexpected argument '%s' (see riovd --help)\n", argv[optind]);
		exit(2);
	}
	rc = config ? riov_config_load(config, &d->cfg, err, sizeof(err))
		    : riov_config_parse(riov_config_default_text, "(embedded defaults)", &d->cfg, err, sizeof(err));
	if (rc != 0) {
		fprintf(stderr, "riovd: %s\n", err);
		exit(2);
	}
	optind = 1;
	while ((c = getopt_long(argc, argv, "c:w:hV", opts, NULL)) != -1) {
		struct riov_config *k = &d->cfg;
		char *end;
		switch (c) {
		case 'w': copy_opt(k->workers, sizeof(k->workers), optarg, "--workers"); break;
		case OPT_CONTROL_CPU:
			k->control_cpu = (int)strtol(optarg, &end, 10);
			if (*end || k->control_cpu < 0) {
				fprintf(stderr, "riovd: --control-cpu needs a CPU number\n");
				exit(2);
			}
			break;
		case OPT_SOCKET_DIR: copy_opt(k->socket_dir, sizeof(k->socket_dir), optarg, "--socket-dir"); break;
		case OPT_RPC_SOCKET: copy_opt(k->rpc_socket, sizeof(k->rpc_socket), optarg, "--rpc-socket"); break;
		case OPT_STATE_DIR: copy_opt(k->state_dir, sizeof(k->state_dir), optarg, "--state-dir"); break;
		case OPT_METRICS: copy_opt(k->metrics_listen, sizeof(k->metrics_listen), optarg, "--metrics-listen"); break;
		case OPT_RPC_LISTEN: copy_opt(k->rpc_listen, sizeof(k->rpc_listen), optarg, "--rpc-listen"); break;
		case OPT_TLS_CERT: copy_opt(k->tls_cert, sizeof(k->tls_cert), optarg, "--tls-cert"); break;
		case OPT_TLS_KEY: copy_opt(k->tls_key, sizeof(k->tls_key), optarg, "--tls-key"); break;
		case OPT_TLS_CA: copy_opt(k->tls_ca, sizeof(k->tls_ca), optarg, "--tls-ca"); break;
		case OPT_LOG_LEVEL: copy_opt(k->log_level, sizeof(k->log_level), optarg, "--log-level"); break;
		case OPT_MEMORY:
			k->memory_mb = (unsigned)strtoul(optarg, &end, 10);
			if (*end || k->memory_mb < 64) {
				fprintf(stderr, "riovd: --memory-mb needs a number >= 64\n");
				exit(2);
			}
			break;
		case OPT_STATS:
			k->stats_interval = (unsigned)strtoul(optarg, &end, 10);
			if (*end) {
				fprintf(stderr, "riovd: --stats-interval needs seconds\n");
				exit(2);
			}
			break;
		case OPT_IDLE_SLEEP:
			k->idle_sleep_us = (unsigned)strtoul(optarg, &end, 10);
			if (*end || k->idle_sleep_us > 100000) {
				fprintf(stderr, "riovd: --idle-sleep-us needs microseconds (0..100000)\n");
				exit(2);
			}
			break;
		default: break;
		}
	}
	if (getenv("RIOV_LOG_LEVEL") && riov_log_set(getenv("RIOV_LOG_LEVEL"), err, sizeof(err)) != 0) {
		fprintf(stderr, "riovd: RIOV_LOG_LEVEL: %s\n", err);
		exit(2);
	}
	if (d->cfg.log_level[0] && riov_log_set(d->cfg.log_level, err, sizeof(err)) != 0) {
		fprintf(stderr, "riovd: log level: %s\n", err);
		exit(2);
	}
	if (d->cfg.rpc_listen[0] && !(d->cfg.tls_cert[0] && d->cfg.tls_key[0] && d->cfg.tls_ca[0])) {
		fprintf(stderr, "riovd: --rpc-listen needs --tls-cert, --tls-key and --tls-ca\n");
		exit(2);
	}
	return 0;
}

/* EAL's runtime directory (/run/dpdk/riovd<pid>): with --no-shconf or --in-memory it holds only
 * the telemetry socket, which DPDK unlinks in an atexit handler but leaves the directory, one more
 * at every start. This handler, registered before EAL's, runs after it and removes the directory. */
static char eal_rundir[PATH_MAX];

static void remove_eal_rundir(void)
{
	if (eal_rundir[0] != '\0')
		(void)rmdir(eal_rundir);
}

/* Build the EAL command line: worker lcores pinned to the configured CPUs, no hugepages unless
 * asked, no shared files (several riovd may run side by side), no PCI scan unless eal_args asks. */
static int eal_start(struct riovd *d, const char *argv0, unsigned *n_workers)
{
	struct riov_config *c = &d->cfg;
	cpu_set_t wset, all;
	char lcores[512], mem[32];
	char *args[64];
	int n = 0;

	CPU_ZERO(&all);
	if (sched_getaffinity(0, sizeof(all), &all) != 0)
		return -errno;
	if (strcmp(c->workers, "auto") == 0) {
		int last = -1;
		for (int i = 0; i < CPU_SETSIZE; i++)
			if (CPU_ISSET(i, &all))
				last = i;
		CPU_ZERO(&wset);
		CPU_SET(last, &wset);
	} else if (parse_cpulist(c->workers, &wset) <= 0) {
		RIOV_LOG(RIOV_LOG_ERR, "bad worker CPU list '%s' (e.g. 1 or 2-3)", c->workers);
		return -EINVAL;
	}
	int ctl = c->control_cpu;
	if (ctl < 0) {
		for (int i = 0; i < CPU_SETSIZE && ctl < 0; i++)
			if (CPU_ISSET(i, &all) && !CPU_ISSET(i, &wset))
				ctl = i;
		if (ctl < 0) /* one CPU: share it */
			for (int i = 0; i < CPU_SETSIZE && ctl < 0; i++)
				if (CPU_ISSET(i, &all))
					ctl = i;
	}
	int len = snprintf(lcores, sizeof(lcores), "0@%d", ctl);
	unsigned w = 0;
	for (int i = 0; i < CPU_SETSIZE && len < (int)sizeof(lcores) - 16; i++)
		if (CPU_ISSET(i, &wset))
			len += snprintf(lcores + len, sizeof(lcores) - (size_t)len, ",%u@%d", ++w, i);
	if (w > RIOV_DP_MAX_WORKERS) {
		RIOV_LOG(RIOV_LOG_ERR, "at most %d workers", RIOV_DP_MAX_WORKERS);
		return -EINVAL;
	}
	*n_workers = w;

	static char lcore_arg[540];
	snprintf(lcore_arg, sizeof(lcore_arg), "--lcores=%s", lcores);
	snprintf(mem, sizeof(mem), "%u", c->memory_mb);
	args[n++] = (char *)argv0;
	args[n++] = lcore_arg;
	if (!c->hugepages) {
		args[n++] = "--no-huge";
		args[n++] = "-m";
		args[n++] = mem;
	}
	/* Several riovd side by side (tests, nodes in namespaces): no shared config, own prefix. */
	static char prefix[64];
	snprintf(prefix, sizeof(prefix), "--file-prefix=riovd%d", (int)getpid());
	args[n++] = c->hugepages ? "--in-memory" : "--no-shconf";
	args[n++] = prefix;
	args[n++] = "--log-level=lib.eal:notice";
	static char extra[RIOV_CFG_STR];
	bool pci = false;
	snprintf(extra, sizeof(extra), "%s", c->eal_args);
	for (char *save = NULL, *tok = strtok_r(extra, " \t", &save); tok && n < 60;
	     tok = strtok_r(NULL, " \t", &save)) {
		args[n++] = tok;
		pci |= strncmp(tok, "-a", 2) == 0 || strncmp(tok, "--allow", 7) == 0;
	}
	if (!pci)
		args[n++] = "--no-pci";
	args[n] = NULL;
	RIOV_LOG(RIOV_LOG_INFO, "EAL: lcores %s, %s", lcores, c->hugepages ? "hugepages" : "no hugepages");
	atexit(remove_eal_rundir);
	if (rte_eal_init(n, args) < 0) {
		RIOV_LOG(RIOV_LOG_ERR, "DPDK EAL init failed: %s", rte_strerror(rte_errno));
		return -rte_errno;
	}
	snprintf(eal_rundir, sizeof(eal_rundir), "%s", rte_eal_get_runtime_dir());
	return 0;
}

static void on_stop(evutil_socket_t sig, short ev, void *arg)
{
	struct riovd *d = arg;
	RIOV_LOG(RIOV_LOG_NOTICE, "signal %d: stopping", (int)sig);
	event_base_loopexit(d->base, NULL);
}

static void on_dump(evutil_socket_t sig, short ev, void *arg)
{
	struct riovd *d = arg;
	riov_dp_dump(d->dp, stdout);
}

static int mkdir_p(const char *dir, mode_t mode)
{
	char tmp[PATH_MAX];
	snprintf(tmp, sizeof(tmp), "%s", dir);
	for (char *p = tmp + 1; *p; p++) {
		if (*p == '/') {
			*p = '\0';
			if (mkdir(tmp, mode) != 0 && errno != EEXIST)
				return -errno;
			*p = '/';
		}
	}
	if (mkdir(tmp, mode) != 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* Where vhost ports' packed vrings record their positions for the next riovd: beside the
 * sockets, under /run in production, so a reboot empties it (dataplane/dp.h). NULL if the name
 * does not fit. */
static const char *ring_record_dir(const struct riov_config *c, char *buf, size_t len)
{
	if ((size_t)snprintf(buf, len, "%s/vring-records", c->socket_dir) >= len)
		return NULL;
	return buf;
}

/* The directories riovd writes to: vhost sockets, the ring records' (rec_dir, NULL none), state,
 * the RPC socket's. Returns 0 or -errno (logged). */
static int make_dirs(const struct riov_config *c, const char *rec_dir)
{
	int rc = mkdir_p(c->socket_dir, 0755);

	if (rc == 0 && rec_dir != NULL)
		rc = mkdir_p(rec_dir, 0700);

	if (rc == 0)
		rc = mkdir_p(c->state_dir, 0750);
	if (rc == 0 && strchr(c->rpc_socket, '/') != NULL) {
		char rpc_dir[PATH_MAX];
		snprintf(rpc_dir, sizeof(rpc_dir), "%s", c->rpc_socket);
		*strrchr(rpc_dir, '/') = '\0';
		if (rpc_dir[0] != '\0')
			rc = mkdir_p(rpc_dir, 0755);
	}
	if (rc != 0) {
		RIOV_LOG(RIOV_LOG_ERR, "cannot create %s, %s or the directory of %s: %s", c->socket_dir,
			 c->state_dir, c->rpc_socket, strerror(-rc));
		return rc;
	}
	/* riovd trusts what it finds there: no symbolic link at their names, nobody else able to
	 * replace their contents (the RPC socket's directory is checked again when it binds) */
	const char *trusted[] = { c->socket_dir, c->state_dir };
	for (size_t i = 0; i < 2; i++) {
		char err[512];
		int fd = riov_rpc_dir_check(trusted[i], err, sizeof(err));
		if (fd < 0) {
			RIOV_LOG(RIOV_LOG_ERR, "refusing to start: %s", err);
			return fd;
		}
		close(fd);
	}
	return 0;
}

/* Signals (stop, dump counters) and the periodic counter dump on the control loop. */
static void events_start(struct riovd *d)
{
	signal(SIGPIPE, SIG_IGN);
	d->ev_int = evsignal_new(d->base, SIGINT, on_stop, d);
	d->ev_term = evsignal_new(d->base, SIGTERM, on_stop, d);
	d->ev_usr1 = evsignal_new(d->base, SIGUSR1, on_dump, d);
	event_add(d->ev_int, NULL);
	event_add(d->ev_term, NULL);
	event_add(d->ev_usr1, NULL);
	if (d->cfg.stats_interval) {
		struct timeval tv = { .tv_sec = d->cfg.stats_interval };
		d->ev_stats = event_new(d->base, -1, EV_PERSIST, on_dump, d);
		event_add(d->ev_stats, &tv);
	}
}

int main(int argc, char **argv)
{
	struct riovd d = { 0 };
	unsigned n_workers = 0;
	int rc;

	setvbuf(stdout, NULL, _IOLBF, 0);
	/* stderr or the journal: decided before any thread logs (common/log.h) */
	riov_log_init();
	parse_args(&d, argc, argv);
	char rec_buf[PATH_MAX];
	const char *rec_dir = ring_record_dir(&d.cfg, rec_buf, sizeof(rec_buf));
	if (make_dirs(&d.cfg, rec_dir) != 0)
		return 1;
	if (eal_start(&d, argv[0], &n_workers) != 0)
		return 1;
	/* after the EAL (which swaps its own SIGBUS handler in only around page allocations and
	 * puts back what it found): a front-end's truncated file breaks its device, not riovd */
	rc = riov_guest_fault_install();
	if (rc != 0) {
		RIOV_LOG(RIOV_LOG_ERR, "cannot install the SIGBUS handler for guest memory: %s",
			 strerror(-rc));
		return 1;
	}
	d.base = event_base_new();
	if (d.base == NULL) {
		RIOV_LOG(RIOV_LOG_ERR, "cannot create the event loop");
		return 1;
	}
	struct riov_dp_params dpp = { .n_workers = n_workers, .nb_mbufs = d.cfg.mbufs, .base = d.base,
					  .idle_sleep_us = d.cfg.idle_sleep_us,
					  .ring_record_dir = rec_dir };
	rc = riov_dp_create(&dpp, &d.dp);
	if (rc != 0) {
		RIOV_LOG(RIOV_LOG_ERR, "cannot start the dataplane: %s", strerror(-rc));
		return 1;
	}
	events_start(&d);

	/* Desired state first (state file, or the config file's objects on a first start), then the
	 * control API, then "ready": a client that sees riovd ready sees the whole restored state. */
	struct riov_service_params sp = { .cfg = &d.cfg, .dp = d.dp, .base = d.base };
	char err[512] = "";
	rc = riov_service_create(&sp, &d.svc, err, sizeof(err));
	if (rc == 0)
		rc = riov_service_restore(d.svc, err, sizeof(err));
	if (rc == 0)
		rc = riov_service_listen(d.svc, err, sizeof(err));
	if (rc != 0) {
		RIOV_LOG(RIOV_LOG_ERR, "%s", err[0] ? err : strerror(-rc));
		d.exit_code = 1;
		goto out;
	}
	unsigned n_nets, n_ports;
	riov_service_counts(d.svc, &n_nets, &n_ports);
	RIOV_LOG(RIOV_LOG_NOTICE, "ready: %u network(s), %u port(s), %u worker(s)", n_nets, n_ports,
		 n_workers);
	sd_notify(0, "READY=1");
	riov_watchdog_start(d.base, d.dp, &d.watchdog);   /* failures logged; riovd runs on without */
	faults_arm(&d);
	event_base_dispatch(d.base);
	sd_notify(0, "STOPPING=1");
	riov_watchdog_stop(d.watchdog);
	printf("final counters:\n");
	riov_dp_dump(d.dp, stdout);
out:
	/* the control API goes first: no call may reach a half-destroyed dataplane */
	riov_service_destroy(d.svc);
	riov_dp_destroy(d.dp);
	if (d.ev_stats)
		event_free(d.ev_stats);
	if (d.ev_fault)
		event_free(d.ev_fault);
	event_free(d.ev_int);
	event_free(d.ev_term);
	event_free(d.ev_usr1);
	event_base_free(d.base);
	riov_config_free(&d.cfg);
	rte_eal_cleanup();
	return d.exit_code;
}
