/*
 * mmap of a file in a layer image (plugins/fs-containerfs/test/mmap.test.ts), compared with
 * the same program natively.
 *
 *   mapshare content FILE   private read-only mappings: whole file, at an offset, the zero
 *                           tail of the last page, SIGBUS past it, write(2) from the mapping,
 *                           mprotect to writable + write (a private copy: the file and a new
 *                           mapping keep their bytes), MAP_SHARED read-only
 *   mapshare share FILE N   N processes map FILE private read-only and read every byte; when
 *                           all have, print "ready" and wait for a line on stdin
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static unsigned long long sum(const unsigned char *p, size_t n) {
  unsigned long long s = 1469598103934665603ULL;
  for (size_t i = 0; i < n; i++) s = (s ^ p[i]) * 1099511628211ULL;
  return s;
}

static sigjmp_buf jb;
static void onbus(int sig) { siglongjmp(jb, sig); }

static unsigned char *map(const char *f, size_t len, int prot, int flags, off_t off) {
  int fd = open(f, O_RDONLY);
  if (fd < 0) { perror("open"); exit(1); }
  unsigned char *m = mmap(0, len, prot, flags, fd, off);
  if (m == MAP_FAILED) { perror("mmap"); exit(1); }
  close(fd);
  return m;
}

static int content(const char *f) {
  struct stat st;
  if (stat(f, &st)) { perror("stat"); return 1; }
  size_t size = st.st_size, page = 4096, pages = (size + page - 1) / page;
  unsigned char *m = map(f, size, PROT_READ, MAP_PRIVATE, 0);
  printf("whole %zu %llu\n", size, sum(m, size));
  unsigned char *o = map(f, 10000, PROT_READ, MAP_PRIVATE, 3 * page);
  printf("offset %llu same %d\n", sum(o, 10000), memcmp(o, m + 3 * page, 10000) == 0);
  /* The rest of the last page reads as zeros; the page after it raises SIGBUS. */
  unsigned char *big = map(f, (pages + 2) * page, PROT_READ, MAP_PRIVATE, 0);
  int zeros = 1;
  for (size_t i = size; i < pages * page; i++) zeros &= big[i] == 0;
  printf("tail zeros %d (%zu bytes)\n", zeros, pages * page - size);
  signal(SIGBUS, onbus);
  volatile unsigned char c = 0;
  int sig = sigsetjmp(jb, 1);
  if (sig == 0) c = big[pages * page + 5];
  printf("past last page: signal %d %d\n", sig, c);
  /* The kernel reads the mapping (write(2) from it into a pipe). */
  int p[2];
  if (pipe(p)) return 1;
  unsigned char back[3000];
  if (write(p[1], m + size - 3000, 3000) != 3000) { perror("write"); return 1; }
  if (read(p[0], back, 3000) != 3000) { perror("read"); return 1; }
  printf("pipe same %d\n", memcmp(back, m + size - 3000, 3000) == 0);
  /* Writable: a private copy. */
  if (mprotect(o, 10000, PROT_READ | PROT_WRITE)) { perror("mprotect"); return 1; }
  memset(o + 100, 0x5a, 50);
  printf("written %llu\n", sum(o, 10000));
  unsigned char *again = map(f, size, PROT_READ, MAP_PRIVATE, 0);
  printf("fresh %llu first %llu\n", sum(again, size), sum(m, size));
  unsigned char *sh = map(f, size, PROT_READ, MAP_SHARED, 0);
  printf("shared %llu\n", sum(sh, size));
  munmap(m, size);
  munmap(o, 10000);
  munmap(big, (pages + 2) * page);
  munmap(again, size);
  munmap(sh, size);
  return 0;
}

static int share(const char *f, int n) {
  int go[2], ready[2];
  if (pipe(go) || pipe(ready)) return 1;
  for (int i = 0; i < n; i++) {
    if (fork() == 0) {
      struct stat st;
      if (stat(f, &st)) _exit(1);
      unsigned char *m = map(f, st.st_size, PROT_READ, MAP_PRIVATE, 0);
      printf("child %llu\n", sum(m, st.st_size));
      fflush(stdout);
      char c;
      if (write(ready[1], "r", 1) != 1 || read(go[0], &c, 1) != 1) _exit(1);
      _exit(0);
    }
  }
  char c;
  for (int i = 0; i < n; i++)
    if (read(ready[0], &c, 1) != 1) return 1;
  printf("ready\n");
  fflush(stdout);
  char line[16];
  if (!fgets(line, sizeof line, stdin)) return 1;
  for (int i = 0; i < n; i++)
    if (write(go[1], "g", 1) != 1) return 1;
  int bad = 0, st;
  while (wait(&st) > 0) bad |= !WIFEXITED(st) || WEXITSTATUS(st);
  printf("done %d\n", bad);
  return bad;
}

int main(int argc, char **argv) {
  if (argc >= 3 && !strcmp(argv[1], "content")) return content(argv[2]);
  if (argc >= 4 && !strcmp(argv[1], "share")) return share(argv[2], atoi(argv[3]));
  fprintf(stderr, "usage: mapshare content FILE | share FILE N\n");
  return 2;
}
