/*
 * og_err.h - the one error-code space of optgate's library.
 *
 * Every lib/ function that can fail returns 0 or one of these negative codes;
 * og_strerror() names them.  "Not found" is a result (OG_NOTFOUND), not an
 * error.  Codes are stable: tools map them to exit codes.
 */
#ifndef OG_ERR_H
#define OG_ERR_H

#define OG_OK 0
#define OG_NOTFOUND (-1)   /* no such record / key: a result */
#define OG_EINVAL (-2)     /* bad argument or malformed input */
#define OG_ENOMEM (-3)     /* out of memory (only where exit is wrong) */
#define OG_EIO (-4)        /* system call failed; errno was logged */
#define OG_ESTORE (-5)     /* LMDB error not covered below */
#define OG_EFULL (-6)      /* store reached map_size */
#define OG_ECORRUPT (-7)   /* store file damaged or not an LMDB file */
#define OG_EVERSION (-8)   /* store schema from a newer optgate */
#define OG_EBUSY (-9)      /* reader slots full, lock held: retry later */
#define OG_EBADTOKEN (-10) /* token fails to decode or authenticate */
#define OG_ENOKEY (-11)    /* no key with that id / no keys configured */
#define OG_ECONFIG (-12)   /* configuration cannot be understood */
#define OG_ETOOBIG (-13)   /* input over its size cap */
#define OG_EEXPIRED (-14)  /* token or record past its lifetime */
#define OG_ENOSTORE (-15)  /* store folder has no optgate store: run init */
#define OG_ENOSPC (-16)    /* the store's disk is full: nothing written */
#define OG_EKFULL (-17)    /* send counters reached counter_map_size */
#define OG_EREPLACED                                                           \
	(-18)          /* consent replaced under this process, not followed */
#define OG_EDEAD (-19) /* LMDB stopped the environment (MDB_PANIC) */
#define OG_EADDRESS (-20) /* [address] settings are not the store's */
#define OG_EACCES (-21)   /* no permission for what the store's files need */

/*
 * og_strerror - describe an OG_* code (or a positive errno value).
 * Returns a static string; never NULL.
 */
const char *og_strerror(int code);

#endif
