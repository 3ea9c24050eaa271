/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests for the VT-d model's interrupt remapping: MSI decoding, IRTE faults, source-id
 * validation, sub-handles, remapped delivery to real eventfds with coalescing, posted delivery. */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "iommu/vtd.h"
#include "iommu/vtd_internal.h"
#include "tests/riov_test.h"

static struct riov_vtd *mk(unsigned irtes, unsigned log)
{
	struct riov_vtd_config cfg = { .aw_bits = 48, .fault_log_size = log, .irte_count = irtes };
	struct riov_vtd *v = riov_vtd_create(&cfg);
	CHECK(v != NULL);
	return v;
}

/* Read and reset an eventfd's counter (non-blocking); 0 if it was not signalled. */
static uint64_t efd_take(int fd)
{
	uint64_t v = 0;
	if (read(fd, &v, sizeof(v)) != sizeof(v))
		return 0;
	return v;
}

static struct riov_vtd_irte remapped(int fd, uint8_t vector)
{
	struct riov_vtd_irte e = { .present = true, .vector = vector, .dest_id = 3, .eventfd = fd };
	return e;
}

static int raise_h(struct riov_vtd *v, uint16_t sid, uint32_t handle, bool shv, uint16_t sub)
{
	uint64_t addr;
	uint32_t data;
	riov_vtd_msi_compose(handle, shv, sub, &addr, &data);
	return riov_vtd_irq_raise(v, sid, addr, data);
}

RIOV_TEST(test_msi_compose_layout)
{
	uint64_t addr;
	uint32_t data;
	riov_vtd_msi_compose(0x8123, true, 0x44, &addr, &data);
	/* 5.1.2.2: 0xFEE in 31:20, handle[14:0] in 19:5, IF bit 4, SHV bit 3, handle[15] bit 2 */
	CHECK_EQ(addr >> 20, 0xfee);
	CHECK_EQ((addr >> 5) & 0x7fff, 0x0123);
	CHECK(addr & (1u << 4));
	CHECK(addr & (1u << 3));
	CHECK(addr & (1u << 2));
	CHECK_EQ(data, 0x44);
	riov_vtd_msi_compose(5, false, 0x44, &addr, &data);
	CHECK_EQ(addr, 0xfee00000ull | (5u << 5) | (1u << 4));
	CHECK_EQ(data, 0);
}

RIOV_TEST(test_irte_format)
{
	struct riov_vtd *v = mk(64, 16);
	struct riov_vtd_irte e = { .present = true, .fpd = true, .dest_mode = true, .redir_hint = true,
				   .trigger_mode = true, .delivery_mode = 1, .vector = 0x41,
				   .dest_id = 0x12345678, .svt = 1, .sq = 2, .sid = 0xabcd, .eventfd = -1 };
	uint64_t lo, hi;
	CHECK_EQ(riov_vtd_irte_set(v, 3, &e), 0);
	vtd_raw_irte_read(v, 3, &lo, &hi);
	CHECK_EQ(lo, VTD_IRTE_P | VTD_IRTE_FPD | VTD_IRTE_DM | VTD_IRTE_RH | VTD_IRTE_TM |
			     (1ull << VTD_IRTE_DLM_SHIFT) | (0x41ull << 16) | (0x12345678ull << 32));
	CHECK_EQ(hi, 0xabcdull | (2ull << 16) | (1ull << 18));
	e.svt = 3;
	CHECK_EQ(riov_vtd_irte_set(v, 3, &e), -EINVAL);
	e.svt = 0;
	CHECK_EQ(riov_vtd_irte_set(v, 64, &e), -EINVAL);
	e.posted = true;
	e.pda = 0x1008; /* not 64-byte aligned */
	CHECK_EQ(riov_vtd_irte_set(v, 3, &e), -EINVAL);
	CHECK_EQ(riov_vtd_irte_clear(v, 3), 0);
	vtd_raw_irte_read(v, 3, &lo, &hi);
	CHECK_EQ(lo, 0);
	riov_vtd_destroy(v);
}

