/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests for the identifier allocators (iommu/vtd_ids.c): lowest free id first, exhaustion,
 * reserved ranges, release and reuse, the 64-bit word boundaries, the whole 16-bit space, and
 * riovd's plan of domain ids and IRTEs. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "iommu/vtd.h"
#include "tests/riov_test.h"

static struct riov_vtd_ids *mk(uint32_t n)
{
	struct riov_vtd_ids *s = NULL;
	CHECK_EQ(riov_vtd_ids_create(n, &s), 0);
	CHECK(s != NULL);
	return s;
}

RIOV_TEST(create_refuses_bad_sizes)
{
	struct riov_vtd_ids *s = (void *)1;

	CHECK_EQ(riov_vtd_ids_create(0, &s), -EINVAL);
	CHECK(s == NULL);
	CHECK_EQ(riov_vtd_ids_create(RIOV_VTD_IDS_SPACE + 1, &s), -EINVAL);
	riov_vtd_ids_destroy(NULL);
}

RIOV_TEST(alloc_lowest_free)
{
	struct riov_vtd_ids *s = mk(256);
	uint32_t id;

	for (uint32_t want = 10; want < 20; want++) {
		CHECK_EQ(riov_vtd_ids_alloc(s, 10, 200, &id), 0);
		CHECK_EQ(id, want);
	}
	CHECK_EQ(riov_vtd_ids_release(s, 13), 0);
	CHECK_EQ(riov_vtd_ids_release(s, 11), 0);
	CHECK_EQ(riov_vtd_ids_alloc(s, 10, 200, &id), 0);
	CHECK_EQ(id, 11);
	CHECK_EQ(riov_vtd_ids_alloc(s, 10, 200, &id), 0);
	CHECK_EQ(id, 13);
	CHECK_EQ(riov_vtd_ids_alloc(s, 10, 200, &id), 0);
	CHECK_EQ(id, 20);
	/* a range's lower end is respected even when lower ids are free */
	CHECK_EQ(riov_vtd_ids_alloc(s, 100, 200, &id), 0);
	CHECK_EQ(id, 100);
	CHECK_EQ(riov_vtd_ids_count(s), 12);
	CHECK_EQ(riov_vtd_ids_alloc(s, 5, 4, &id), -ERANGE);
	CHECK_EQ(riov_vtd_ids_alloc(s, 0, 256, &id), -ERANGE);
	riov_vtd_ids_destroy(s);
}

RIOV_TEST(exhaustion_is_enospc)
{
	struct riov_vtd_ids *s = mk(100);
	uint32_t id;

	for (uint32_t i = 0; i < 8; i++)
		CHECK_EQ(riov_vtd_ids_alloc(s, 40, 47, &id), 0);
	CHECK_EQ(riov_vtd_ids_alloc(s, 40, 47, &id), -ENOSPC);
	CHECK_EQ(riov_vtd_ids_alloc(s, 40, 48, &id), 0);
	CHECK_EQ(id, 48);
	/* the bits past the end of a space that is not a multiple of 64 are never free */
	for (uint32_t i = 0; i < 51; i++)
		CHECK_EQ(riov_vtd_ids_alloc(s, 49, 99, &id), 0);
	CHECK_EQ(id, 99);
	CHECK_EQ(riov_vtd_ids_alloc(s, 49, 99, &id), -ENOSPC);
	CHECK_EQ(riov_vtd_ids_take(s, 100), -ERANGE);
	CHECK_EQ(riov_vtd_ids_release(s, 100), -ERANGE);
	CHECK(!riov_vtd_ids_used(s, 100));
	riov_vtd_ids_destroy(s);
}

RIOV_TEST(take_and_release)
{
	struct riov_vtd_ids *s = mk(64);

	CHECK(!riov_vtd_ids_used(s, 7));
	CHECK_EQ(riov_vtd_ids_take(s, 7), 0);
	CHECK(riov_vtd_ids_used(s, 7));
	CHECK_EQ(riov_vtd_ids_take(s, 7), -EBUSY);
	CHECK_EQ(riov_vtd_ids_release(s, 7), 0);
	CHECK_EQ(riov_vtd_ids_release(s, 7), -ENOENT);
	CHECK(!riov_vtd_ids_used(s, 7));
	CHECK_EQ(riov_vtd_ids_take(s, 7), 0);
	CHECK_EQ(riov_vtd_ids_count(s), 1);
	riov_vtd_ids_destroy(s);
}

