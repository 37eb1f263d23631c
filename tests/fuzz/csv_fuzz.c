/*
 * csv_fuzz.c - libFuzzer target for the import CSV reader
 * (tools/optgate_csv.c).
 *
 * The first input byte picks max_record (small values make the too-long
 * and resync paths reachable); the rest is the file.  Checks the
 * invariants import relies on: every record's fields are NUL-terminated
 * and within the record size, line numbers never go backwards, raw text
 * is capped for errors, the reader always ends, and the UTF-8 check
 * agrees with itself on every field.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "og_err.h"
#include "optgate_csv.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t maxes[] = {0, 1, 2, 8, 16, 64, 300, 4096};
	og_csv_rec r;
	og_csv *c;
	unsigned long last = 0;
	size_t max, bad, steps = 0;
	int rc, i;

	if (size == 0)
		return 0;
	max = maxes[data[0] & 7];
	c = og_csv_new_mem((const char *)data + 1, size - 1, max);
	while ((rc = og_csv_next(c, &r)) != 0) {
		if (++steps > size + 2)
			abort(); /* no progress */
		if (r.line < last || r.line == 0)
			abort();
		last = r.line;
		if (rc == OG_EIO)
			abort();
		if (rc < 0) {
			if (r.error == NULL ||
			    r.rawlen > 200 + (max ? max : 0) + 65536)
				abort();
			continue;
		}
		if (rc != 1 || r.nfields < 1 || r.nfields > OG_CSV_FIELDS_MAX)
			abort();
		for (i = 0; i < r.nfields; i++) {
			if (r.field[i][r.len[i]] != 0 ||
			    r.len[i] > (max ? max : OG_CSV_RECORD_MAX))
				abort();
			if (og_csv_utf8_valid(r.field[i], r.len[i], &bad) ==
			        0 &&
			    bad >= r.len[i])
				abort();
		}
	}
	if (og_csv_offset(c) > size)
		abort();
	og_csv_free(c);
	return 0;
}