/* Faults 0x20-0x26 (0x23, the table-pointer error, has no cause in this model). */
RIOV_TEST(test_ir_faults)
{
	struct riov_vtd *v = mk(64, 32);
	struct riov_vtd_fault f[16];
	struct riov_vtd_irte e = remapped(-1, 0x30);
	uint64_t lo, hi;

	CHECK_EQ(riov_vtd_irq_raise(v, 0x10, 0xfed00000, 0), -RIOV_VTD_FR_IR_RSVD);
	CHECK_EQ(riov_vtd_irq_raise(v, 0x10, 0x1fee00010ull, 0), -RIOV_VTD_FR_IR_RSVD);
	CHECK_EQ(riov_vtd_irq_raise(v, 0x10, 0xfee00000, 0x41), -RIOV_VTD_FR_IR_COMPAT);
	CHECK_EQ(raise_h(v, 0x10, 64, false, 0), -RIOV_VTD_FR_IR_INDEX);
	CHECK_EQ(raise_h(v, 0x10, 0x8000, false, 0), -RIOV_VTD_FR_IR_INDEX);
	CHECK_EQ(raise_h(v, 0x10, 60, true, 4), -RIOV_VTD_FR_IR_INDEX); /* 60 + 4 */
	CHECK_EQ(raise_h(v, 0x10, 5, false, 0), -RIOV_VTD_FR_IR_NOT_PRESENT);
	CHECK_EQ(riov_vtd_irte_set(v, 5, &e), 0);
	CHECK_EQ(raise_h(v, 0x10, 5, false, 0), 0);
	/* data bits 31:16 without SHV */
	uint64_t addr;
	uint32_t data;
	riov_vtd_msi_compose(5, false, 0, &addr, &data);
	CHECK_EQ(riov_vtd_irq_raise(v, 0x10, addr, 0x10000), -RIOV_VTD_FR_IR_RSVD);
	/* reserved bits in the entry, written raw */
	vtd_raw_irte_read(v, 5, &lo, &hi);
	vtd_raw_irte_write(v, 5, lo | (1ull << 13), hi);
	CHECK_EQ(raise_h(v, 0x10, 5, false, 0), -RIOV_VTD_FR_IR_IRTE_RSVD);
	vtd_raw_irte_write(v, 5, lo, hi | (1ull << 40));
	CHECK_EQ(raise_h(v, 0x10, 5, false, 0), -RIOV_VTD_FR_IR_IRTE_RSVD);
	vtd_raw_irte_write(v, 5, lo, hi | VTD_IRTE_HI_SVT); /* SVT=11b reserved */
	CHECK_EQ(raise_h(v, 0x10, 5, false, 0), -RIOV_VTD_FR_IR_IRTE_RSVD);
	vtd_raw_irte_write(v, 5, lo | VTD_IRTE_IM, hi); /* posted with no registered descriptor */
	CHECK_EQ(raise_h(v, 0x10, 5, false, 0), -RIOV_VTD_FR_IR_IRTE_RSVD);
	vtd_raw_irte_write(v, 5, lo, hi);
	CHECK_EQ(raise_h(v, 0x10, 5, false, 0), 0);
	/* SID validation */
	e.svt = 1;
	e.sid = 0x0123;
	CHECK_EQ(riov_vtd_irte_set(v, 6, &e), 0);
	CHECK_EQ(raise_h(v, 0x0124, 6, false, 0), -RIOV_VTD_FR_IR_SID);
	size_t n = riov_vtd_faults_read(v, f, 16, true);
	CHECK_EQ(n, 8); /* repeats (same sid, reason, index) collapsed */
	CHECK_EQ(f[0].reason, RIOV_VTD_FR_IR_RSVD);
	CHECK_EQ(f[0].is_ir, 1);
	CHECK_EQ(f[0].count, 2);
	CHECK_EQ(f[1].reason, RIOV_VTD_FR_IR_COMPAT);
	CHECK_EQ(f[2].reason, RIOV_VTD_FR_IR_INDEX);
	CHECK_EQ(f[2].addr, 64);
	CHECK_EQ(f[2].count, 2);
	CHECK_EQ(f[3].addr, 0x8000);
	CHECK_EQ(f[4].reason, RIOV_VTD_FR_IR_NOT_PRESENT);
	CHECK_EQ(f[4].addr, 5);
	CHECK_EQ(f[5].reason, RIOV_VTD_FR_IR_RSVD);
	CHECK_EQ(f[6].reason, RIOV_VTD_FR_IR_IRTE_RSVD);
	CHECK_EQ(f[6].count, 4);
	CHECK_EQ(f[7].reason, RIOV_VTD_FR_IR_SID);
	CHECK_EQ(f[7].sid, 0x0124);
	/* FPD in the IRTE suppresses recording, not the fault */
	e.fpd = true;
	CHECK_EQ(riov_vtd_irte_set(v, 6, &e), 0);
	CHECK_EQ(raise_h(v, 0x0124, 6, false, 0), -RIOV_VTD_FR_IR_SID);
	CHECK_EQ(riov_vtd_faults_read(v, f, 16, true), 0);
	/* repeats collapse */
	for (int i = 0; i < 3; i++)
		CHECK_EQ(raise_h(v, 0x10, 9, false, 0), -RIOV_VTD_FR_IR_NOT_PRESENT);
	CHECK_EQ(riov_vtd_faults_read(v, f, 16, true), 1);
	CHECK_EQ(f[0].count, 3);
	riov_vtd_destroy(v);
}

