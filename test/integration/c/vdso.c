// The vDSO as a program sees it, compared with Linux: AT_SYSINFO_EHDR, the exported
// symbols and their LINUX_2.6 version, clocks that agree with the system calls and never go
// backwards (across threads, fork and the vDSO/syscall boundary), [vvar]/[vdso] in
// /proc/self/maps with Linux's permissions, mprotect/madvise on them, and a private copy
// when the app patches its vDSO.
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int64_t ns(const struct timespec *t) { return (int64_t)t->tv_sec * 1000000000 + t->tv_nsec; }

static int64_t vclock(clockid_t c) {
  struct timespec t;
  if (clock_gettime(c, &t)) return -1;
  return ns(&t);
}

static int64_t sclock(clockid_t c) {
  struct timespec t;
  if (syscall(SYS_clock_gettime, c, &t)) return -1;
  return ns(&t);
}

// ---- the vDSO's dynamic symbols ----
static uintptr_t vbase, vbias;
static const Elf64_Sym *symtab;
static const char *strtab;
static const Elf64_Half *versym;
static const Elf64_Verdef *verdef;
static uint32_t nsyms;

static void load_vdso(void) {
  vbase = getauxval(AT_SYSINFO_EHDR);
  if (!vbase) return;
  const Elf64_Ehdr *eh = (const Elf64_Ehdr *)vbase;
  const Elf64_Phdr *ph = (const Elf64_Phdr *)(vbase + eh->e_phoff);
  uintptr_t bias = 0;
  const Elf64_Dyn *dyn = 0;
  for (int i = 0; i < eh->e_phnum; i++)
    if (ph[i].p_type == PT_LOAD && ph[i].p_offset == 0) bias = vbase - ph[i].p_vaddr;
  vbias = bias;
  for (int i = 0; i < eh->e_phnum; i++)
    if (ph[i].p_type == PT_DYNAMIC) dyn = (const Elf64_Dyn *)(bias + ph[i].p_vaddr);
  for (; dyn && dyn->d_tag != DT_NULL; dyn++) {
    uintptr_t p = bias + dyn->d_un.d_ptr;
    switch (dyn->d_tag) {
    case DT_SYMTAB: symtab = (const Elf64_Sym *)p; break;
    case DT_STRTAB: strtab = (const char *)p; break;
    case DT_HASH: nsyms = ((const uint32_t *)p)[1]; break;
    case DT_VERSYM: versym = (const Elf64_Half *)p; break;
    case DT_VERDEF: verdef = (const Elf64_Verdef *)p; break;
    }
  }
}

static const char *version_of(uint32_t i) {
  if (!versym || !verdef) return "";
  Elf64_Half v = versym[i] & 0x7fff;
  for (const Elf64_Verdef *d = verdef;; d = (const Elf64_Verdef *)((const char *)d + d->vd_next)) {
    if (d->vd_ndx == v && !(d->vd_flags & VER_FLG_BASE)) {
      const Elf64_Verdaux *a = (const Elf64_Verdaux *)((const char *)d + d->vd_aux);
      return strtab + a->vda_name;
    }
    if (!d->vd_next) return "";
  }
}

static void *vsym(const char *name) {
  for (uint32_t i = 0; symtab && strtab && i < nsyms; i++) {
    const Elf64_Sym *s = &symtab[i];
    if (ELF64_ST_TYPE(s->st_info) != STT_FUNC || s->st_shndx == SHN_UNDEF) continue;
    if (strcmp(strtab + s->st_name, name)) continue;
    if (strcmp(version_of(i), "LINUX_2.6")) continue;
    return (void *)(vbias + s->st_value);
  }
  return 0;
}

