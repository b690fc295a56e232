// fork's copy-on-write, compared with Linux: parent and child each see their own writes and
// the other's pre-fork values, across generations, through the kernel's own writes (read(2)
// into fork-shared memory), after threads have come and gone (their stacks, RELRO data),
// and after the other side exits. `forkcow share N` (sandbox memory accounting): N children
// of a process with 64 MiB of touched heap hold it without copying until they write.
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define HEAP (64 << 20)
static unsigned char *heap;
static int data_var = 11;
static int bss_var;

static long memfree_kb(void) {
  FILE *m = fopen("/proc/meminfo", "r");
  char line[256];
  long kb = -1;
  while (m && fgets(line, sizeof line, m))
    if (sscanf(line, "MemFree: %ld kB", &kb) == 1) break;
  if (m) fclose(m);
  return kb;
}

static long checksum(void) {
  long s = 0;
  for (long i = 0; i < HEAP; i += 4096) s += heap[i];
  return s;
}

static void *worker(void *arg) {
  long *out = arg;
  for (long i = 0; i < HEAP; i += 8192) heap[i] = 3;
  *out = checksum();
  return 0;
}

static int share(int n) {
  long before = memfree_kb();
  int ready[2];
  if (pipe(ready)) return 4;
  pid_t kids[32];
  for (int i = 0; i < n && i < 32; i++) {
    kids[i] = fork();
    if (kids[i] == 0) {
      long s = checksum(); // reads only
      if (write(ready[1], "r", 1) != 1) _exit(5);
      pause();
      _exit(s == 42);
    }
  }
  char c;
  for (int i = 0; i < n; i++)
    if (read(ready[0], &c, 1) != 1) return 6;
  printf("memfree drop MB: %ld\n", (before - memfree_kb()) / 1024);
  for (int i = 0; i < n; i++) kill(kids[i], 9);
  while (wait(0) > 0) {
  }
  return 0;
}

int main(int argc, char **argv) {
  setvbuf(stdout, 0, _IONBF, 0);
  heap = malloc(HEAP);
  memset(heap, 1, HEAP);
  if (argc == 3 && !strcmp(argv[1], "share")) return share(atoi(argv[2]));

  // Threads first: their stacks and the RELRO/GOT pages stay in use after they are gone.
  pthread_t th[3];
  long sums[3];
  for (int i = 0; i < 3; i++) pthread_create(&th[i], 0, worker, &sums[i]);
  for (int i = 0; i < 3; i++) pthread_join(th[i], 0);
  long base = checksum();
  printf("after threads: checksum %ld\n", base);

  int go[2], back[2];
  if (pipe(go) || pipe(back)) return 1;
  pid_t p = fork();
  if (p == 0) {
    char c;
    if (read(go[0], &c, 1) != 1) _exit(2);
    // The parent wrote after the fork: this side still sees the values at the fork.
    int ok = checksum() == base && data_var == 11 && bss_var == 0;
    // The kernel writes into fork-shared memory (read into the heap).
    if (write(back[1], "kernel", 6) != 6) _exit(3);
    heap[HEAP / 2] = 9;
    data_var = 22;
    bss_var = 33;
    // A grandchild sees the child's values, and its own writes stay its own.
    pid_t g = fork();
    if (g == 0) _exit(heap[HEAP / 2] == 9 && data_var == 22 && bss_var == 33 ? (heap[0] = 7, 0) : 1);
    int gs;
    waitpid(g, &gs, 0);
    ok = ok && WIFEXITED(gs) && WEXITSTATUS(gs) == 0 && heap[0] == 3;
    _exit(ok ? 0 : 1);
  }
  // Parent writes after the fork, everywhere.
  for (long i = 0; i < HEAP; i += 4096) heap[i] = 5;
  data_var = 44;
  bss_var = 55;
  if (write(go[1], "x", 1) != 1) return 1;
  if (read(back[0], heap + 100, 6) != 6) return 1;
  int st;
  waitpid(p, &st, 0);
  printf("child saw the fork-time values and kept its writes: %d\n", WIFEXITED(st) && WEXITSTATUS(st) == 0);
  printf("parent keeps its own: heap %d data %d bss %d kernel write \"%.6s\" rest %d\n", heap[HEAP / 2], data_var,
         bss_var, heap + 100, heap[4096]);

  // Many short children that write; the parent's memory is untouched by them.
  for (int k = 0; k < 20; k++) {
    p = fork();
    if (p == 0) {
      memset(heap + k * 65536, 0xee, 65536);
      _exit(0);
    }
    waitpid(p, &st, 0);
  }
  printf("after 20 writing children, the parent's heap is unchanged: %d\n", checksum() == (long)5 * (HEAP / 4096));
  printf("heap[0]=%d data=%d bss=%d\n", heap[0], data_var, bss_var);

  // The child is gone before anyone writes: the kernel's write (read(2)) and then the
  // app's own write to the same pages, which were read-only while shared.
  p = fork();
  if (p == 0) _exit(0);
  waitpid(p, &st, 0);
  if (write(go[1], "after", 5) != 5 || read(go[0], heap + 3 * 65536 + 8, 5) != 5) return 1;
  heap[3 * 65536 + 100] = 42;
  bss_var++;
  printf("kernel then app write after the child left: \"%.5s\" %d %d\n", heap + 3 * 65536 + 8,
         heap[3 * 65536 + 100], bss_var);
  return 0;
}
