// SPDX-License-Identifier: GPL-2.0-only
/*
 * cpubench: a fixed CPU-bound job for bench/cpu, run the same way on the host and in guests:
 * compress a buffer of MiB mebibytes (deterministic, half-compressible data made once,
 * unmeasured) with zlib at level 6, ROUNDS times, and print the time it took.
 *     cpubench [MIB [ROUNDS]]          (default 64 MiB, 1 round)
 * Prints "cpubench: mib=M rounds=R secs=S mibps=X" (CLOCK_MONOTONIC around the compression).
 * Single-threaded.  Built static (gcc -static -O2 ... -lz) so the guest needs nothing.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <zlib.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	unsigned long mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 64;
	unsigned long rounds = argc > 2 ? strtoul(argv[2], NULL, 10) : 1;
	size_t len = (size_t)mib << 20;
	uLong bound = compressBound((uLong)len);
	unsigned char *in = malloc(len), *out = malloc(bound);
	uint64_t x = 88172645463325252ULL;
	double t0, secs;

	if (!mib || !rounds || !in || !out) {
		fprintf(stderr, "usage: cpubench [MIB [ROUNDS]] (out of memory?)\n");
		return 2;
	}
	/* xorshift64, folded onto 16 letters: about half compressible, the same everywhere. */
	for (size_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		in[i] = (unsigned char)('a' + (x & 15));
	}
	t0 = now();
	for (unsigned long r = 0; r < rounds; r++) {
		uLongf n = bound;

		if (compress2(out, &n, in, (uLong)len, 6) != Z_OK) {
			fprintf(stderr, "cpubench: compress2 failed\n");
			return 1;
		}
	}
	secs = now() - t0;
	printf("cpubench: mib=%lu rounds=%lu secs=%.3f mibps=%.2f\n", mib, rounds, secs,
	       (double)mib * (double)rounds / secs);
	return 0;
}
