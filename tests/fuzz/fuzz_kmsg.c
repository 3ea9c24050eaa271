/* SPDX-License-Identifier: BSD-3-Clause */
/* libFuzzer: the untrusted text vmm/ parses for assigned functions. data[0] & 1 picks the parser:
 * 0 = a /dev/kmsg record (riov_dmar_parse, vmm/dmar_log.c: any process can write /dev/kmsg), 1 = a
 * PCI address (riov_pci_parse, vmm/pci.c: from RPC clients and the configuration file, later part
 * of sysfs paths). A parsed PCI address must print back as a canonical 12-character form that
 * parses to the same address. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/assign.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	const char *text = (const char *)data + 1;
	size_t len = size - 1;
	if ((data[0] & 1) == 0) {
		struct riov_dmar_fault f;
		(void)riov_dmar_parse(text, len, &f);
		return 0;
	}
	char *s = malloc(len + 1);   /* riov_pci_parse takes a C string */
	if (s == NULL)
		return 0;
	memcpy(s, text, len);
	s[len] = '\0';
	struct riov_pci_addr a, b;
	if (riov_pci_parse(s, &a) == 0) {
		char canon[32];
		riov_pci_format(&a, canon, sizeof(canon));
		if (strlen(canon) != 12 || riov_pci_parse(canon, &b) != 0 || a.domain != b.domain ||
		    a.bus != b.bus || a.dev != b.dev || a.fn != b.fn)
			abort();
	}
	free(s);
	return 0;
}
