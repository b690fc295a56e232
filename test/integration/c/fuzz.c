// Syscall fuzzer, run ONLY inside the sandbox: fuzz SEED TOTAL DIR
// Forks workers that issue random syscalls with random arguments (small numbers, -1,
// random 64-bit values, pointers to buffers, to path strings under DIR and elsewhere,
// to unmapped and kernel addresses). A worker that dies or hangs is replaced. Prints
// "fuzz done: N syscalls, W workers, D deaths" when TOTAL syscalls were issued.
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static uint64_t state;
static uint64_t next(void) {
  state ^= state << 13;
  state ^= state >> 7;
  state ^= state << 17;
  return state;
}

// Calls that would end or stall the whole run rather than test the sentry: process
// creation (fork bombs), signals to other processes, waiting forever for a signal.
static int blocked(long nr) {
  switch (nr) {
    case SYS_exit: case SYS_exit_group: case SYS_kill: case SYS_tkill: case SYS_tgkill:
    case SYS_fork: case SYS_vfork: case SYS_clone: case SYS_clone3: case SYS_pause:
    case SYS_rt_sigsuspend: case SYS_rt_sigreturn: case SYS_execve: case SYS_execveat:
    case SYS_setsid: case SYS_setpgid: case SYS_rt_sigqueueinfo: case SYS_rt_tgsigqueueinfo:
      return 1;
  }
  return 0;
}

static char *paths[16];
static char *bufs[4];

static long arg(void) {
  switch (next() % 12) {
    case 0: return (long)(next() % 64);
    case 1: return -1;
    case 2: return (long)next();
    case 3: return (long)bufs[next() % 4];
    case 4: return (long)paths[next() % 16];
    case 5: return 0;
    case 6: return (long)0xffffffffff600000UL;
    case 7: return (long)0x10;
    case 8: return (long)(next() % 4096);
    case 9: return (long)(bufs[next() % 4] + (next() % 4096));
    case 10: return (long)(1UL << (next() % 63));
    default: return (long)(next() % 3);
  }
}

int main(int argc, char **argv) {
  if (argc < 4) return 2;
  uint64_t seed = strtoull(argv[1], 0, 10);
  long total = atol(argv[2]);
  const char *dir = argv[3];
  const char *names[] = {"canary", "sub", "sub/inner", "newfile", "", ".", "..", "canary/x"};
  for (int i = 0; i < 8; i++) {
    paths[i] = malloc(512);
    snprintf(paths[i], 512, "%s/%s", dir, names[i]);
  }
  const char *others[] = {"/tmp", "/etc/passwd", "/", "/proc/self/mem", "/dev/null", "relative", "/proc/1/fd/0", "/nonexistent/a/b"};
  for (int i = 0; i < 8; i++) paths[8 + i] = (char *)others[i];
  for (int i = 0; i < 4; i++) {
    bufs[i] = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  }
  long *done = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  long workers = 0, deaths = 0;
  signal(SIGPIPE, SIG_IGN);
  while (*done < total) {
    workers++;
    uint64_t wseed = seed * 1000003 + (uint64_t)workers;
    pid_t c = fork();
    if (c < 0) return 3;
    if (c == 0) {
      state = wseed | 1;
      for (long i = 0; i < 2000 && *done < total; i++) {
        long nr = (long)(next() % 463);
        if (blocked(nr)) continue;
        __atomic_add_fetch(done, 1, __ATOMIC_SEQ_CST);
        syscall(nr, arg(), arg(), arg(), arg(), arg(), arg());
      }
      _exit(0);
    }
    int st = 0;
    struct timespec ts = {0, 5000000};
    int waited = 0;
    for (;;) {
      pid_t r = waitpid(c, &st, WNOHANG);
      if (r == c) break;
      if (r < 0) break;
      nanosleep(&ts, NULL);
      if (++waited > 60) { // ~300 ms: a worker stuck in a blocking call is replaced
        kill(c, SIGKILL);
        waitpid(c, &st, 0);
        break;
      }
    }
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) deaths++;
    // Reap anything a worker left behind (it cannot fork, but be safe).
    while (waitpid(-1, NULL, WNOHANG) > 0) {}
  }
  printf("fuzz done: %ld syscalls, %ld workers, %ld deaths\n", *done, workers, deaths);
  return 0;
}
