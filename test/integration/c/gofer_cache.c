/* Page cache of the 9p client (test/integration/gofer-9p-cache.test.ts).
 *   gofer_cache read FILE N   read FILE whole N times (open, read, close), print a checksum
 *   gofer_cache rw DIR        cached writes: read back, mmap, O_APPEND, holes, ftruncate,
 *                             O_TRUNC, a file past the dirty bound; prints what it sees
 *   gofer_cache kill DIR      writes a, fsyncs it, writes c + syncfs, d + sync, writes b,
 *                             says "ready", waits 3 s (the test
 *                             kills the gofer), closes both and prints close's results
 * Run natively and in the sandbox; outputs are compared. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static void die(const char *what) {
  printf("%s: %s\n", what, strerror(errno));
  exit(1);
}

static unsigned long sum(const unsigned char *p, size_t n) {
  unsigned long h = 5381;
  for (size_t i = 0; i < n; i++) h = h * 33 + p[i];
  return h;
}

static void path(char *out, const char *dir, const char *name) {
  snprintf(out, 4096, "%s/%s", dir, name);
}

static long fsize(int fd) {
  struct stat st;
  if (fstat(fd, &st) < 0) die("fstat");
  return (long)st.st_size;
}

static void show(const char *what, int fd, off_t off, size_t n) {
  unsigned char buf[64];
  ssize_t r = pread(fd, buf, n, off);
  printf("%s @%ld:", what, (long)off);
  for (ssize_t i = 0; i < r; i++) printf(" %02x", buf[i]);
  printf(" (%zd)\n", r);
}

static int do_read(const char *file, int times) {
  static unsigned char buf[1 << 16];
  for (int t = 0; t < times; t++) {
    int fd = open(file, O_RDONLY);
    if (fd < 0) die("open");
    unsigned long h = 5381;
    long total = 0;
    ssize_t r;
    while ((r = read(fd, buf, sizeof buf)) > 0) {
      h = h * 31 + sum(buf, r);
      total += r;
    }
    if (r < 0) die("read");
    close(fd);
    printf("pass %d: %ld bytes, sum %lx\n", t, total, h);
  }
  return 0;
}

static int do_rw(const char *dir) {
  char p[4096];
  static unsigned char big[300000];
  for (size_t i = 0; i < sizeof big; i++) big[i] = (unsigned char)(i * 7 + i / 251);

  /* Written, not fsynced: read back through another fd, fstat, stat, mmap. */
  path(p, dir, "f");
  int fd = open(p, O_CREAT | O_RDWR, 0644);
  if (fd < 0) die("open f");
  if (write(fd, big, 100000) != 100000) die("write f");
  int fd2 = open(p, O_RDONLY);
  if (fd2 < 0) die("open f ro");
  static unsigned char back[300000];
  ssize_t r = read(fd2, back, sizeof back);
  printf("read back %zd, same %d\n", r, r == 100000 && memcmp(back, big, 100000) == 0);
  struct stat st;
  if (stat(p, &st) < 0) die("stat");
  printf("stat size %ld fstat %ld\n", (long)st.st_size, fsize(fd2));
  unsigned char *m = mmap(NULL, 100000, PROT_READ, MAP_SHARED, fd2, 0);
  if (m == MAP_FAILED) die("mmap");
  printf("mmap same %d\n", memcmp(m, big, 100000) == 0);
  munmap(m, 100000);

  /* Overwrite in the middle, then O_APPEND from another fd. */
  if (pwrite(fd, "MIDDLE", 6, 70000) != 6) die("pwrite");
  show("middle", fd2, 69998, 10);
  int fa = open(p, O_WRONLY | O_APPEND);
  if (fa < 0) die("open append");
  if (write(fa, "tail1", 5) != 5 || write(fa, "tail2", 5) != 5) die("append");
  printf("after append size %ld\n", fsize(fd));
  show("tail", fd2, 99998, 14);

  /* pwrite past EOF: the hole reads as zeros. */
  if (pwrite(fd, "far", 3, 250000) != 3) die("pwrite far");
  printf("after far size %ld\n", fsize(fd2));
  show("hole", fd2, 200000, 8);
  show("far", fd2, 249998, 8);
  r = pread(fd2, back, sizeof back, 100010);
  int zero = 1;
  for (ssize_t i = 0; i < r - 3; i++) zero &= back[i] == 0;
  printf("hole %zd bytes, zero %d\n", r, zero);

  /* ftruncate shrink, then grow: the cut bytes read as zeros. */
  if (ftruncate(fd, 5000) < 0) die("ftruncate shrink");
  printf("shrunk size %ld\n", fsize(fd2));
  show("end", fd2, 4995, 10);
  if (ftruncate(fd, 140000) < 0) die("ftruncate grow");
  show("grown", fd2, 4998, 6);
  show("grown far", fd2, 70000, 6);
  if (pwrite(fd, "X", 1, 139999) != 1) die("pwrite last");
  printf("grown size %ld\n", fsize(fd2));
  /* Writing through a writable shared mapping next to cached writes. */
  unsigned char *w = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (w == MAP_FAILED) die("mmap rw");
  memcpy(w + 100, "MAPPED", 6);
  munmap(w, 8192);
  show("mapped", fd2, 98, 10);
  close(fa);
  close(fd2);
  if (close(fd) < 0) die("close f");

  /* O_TRUNC of a file with cached writes. */
  path(p, dir, "t");
  fd = open(p, O_CREAT | O_WRONLY, 0600);
  if (write(fd, big, 200000) != 200000) die("write t");
  fd2 = open(p, O_RDWR | O_TRUNC);
  if (fd2 < 0) die("open trunc");
  printf("trunc size %ld %ld\n", fsize(fd), fsize(fd2));
  if (write(fd2, "new", 3) != 3) die("write t2");
  close(fd2);
  close(fd);

  /* More than the dirty bound (8 MiB), never fsynced; read back whole. */
  path(p, dir, "big");
  fd = open(p, O_CREAT | O_RDWR, 0644);
  for (int i = 0; i < 40; i++)
    if (write(fd, big, sizeof big) != (ssize_t)sizeof big) die("write big");
  unsigned long h = 0;
  lseek(fd, 0, SEEK_SET);
  long total = 0;
  while ((r = read(fd, back, sizeof back)) > 0) {
    h = h * 31 + sum(back, r);
    total += r;
  }
  printf("big %ld bytes sum %lx\n", total, h);
  close(fd);

  /* Reopened after close: what was written (not fsynced) is there. */
  path(p, dir, "f");
  fd = open(p, O_RDONLY);
  r = read(fd, back, sizeof back);
  printf("reopened f %zd sum %lx\n", r, sum(back, r));
  close(fd);

  /* Written and never closed: the exit closes it. */
  path(p, dir, "noclose");
  fd = open(p, O_CREAT | O_WRONLY, 0644);
  if (write(fd, big, 5000) != 5000) die("write noclose");
  return 0;
}