RIOV_TEST(reserved_ranges_refuse_take)
{
	struct riov_vtd_ids *s = mk(1024);
	uint32_t id;

	CHECK_EQ(riov_vtd_ids_reserve(s, 0, 99, "dataplane"), 0);
	CHECK_EQ(riov_vtd_ids_reserve(s, 900, 1023, "other"), 0);
	CHECK_EQ(riov_vtd_ids_take(s, 0), -EINVAL);
	CHECK_EQ(riov_vtd_ids_take(s, 99), -EINVAL);
	CHECK_EQ(riov_vtd_ids_take(s, 950), -EINVAL);
	CHECK_EQ(riov_vtd_ids_release(s, 50), -EINVAL);
	CHECK(!riov_vtd_ids_used(s, 50));
	CHECK(strcmp(riov_vtd_ids_owner(s, 50), "dataplane") == 0);
	CHECK(strcmp(riov_vtd_ids_owner(s, 1023), "other") == 0);
	CHECK(riov_vtd_ids_owner(s, 100) == NULL);
	CHECK(riov_vtd_ids_owner(s, 5000) == NULL);
	/* allocation skips reserved ids in its range */
	CHECK_EQ(riov_vtd_ids_alloc(s, 0, 1023, &id), 0);
	CHECK_EQ(id, 100);
	CHECK_EQ(riov_vtd_ids_alloc(s, 850, 1023, &id), 0);
	CHECK_EQ(id, 850);
	/* a reservation over used or reserved ids, beyond the space or empty is refused */
	CHECK_EQ(riov_vtd_ids_reserve(s, 100, 120, "x"), -EBUSY);
	CHECK_EQ(riov_vtd_ids_reserve(s, 95, 101, "x"), -EBUSY);
	CHECK_EQ(riov_vtd_ids_reserve(s, 1000, 1024, "x"), -ERANGE);
	CHECK_EQ(riov_vtd_ids_reserve(s, 10, 9, "x"), -ERANGE);
	CHECK_EQ(riov_vtd_ids_count(s), 2);
	for (uint32_t i = 0; i < 6; i++)
		CHECK_EQ(riov_vtd_ids_reserve(s, 200 + i, 200 + i, "x"), 0);
	CHECK_EQ(riov_vtd_ids_reserve(s, 300, 300, "x"), -ENOSPC);
	riov_vtd_ids_destroy(s);
}

RIOV_TEST(word_boundaries)
{
	struct riov_vtd_ids *s = mk(256);
	uint32_t id;

	/* 63, 64, 65 sit in two words: a range across the boundary and ranges ending on it */
	CHECK_EQ(riov_vtd_ids_alloc(s, 63, 65, &id), 0);
	CHECK_EQ(id, 63);
	CHECK_EQ(riov_vtd_ids_alloc(s, 63, 65, &id), 0);
	CHECK_EQ(id, 64);
	CHECK_EQ(riov_vtd_ids_alloc(s, 63, 65, &id), 0);
	CHECK_EQ(id, 65);
	CHECK_EQ(riov_vtd_ids_alloc(s, 63, 65, &id), -ENOSPC);
	CHECK_EQ(riov_vtd_ids_alloc(s, 0, 62, &id), 0);
	CHECK_EQ(id, 0);
	CHECK_EQ(riov_vtd_ids_release(s, 64), 0);
	CHECK_EQ(riov_vtd_ids_alloc(s, 64, 64, &id), 0);
	CHECK_EQ(id, 64);
	CHECK_EQ(riov_vtd_ids_take(s, 127), 0);
	CHECK_EQ(riov_vtd_ids_alloc(s, 127, 128, &id), 0);
	CHECK_EQ(id, 128);
	CHECK_EQ(riov_vtd_ids_alloc(s, 66, 127, &id), 0);
	CHECK_EQ(id, 66);
	/* a reservation ending on a word boundary */
	CHECK_EQ(riov_vtd_ids_reserve(s, 129, 191, "r"), 0);
	CHECK_EQ(riov_vtd_ids_alloc(s, 129, 255, &id), 0);
	CHECK_EQ(id, 192);
	CHECK_EQ(riov_vtd_ids_take(s, 191), -EINVAL);
	riov_vtd_ids_destroy(s);
}

