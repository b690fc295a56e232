/* execve starts the new program with the initial FPU/SSE state (MXCSR 0x1f80, FCW 0x37f),
 * whatever the old program left; and a signal handler's FPU changes do not leak back. */
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

static unsigned mxcsr(void) { unsigned v; __asm__ volatile("stmxcsr %0" : "=m"(v)); return v; }
static unsigned short fcw(void) { unsigned short v; __asm__ volatile("fnstcw %0" : "=m"(v)); return v; }

static void handler(int sig) {
  (void)sig;
  unsigned v = 0x7f80; /* flush-to-zero: must not survive the handler */
  __asm__ volatile("ldmxcsr %0" : : "m"(v));
}

int main(int argc, char **argv) {
  if (argc > 1) {
    printf("after exec: mxcsr=%#x fcw=%#x\n", mxcsr(), fcw());
    return 0;
  }
  unsigned v = 0x3f80; /* round toward zero */
  unsigned short c = 0x27f;
  __asm__ volatile("ldmxcsr %0" : : "m"(v));
  __asm__ volatile("fldcw %0" : : "m"(c));
  signal(SIGUSR1, handler);
  raise(SIGUSR1);
  printf("before exec: mxcsr=%#x fcw=%#x\n", mxcsr(), fcw());
  fflush(stdout);
  execl(argv[0], argv[0], "child", (char *)0);
  perror("execl");
  return 1;
}
