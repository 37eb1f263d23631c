/*
 * config_fuzz.c - libFuzzer target for the INI configuration parser:
 * any input either loads or is refused with a message; never a crash.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "og_config.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text, err[512];
	og_config *cfg;

	if (size > 65536)
		return 0;
	text = malloc(size + 1);
	memcpy(text, data, size);
	text[size] = 0;
	if (og_config_parse_string(
	        text, "fuzz.conf", &cfg, err, sizeof(err), NULL, NULL) == 0) {
		og_msginfo mi;

		memset(&mi, 0, sizeof(mi));
		mi.sender = "news@example.com";
		mi.client_addr = "192.0.2.1";
		mi.sasl_user = "u";
		(void)og_config_find_stream(cfg, &mi);
		og_config_unref(cfg);
	}
	free(text);
	return 0;
}
