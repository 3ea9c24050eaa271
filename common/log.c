/* SPDX-License-Identifier: BSD-3-Clause */
#include "common/log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int log_level = -1;

static const char *const level_names[] = {
	[RIOV_LOG_ERR] = "error", [RIOV_LOG_WARN] = "warning", [RIOV_LOG_NOTICE] = "notice",
	[RIOV_LOG_INFO] = "info", [RIOV_LOG_DEBUG] = "debug",
};

void riov_log_set_level(enum riov_log_level level)
{
	log_level = (int)level;
}

static int current_level(void)
{
	if (log_level < 0) {
		const char *env = getenv("RIOV_LOG_LEVEL");
		log_level = env != NULL ? atoi(env) : RIOV_LOG_INFO;
	}
	return log_level;
}

void riov_log(enum riov_log_level level, const char *comp, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n;

	if ((int)level > current_level())
		return;
	/* "<N>" prefix: sd-daemon(3) level markers, understood by journald, harmless on a terminal. */
	n = snprintf(line, sizeof(line), "<%d>%s %s: ", (int)level,
		     level <= RIOV_LOG_DEBUG && level_names[level] ? level_names[level] : "log", comp);
	if (n < 0 || n >= (int)sizeof(line))
		return;
	va_start(ap, fmt);
	int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (m < 0)
		return;
	n += m;
	if (n > (int)sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	ssize_t w = write(STDERR_FILENO, line, (size_t)n);
	(void)w;
}

int riov_ratelimit_ok(struct riov_ratelimit *rl, uint32_t burst, uint32_t interval_s)
{
	struct timespec ts;
	uint64_t now, start;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	now = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	start = atomic_load_explicit(&rl->window_start_ns, memory_order_relaxed);
	if (now - start >= (uint64_t)interval_s * 1000000000ull &&
	    atomic_compare_exchange_strong(&rl->window_start_ns, &start, now)) {
		/* this thread opened the new window */
		uint32_t missed = atomic_exchange(&rl->missed, 0);
		atomic_store(&rl->printed, 0);
		if (missed != 0)
			riov_log(RIOV_LOG_WARN, "log", "%u similar messages suppressed", missed);
	}
	if (atomic_fetch_add_explicit(&rl->printed, 1, memory_order_relaxed) < burst)
		return 1;
	atomic_fetch_add_explicit(&rl->missed, 1, memory_order_relaxed);
	return 0;
}
