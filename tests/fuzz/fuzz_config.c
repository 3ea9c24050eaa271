/* SPDX-License-Identifier: BSD-3-Clause */
/* libFuzzer harness: riovd's start-up configuration parser, fed arbitrary text. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "control/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct riov_config cfg;
	char err[512];
	char *text = malloc(size + 1);

	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	riov_config_parse(text, "fuzz", &cfg, err, sizeof(err));
	riov_config_free(&cfg);
	free(text);
	return 0;
}
