/*
 * record_fuzz.c - libFuzzer target for the store's record and event
 * decoders: a damaged value is refused, never read out of bounds.
 */
#include <stddef.h>
#include <stdint.h>

#include "og_store.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static og_record rec;
	static og_event ev;

	/* a record that decodes: its pauses end (all of them, at 2106) */
	if (og_record_decode(data, size, "fuzz@example.com", &rec) == 0)
		(void)og_record_settle(&rec, (int64_t)UINT32_MAX);
	(void)og_event_decode(data, size, 1, &ev);
	return 0;
}
