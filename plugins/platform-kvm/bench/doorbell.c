// The host floor of the KVM platform's system-call path, without tsvisor: a minimal VM
// (one vCPU, 64 MiB at GPA 0, identity-mapped 4 KiB page tables, a Linux-layout GDT,
// CPL3 entered with KVM_SET_SREGS) whose user code loops on `syscall`. LSTAR points at a
// landing page `movabs DOORBELL,%rax ; jmp *%rcx`; the load from a GPA with no memory
// slot exits as MMIO, and the loop below answers it (rax = 4242, checked by the guest).
//
// Usage: doorbell N ROUNDS [MODE...]
//   Prints one line per round: mean ns per round trip in that round.
//   MODE (any of):
//     nosync   don't ask for sync regs (kvm_valid_regs = 0): no register copy on exit
//     sregs    also ask for sync sregs (KVM_SYNC_X86_SREGS): CR2 etc. in kvm_run at every exit
//     getregs  also KVM_GET_REGS at every exit (what a VMM without sync regs pays)
//     out      CPL0 `out` loop instead (an emulated kernel-mode exit, no user mode)
//     pin=C    pin this thread to host CPU C first
//     xcr0=X   turn on CR4.OSXSAVE and give the guest XCR0 = X (hex; "host" = the host's)
//     split    print a second column: ns per round trip spent outside KVM_RUN
//     touch=K  after each exit, read one byte of each of K distinct pages (a VMM's
//              memory footprint; with split, shows what the world switch costs the VMM's
//              own accesses afterwards, e.g. TLB refills)
//     hop=spin|futex  KVM_RUN runs on a second thread; the main thread (the VMM: answer and
//              touch=K) hands each run to it and waits for the exit, busy-waiting (spin)
//              or sleeping in futex (futex) on both sides: the cost of a dedicated vCPU
//              thread that keeps the world switch away from the VMM's CPU
//     wpin=C   pin the vCPU thread of hop= to host CPU C
// Exit status 0 when every round trip was answered and checked; 1 with a message naming
// the failing host call or the unexpected exit otherwise.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define MEM_SIZE (64ul << 20)
#define PML4 0x1000ul
#define PDPT 0x2000ul
#define PD 0x3000ul
#define PT0 0x4000ul  // VAs [0, 2 MiB)
#define PT1 0x5000ul  // VAs [2 MiB, 4 MiB): the doorbell page at 2 MiB
#define GDT 0x6000ul
#define TSS 0x6080ul
#define IDT 0x7000ul
#define STUBS 0x8000ul
#define LANDING 0x9000ul
#define CODE 0xa000ul
#define KSTACK_TOP 0x10000ul
#define USTACK_TOP 0x20000ul
#define DOORBELL_VA 0x200000ul
#define DOORBELL_GPA 0xd0000000ul
#define OUT_PORT 0xe0

static void die(const char *what) {
  fprintf(stderr, "doorbell: %s: %s\n", what, strerror(errno));
  exit(1);
}

static uint64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000000ull + t.tv_nsec;
}

// hop=: the vCPU thread. `seq` is odd while a run is requested, even once it is done.
static int g_vcpu, g_hop, g_wpin = -1;  // g_hop: 0 off, 1 spin, 2 futex
static volatile uint32_t g_seq;
static volatile int g_rc, g_err;

static void futex_wait(volatile uint32_t *a, uint32_t v) { syscall(SYS_futex, a, FUTEX_WAIT_PRIVATE, v, NULL, NULL, 0); }
static void futex_wake(volatile uint32_t *a) { syscall(SYS_futex, a, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0); }

// Waits until *a != v.
static void wait_change(volatile uint32_t *a, uint32_t v) {
  while (__atomic_load_n(a, __ATOMIC_ACQUIRE) == v) {
    if (g_hop == 2) futex_wait(a, v);
    else __builtin_ia32_pause();
  }
}

static void *vcpu_thread(void *arg) {
  (void)arg;
  if (g_wpin >= 0) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(g_wpin, &set);
    if (sched_setaffinity(0, sizeof set, &set) < 0) die("sched_setaffinity (vCPU thread)");
  }
  for (uint32_t seen = 0;;) {
    wait_change(&g_seq, seen);  // a request: seq odd
    int rc = ioctl(g_vcpu, KVM_RUN, 0);
    g_rc = rc;
    g_err = errno;
    seen = g_seq + 1;
    __atomic_store_n(&g_seq, seen, __ATOMIC_RELEASE);
    if (g_hop == 2) futex_wake(&g_seq);
  }
  return NULL;
}

