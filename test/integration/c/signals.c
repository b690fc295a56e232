// Signal handlers with SA_SIGINFO, sigaltstack, masks, a SIGSEGV handler that recovers, SA_RESTART.
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <errno.h>
#include <stdint.h>
#define SHOW(label, expr) do { errno = 0; long _r = (long)(expr); printf("%s: %ld errno=%d\n", label, _r, errno); } while (0)

static volatile sig_atomic_t got;
static volatile int info_code, info_pid_ok, on_alt;
static sigjmp_buf jb;
static char *altstack;
static void *fault_addr;

static void h_info(int sig, siginfo_t *si, void *uc) {
  (void)uc;
  got = sig;
  info_code = si->si_code;
  info_pid_ok = si->si_pid == getpid();
  char here;
  on_alt = (&here >= altstack && &here < altstack + SIGSTKSZ * 4);
}

static void h_segv(int sig, siginfo_t *si, void *uc) {
  (void)uc;
  fault_addr = si->si_addr;
  printf("segv: sig=%d code=%d\n", sig, si->si_code);
  siglongjmp(jb, 1);
}

static void h_alrm(int sig) { got = sig; }

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = h_info;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigaction(SIGUSR1, &sa, NULL);
  altstack = malloc(SIGSTKSZ * 4);
  stack_t ss = {.ss_sp = altstack, .ss_size = SIGSTKSZ * 4, .ss_flags = 0};
  sigaltstack(&ss, NULL);
  kill(getpid(), SIGUSR1);
  printf("usr1: got=%d code=%d pid_ok=%d on_alt=%d\n", got, info_code, info_pid_ok, on_alt);

  // Blocked signals stay pending until unblocked.
  sigset_t set, old;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  sigprocmask(SIG_BLOCK, &set, &old);
  got = 0;
  kill(getpid(), SIGUSR1);
  sigset_t pend;
  sigpending(&pend);
  printf("blocked: got=%d pending=%d\n", got, sigismember(&pend, SIGUSR1));
  sigprocmask(SIG_SETMASK, &old, NULL);
  printf("unblocked: got=%d\n", got);

  // A SIGSEGV handler that recovers via siglongjmp.
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = h_segv;
  sa.sa_flags = SA_SIGINFO | SA_NODEFER;
  sigaction(SIGSEGV, &sa, NULL);
  char *p = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (sigsetjmp(jb, 1) == 0) { p[0] = 1; puts("no fault?"); }
  printf("recovered: addr_ok=%d\n", fault_addr == p);
  if (sigsetjmp(jb, 1) == 0) { *(volatile int *)8 = 1; puts("no fault?"); }
  printf("recovered: addr=%p\n", fault_addr);

  // sigsuspend + alarm.
  signal(SIGALRM, h_alrm);
  got = 0;
  sigemptyset(&set);
  sigaddset(&set, SIGALRM);
  sigprocmask(SIG_BLOCK, &set, &old);
  alarm(1);
  sigset_t wait_set;
  sigemptyset(&wait_set);
  sigsuspend(&wait_set);
  printf("sigsuspend: got=%d\n", got);
  sigprocmask(SIG_SETMASK, &old, NULL);

  // A read interrupted by a handler without SA_RESTART gives EINTR.
  int fds[2];
  pipe(fds);
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = h_alrm;
  sigaction(SIGALRM, &sa, NULL);
  alarm(1);
  char c;
  ssize_t r = read(fds[0], &c, 1);
  printf("eintr: r=%zd errno=%d\n", r, errno);

  // sigtimedwait picks a pending signal.
  sigemptyset(&set);
  sigaddset(&set, SIGUSR2);
  sigprocmask(SIG_BLOCK, &set, NULL);
  kill(getpid(), SIGUSR2);
  siginfo_t si;
  struct timespec ts = {1, 0};
  printf("sigtimedwait: %d code=%d\n", sigtimedwait(&set, &si, &ts), si.si_code);
  ts.tv_sec = 0; ts.tv_nsec = 1000000;
  SHOW("sigtimedwait timeout", sigtimedwait(&set, &si, &ts));
  // SIG_IGN'd signal is discarded; default SIGCHLD ignored.
  signal(SIGUSR2, SIG_IGN);
  sigprocmask(SIG_UNBLOCK, &set, NULL);
  kill(getpid(), SIGUSR2);
  puts("ignored ok");
  // Finally die from SIGABRT with default action.
  signal(SIGABRT, SIG_DFL);
  abort();
}
