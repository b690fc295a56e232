/*
 * The vDSO parameter page ("[vvar]"): one page of the sentry's memory file, mapped
 * read-only into every address space one page below the vDSO image, and kept current by
 * the sentry (core/kernel/vdso.ts through core/native). Both the vDSO (vdso.c, running in
 * the app) and the sentry (core.cc, for the clock syscalls) read the clocks through
 * tsv_clock_ns() below, so a time read without a trap and a time read through
 * clock_gettime(2) come from the same formula and never disagree.
 *
 * Clock model: CLOCK_MONOTONIC = mono_base_ns + ((tsc - tsc_base) * mult) >> 32, with the
 * TSC read by `rdtsc` in user space (not trapped by ptrace). CLOCK_REALTIME and
 * CLOCK_BOOTTIME add an offset. The page is written under a sequence counter (odd while an
 * update is in progress), as Linux's vvar data is.
 */
#ifndef TSV_VDSO_PARAMS_H
#define TSV_VDSO_PARAMS_H

#include <stdint.h>

#define TSV_VDSO_PARAMS_VERSION 1
/* flags: the clock fields are valid (else every clock call falls back to the syscall). */
#define TSV_VDSO_CLOCK_VALID 1u

struct tsv_vdso_params {
  uint32_t seq;       /* odd while the sentry rewrites the fields below */
  uint32_t flags;     /* TSV_VDSO_CLOCK_VALID */
  uint64_t tsc_base;  /* TSC value at which CLOCK_MONOTONIC was mono_base_ns */
  uint64_t mult;      /* nanoseconds per TSC tick, as a 32.32 fixed-point number */
  int64_t mono_base_ns;
  int64_t realtime_offset_ns; /* CLOCK_REALTIME - CLOCK_MONOTONIC */
  int64_t boottime_offset_ns; /* CLOCK_BOOTTIME - CLOCK_MONOTONIC */
  uint32_t cpu;       /* what getcpu reports (every app thread runs on one host CPU) */
  uint32_t node;
  uint32_t version;   /* TSV_VDSO_PARAMS_VERSION */
  uint32_t pad;
};

/* Offsets of the fields, for the sentry's TypeScript (checked by a static assertion). */
#define TSV_OFF_SEQ 0
#define TSV_OFF_FLAGS 4
#define TSV_OFF_TSC_BASE 8
#define TSV_OFF_MULT 16
#define TSV_OFF_MONO_BASE 24
#define TSV_OFF_RT_OFFSET 32
#define TSV_OFF_BT_OFFSET 40
#define TSV_OFF_CPU 48
#define TSV_OFF_NODE 52
#define TSV_OFF_VERSION 56

enum { TSV_CLK_MONO = 0, TSV_CLK_REAL = 1, TSV_CLK_BOOT = 2 };

static inline __attribute__((always_inline)) uint64_t tsv_rdtsc_ordered(void) {
  uint32_t lo, hi;
  /* lfence keeps the TSC read after the loads of the sequence counter (as rdtsc_ordered). */
  __asm__ __volatile__("lfence\n\trdtsc" : "=a"(lo), "=d"(hi)::"memory");
  return ((uint64_t)hi << 32) | lo;
}

/*
 * Nanoseconds on one of the three base clocks; returns 0 on success, -1 when the page
 * holds no valid clock (the caller then makes the system call).
 */
static inline __attribute__((always_inline)) int
tsv_clock_ns(const struct tsv_vdso_params *p, int which, int64_t *out) {
  for (;;) {
    uint32_t seq = __atomic_load_n(&p->seq, __ATOMIC_ACQUIRE);
    if (seq & 1) {
      __asm__ __volatile__("pause" ::: "memory");
      continue;
    }
    uint32_t flags = __atomic_load_n(&p->flags, __ATOMIC_RELAXED);
    uint64_t base = __atomic_load_n(&p->tsc_base, __ATOMIC_RELAXED);
    uint64_t mult = __atomic_load_n(&p->mult, __ATOMIC_RELAXED);
    int64_t ns = __atomic_load_n(&p->mono_base_ns, __ATOMIC_RELAXED);
    int64_t off = 0;
    if (which == TSV_CLK_REAL) off = __atomic_load_n(&p->realtime_offset_ns, __ATOMIC_RELAXED);
    else if (which == TSV_CLK_BOOT) off = __atomic_load_n(&p->boottime_offset_ns, __ATOMIC_RELAXED);
    uint64_t tsc = tsv_rdtsc_ordered();
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    if (__atomic_load_n(&p->seq, __ATOMIC_RELAXED) != seq) continue;
    if (!(flags & TSV_VDSO_CLOCK_VALID)) return -1;
    /* A TSC read before the base (another CPU's TSC a little behind) counts as the base. */
    uint64_t delta = tsc > base ? tsc - base : 0;
    ns += (int64_t)(((unsigned __int128)delta * mult) >> 32);
    *out = ns + off;
    return 0;
  }
}

#endif