/* The three source-validation modes and the SQ masks. */
RIOV_TEST(test_sid_validation)
{
	struct riov_vtd *v = mk(64, 64);
	struct riov_vtd_irte e = remapped(-1, 0x30);
	e.fpd = true;
	/* SVT=0: anyone */
	CHECK_EQ(riov_vtd_irte_set(v, 0, &e), 0);
	CHECK_EQ(raise_h(v, 0xffff, 0, false, 0), 0);
	/* SVT=1, SQ 0..3 against requester 02:03.5 = 0x021d */
	static const uint16_t base_sid = 0x021d;
	for (unsigned sq = 0; sq < 4; sq++) {
		e.svt = 1;
		e.sq = (uint8_t)sq;
		e.sid = base_sid;
		CHECK_EQ(riov_vtd_irte_set(v, 1, &e), 0);
		for (unsigned fn = 0; fn < 8; fn++) {
			uint16_t sid = (uint16_t)((base_sid & ~7u) | fn);
			uint16_t ignore = sq == 0 ? 0 : sq == 1 ? 4 : sq == 2 ? 6 : 7;
			bool ok = ((sid ^ base_sid) & ~ignore & 0xffff) == 0;
			CHECK_EQ(raise_h(v, sid, 1, false, 0), ok ? 0 : -RIOV_VTD_FR_IR_SID);
		}
		CHECK_EQ(raise_h(v, base_sid + 8, 1, false, 0), -RIOV_VTD_FR_IR_SID); /* other device */
		CHECK_EQ(raise_h(v, base_sid ^ 0x100, 1, false, 0), -RIOV_VTD_FR_IR_SID); /* other bus */
	}
	/* SVT=2: bus range [start, end] in SID[15:8], SID[7:0] */
	e.svt = 2;
	e.sq = 0;
	e.sid = 0x0305;
	CHECK_EQ(riov_vtd_irte_set(v, 2, &e), 0);
	CHECK_EQ(raise_h(v, 0x0200, 2, false, 0), -RIOV_VTD_FR_IR_SID);
	CHECK_EQ(raise_h(v, 0x0300, 2, false, 0), 0);
	CHECK_EQ(raise_h(v, 0x04ff, 2, false, 0), 0);
	CHECK_EQ(raise_h(v, 0x0507, 2, false, 0), 0);
	CHECK_EQ(raise_h(v, 0x0600, 2, false, 0), -RIOV_VTD_FR_IR_SID);
	riov_vtd_destroy(v);
}

