// mmap/mprotect/munmap/mremap, MAP_SHARED vs MAP_PRIVATE across fork (copy-on-write), brk, madvise.
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include <errno.h>
#define SHOW(label, expr) do { errno = 0; long _r = (long)(expr); printf("%s: %ld errno=%d\n", label, _r, errno); } while (0)

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  int *priv = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  int *shared = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  *priv = 1;
  *shared = 1;
  int heap_val = 5;
  int *heap = malloc(1 << 20);
  heap[1000] = 11;
  pid_t p = fork();
  if (p == 0) {
    *priv = 2;
    *shared = 2;
    heap[1000] = 22;
    heap_val = 6;
    printf("child: priv=%d shared=%d heap=%d val=%d\n", *priv, *shared, heap[1000], heap_val);
    _exit(0);
  }
  waitpid(p, NULL, 0);
  printf("parent: priv=%d shared=%d heap=%d val=%d\n", *priv, *shared, heap[1000], heap_val);

  // munmap then access -> fault (checked in the signals test); here: re-map with MAP_FIXED.
  char *big = mmap(NULL, 1 << 24, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  for (int i = 0; i < (1 << 24); i += 4096) big[i] = (char)i;
  long sum = 0;
  for (int i = 0; i < (1 << 24); i += 4096) sum += big[i];
  printf("big: sum=%ld\n", sum);
  printf("mprotect: %d\n", mprotect(big, 4096, PROT_READ));
  // Back to read-write: the two halves are one mapping again (Linux merges them), so
  // mremap below may move the whole range.
  printf("mprotect back: %d\n", mprotect(big, 4096, PROT_READ | PROT_WRITE));
  SHOW("mprotect unaligned", mprotect(big + 1, 4096, PROT_READ));
  char *grown = mremap(big, 1 << 24, 1 << 25, MREMAP_MAYMOVE);
  printf("mremap: ok=%d kept=%d\n", grown != MAP_FAILED, grown[4096] == (char)4096);
  grown[(1 << 25) - 1] = 9;
  printf("madvise: %d\n", madvise(grown + 8192, 4096, MADV_DONTNEED));
  printf("zeroed: %d\n", grown[8192]);
  printf("munmap: %d\n", munmap(grown, 1 << 25));
  void *fx = mmap((void *)0x200000000, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  printf("fixed_noreplace: %d\n", fx == (void *)0x200000000);
  void *fx2 = mmap((void *)0x200000000, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  SHOW("fixed_noreplace again", fx2 == MAP_FAILED);
  SHOW("bad len", mmap(NULL, 0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) == MAP_FAILED);
  SHOW("bad fd", mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, 999, 0) == MAP_FAILED);
  void *b0 = sbrk(0);
  sbrk(1 << 16);
  printf("brk grew: %d\n", (char *)sbrk(0) - (char *)b0 == 1 << 16);
  // Grow, touch, shrink, grow again over the same range and touch: pages come back zeroed.
  char *hb = sbrk(0);
  sbrk(1 << 20);
  memset(hb, 7, 1 << 20);
  sbrk(-(1 << 19));
  sbrk(1 << 19);
  printf("brk regrow: %d %d\n", hb[(1 << 20) - 1], hb[(1 << 19) - 1]);
  // Read-only private memory shared by fork stays private: writes after mprotect, and
  // MADV_DONTNEED, on one side never show on the other.
  char *ro = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ro[0] = 'A';
  ro[4096] = 'B';
  mprotect(ro, 8192, PROT_READ);
  int gate[2], back[2];
  pipe(gate);
  pipe(back);
  p = fork();
  if (p == 0) {
    char c;
    read(gate[0], &c, 1);
    char seen0 = ro[0];
    madvise(ro + 4096, 4096, MADV_DONTNEED);
    char seen1 = ro[4096];
    mprotect(ro, 8192, PROT_READ | PROT_WRITE);
    ro[0] = 'C';
    printf("child: ro[0]=%c after parent wrote, dontneed gives %d, own write %c\n", seen0, seen1, ro[0]);
    write(back[1], "x", 1);
    _exit(0);
  }
  mprotect(ro, 8192, PROT_READ | PROT_WRITE);
  ro[0] = 'P';
  write(gate[1], "x", 1);
  char cc;
  read(back[0], &cc, 1);
  waitpid(p, NULL, 0);
  printf("parent: ro[0]=%c ro[4096]=%c\n", ro[0], ro[4096]);
  unsigned char vec[4];
  printf("mincore: %d\n", mincore(priv, 4096, vec));

  // glibc's malloc arena growth: a PROT_NONE reservation made readable and writable a few
  // pages at a time, each mprotect continuing the writable part (the two merge into one
  // mapping), with the memory touched in between. Then the reverse: shrink to PROT_NONE
  // again and check the pages are really inaccessible.
  char *arena = mmap(0, 1 << 22, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  size_t agrown = 0x21000;
  mprotect(arena, agrown, PROT_READ | PROT_WRITE);
  memset(arena, 1, agrown);
  size_t steps[] = {0xc000, 0x1000, 0x1000, 0x3000, 0x10000, 0x1000};
  for (unsigned k = 0; k < sizeof steps / sizeof *steps; k++) {
    mprotect(arena + agrown, steps[k], PROT_READ | PROT_WRITE);
    memset(arena + agrown, (int)k + 2, steps[k]);
    agrown += steps[k];
  }
  long asum = 0;
  for (size_t o = 0; o < agrown; o += 4096) asum += arena[o];
  printf("arena grown to %#zx, page sum %ld\n", agrown, asum);
  mprotect(arena + 0x10000, agrown - 0x10000, PROT_NONE);
  int st2;
  p = fork();
  if (p == 0) {
    (void)*(volatile char *)(arena + 0x21000); // now PROT_NONE: SIGSEGV
    _exit(0);
  }
  waitpid(p, &st2, 0);
  printf("touching a page made PROT_NONE again: %s\n", WIFSIGNALED(st2) ? strsignal(WTERMSIG(st2)) : "no fault");
  (void)*(volatile char *)(arena + 0x21000 - 0x12000);
  return 0;
}
