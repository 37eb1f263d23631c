/*
 * bench_addr.h - the benchmarks' address function, shared so that a
 * load generator draws recipients from the store og_bench filled.
 * Header-only: each benchmark program is one file.
 */
#ifndef BENCH_ADDR_H
#define BENCH_ADDR_H

#include <stdint.h>
#include <stdio.h>
#include <time.h>

static const char *const bench_first[] = {"ana", "joao", "maria", "jose",
    "carlos", "lucia", "pedro", "sofia", "miguel", "laura", "john", "emma"};
static const char *const bench_domains[] = {"gmail.com", "yahoo.com.br",
    "hotmail.com", "outlook.com", "uol.com.br", "bol.com.br", "terra.com.br",
    "icloud.com", "example.org", "empresa.com.br", "yahoo.es", "live.com"};

/* A 64-bit mixer (MurmurHash3's finaliser): cheap, well spread. */
static inline uint64_t
mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

/* The i-th address, already a match key (lowercase, no dots or tags). */
static inline void
addr(uint64_t i, char *buf, size_t size)
{
	uint64_t h = mix(i + 1);

	snprintf(buf, size, "%s%llu@%s", bench_first[h % 12],
	    (unsigned long long)(i * 7 + h % 7), bench_domains[(h >> 8) % 12]);
}

static inline double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

#endif
