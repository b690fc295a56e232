// Syscall micro-benchmarks. Usage: micro OP ITERATIONS ROUNDS
// Prints one line per round: the mean nanoseconds per operation in that round.
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(int argc, char **argv) {
  if (argc < 4) { fprintf(stderr, "usage: micro getpid|clock|openclose|forkwait|forkexec|pipe N ROUNDS\n"); return 2; }
  const char *op = argv[1];
  long n = atol(argv[2]), rounds = atol(argv[3]);
  const char *file = "/etc/hostname";
  int p1[2], p2[2];
  if (!strcmp(op, "pipe")) {
    pipe(p1); pipe(p2);
    if (fork() == 0) {
      char c;
      close(p1[1]);  // so the read sees EOF when the parent exits (no orphan left behind)
      close(p2[0]);
      while (read(p1[0], &c, 1) == 1) write(p2[1], &c, 1);
      _exit(0);
    }
  }
  for (long r = 0; r < rounds; r++) {
    long long t0 = now_ns();
    for (long i = 0; i < n; i++) {
      if (!strcmp(op, "getpid")) syscall(SYS_getpid);
      else if (!strcmp(op, "clock")) { struct timespec ts; clock_gettime(CLOCK_MONOTONIC, &ts); }
      else if (!strcmp(op, "openclose")) close(open(file, O_RDONLY));
      else if (!strcmp(op, "forkwait")) { pid_t p = fork(); if (!p) _exit(0); waitpid(p, NULL, 0); }
      else if (!strcmp(op, "forkexec")) { pid_t p = fork(); if (!p) { execl("/bin/true", "true", (char *)0); _exit(127); } waitpid(p, NULL, 0); }
      else if (!strcmp(op, "pipe")) { char c = 'x'; write(p1[1], &c, 1); read(p2[0], &c, 1); }
    }
    long long t1 = now_ns();
    printf("%.1f\n", (double)(t1 - t0) / n);
  }
  return 0;
}
