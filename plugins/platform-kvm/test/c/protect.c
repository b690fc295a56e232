/* mprotect / munmap / mmap-over must take effect at once: the next access faults (or
 * sees the new page). Under kvm_pvm's shadow paging a host-side page-table edit would
 * leave the old translation live; this program notices. Also: a page touched by a
 * sibling thread, fork's copy, FPU/SSE registers across a signal handler and a syscall. */
#define _GNU_SOURCE
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

static sigjmp_buf jb;
static volatile void *fault_addr;
static volatile int fault_code;

static void on_segv(int sig, siginfo_t *si, void *uc) {
  (void)sig;
  (void)uc;
  fault_addr = si->si_addr;
  fault_code = si->si_code;
  siglongjmp(jb, 1);
}

/* 1 if writing/reading p faults (and reports p), else 0. */
static int faults(volatile char *p, int write) {
  fault_addr = 0;
  if (sigsetjmp(jb, 1) == 0) {
    if (write) *p = 7;
    else (void)*p;
    return 0;
  }
  return fault_addr == p ? 1 : -1;
}

static void *toucher(void *arg) {
  volatile char *p = arg;
  return (void *)(long)faults(p, 0);
}

static volatile double fp_in_handler;
static void on_usr1(int sig) {
  (void)sig;
  /* Clobber SSE registers in the handler; the interrupted code must not notice. */
  volatile double x = 3.25;
  for (int i = 0; i < 10; i++) x = x * 1.5 + 0.125;
  fp_in_handler = x;
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_segv;
  sa.sa_flags = SA_SIGINFO | SA_NODEFER;
  sigaction(SIGSEGV, &sa, NULL);

  long pg = sysconf(_SC_PAGESIZE);
  char *p = mmap(NULL, 16 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  for (int i = 0; i < 16; i++) p[i * pg] = (char)i; /* every page present, writable */

  /* Present, writable -> read-only: the next write faults, reads still work. */
  mprotect(p, 4 * pg, PROT_READ);
  int w = faults(p + pg, 1), wc = fault_code, r = faults(p + pg, 0);
  printf("ro: write faults=%d code=%d read faults=%d value=%d\n", w, wc, r, p[pg]);
  /* Back to writable. */
  mprotect(p, 4 * pg, PROT_READ | PROT_WRITE);
  printf("rw again: write faults=%d\n", faults(p + 2 * pg, 1));
  /* PROT_NONE: even a read faults; then restored with the data intact. */
  mprotect(p + 4 * pg, pg, PROT_NONE);
  r = faults(p + 4 * pg, 0);
  printf("none: read faults=%d code=%d\n", r, fault_code);
  mprotect(p + 4 * pg, pg, PROT_READ);
  printf("restored: value=%d\n", p[4 * pg]);
  /* munmap: the next access faults with SEGV_MAPERR. */
  munmap(p + 8 * pg, 2 * pg);
  r = faults(p + 9 * pg, 0);
  printf("unmapped: read faults=%d code=%d neighbour=%d\n", r, fault_code, p[10 * pg]);
  /* mmap MAP_FIXED over a present page: the new (zero) page is seen at once. */
  char *q = mmap(p + 12 * pg, pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
  printf("fixed remap: same=%d value=%d\n", q == p + 12 * pg, q[0]);
  /* A sibling thread sees a protection change made by this thread. */
  mprotect(p + 13 * pg, pg, PROT_NONE);
  pthread_t t;
  void *res;
  pthread_create(&t, NULL, toucher, p + 13 * pg);
  pthread_join(t, &res);
  printf("thread after PROT_NONE: read faults=%ld\n", (long)res);
  /* fork: the child's writes stay in the child. */
  p[14 * pg] = 42;
  pid_t c = fork();
  if (c == 0) {
    p[14 * pg] = 99;
    _exit(p[14 * pg] == 99 ? 0 : 1);
  }
  int st;
  waitpid(c, &st, 0);
  printf("fork: child=%d parent sees %d\n", WEXITSTATUS(st), p[14 * pg]);
  /* SSE state across a signal handler and system calls. */
  signal(SIGUSR1, on_usr1);
  volatile double a = 1.0 / 3.0, b = 0;
  kill(getpid(), SIGUSR1);
  for (int i = 0; i < 100; i++) b += a * getpid() / getpid();
  printf("fpu: %.12f handler=%.3f\n", b, fp_in_handler);
  /* Large ranges (hundreds of pages in one page table): mprotect/munmap still exact. */
  size_t mid = 300 * (size_t)pg;
  char *z = mmap(NULL, mid, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  for (size_t i = 0; i < mid; i += pg) z[i] = 1;
  mprotect(z, mid, PROT_READ);
  int wf = 0;
  for (size_t i = 0; i < mid; i += 37 * pg) wf += faults(z + i, 1);
  mprotect(z, mid, PROT_READ | PROT_WRITE);
  int wf2 = 0;
  for (size_t i = 0; i < mid; i += 37 * pg) wf2 += faults(z + i, 1);
  munmap(z + pg, mid - 2 * pg);
  int rf = 0;
  for (size_t i = pg; i < mid - pg; i += 37 * pg) rf += faults(z + i, 0);
  printf("large: ro write faults=%d rw write faults=%d unmapped read faults=%d ends=%d,%d\n", wf, wf2, rf, z[0],
         z[mid - pg]);
  /* Many demand faults. */
  size_t big = 2048 * (size_t)pg;
  char *m = mmap(NULL, big, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  long sum = 0;
  for (size_t i = 0; i < big; i += pg) m[i] = (char)(i / pg);
  for (size_t i = 0; i < big; i += pg) sum += m[i];
  munmap(m, big);
  r = faults(m + 5 * pg, 0);
  printf("demand: sum=%ld after munmap faults=%d code=%d\n", sum, r, fault_code);
  return 0;
}