static int run_vcpu(void) {
  if (!g_hop) return ioctl(g_vcpu, KVM_RUN, 0);
  uint32_t req = g_seq + 1;
  __atomic_store_n(&g_seq, req, __ATOMIC_RELEASE);
  if (g_hop == 2) futex_wake(&g_seq);
  wait_change(&g_seq, req);
  errno = g_err;
  return g_rc;
}

static void put(uint8_t *mem, uint64_t at, const void *b, size_t n) { memcpy(mem + at, b, n); }
static void put64(uint8_t *mem, uint64_t at, uint64_t v) { memcpy(mem + at, &v, 8); }

static void seg(struct kvm_segment *s, uint16_t sel, uint8_t type, uint8_t dpl, int code64) {
  memset(s, 0, sizeof *s);
  s->limit = 0xffffffff;
  s->selector = sel;
  s->type = type;
  s->present = 1;
  s->dpl = dpl;
  s->db = code64 ? 0 : 1;
  s->s = 1;
  s->l = code64 ? 1 : 0;
  s->g = 1;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: doorbell N ROUNDS [nosync] [sregs] [getregs] [out] [pin=C] [xcr0=X] [split] [touch=K] [hop=spin|futex] [wpin=C]\n");
    return 2;
  }
  long n = atol(argv[1]), rounds = atol(argv[2]);
  int syncSregs = 0;
  int nosync = 0, getregs = 0, outmode = 0, pin = -1, split = 0;
  long touch = 0;
  int xsave = 0;
  uint64_t xcr0 = 0;
  for (int i = 3; i < argc; i++) {
    if (!strcmp(argv[i], "nosync")) nosync = 1;
    else if (!strcmp(argv[i], "getregs")) getregs = 1;
    else if (!strcmp(argv[i], "sregs")) syncSregs = 1;
    else if (!strcmp(argv[i], "out")) outmode = 1;
    else if (!strncmp(argv[i], "pin=", 4)) pin = atoi(argv[i] + 4);
    else if (!strcmp(argv[i], "split")) split = 1;
    else if (!strncmp(argv[i], "xcr0=", 5)) {
      xsave = 1;
      if (!strcmp(argv[i] + 5, "host")) {
        uint32_t lo, hi;
        __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
        xcr0 = ((uint64_t)hi << 32) | lo;
      } else
        xcr0 = strtoull(argv[i] + 5, NULL, 16);
    }
    else if (!strncmp(argv[i], "touch=", 6)) touch = atol(argv[i] + 6);
    else if (!strcmp(argv[i], "hop=spin")) g_hop = 1;
    else if (!strcmp(argv[i], "hop=futex")) g_hop = 2;
    else if (!strncmp(argv[i], "wpin=", 5)) g_wpin = atoi(argv[i] + 5);
    else {
      fprintf(stderr, "doorbell: unknown mode %s\n", argv[i]);
      return 2;
    }
  }
  if (n <= 0 || rounds <= 0) {
    fprintf(stderr, "doorbell: N and ROUNDS must be positive\n");
    return 2;
  }
  if (pin >= 0) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(pin, &set);
    if (sched_setaffinity(0, sizeof set, &set) < 0) die("sched_setaffinity");
  }

  int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
  if (kvm < 0) die("open /dev/kvm");
  int vm = ioctl(kvm, KVM_CREATE_VM, 0);
  if (vm < 0) die("KVM_CREATE_VM");
  uint8_t *mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) die("mmap guest memory");
  struct kvm_userspace_memory_region region = {
      .slot = 0, .guest_phys_addr = 0, .memory_size = MEM_SIZE, .userspace_addr = (uint64_t)mem};
  if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) < 0) die("KVM_SET_USER_MEMORY_REGION");
  int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
  if (vcpu < 0) die("KVM_CREATE_VCPU");
  struct kvm_cpuid2 *cpuid = calloc(1, sizeof *cpuid + 256 * sizeof(struct kvm_cpuid_entry2));
  cpuid->nent = 256;
  if (ioctl(kvm, KVM_GET_SUPPORTED_CPUID, cpuid) < 0) die("KVM_GET_SUPPORTED_CPUID");
  if (ioctl(vcpu, KVM_SET_CPUID2, cpuid) < 0) die("KVM_SET_CPUID2");
  int runSize = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
  if (runSize <= 0) die("KVM_GET_VCPU_MMAP_SIZE");
  struct kvm_run *run = mmap(NULL, runSize, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
  if (run == MAP_FAILED) die("mmap kvm_run");

  // Page tables: [0, 2 MiB) identity-mapped, user + writable; the doorbell VA -> no-slot GPA.
  put64(mem, PML4, PDPT | 7);
  put64(mem, PDPT, PD | 7);
  put64(mem, PD, PT0 | 7);
  put64(mem, PD + 8, PT1 | 7);
  for (uint64_t i = 0; i < 512; i++) put64(mem, PT0 + 8 * i, (i << 12) | 7);
  put64(mem, PT1, DOORBELL_GPA | 7);
  // GDT (Linux layout): 0x10 kernel CS64, 0x18 kernel DS, 0x23 user CS32, 0x2b user DS,
  // 0x33 user CS64, 0x40 TSS (16-byte descriptor).
  put64(mem, GDT + 0x10, 0x00af9b000000ffffull);
  put64(mem, GDT + 0x18, 0x00cf93000000ffffull);
  put64(mem, GDT + 0x20, 0x00cffb000000ffffull);
  put64(mem, GDT + 0x28, 0x00cff3000000ffffull);
  put64(mem, GDT + 0x30, 0x00affb000000ffffull);
  put64(mem, GDT + 0x40, 0x0000890000000067ull | ((TSS & 0xffffff) << 16) | ((TSS >> 24) << 56));
  put64(mem, GDT + 0x48, 0);
  put64(mem, TSS + 4, KSTACK_TOP);  // RSP0
  // IDT: vector v -> stub `out %al,$(0x80+v); hlt` (any exception ends the run with a message).
  for (uint64_t v = 0; v < 32; v++) {
    uint64_t stub = STUBS + 16 * v;
    uint8_t code[] = {0xe6, (uint8_t)(0x80 + v), 0xf4};
    put(mem, stub, code, sizeof code);
    uint64_t lo = (stub & 0xffff) | (0x10ull << 16) | (0x8eull << 40) | ((stub >> 16 & 0xffff) << 48);
    put64(mem, IDT + 16 * v, lo);
    put64(mem, IDT + 16 * v + 8, stub >> 32);
  }
  // Landing: movabs DOORBELL_VA,%rax ; jmp *%rcx
  uint8_t landing[12] = {0x48, 0xa1};
  uint64_t dva = DOORBELL_VA;
  memcpy(landing + 2, &dva, 8);
  landing[10] = 0xff;
  landing[11] = 0xe1;
  put(mem, LANDING, landing, sizeof landing);
  if (!outmode) {
    // loop: mov $39,%eax ; syscall ; cmp $4242,%eax ; jne bad ; jmp loop ; bad: ud2
    uint8_t code[] = {0xb8, 0x27, 0, 0, 0, 0x0f, 0x05, 0x3d, 0x92, 0x10, 0, 0, 0x75, 0x02, 0xeb, 0xf0, 0x0f, 0x0b};
    put(mem, CODE, code, sizeof code);
  } else {
    // CPL0 loop: out %al,$0xe0 ; jmp loop
    uint8_t code[] = {0xe6, OUT_PORT, 0xeb, 0xfc};
    put(mem, CODE, code, sizeof code);
  }

  struct kvm_sregs s;
  if (ioctl(vcpu, KVM_GET_SREGS, &s) < 0) die("KVM_GET_SREGS");
  s.cr0 = 0x80050033;
  s.cr3 = PML4;
  s.cr4 = xsave ? 0x40620 : 0x620;
  s.efer = 0xd01;
  s.gdt.base = GDT;
  s.gdt.limit = 0x4f;
  s.idt.base = IDT;
  s.idt.limit = 32 * 16 - 1;
  memset(&s.tr, 0, sizeof s.tr);
  s.tr.base = TSS;
  s.tr.limit = 0x67;
  s.tr.selector = 0x40;
  s.tr.type = 11;
  s.tr.present = 1;
  memset(&s.ldt, 0, sizeof s.ldt);
  s.ldt.unusable = 1;
  // Kernel mode first (the host takes the syscall MSRs only once long mode is set up).
  seg(&s.cs, 0x10, 0xb, 0, 1);
  seg(&s.ss, 0x18, 3, 0, 0);
  seg(&s.ds, 0x18, 3, 0, 0);
  seg(&s.es, 0x18, 3, 0, 0);
  seg(&s.fs, 0x18, 3, 0, 0);
  seg(&s.gs, 0x18, 3, 0, 0);
  if (ioctl(vcpu, KVM_SET_SREGS, &s) < 0) die("KVM_SET_SREGS (kernel)");
  struct {
    struct kvm_msrs h;
    struct kvm_msr_entry e[3];
  } msrs = {.h = {.nmsrs = 3}};
  msrs.e[0].index = 0xc0000081;  // STAR
  msrs.e[0].data = (0x23ull << 48) | (0x10ull << 32);
  msrs.e[1].index = 0xc0000082;  // LSTAR
  msrs.e[1].data = LANDING;
  msrs.e[2].index = 0xc0000084;  // SFMASK
  msrs.e[2].data = 0;
  if (ioctl(vcpu, KVM_SET_MSRS, &msrs) != 3) die("KVM_SET_MSRS");
  if (xsave) {
    struct kvm_xcrs xcrs = {.nr_xcrs = 1};
    xcrs.xcrs[0].xcr = 0;
    xcrs.xcrs[0].value = xcr0;
    if (ioctl(vcpu, KVM_SET_XCRS, &xcrs) < 0) die("KVM_SET_XCRS");
  }
  if (!outmode) {
    seg(&s.cs, 0x33, 0xb, 3, 1);
    seg(&s.ss, 0x2b, 3, 3, 0);
    seg(&s.ds, 0, 3, 3, 0);
    seg(&s.es, 0, 3, 3, 0);
    seg(&s.fs, 0, 3, 3, 0);
    seg(&s.gs, 0, 3, 3, 0);
    if (ioctl(vcpu, KVM_SET_SREGS, &s) < 0) die("KVM_SET_SREGS (user)");
  }
  struct kvm_regs r;
  memset(&r, 0, sizeof r);
  r.rip = CODE;
  r.rsp = outmode ? KSTACK_TOP : USTACK_TOP;
  r.rflags = 0x202;
  if (ioctl(vcpu, KVM_SET_REGS, &r) < 0) die("KVM_SET_REGS");
  g_vcpu = vcpu;
  if (g_hop) {
    pthread_t th;
    if ((errno = pthread_create(&th, NULL, vcpu_thread, NULL)) != 0) die("pthread_create");
    pthread_detach(th);
  }
  run->kvm_valid_regs = (nosync ? 0 : KVM_SYNC_X86_REGS) | (syncSregs ? KVM_SYNC_X86_SREGS : 0);

  // The VMM-side footprint: pages 4 KiB + 64 bytes apart (distinct pages and cache sets).
  volatile uint8_t *buf = NULL;
  if (touch > 0) {
    buf = mmap(NULL, (size_t)touch * 4160 + 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (buf == MAP_FAILED) die("mmap touch buffer");
    memset((void *)buf, 1, (size_t)touch * 4160 + 4096);
  }
  uint64_t answer = 4242, t0 = 0, inRun = 0;
  unsigned sink = 0;
  for (long round = 0; round < rounds; round++) {
    // One warm-up exit before the clock starts (the first round also faults pages in).
    for (long i = -1; i < n; i++) {
      if (i == 0) t0 = now_ns(), inRun = 0;
      if (!outmode) memcpy(run->mmio.data, &answer, 8);
      uint64_t r0 = split ? now_ns() : 0;
      int rc = run_vcpu();
      if (split) inRun += now_ns() - r0;
      for (long j = 0; j < touch; j++) sink += buf[j * 4160];
      if (rc < 0) {
        if (errno == EINTR) {
          i--;
          continue;
        }
        die("KVM_RUN");
      }
      if (outmode) {
        if (run->exit_reason != KVM_EXIT_IO || run->io.port != OUT_PORT) goto bad;
      } else {
        if (run->exit_reason != KVM_EXIT_MMIO || run->mmio.phys_addr != DOORBELL_GPA || run->mmio.is_write)
          goto bad;
        if (!nosync && run->s.regs.regs.rax != 39) {
          fprintf(stderr, "doorbell: exit with rax %llu, expected 39\n", (unsigned long long)run->s.regs.regs.rax);
          return 1;
        }
      }
      if (getregs && ioctl(vcpu, KVM_GET_REGS, &r) < 0) die("KVM_GET_REGS");
      if (i == n - 1) {
        uint64_t total = now_ns() - t0;
        if (split)
          printf("%.1f %.1f\n", (double)total / n, (double)(total - inRun) / n);
        else
          printf("%.1f\n", (double)total / n);
      }
    }
    fflush(stdout);
  }
  return sink == 0xffffffffu ? 3 : 0;  // (keeps the touches)
bad:
  fprintf(stderr, "doorbell: unexpected exit %u (io port 0x%x, mmio 0x%llx, rip 0x%llx)\n", run->exit_reason,
          run->exit_reason == KVM_EXIT_IO ? run->io.port : 0,
          run->exit_reason == KVM_EXIT_MMIO ? (unsigned long long)run->mmio.phys_addr : 0ull,
          (unsigned long long)run->s.regs.regs.rip);
  return 1;
}