RIOV_TEST(whole_16bit_space)
{
	struct riov_vtd_ids *s = mk(RIOV_VTD_IDS_SPACE);
	uint32_t id;

	for (uint32_t want = 0; want < RIOV_VTD_IDS_SPACE; want++) {
		CHECK_EQ(riov_vtd_ids_alloc(s, 0, RIOV_VTD_IDS_SPACE - 1, &id), 0);
		if (id != want) {
			CHECK_EQ(id, want);
			break;
		}
	}
	CHECK_EQ(riov_vtd_ids_count(s), RIOV_VTD_IDS_SPACE);
	CHECK_EQ(riov_vtd_ids_alloc(s, 0, RIOV_VTD_IDS_SPACE - 1, &id), -ENOSPC);
	CHECK_EQ(riov_vtd_ids_release(s, 65535), 0);
	CHECK_EQ(riov_vtd_ids_release(s, 40000), 0);
	CHECK_EQ(riov_vtd_ids_alloc(s, 0, 65535, &id), 0);
	CHECK_EQ(id, 40000);
	CHECK_EQ(riov_vtd_ids_alloc(s, 0, 65535, &id), 0);
	CHECK_EQ(id, 65535);
	for (uint32_t i = 0; i < RIOV_VTD_IDS_SPACE; i++)
		if (riov_vtd_ids_release(s, i) != 0) {
			CHECK_EQ(riov_vtd_ids_release(s, i), 0);
			break;
		}
	CHECK_EQ(riov_vtd_ids_count(s), 0);
	riov_vtd_ids_destroy(s);
}

/* riovd's plan: the vhost ports' ranges are reserved, the API's are free. */
RIOV_TEST(plan_of_riovd)
{
	struct riov_vtd_ids *d = NULL, *i = NULL;
	uint32_t id;

	CHECK_EQ(riov_vtd_ids_create_dids(&d), 0);
	CHECK_EQ(riov_vtd_ids_create_irtes(&i), 0);
	CHECK(riov_vtd_ids_owner(d, 0) != NULL);
	CHECK(strcmp(riov_vtd_ids_owner(d, 1), RIOV_VTD_OWNER_PORTS) == 0);
	CHECK(strcmp(riov_vtd_ids_owner(d, 1024), RIOV_VTD_OWNER_PORTS) == 0);
	CHECK(riov_vtd_ids_owner(d, 1025) == NULL);
	CHECK(riov_vtd_ids_owner(d, 0x7fff) == NULL);
	CHECK(strcmp(riov_vtd_ids_owner(d, 0x8000), RIOV_VTD_OWNER_PORTS) == 0);
	CHECK(strcmp(riov_vtd_ids_owner(d, 0xffff), RIOV_VTD_OWNER_PORTS) == 0);
	CHECK_EQ(riov_vtd_ids_take(d, 5), -EINVAL);
	CHECK_EQ(riov_vtd_ids_take(d, 2000), 0);
	CHECK_EQ(riov_vtd_ids_alloc(d, RIOV_VTD_DID_API_ALLOC, RIOV_VTD_DID_API_LAST, &id), 0);
	CHECK_EQ(id, 0x1000);
	CHECK(strcmp(riov_vtd_ids_owner(i, 32767), RIOV_VTD_OWNER_PORTS) == 0);
	CHECK(riov_vtd_ids_owner(i, 32768) == NULL);
	CHECK_EQ(riov_vtd_ids_alloc(i, 0, 65535, &id), 0);
	CHECK_EQ(id, RIOV_VTD_IRTE_API_FIRST);
	CHECK_EQ(riov_vtd_ids_count(i), 1);
	riov_vtd_ids_destroy(d);
	riov_vtd_ids_destroy(i);
}

RIOV_TEST_MAIN(RIOV_TEST_ENTRY(create_refuses_bad_sizes), RIOV_TEST_ENTRY(alloc_lowest_free),
	       RIOV_TEST_ENTRY(exhaustion_is_enospc), RIOV_TEST_ENTRY(take_and_release),
	       RIOV_TEST_ENTRY(reserved_ranges_refuse_take), RIOV_TEST_ENTRY(word_boundaries),
	       RIOV_TEST_ENTRY(whole_16bit_space), RIOV_TEST_ENTRY(plan_of_riovd))
