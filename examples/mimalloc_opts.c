/*
 * examples/mimalloc_opts.c - mimalloc's options for ringo's executables.
 *
 * Linked into every executable that links mimalloc (CMake's
 * ringo_executable), never into the library, which never links mimalloc.
 * By default mimalloc gives pages that fall free back to the kernel 25 ms
 * later (decommit_delay) and faults them in again when they are needed. A
 * TLS handshake allocates and frees tens of KiB inside OpenSSL (record
 * buffers, the handshake buffer, key shares, hash contexts), so a stream of
 * new connections keeps returning and refaulting the same pages: a quarter
 * of the CPU of a full handshake (docs/benchmarks.md, TLS and HTTP/2). One
 * second keeps them for the next connections and still returns what a burst
 * left behind. The environment (MIMALLOC_DECOMMIT_DELAY, or its old name
 * MIMALLOC_RESET_DELAY) wins.
 */
#include <mimalloc.h>
#include <stdlib.h>

#define DECOMMIT_DELAY_MS 1000

__attribute__((constructor)) static void ringo_mimalloc_options(void)
{
    if (!getenv("MIMALLOC_DECOMMIT_DELAY") && !getenv("MIMALLOC_RESET_DELAY"))
        mi_option_set(mi_option_decommit_delay, DECOMMIT_DELAY_MS);
}