// ---- helpers ----
static void maps_range(const char *name, uintptr_t *start, uintptr_t *end, char perms[5]) {
  FILE *f = fopen("/proc/self/maps", "r");
  char line[512];
  *start = *end = 0;
  while (f && fgets(line, sizeof line, f)) {
    size_t n = strlen(line);
    if (n && line[n - 1] == '\n') line[--n] = 0;
    size_t k = strlen(name);
    if (n >= k && !strcmp(line + n - k, name)) {
      unsigned long a, b;
      sscanf(line, "%lx-%lx %4s", &a, &b, perms);
      *start = a;
      *end = b;
    }
  }
  if (f) fclose(f);
}

static void *spin(void *arg) {
  (void)arg;
  int64_t last = 0, back = 0;
  for (int i = 0; i < 50000; i++) {
    int64_t now = vclock(CLOCK_MONOTONIC);
    if (now < last) back++;
    last = now;
  }
  return (void *)(intptr_t)back;
}

int main(void) {
  setvbuf(stdout, 0, _IONBF, 0);
  load_vdso();
  printf("AT_SYSINFO_EHDR present: %d\n", vbase != 0);
  const char *names[] = {"__vdso_clock_gettime", "__vdso_gettimeofday", "__vdso_time", "__vdso_getcpu",
                         "__vdso_clock_getres"};
  for (unsigned i = 0; i < sizeof names / sizeof *names; i++)
    printf("%s@LINUX_2.6: %s\n", names[i], vsym(names[i]) ? "found" : "missing");

  // Called directly, as glibc calls them.
  int (*vgt)(clockid_t, struct timespec *) = (int (*)(clockid_t, struct timespec *))vsym("__vdso_clock_gettime");
  time_t (*vtime)(time_t *) = (time_t(*)(time_t *))vsym("__vdso_time");
  int (*vgtod)(struct timeval *, struct timezone *) =
      (int (*)(struct timeval *, struct timezone *))vsym("__vdso_gettimeofday");
  if (vgt && vtime && vgtod) {
    struct timespec a;
    struct timeval tv;
    vgt(CLOCK_REALTIME, &a);
    time_t t = vtime(0);
    vgtod(&tv, 0);
    int64_t s = sclock(CLOCK_REALTIME);
    printf("direct calls agree with the syscall: %d\n",
           llabs(ns(&a) - s) < 500000000 && llabs((int64_t)t * 1000000000 - s) < 1500000000 &&
               llabs((int64_t)tv.tv_sec * 1000000000 + tv.tv_usec * 1000 - s) < 500000000);
    struct timespec bad;
    errno = 0;
    int r = vgt(12345, &bad);
    printf("bad clock id through the vDSO: %d\n", r);
  }

  // Monotonic across the vDSO and the system call, in both orders.
  long back = 0;
  for (int i = 0; i < 20000; i++) {
    int64_t a = vclock(CLOCK_MONOTONIC), b = sclock(CLOCK_MONOTONIC), c = vclock(CLOCK_MONOTONIC);
    if (b < a || c < b) back++;
    int64_t d = vclock(CLOCK_BOOTTIME), e = sclock(CLOCK_BOOTTIME);
    if (e < d) back++;
  }
  printf("vdso/syscall monotonic inversions: %ld\n", back);

  int64_t r1 = vclock(CLOCK_REALTIME), r2 = sclock(CLOCK_REALTIME);
  struct timeval tv;
  gettimeofday(&tv, 0);
  time_t tt = time(0);
  printf("realtime agrees: %d\n", llabs(r1 - r2) < 500000000 &&
                                      llabs((int64_t)tv.tv_sec * 1000000000 + tv.tv_usec * 1000 - r2) < 500000000 &&
                                      llabs((int64_t)tt * 1000000000 - r2) < 1500000000);
  printf("coarse <= fine + 1ms: %d\n", vclock(CLOCK_MONOTONIC_COARSE) <= vclock(CLOCK_MONOTONIC) + 1000000);
  struct timespec res;
  clock_getres(CLOCK_MONOTONIC, &res);
  printf("clock_getres(MONOTONIC) = %ld.%09ld\n", (long)res.tv_sec, res.tv_nsec);
  errno = 0;
  int cr = clock_gettime(12345, &res);
  printf("clock_gettime(12345) = %d errno=%s\n", cr, strerror(errno));
  printf("process cpu clock works: %d\n", vclock(CLOCK_PROCESS_CPUTIME_ID) > 0);

  int64_t t0 = vclock(CLOCK_MONOTONIC);
  struct timespec d = {0, 20000000};
  nanosleep(&d, 0);
  printf("20 ms sleep measured >= 20 ms: %d\n", vclock(CLOCK_MONOTONIC) - t0 >= 20000000);

  int cpu = sched_getcpu();
  unsigned c2 = 99, node = 99;
  int gr = getcpu(&c2, &node);
  printf("getcpu: %d %d\n", cpu >= 0 && cpu < CPU_SETSIZE && gr == 0 && (int)c2 == cpu, node == 0);

  pthread_t th[4];
  long thback = 0;
  for (int i = 0; i < 4; i++) pthread_create(&th[i], 0, spin, 0);
  for (int i = 0; i < 4; i++) {
    void *r;
    pthread_join(th[i], &r);
    thback += (long)(intptr_t)r;
  }
  printf("threads: inversions %ld\n", thback);

  uintptr_t vs, ve, ds, de;
  char vperm[5] = "", dperm[5] = "";
  maps_range("[vvar]", &vs, &ve, vperm);
  maps_range("[vdso]", &ds, &de, dperm);
  printf("maps: [vvar] %s, [vdso] %s, [vdso] at AT_SYSINFO_EHDR: %d\n", vperm, dperm, ds == vbase);
  errno = 0;
  int pr = mprotect((void *)vs, 4096, PROT_READ | PROT_WRITE);
  printf("mprotect([vvar], RW): %d %s\n", pr, strerror(errno));
  errno = 0;
  pr = madvise((void *)vs, 4096, MADV_DONTNEED);
  printf("madvise([vvar], DONTNEED): %d %s\n", pr, strerror(errno));

  // A child forked before the parent patches its vDSO keeps the original bytes.
  int go[2], done[2];
  if (pipe(go) || pipe(done)) return 1;
  volatile unsigned char *last = (volatile unsigned char *)(de - 1);
  unsigned char orig = *last;
  pid_t pid = fork();
  if (pid == 0) {
    char c;
    if (read(go[0], &c, 1) != 1) _exit(2);
    int ok = *last == orig && vclock(CLOCK_MONOTONIC) > 0;
    _exit(ok ? 0 : 1);
  }
  errno = 0;
  int mp = mprotect((void *)ds, de - ds, PROT_READ | PROT_WRITE | PROT_EXEC);
  printf("mprotect([vdso], RWX): %d %s\n", mp, strerror(errno));
  if (mp == 0) {
    *last = (unsigned char)(orig ^ 0x5a);
    printf("patched byte reads back: %d; clock still works: %d\n", *last == (unsigned char)(orig ^ 0x5a),
           vclock(CLOCK_MONOTONIC) > t0);
  }
  if (write(go[1], "x", 1) != 1) return 1;
  int st;
  waitpid(pid, &st, 0);
  printf("child forked before the patch sees the original: %d\n", WIFEXITED(st) && WEXITSTATUS(st) == 0);

  // A child forked after reads the clock through its own (copied) mappings.
  int64_t before = vclock(CLOCK_MONOTONIC);
  pid = fork();
  if (pid == 0) _exit(vclock(CLOCK_MONOTONIC) >= before ? 0 : 1);
  waitpid(pid, &st, 0);
  printf("child forked after: clock >= parent's: %d\n", WIFEXITED(st) && WEXITSTATUS(st) == 0);

  // MADV_DONTNEED on the (patched, private) [vdso] gives the original code back.
  if (mp == 0) {
    errno = 0;
    int r = madvise((void *)ds, de - ds, MADV_DONTNEED);
    printf("madvise([vdso], DONTNEED): %d; original byte back: %d; clock works: %d\n", r, *last == orig,
           vclock(CLOCK_MONOTONIC) > t0);
  }
  return 0;
}
