/*
 * tsvisor's vDSO: clock_gettime, gettimeofday, time, clock_getres and getcpu answered in
 * the app, without a system call, from the parameter page the sentry maps one page below
 * this image (params.h). Built at install time by scripts/build-native.js with vdso.lds:
 * position independent, no relocations, no data, symbols versioned LINUX_2.6 as glibc
 * expects of Linux's x86-64 vDSO. Anything this code cannot answer (other clocks, a page
 * without a valid clock) is passed to the sentry with the `syscall` instruction.
 */
#include "params.h"

#include <stddef.h>

struct tsv_timespec { int64_t tv_sec; int64_t tv_nsec; };
struct tsv_timeval { int64_t tv_sec; int64_t tv_usec; };
struct tsv_timezone { int32_t tz_minuteswest; int32_t tz_dsttime; };

#define NR_gettimeofday 96
#define NR_time 201
#define NR_clock_gettime 228
#define NR_clock_getres 229
#define NR_getcpu 309

extern const char __ehdr_start[] __attribute__((visibility("hidden")));

static inline const struct tsv_vdso_params *params(void) {
  /* The parameter page sits one page below this image's ELF header. */
  uintptr_t base = (uintptr_t)__ehdr_start;
  return (const struct tsv_vdso_params *)(base - 4096);
}

static inline long sys3(long nr, long a, long b, long c) {
  long ret;
  __asm__ __volatile__("syscall"
                       : "=a"(ret)
                       : "0"(nr), "D"(a), "S"(b), "d"(c)
                       : "rcx", "r11", "memory");
  return ret;
}

/* The clock ids served here and the base clock each reads; -1 = ask the sentry. */
static inline int base_clock(int clk) {
  switch (clk) {
  case 0:  /* CLOCK_REALTIME */
  case 5:  /* CLOCK_REALTIME_COARSE */
  case 11: /* CLOCK_TAI (the sandbox keeps no TAI offset) */
    return TSV_CLK_REAL;
  case 1:  /* CLOCK_MONOTONIC */
  case 4:  /* CLOCK_MONOTONIC_RAW */
  case 6:  /* CLOCK_MONOTONIC_COARSE */
    return TSV_CLK_MONO;
  case 7:  /* CLOCK_BOOTTIME */
    return TSV_CLK_BOOT;
  default:
    return -1;
  }
}

int __vdso_clock_gettime(int clk, struct tsv_timespec *ts) {
  int which = base_clock(clk);
  int64_t ns;
  if (which < 0 || tsv_clock_ns(params(), which, &ns) < 0)
    return (int)sys3(NR_clock_gettime, clk, (long)ts, 0);
  ts->tv_sec = ns / 1000000000;
  ts->tv_nsec = ns % 1000000000;
  return 0;
}

int __vdso_gettimeofday(struct tsv_timeval *tv, struct tsv_timezone *tz) {
  int64_t ns;
  if (tsv_clock_ns(params(), TSV_CLK_REAL, &ns) < 0)
    return (int)sys3(NR_gettimeofday, (long)tv, (long)tz, 0);
  if (tv) {
    tv->tv_sec = ns / 1000000000;
    tv->tv_usec = (ns % 1000000000) / 1000;
  }
  if (tz) {
    tz->tz_minuteswest = 0;
    tz->tz_dsttime = 0;
  }
  return 0;
}

int64_t __vdso_time(int64_t *t) {
  int64_t ns;
  if (tsv_clock_ns(params(), TSV_CLK_REAL, &ns) < 0) return sys3(NR_time, (long)t, 0, 0);
  int64_t s = ns / 1000000000;
  if (t) *t = s;
  return s;
}

int __vdso_clock_getres(int clk, struct tsv_timespec *res) {
  if (base_clock(clk) < 0 || !(params()->flags & TSV_VDSO_CLOCK_VALID))
    return (int)sys3(NR_clock_getres, clk, (long)res, 0);
  if (res) {
    /* As the sentry's clock_getres: the coarse clocks tick at 4 ms, the others at 1 ns. */
    res->tv_sec = 0;
    res->tv_nsec = (clk == 5 || clk == 6) ? 4000000 : 1;
  }
  return 0;
}

long __vdso_getcpu(unsigned *cpu, unsigned *node, void *unused) {
  (void)unused;
  const struct tsv_vdso_params *p = params();
  if (p->version != TSV_VDSO_PARAMS_VERSION) return sys3(NR_getcpu, (long)cpu, (long)node, 0);
  if (cpu) *cpu = __atomic_load_n(&p->cpu, __ATOMIC_RELAXED);
  if (node) *node = __atomic_load_n(&p->node, __ATOMIC_RELAXED);
  return 0;
}

/* The unprefixed names Linux's vDSO also exports. */
int clock_gettime(int, struct tsv_timespec *) __attribute__((weak, alias("__vdso_clock_gettime")));
int gettimeofday(struct tsv_timeval *, struct tsv_timezone *)
    __attribute__((weak, alias("__vdso_gettimeofday")));
int64_t time(int64_t *) __attribute__((weak, alias("__vdso_time")));
int clock_getres(int, struct tsv_timespec *) __attribute__((weak, alias("__vdso_clock_getres")));
long getcpu(unsigned *, unsigned *, void *) __attribute__((weak, alias("__vdso_getcpu")));