/* Remapped delivery to real eventfds; sub-handles select entries handle + subhandle. */
RIOV_TEST(test_subhandles_eventfd)
{
	struct riov_vtd *v = mk(256, 16);
	int fds[4];
	for (int i = 0; i < 4; i++) {
		fds[i] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		CHECK(fds[i] >= 0);
		struct riov_vtd_irte e = remapped(fds[i], (uint8_t)(0x40 + i));
		CHECK_EQ(riov_vtd_irte_set(v, 100 + (uint32_t)i, &e), 0);
	}
	/* one handle (100) with SHV for a multi-vector device: sub-handle i -> entry 100 + i */
	for (int i = 0; i < 4; i++)
		CHECK_EQ(raise_h(v, 0x10, 100, true, (uint16_t)i), 0);
	CHECK_EQ(raise_h(v, 0x10, 100, true, 2), 0);
	CHECK_EQ(efd_take(fds[0]), 1);
	CHECK_EQ(efd_take(fds[1]), 1);
	CHECK_EQ(efd_take(fds[2]), 2);
	CHECK_EQ(efd_take(fds[3]), 1);
	CHECK_EQ(efd_take(fds[3]), 0);
	/* without SHV the data is ignored (bits 15:0) and the handle alone selects */
	uint64_t addr;
	uint32_t data;
	riov_vtd_msi_compose(103, false, 0, &addr, &data);
	CHECK_EQ(riov_vtd_irq_raise(v, 0x10, addr, 0x1234), 0);
	CHECK_EQ(efd_take(fds[3]), 1);
	/* cleared entry: no delivery, fault */
	CHECK_EQ(riov_vtd_irte_clear(v, 101), 0);
	CHECK_EQ(raise_h(v, 0x10, 100, true, 1), -RIOV_VTD_FR_IR_NOT_PRESENT);
	CHECK_EQ(efd_take(fds[1]), 0);
	struct riov_vtd_irq_stats st;
	riov_vtd_irq_stats(v, &st);
	CHECK_EQ(st.delivered, 6);
	for (int i = 0; i < 4; i++)
		close(fds[i]);
	riov_vtd_destroy(v);
}

RIOV_TEST(test_coalescing)
{
	struct riov_vtd *v = mk(16, 16);
	int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	struct riov_vtd_irte e = remapped(fd, 0x50);
	e.coalesce_count = 4;
	CHECK_EQ(riov_vtd_irte_set(v, 1, &e), 0);
	for (int i = 0; i < 10; i++)
		CHECK_EQ(raise_h(v, 0x10, 1, false, 0), 0);
	CHECK_EQ(efd_take(fd), 2); /* the 4th and the 8th */
	CHECK_EQ(riov_vtd_irq_flush(v), 1); /* the 2 held back are not lost */
	CHECK_EQ(efd_take(fd), 1);
	CHECK_EQ(riov_vtd_irq_flush(v), 0);
	/* time: at most one per window (1 s here, so no test timing matters), the rest pending */
	e.coalesce_count = 0;
	e.coalesce_usecs = 1000000;
	CHECK_EQ(riov_vtd_irte_set(v, 2, &e), 0);
	for (int i = 0; i < 5; i++)
		CHECK_EQ(raise_h(v, 0x10, 2, false, 0), 0);
	CHECK_EQ(efd_take(fd), 1);
	CHECK_EQ(riov_vtd_irq_flush(v), 1);
	CHECK_EQ(efd_take(fd), 1);
	struct riov_vtd_irq_stats st;
	riov_vtd_irq_stats(v, &st);
	CHECK_EQ(st.coalesced, 8 + 4);
	close(fd);
	riov_vtd_destroy(v);
}

