// A program with 8 MiB of read-only data in its image. `bigtext N` execs itself N times
// concurrently, each copy touching every page of that data, and prints how much MemFree
// dropped meanwhile: the read-only segment is the file's pages, so N copies cost one.
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define BIG (8 << 20)
static const unsigned char big[BIG] = {1, 2, 3, 4, 5, 6, 7, 8, [BIG - 1] = 9};

static long memfree_kb(void) {
  FILE *m = fopen("/proc/meminfo", "r");
  char line[256];
  long kb = -1;
  while (m && fgets(line, sizeof line, m))
    if (sscanf(line, "MemFree: %ld kB", &kb) == 1) break;
  if (m) fclose(m);
  return kb;
}

int main(int argc, char **argv) {
  if (argc == 3 && !strcmp(argv[1], "child")) {
    long sum = 0;
    for (long o = 0; o < BIG; o += 4096) sum += big[o];
    int fd = atoi(argv[2]);
    if (write(fd, "r", 1) != 1) return 1;
    pause();
    return sum == 42;
  }
  int n = argc > 1 ? atoi(argv[1]) : 4;
  int ready[2];
  if (pipe(ready)) return 2;
  char fdarg[16];
  snprintf(fdarg, sizeof fdarg, "%d", ready[1]);
  long before = memfree_kb();
  pid_t kids[64];
  for (int i = 0; i < n && i < 64; i++) {
    kids[i] = fork();
    if (kids[i] == 0) {
      execl("/proc/self/exe", argv[0], "child", fdarg, (char *)0);
      _exit(127);
    }
  }
  char c;
  for (int i = 0; i < n; i++)
    if (read(ready[0], &c, 1) != 1) return 3;
  long after = memfree_kb();
  printf("memfree drop MB: %ld\n", (before - after) / 1024);
  for (int i = 0; i < n; i++) kill(kids[i], SIGKILL);
  while (wait(0) > 0) {
  }
  return 0;
}
