/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The guest memory fault guard: a table of the guest memory mappings riovd holds, and the SIGBUS
 * handler that looks a faulting address up in it (API: guest_fault.h; registration:
 * guest_mem_internal.h).
 *
 * Security model: a front-end's memory file is not trusted to keep its size. A memfd is sealed
 * against shrinking where that can be done (guest_mem.c); a file that cannot be sealed (hugetlbfs
 * and tmpfs files, memfds created without MFD_ALLOW_SEALING, such as DPDK's --no-huge memory)
 * can be truncated, or lose a huge page, under riovd, and the next access to it raises SIGBUS in
 * a worker or on the control thread. The handler replaces the whole region's mapping in place
 * with anonymous zero memory (MAP_FIXED at the same address and length: the VT-d tables, cursors
 * and ring pointers that hold host addresses stay valid), so the faulting access completes and
 * later ones read zeros, marks the slot faulted, counts it and writes the owner's eventfd; the
 * owner drops the session on the control thread (vhost_mem.c). A SIGBUS outside every registered
 * region is chained to the handler installed before, or re-raised with SIG_DFL: riovd's own bugs
 * still crash.
 *
 * Thread rules: register and unregister on the control thread (the unit tests: one thread at a
 * time). The handler runs on any thread: it takes no lock, allocates nothing and calls only
 * mmap, write, sigaction and raise (mmap is a plain system call on Linux, though POSIX does not
 * list it as async-signal-safe). A slot is unregistered only after no worker can touch its range
 * any more (riov_vtd_synchronize, vring_stop), so the handler never races with a slot's reuse.
 */
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/log.h"
#include "vmm/guest_fault.h"
#include "vmm/guest_mem_internal.h"

RIOV_LOG_COMPONENT("vhost", RIOV_LOG_INFO);

enum {
	SLOT_FREE = 0,
	SLOT_CLAIMED,     /* being filled in by register */
	SLOT_LIVE,        /* a mapping of guest memory */
	SLOT_REPLACING,   /* a handler is replacing it with zero memory */
	SLOT_FAULTED,     /* replaced: reads give zeros, the owner was woken */
	SLOT_FAILED,      /* the replacement failed: the fault is fatal */
};

struct slot {
	_Atomic int state;
	uintptr_t start;
	size_t len;
	int efd;
};

static struct slot slots[RIOV_GUEST_FAULT_SLOTS];
static _Atomic unsigned slots_hi;         /* one beyond the highest slot ever claimed */
static _Atomic uint64_t faults_total;
static struct sigaction prev_act;
static _Atomic bool installed;

/* Hand a fault that is not in guest memory on: to the handler installed before us, or to the
 * default action (a core dump, as if riov had installed nothing). */
static void chain(int sig, siginfo_t *si, void *uc)
{
	if ((prev_act.sa_flags & SA_SIGINFO) && prev_act.sa_sigaction) {
		prev_act.sa_sigaction(sig, si, uc);
		return;
	}
	if (prev_act.sa_handler != SIG_DFL && prev_act.sa_handler != SIG_IGN) {
		prev_act.sa_handler(sig);
		return;
	}
	struct sigaction dfl;
	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	sigaction(sig, &dfl, NULL);
	/* a hardware fault repeats when the access is retried; a SIGBUS sent with kill() does not,
	 * so raise it again (blocked until this handler returns) */
	raise(sig);
}

/* Replace slot s (LIVE) with zero memory unless another thread does; true if the access may be
 * retried. */
static bool slot_replace(struct slot *s)
{
	int st = SLOT_LIVE;
	if (atomic_compare_exchange_strong(&s->state, &st, SLOT_REPLACING)) {
		void *p = mmap((void *)s->start, s->len, PROT_READ | PROT_WRITE,
			       MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (p == MAP_FAILED) {
			atomic_store(&s->state, SLOT_FAILED);
			return false;
		}
		atomic_fetch_add(&faults_total, 1);
		atomic_store(&s->state, SLOT_FAULTED);
		uint64_t one = 1;
		ssize_t w = write(s->efd, &one, sizeof(one));
		(void)w;   /* an eventfd at its maximum is already readable */
		return true;
	}
	/* another thread got there first: retry once it is done (the access faults again until the
	 * replacement is in place, then reads zeros) */
	return st == SLOT_REPLACING || st == SLOT_FAULTED;
}

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
	int saved_errno = errno;
	uintptr_t a = (uintptr_t)si->si_addr;
	unsigned hi = atomic_load_explicit(&slots_hi, memory_order_acquire);

	for (unsigned i = 0; i < hi; i++) {
		struct slot *s = &slots[i];
		int st = atomic_load_explicit(&s->state, memory_order_acquire);
		if (st < SLOT_LIVE || a < s->start || a - s->start >= s->len)
			continue;
		if (st != SLOT_FAILED && slot_replace(s)) {
			errno = saved_errno;
			return;
		}
		break;
	}
	chain(sig, si, uc);
	errno = saved_errno;
}

int riov_guest_fault_install(void)
{
	struct sigaction sa;

	if (atomic_exchange(&installed, true))
		return 0;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sigbus;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGBUS, &sa, &prev_act) < 0) {
		int rc = -errno;
		atomic_store(&installed, false);
		return rc;
	}
	/* a handler that was ours already (a second install after a failed one) is no predecessor */
	if ((prev_act.sa_flags & SA_SIGINFO) && prev_act.sa_sigaction == on_sigbus)
		memset(&prev_act, 0, sizeof(prev_act));
	return 0;
}

uint64_t riov_guest_fault_total(void)
{
	return atomic_load(&faults_total);
}

int riov_guest_fault_register(void *addr, size_t len, int efd)
{
	for (unsigned i = 0; i < RIOV_GUEST_FAULT_SLOTS; i++) {
		struct slot *s = &slots[i];
		int st = SLOT_FREE;
		if (!atomic_compare_exchange_strong(&s->state, &st, SLOT_CLAIMED))
			continue;
		s->start = (uintptr_t)addr;
		s->len = len;
		s->efd = efd;
		unsigned hi = atomic_load(&slots_hi);
		while (hi < i + 1 && !atomic_compare_exchange_weak(&slots_hi, &hi, i + 1))
			;
		atomic_store_explicit(&s->state, SLOT_LIVE, memory_order_release);
		return (int)i + 1;
	}
	RIOV_LOG_RL(RIOV_LOG_ERR, "all %u guest memory guard slots in use", RIOV_GUEST_FAULT_SLOTS);
	return -ENOSPC;
}

void riov_guest_fault_unregister(int h)
{
	if (h <= 0 || h > RIOV_GUEST_FAULT_SLOTS)
		return;
	atomic_store_explicit(&slots[h - 1].state, SLOT_FREE, memory_order_release);
}

bool riov_guest_fault_hit(int h)
{
	if (h <= 0 || h > RIOV_GUEST_FAULT_SLOTS)
		return false;
	return atomic_load(&slots[h - 1].state) == SLOT_FAULTED;
}