static int do_kill(const char *dir) {
  char p[4096];
  static unsigned char a[200000];
  memset(a, 'A', sizeof a);
  path(p, dir, "a");
  int fa = open(p, O_CREAT | O_WRONLY, 0644);
  if (fa < 0) die("open a");
  if (write(fa, a, sizeof a) != (ssize_t)sizeof a) die("write a");
  if (fsync(fa) < 0) die("fsync a");
  /* syncfs(2) and sync(2) write cached data back too (the files stay open). */
  path(p, dir, "c");
  int fc = open(p, O_CREAT | O_WRONLY, 0644);
  if (fc < 0) die("open c");
  if (write(fc, "syncfs\n", 7) != 7) die("write c");
  if (syncfs(fc) < 0) die("syncfs");
  path(p, dir, "d");
  int fd = open(p, O_CREAT | O_WRONLY, 0644);
  if (fd < 0) die("open d");
  if (write(fd, "sync\n", 5) != 5) die("write d");
  sync();
  path(p, dir, "b");
  int fb = open(p, O_CREAT | O_WRONLY, 0644);
  if (fb < 0) die("open b");
  if (write(fb, "pending\n", 8) != 8) die("write b");
  printf("ready\n");
  fflush(stdout);
  sleep(3);
  int ra = close(fa);
  printf("close a %d\n", ra);
  errno = 0;
  int rb = close(fb);
  printf("close b %d %s\n", rb, rb < 0 ? strerror(errno) : "");
  return 0;
}

int main(int argc, char **argv) {
  if (argc == 4 && strcmp(argv[1], "read") == 0) return do_read(argv[2], atoi(argv[3]));
  if (argc == 3 && strcmp(argv[1], "rw") == 0) return do_rw(argv[2]);
  if (argc == 3 && strcmp(argv[1], "kill") == 0) return do_kill(argv[2]);
  fprintf(stderr, "usage: gofer_cache read FILE N | rw DIR | kill DIR\n");
  return 2;
}
