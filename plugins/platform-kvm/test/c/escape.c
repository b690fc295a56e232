/* App code trying to leave its box: touching the doorbell page (the top user page,
 * unmapped natively too), kernel memory, privileged instructions, a call into kernel
 * memory. Each gives the app a SIGSEGV at the right address, as natively; the sentry and
 * the app live on. */
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

static sigjmp_buf jb;
static volatile void *addr;
static volatile int signo;

static void h(int s, siginfo_t *si, void *u) {
  (void)u;
  signo = s;
  addr = si->si_addr;
  siglongjmp(jb, 1);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = h;
  sa.sa_flags = SA_SIGINFO | SA_NODEFER;
  sigaction(SIGSEGV, &sa, 0);
  sigaction(SIGILL, &sa, 0);
  sigaction(SIGBUS, &sa, 0);
  volatile long *where[] = {(long *)0x7ffffffff000, (long *)0x7ffffffff800, (long *)0xffffc90000001000};
  for (int i = 0; i < 3; i++) {
    if (sigsetjmp(jb, 1) == 0) printf("read %p: ok %lx\n", (void *)where[i], *where[i]);
    else printf("read %p: signal %d addr=%p\n", (void *)where[i], signo, addr);
    if (sigsetjmp(jb, 1) == 0) { *where[i] = 1; printf("write %p: ok\n", (void *)where[i]); }
    else printf("write %p: signal %d addr=%p\n", (void *)where[i], signo, addr);
  }
  if (sigsetjmp(jb, 1) == 0) { __asm__ volatile("hlt"); puts("hlt: ok"); }
  else printf("hlt: signal %d\n", signo);
  if (sigsetjmp(jb, 1) == 0) { __asm__ volatile("cli"); puts("cli: ok"); }
  else printf("cli: signal %d\n", signo);
  if (sigsetjmp(jb, 1) == 0) { ((void (*)(void))0xffffc90000001000)(); puts("call: ok"); }
  else printf("call kernel: signal %d addr=%p\n", signo, addr);
  puts("alive");
  return 0;
}
