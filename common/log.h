/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * riov's one logger: a component, a level, printf-style text to stderr (which systemd's journal
 * collects). Anything a guest or peer can trigger goes through RIOV_LOG_RL, which is rate-limited
 * per call site. Thread-safe: one write(2) per line.
 */
#ifndef RIOV_COMMON_LOG_H
#define RIOV_COMMON_LOG_H

#include <stdint.h>

enum riov_log_level {
	RIOV_LOG_ERR = 3,
	RIOV_LOG_WARN = 4,
	RIOV_LOG_NOTICE = 5,
	RIOV_LOG_INFO = 6,
	RIOV_LOG_DEBUG = 7,
};

/** Set the most verbose level printed (default RIOV_LOG_INFO; env RIOV_LOG_LEVEL=0..7 overrides). */
void riov_log_set_level(enum riov_log_level level);

/** Print one line "<level> <component>: text" if level is enabled. */
void riov_log(enum riov_log_level level, const char *comp, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Per-call-site rate limiter: at most `burst` lines per `interval_s` seconds; reports how many it dropped. */
struct riov_ratelimit {
	_Atomic uint64_t window_start_ns;
	_Atomic uint32_t printed;
	_Atomic uint32_t missed;
};

/** Return 1 if a line may be printed now. Lock-free and safe from any thread; a race at a window
 *  boundary may let one extra line through. */
int riov_ratelimit_ok(struct riov_ratelimit *rl, uint32_t burst, uint32_t interval_s);

#define RIOV_LOG_RL(level, comp, ...)                                                        \
	do {                                                                                 \
		static struct riov_ratelimit rl_;                                            \
		if (riov_ratelimit_ok(&rl_, 10, 5))                                          \
			riov_log(level, comp, __VA_ARGS__);                                  \
	} while (0)

#endif
