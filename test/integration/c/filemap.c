// Private mappings of a file that is not written: its pages are the file's (tsvisor maps
// the read-only page cache copy-on-write); writes after mprotect, MADV_DONTNEED, fork,
// mremap and offsets must behave as on Linux. argv[1]: an existing file of >= 64 KiB that
// nobody writes during the test.
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static long memfree_kb(void) {
  FILE *m = fopen("/proc/meminfo", "r");
  char line[256];
  long kb = -1;
  while (m && fgets(line, sizeof line, m))
    if (sscanf(line, "MemFree: %ld kB", &kb) == 1) break;
  if (m) fclose(m);
  return kb;
}

// `filemap FILE share N`: N processes map FILE privately, read-only, each on its own, and
// touch every page; prints how much MemFree dropped meanwhile (one copy of the file, not
// N, when the page cache is shared).
static int share(const char *path, int n) {
  long before = memfree_kb();
  int ready[2];
  if (pipe(ready)) return 4;
  pid_t kids[64];
  for (int i = 0; i < n && i < 64; i++) {
    kids[i] = fork();
    if (kids[i] == 0) {
      int fd = open(path, O_RDONLY);
      struct stat st;
      fstat(fd, &st);
      volatile char *m = mmap(0, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
      long sum = 0;
      for (off_t o = 0; o < st.st_size; o += 4096) sum += m[o];
      if (write(ready[1], "r", 1) != 1) _exit(5);
      pause();
      _exit(sum == 42);
    }
  }
  char c;
  for (int i = 0; i < n; i++)
    if (read(ready[0], &c, 1) != 1) return 6;
  long after = memfree_kb();
  printf("memfree drop MB: %ld\n", (before - after) / 1024);
  for (int i = 0; i < n; i++) kill(kids[i], SIGKILL);
  while (wait(0) > 0) {
  }
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 2) return 2;
  if (argc == 4 && !strcmp(argv[2], "share")) return share(argv[1], atoi(argv[3]));
  int fd = open(argv[1], O_RDONLY);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) || st.st_size < 65536) {
    perror("open");
    return 2;
  }
  size_t len = st.st_size;
  char *file = malloc(len);
  if (pread(fd, file, len, 0) != (ssize_t)len) return 3;

  char *a = mmap(0, len, PROT_READ, MAP_PRIVATE, fd, 0);
  char *b = mmap(0, len, PROT_READ, MAP_PRIVATE, fd, 0);
  printf("a == file: %d, b == file: %d\n", !memcmp(a, file, len), !memcmp(b, file, len));

  // b made writable and changed: a, the file and a fresh mapping keep the file's bytes.
  printf("mprotect b rw: %d\n", mprotect(b, len, PROT_READ | PROT_WRITE));
  memset(b + 100, 'X', 5000);
  char *c = mmap(0, len, PROT_READ, MAP_PRIVATE, fd, 0);
  char chk[5000];
  pread(fd, chk, sizeof chk, 100);
  printf("after writing b: a == file %d, c == file %d, file unchanged %d, b changed %d\n",
         !memcmp(a, file, len), !memcmp(c, file, len), !memcmp(chk, file + 100, sizeof chk), b[100] == 'X');

  // MADV_DONTNEED on a private mapping: unchanged pages still read as the file, changed
  // pages go back to the file's bytes.
  int ra = madvise(a, len, MADV_DONTNEED);
  printf("madvise a: %d, a == file: %d\n", ra, !memcmp(a, file, len));
  int rb = madvise(b, len, MADV_DONTNEED);
  printf("madvise b: %d, b == file again: %d\n", rb, !memcmp(b, file, len));

  // A child changes its copy of a; the parent's a is untouched.
  pid_t p = fork();
  if (p == 0) {
    int ok = !memcmp(a, file, len);
    mprotect(a, 4096, PROT_READ | PROT_WRITE);
    a[0] ^= 0x55;
    _exit(ok && a[0] != file[0] ? 0 : 1);
  }
  int ws;
  waitpid(p, &ws, 0);
  printf("child saw the file and changed its copy: %d; parent's a == file: %d\n",
         WIFEXITED(ws) && WEXITSTATUS(ws) == 0, !memcmp(a, file, len));

  // A mapping at an offset, and moved by mremap.
  char *d = mmap(0, len - 8192, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, 8192);
  printf("d (offset 8192) == file: %d\n", !memcmp(d, file + 8192, len - 8192));
  char *e = mremap(d, len - 8192, len - 8192, MREMAP_MAYMOVE | MREMAP_FIXED, c + 0);
  printf("moved over c: %d, == file: %d\n", e == c, e != MAP_FAILED && !memcmp(e, file + 8192, len - 8192));

  // Part of a mapping made writable: only that part is private.
  char *f = mmap(0, len, PROT_READ, MAP_PRIVATE, fd, 0);
  mprotect(f + 8192, 4096, PROT_READ | PROT_WRITE);
  f[8192] ^= 1;
  printf("partial copy: changed page %d, rest == file %d\n", f[8192] != file[8192],
         !memcmp(f, file, 8192) && !memcmp(f + 12288, file + 12288, len - 12288));
  return 0;
}