RIOV_TEST(test_posted)
{
	struct riov_vtd *v = mk(16, 16);
	int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	struct vtd_pid pid __attribute__((aligned(64))) = { 0 };
	struct riov_vtd_irte e = { .present = true, .posted = true, .vector = 0x91,
				   .pda = (uint64_t)(uintptr_t)&pid, .eventfd = fd };
	uint64_t lo, hi;

	pid.ctl = (0xf2ull << VTD_PID_CTL_NV_SHIFT) | (7ull << VTD_PID_CTL_NDST_SHIFT);
	CHECK_EQ(riov_vtd_irte_set(v, 4, &e), 0);
	vtd_raw_irte_read(v, 4, &lo, &hi);
	CHECK(lo & VTD_IRTE_IM);
	CHECK_EQ((lo & VTD_IRTE_PI_VV) >> VTD_IRTE_PI_VV_SHIFT, 0x91);
	CHECK_EQ(((lo & VTD_IRTE_PI_PDAL) >> 38 << 6) | (hi >> 32 << 32), (uint64_t)(uintptr_t)&pid);
	CHECK_EQ(raise_h(v, 0x10, 4, false, 0), 0);
	CHECK_EQ(pid.pir[2], 1ull << (0x91 - 128));
	CHECK(pid.ctl & VTD_PID_CTL_ON);
	CHECK_EQ(efd_take(fd), 1);
	/* ON already set: posted, no second notification */
	CHECK_EQ(raise_h(v, 0x10, 4, false, 0), 0);
	CHECK_EQ(efd_take(fd), 0);
	/* the "CPU" consumed the PIR and cleared ON; suppress notifications with SN */
	pid.pir[2] = 0;
	pid.ctl = (pid.ctl & ~VTD_PID_CTL_ON) | VTD_PID_CTL_SN;
	CHECK_EQ(raise_h(v, 0x10, 4, false, 0), 0);
	CHECK_EQ(pid.pir[2], 1ull << (0x91 - 128));
	CHECK(!(pid.ctl & VTD_PID_CTL_ON));
	CHECK_EQ(efd_take(fd), 0);
	/* urgent overrides SN */
	e.urgent = true;
	CHECK_EQ(riov_vtd_irte_set(v, 4, &e), 0);
	CHECK_EQ(raise_h(v, 0x10, 4, false, 0), 0);
	CHECK(pid.ctl & VTD_PID_CTL_ON);
	CHECK_EQ(efd_take(fd), 1);
	CHECK_EQ((pid.ctl & VTD_PID_CTL_NV) >> VTD_PID_CTL_NV_SHIFT, 0xf2);
	/* a PDA that is not the registered descriptor is never written */
	vtd_raw_irte_read(v, 4, &lo, &hi);
	vtd_raw_irte_write(v, 4, lo, hi + (1ull << 32));
	CHECK_EQ(raise_h(v, 0x10, 4, false, 0), -RIOV_VTD_FR_IR_IRTE_RSVD);
	close(fd);
	riov_vtd_destroy(v);
}


/* Posted delivery from several threads: every vector bit lands, ON is set once, exactly one
 * notification per ON transition. */
struct post_arg {
	struct riov_vtd *v;
	uint32_t handle;
};

static void *post_worker(void *p)
{
	struct post_arg *a = p;
	for (int i = 0; i < 20000; i++)
		CHECK_EQ(raise_h(a->v, 0x10, a->handle, false, 0), 0);
	return NULL;
}

RIOV_TEST(test_posted_concurrent)
{
	struct riov_vtd *v = mk(16, 16);
	int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	static struct vtd_pid pid __attribute__((aligned(64)));
	struct post_arg a[2] = { { v, 1 }, { v, 2 } };
	pthread_t t[2];
	for (uint32_t i = 1; i <= 2; i++) {
		struct riov_vtd_irte e = { .present = true, .posted = true, .vector = (uint8_t)(0x20 * i + 3),
					   .pda = (uint64_t)(uintptr_t)&pid, .eventfd = fd };
		CHECK_EQ(riov_vtd_irte_set(v, i, &e), 0);
	}
	for (int i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, post_worker, &a[i]);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	CHECK_EQ(pid.pir[0], 1ull << 0x23);
	CHECK_EQ(pid.pir[1], 1ull << (0x43 - 64));
	CHECK(pid.ctl & VTD_PID_CTL_ON);
	CHECK_EQ(efd_take(fd), 1);
	struct riov_vtd_irq_stats st;
	riov_vtd_irq_stats(v, &st);
	CHECK_EQ(st.posted, 40000);
	CHECK_EQ(st.delivered, 1);
	close(fd);
	riov_vtd_destroy(v);
}

RIOV_TEST_MAIN(RIOV_TEST_ENTRY(test_msi_compose_layout), RIOV_TEST_ENTRY(test_irte_format),
	       RIOV_TEST_ENTRY(test_ir_faults), RIOV_TEST_ENTRY(test_sid_validation),
	       RIOV_TEST_ENTRY(test_subhandles_eventfd), RIOV_TEST_ENTRY(test_coalescing),
	       RIOV_TEST_ENTRY(test_posted), RIOV_TEST_ENTRY(test_posted_concurrent))
