/*
 * floor-milter - the benchmark's milter floor: a plain libmilter milter
 * that adds one header at end of message and does nothing else.  What
 * it costs Postfix is the least any milter costs; optgate-milter is
 * measured against it (tests/bench/milter.sh).
 *
 *   floor-milter SOCKET      e.g. unix:/tmp/f.sock or inet:10070@127.0.0.1
 *
 * LIMITS: test tool only; runs in the foreground until SIGTERM.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include <libmilter/mfapi.h>

static sfsistat
fl_eom(SMFICTX *ctx)
{
	smfi_addheader(ctx, "X-Floor", "1");
	return SMFIS_CONTINUE;
}

static sfsistat
fl_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1, unsigned long f2,
    unsigned long f3, unsigned long *pf0, unsigned long *pf1,
    unsigned long *pf2, unsigned long *pf3)
{
	*pf0 = SMFIF_ADDHDRS;
	*pf1 = f1 & (SMFIP_NOHELO | SMFIP_NOBODY | SMFIP_NOUNKNOWN |
	                SMFIP_NODATA | SMFIP_NOHDRS | SMFIP_NOEOH |
	                SMFIP_NOMAIL | SMFIP_NORCPT | SMFIP_NR_CONN);
	*pf2 = 0;
	*pf3 = 0;
	return SMFIS_CONTINUE;
}

static struct smfiDesc fl_desc = {
    "floor",
    SMFI_VERSION,
    SMFIF_ADDHDRS,
    NULL,
    NULL,
    NULL,
    NULL,
    NULL,
    NULL,
    NULL,
    fl_eom,
    NULL,
    NULL,
    NULL,
    NULL,
    fl_negotiate,
};

int
main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: floor-milter SOCKET\n");
		return 2;
	}
	if (smfi_setconn(argv[1]) != MI_SUCCESS ||
	    smfi_register(fl_desc) != MI_SUCCESS ||
	    smfi_opensocket(true) != MI_SUCCESS) {
		fprintf(stderr, "floor-milter: cannot listen on %s\n", argv[1]);
		return 1;
	}
	return smfi_main() == MI_SUCCESS ? 0 : 1;
}
