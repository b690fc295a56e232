// tsvisor KVM platform addon: the host mechanics of running application code in a KVM
// virtual machine. All policy (guest memory layout, page tables, descriptor tables, the
// machine code of the landing page and the fault stubs, how exits become kernel events)
// lives in TypeScript (../src); this file only
//   - opens /dev/kvm, creates the VM and its two memory slots (the sentry's memory file
//     at GPA 0, and a private "kernel memory" region handed to JS as an ArrayBuffer),
//   - creates vCPUs (CPUID, MSRs, descriptor-table registers), each bound to its
//     context's register array (a BigUint64Array laid out as struct user_regs_struct),
//   - runs a vCPU with KVM_RUN on the calling thread (the Node main thread) and turns the
//     exit into one small integer (a StopReason), with the registers already written into
//     the context's array: one native crossing per stop, no JS objects per system call.
// A time-slice watchdog thread signals the main thread when one drain has run longer than
// the slice; the handler sets kvm_run.immediate_exit, so KVM_RUN never holds the event
// loop much longer than the slice.
// Every failure throws a JS Error naming the host call and errno.
#include <napi.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <vector>

// In C++, <linux/kvm.h>'s flexible-array structs have a different sizeof than in C, which
// changes the ioctl numbers that encode it. Use the C values (the kernel's ABI).
#define TSV_KVM_GET_SUPPORTED_CPUID 0xc008ae05UL
#define TSV_KVM_SET_CPUID2 0x4008ae90UL
#define TSV_KVM_SET_MSRS 0x4008ae89UL
#define TSV_KVM_GET_XSAVE 0x9000aea4UL
#define TSV_KVM_SET_XSAVE 0x5000aea5UL

namespace {

// struct user_regs_struct indices (core/plugins/platform.ts Reg).
enum {
  R15 = 0, R14, R13, R12, RBP, RBX, R11, R10, R9, R8, RAX, RCX, RDX, RSI, RDI, ORIG_RAX,
  RIP, CS, EFLAGS, RSP, SS, FS_BASE, GS_BASE, DS, ES, FS, GS, NUM_REGS
};

// StopReason values (core/plugins/platform.ts) plus "slice over, still running".
enum { STOP_PREEMPTED = 0, STOP_SYSCALL = 1, STOP_FAULT = 2, STOP_SIGNAL = 3, STOP_DIED = 5 };

// What the vCPU is in the middle of when it last exited.
enum Pending { P_NONE = 0, P_MMIO = 1, P_FAULT = 2 };

constexpr int KICK_SIGNAL_OFFSET = 7;  // SIGRTMIN + 7
constexpr uint16_t FLUSH_PORT = 0xf0;
constexpr uint16_t VECTOR_PORT_BASE = 0x80;

struct Layout {
  uint64_t kmemGpa = 0, kmemSize = 0, kva = 0;  // kernel memory: GPA, size, kernel VA of its start
  uint64_t doorbellGpa = 0, landingVa = 0;
  uint64_t idtKva = 0, flushKva = 0, cmdKva = 0;
  bool userDoorbell = true;  // PVM: the doorbell load runs at CPL3; VMX/SVM: at CPL0 (after syscall)
  bool cr2InStub = true;     // the #PF stub exits with CR2 in rax, the app's rax pushed
  uint16_t userCs = 0x33, userSs = 0x2b, kernCs = 0x10, kernSs = 0x18, tr = 0x40;
};

struct Vcpu {
  int fd = -1;
  kvm_run *run = nullptr;
  uint64_t *regs = nullptr;  // the context's BigUint64Array data
  Napi::Reference<Napi::BigUint64Array> regsRef;
  uint64_t snap[NUM_REGS] = {};  // registers as reported at the last stop
  Pending pending = P_NONE;
  bool userSregs = false;  // sregs hold user mode with cr3/fs/gs below
  uint64_t cr3 = 0, fsBase = 0, gsBase = 0;
  uint64_t gdtKva = 0, tssKva = 0, stackTop = 0;
  uint64_t exits = 0;
  uint64_t runNs = 0;  // time spent in KVM_RUN (app CPU time, as seen from the host)
  uint64_t lastExitNs = 0;  // when the last KVM_RUN returned
  bool inUse = false;
  uint64_t star = 0, lstar = 0;
  bool msrsSet = false;  // set after the first KVM_SET_SREGS (the host refuses them before)
};

int g_kvm = -1, g_vm = -1;
size_t g_runSize = 0;
uint8_t *g_mem = nullptr;  // the memory file, mapped for slot 0
uint64_t g_memSize = 0;
// The memory file is registered with KVM in chunks, each on the first mapFile into it: a
// memory slot costs the host per-page metadata (shadow-paging reverse maps, 2 MiB of it
// per GiB), so a 64 GiB sparse file in one slot made every sandbox pay for 64 GiB.
constexpr uint32_t CHUNK_SLOT_BASE = 2;  // slot 1 is kernel memory
uint64_t g_chunk = 256ull << 20;
std::vector<bool> g_chunkSet;
uint8_t *g_kmem = nullptr;
Layout g_layout;
std::vector<Vcpu *> g_vcpus;
kvm_cpuid2 *g_cpuid = nullptr;
uint64_t g_xcr0 = 3;  // x87 | SSE, widened from CPUID 0xD.0 at createVm
double *g_info = nullptr;
bool g_modeChecked = false;  // the first doorbell exit confirmed the entry mode  // [signo, code, addr, access, vector, errcode, exitReason, detail]

// The platform's own cost per system call: the time from a doorbell exit's return from
// KVM_RUN to the KVM_RUN that answers it on the fast path (JS, the sentry, N-API), in a
// histogram of 0.25 µs buckets (the last one holds everything above).
constexpr int GAP_BUCKETS = 800;
struct Stats {
  uint64_t roundTrips = 0, gapNs = 0, gapMinNs = ~0ull, slowResumes = 0;
  uint64_t preempts = 0;  // KVM_RUN calls cut short by the time-slice signal
  uint32_t hist[GAP_BUCKETS] = {};
} g_stats;

// Time slice: SIGRTMIN+7 to the main thread; its handler stops the running vCPU. It comes
// from a watchdog thread (default) or, with TSVISOR_KVM_SLICE=timer, from a POSIX timer
// armed and disarmed around every drain. The watchdog costs the main thread no system
// call: arming and disarming the timer took 7 + 10 µs per drain here (median), ~1 µs per
// system call at 2 ms slices (docs/kvm.md).
volatile sig_atomic_t g_kicked = 0;
kvm_run *volatile g_current = nullptr;
timer_t g_timer;
bool g_timerOk = false;
struct Watchdog {
  pthread_t main{}, thread{};
  bool started = false;
  std::atomic<uint64_t> sliceStartNs{0};  // 0: no drain running
  std::atomic<uint64_t> sliceNs{2000000};
  std::atomic<uint32_t> seq{0};           // futex word: bumped to wake a sleeping watchdog
  std::atomic<bool> sleeping{false}, stop{false};
} g_watch;

bool CompletePending(Napi::Env env, Vcpu *v);

void OnKick(int) {
  g_kicked = 1;
  kvm_run *r = g_current;
  if (r) r->immediate_exit = 1;
}

inline uint64_t NowNs();

long Futex(std::atomic<uint32_t> *w, int op, uint32_t val) {
  return syscall(SYS_futex, reinterpret_cast<uint32_t *>(w), op, val, nullptr, nullptr, 0);
}

// The watchdog: every half slice, if the current drain is older than the slice and the
// main thread is inside KVM_RUN, kick it. After ~100 ms without a drain it sleeps on a
// futex until the next drain starts (an idle sandbox costs no wake-ups).
void *WatchdogMain(void *) {
  Watchdog &w = g_watch;
  int idle = 0;
  while (!w.stop.load()) {
    uint64_t start = w.sliceStartNs.load(), slice = w.sliceNs.load();
    if (start == 0) {
      if (++idle * (slice / 2) >= 100000000ull) {
        uint32_t seq = w.seq.load();
        w.sleeping.store(true);
        if (w.sliceStartNs.load() == 0 && !w.stop.load()) Futex(&w.seq, FUTEX_WAIT_PRIVATE, seq);
        w.sleeping.store(false);
        idle = 0;
        continue;
      }
    } else {
      idle = 0;
      if (NowNs() - start >= slice && g_current && w.sliceStartNs.load() == start)
        pthread_kill(w.main, SIGRTMIN + KICK_SIGNAL_OFFSET);
    }
    // Half a slice, or until StopWatchdog wakes it (a long slice must not delay shutdown).
    timespec ts = {(time_t)(slice / 2 / 1000000000ull), (long)(slice / 2 % 1000000000ull)};
    uint32_t seq = w.seq.load();
    if (!w.stop.load())
      syscall(SYS_futex, reinterpret_cast<uint32_t *>(&w.seq), FUTEX_WAIT_PRIVATE, seq, &ts, nullptr, 0);
  }
  return nullptr;
}

bool StartWatchdog() {
  Watchdog &w = g_watch;
  w.main = pthread_self();
  w.stop.store(false);
  w.sliceStartNs.store(0);
  // The thread starts with every signal blocked: they stay the main thread's business.
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  int rc = pthread_create(&w.thread, nullptr, WatchdogMain, nullptr);
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (rc != 0) {
    errno = rc;
    return false;
  }
  pthread_setname_np(w.thread, "tsv-slice");
  w.started = true;
  return true;
}

void StopWatchdog() {
  Watchdog &w = g_watch;
  if (!w.started) return;
  w.stop.store(true);
  w.seq.fetch_add(1);
  Futex(&w.seq, FUTEX_WAKE_PRIVATE, 1);
  pthread_join(w.thread, nullptr);
  w.started = false;
}

Napi::Error HostError(Napi::Env env, const char *call, int err, const std::string &detail = "") {
  std::string msg = std::string(call) + " failed: " + strerror(err);
  if (!detail.empty()) msg += " (" + detail + ")";
  Napi::Error e = Napi::Error::New(env, msg);
  e.Set("syscall", Napi::String::New(env, call));
  e.Set("errno", Napi::Number::New(env, err));
  return e;
}

#define THROW_HOST(call, ...)                                   \
  do {                                                          \
    HostError(env, call, errno, ##__VA_ARGS__).ThrowAsJavaScriptException(); \
    return env.Undefined();                                     \
  } while (0)

Vcpu *GetVcpu(const Napi::CallbackInfo &info, size_t i) {
  Napi::Env env = info.Env();
  uint32_t slot = info[i].As<Napi::Number>().Uint32Value();
  if (slot >= g_vcpus.size() || !g_vcpus[slot]->inUse) {
    Napi::RangeError::New(env, "kvm: no vCPU in slot " + std::to_string(slot)).ThrowAsJavaScriptException();
    return nullptr;
  }
  return g_vcpus[slot];
}

uint64_t Num64(const Napi::Value &v) {
  if (v.IsBigInt()) {
    bool lossless;
    return v.As<Napi::BigInt>().Uint64Value(&lossless);
  }
  return (uint64_t)v.As<Napi::Number>().DoubleValue();
}

// ---- probe ----

// {kvm: bool, error?: string, apiVersion, pvm: bool, vendor: 'vmx'|'svm'|'none', syncRegs, immediateExit}
Napi::Value Probe(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  struct stat st;
  o.Set("pvm", Napi::Boolean::New(env, stat("/sys/module/kvm_pvm", &st) == 0));
  uint32_t a, b, c, d;
  __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(1), "c"(0));
  bool vmx = c & (1u << 5);
  __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(0x80000001u), "c"(0));
  bool svm = c & (1u << 2);
  o.Set("vendor", Napi::String::New(env, vmx ? "vmx" : svm ? "svm" : "none"));
  int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    o.Set("kvm", Napi::Boolean::New(env, false));
    o.Set("error", Napi::String::New(env, std::string("open /dev/kvm: ") + strerror(errno)));
    return o;
  }
  int ver = ioctl(fd, KVM_GET_API_VERSION, 0);
  o.Set("apiVersion", Napi::Number::New(env, ver));
  o.Set("syncRegs", Napi::Number::New(env, ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_SYNC_REGS)));
  o.Set("immediateExit", Napi::Number::New(env, ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_IMMEDIATE_EXIT)));
  o.Set("userMemory", Napi::Number::New(env, ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_USER_MEMORY)));
  close(fd);
  if (ver != KVM_API_VERSION) {
    o.Set("kvm", Napi::Boolean::New(env, false));
    o.Set("error", Napi::String::New(env, "KVM API version " + std::to_string(ver) + ", expected " +
                                              std::to_string(KVM_API_VERSION)));
    return o;
  }
  o.Set("kvm", Napi::Boolean::New(env, true));
  return o;
}

// ---- VM ----

Napi::Value SetMemorySlot(Napi::Env env, uint32_t slot, uint64_t gpa, uint64_t size, void *host) {
  kvm_userspace_memory_region r = {};
  r.slot = slot;
  r.guest_phys_addr = gpa;
  r.memory_size = size;
  r.userspace_addr = (uint64_t)host;
  if (ioctl(g_vm, KVM_SET_USER_MEMORY_REGION, &r) < 0)
    THROW_HOST("KVM_SET_USER_MEMORY_REGION", "slot " + std::to_string(slot));
  return env.Undefined();
}

// createVm(memFd, memSize, layout{kmemGpa, kmemSize, kva, doorbellGpa, idtKva, flushKva, cmdKva}, info: Float64Array): ArrayBuffer (kernel memory)
Napi::Value CreateVm(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (g_vm >= 0) {
    Napi::Error::New(env, "kvm: the VM exists already (one per process)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  int memFd = info[0].As<Napi::Number>().Int32Value();
  uint64_t memSize = Num64(info[1]);
  Napi::Object lo = info[2].As<Napi::Object>();
  Layout L;
  L.kmemGpa = Num64(lo.Get("kmemGpa"));
  L.kmemSize = Num64(lo.Get("kmemSize"));
  L.kva = Num64(lo.Get("kva"));
  L.doorbellGpa = Num64(lo.Get("doorbellGpa"));
  L.landingVa = Num64(lo.Get("landingVa"));
  L.idtKva = Num64(lo.Get("idtKva"));
  L.flushKva = Num64(lo.Get("flushKva"));
  L.cmdKva = Num64(lo.Get("cmdKva"));
  L.userDoorbell = lo.Get("userDoorbell").ToBoolean().Value();
  L.cr2InStub = lo.Get("cr2InStub").ToBoolean().Value();
  Napi::Float64Array infoArr = info[3].As<Napi::Float64Array>();
  if (infoArr.ElementLength() < 8) {
    Napi::TypeError::New(env, "kvm: info array must hold 8 numbers").ThrowAsJavaScriptException();
    return env.Undefined();
  }

  int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
  if (kvm < 0) THROW_HOST("open /dev/kvm");
  int vm = ioctl(kvm, KVM_CREATE_VM, 0);
  if (vm < 0) {
    int e = errno;
    close(kvm);
    errno = e;
    THROW_HOST("KVM_CREATE_VM");
  }
  if (!g_cpuid) {
    int nent = 256;
    g_cpuid = (kvm_cpuid2 *)calloc(1, sizeof(kvm_cpuid2) + nent * sizeof(kvm_cpuid_entry2));
    g_cpuid->nent = nent;
    if (ioctl(kvm, TSV_KVM_GET_SUPPORTED_CPUID, g_cpuid) < 0) {
      int e = errno;
      free(g_cpuid);
      g_cpuid = nullptr;
      close(vm);
      close(kvm);
      errno = e;
      THROW_HOST("KVM_GET_SUPPORTED_CPUID");
    }
  }
  {
    // Entries of the kernel's (C) layout start at byte 8; 40 bytes each:
    // function, index, flags, eax, ebx, ecx, edx, padding[3].
    uint32_t n = *(uint32_t *)g_cpuid;
    const uint8_t *ent = (const uint8_t *)g_cpuid + 8;
    for (uint32_t i = 0; i < n; i++, ent += 40) {
      uint32_t f[7];
      memcpy(f, ent, sizeof f);
      if (f[0] == 0xd && f[1] == 0) {
        uint32_t lo, hi;
        __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
        uint64_t host = ((uint64_t)hi << 32) | lo;
        g_xcr0 = ((((uint64_t)f[6] << 32) | f[3]) & host) | 3;
      }
    }
  }
  int runSize = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
  void *mem = mmap(nullptr, memSize, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, memFd, 0);
  void *kmem = mem == MAP_FAILED ? MAP_FAILED
                                 : mmap(nullptr, L.kmemSize, PROT_READ | PROT_WRITE,
                                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (runSize <= 0 || mem == MAP_FAILED || kmem == MAP_FAILED) {
    int e = errno;
    if (mem != MAP_FAILED) munmap(mem, memSize);
    close(vm);
    close(kvm);
    errno = e;
    THROW_HOST(runSize <= 0 ? "KVM_GET_VCPU_MMAP_SIZE" : "mmap (guest memory)");
  }
  g_kvm = kvm;
  g_vm = vm;
  g_runSize = runSize;
  g_mem = (uint8_t *)mem;
  g_memSize = memSize;
  g_kmem = (uint8_t *)kmem;
  g_layout = L;
  g_info = infoArr.Data();
  // The info array must outlive the VM: keep it referenced forever (one per process).
  static Napi::Reference<Napi::Float64Array> infoRef;
  infoRef = Napi::Persistent(infoArr);

  auto undo = [&]() {
    close(g_vm);
    close(g_kvm);
    g_vm = g_kvm = -1;
    munmap(g_mem, g_memSize);
    munmap(g_kmem, L.kmemSize);
    g_mem = g_kmem = nullptr;
    return env.Undefined();
  };
  int nrSlots = ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_NR_MEMSLOTS);
  if (nrSlots <= 0) nrSlots = 32;
  g_chunk = 256ull << 20;
  while ((memSize + g_chunk - 1) / g_chunk + CHUNK_SLOT_BASE > (uint64_t)nrSlots) g_chunk *= 2;
  g_chunkSet.assign((memSize + g_chunk - 1) / g_chunk, false);
  SetMemorySlot(env, 1, L.kmemGpa, L.kmemSize, kmem);
  if (env.IsExceptionPending()) return undo();


  // The time-slice timer: SIGRTMIN+7 to this (the main) thread.
  struct sigaction sa = {};
  sa.sa_handler = OnKick;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: KVM_RUN must come back
  int sig = SIGRTMIN + KICK_SIGNAL_OFFSET;
  if (sigaction(sig, &sa, nullptr) < 0) {
    HostError(env, "sigaction (time-slice signal)", errno).ThrowAsJavaScriptException();
    return undo();
  }
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, sig);
  pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
  const char *sliceMode = getenv("TSVISOR_KVM_SLICE");
  if (!sliceMode || strcmp(sliceMode, "timer") != 0) {
    if (!StartWatchdog()) {
      HostError(env, "pthread_create (time-slice watchdog)", errno).ThrowAsJavaScriptException();
      return undo();
    }
    return Napi::ArrayBuffer::New(env, kmem, L.kmemSize);
  }
  struct sigevent sev = {};
  sev.sigev_notify = SIGEV_THREAD_ID;
  sev.sigev_signo = sig;
  sev._sigev_un._tid = (pid_t)syscall(SYS_gettid);
  if (timer_create(CLOCK_MONOTONIC, &sev, &g_timer) < 0) {
    HostError(env, "timer_create (time slice)", errno).ThrowAsJavaScriptException();
    return undo();
  }
  g_timerOk = true;

  return Napi::ArrayBuffer::New(env, kmem, L.kmemSize);
}

// ---- vCPU ----

void SetSeg(kvm_segment &s, uint16_t sel, uint8_t type, uint8_t dpl, bool code64, uint64_t base = 0) {
  s = {};
  s.base = base;
  s.limit = 0xffffffff;
  s.selector = sel;
  s.type = type;
  s.present = 1;
  s.dpl = dpl;
  s.db = code64 ? 0 : 1;
  s.s = 1;
  s.l = code64 ? 1 : 0;
  s.g = 1;
}

// Common sregs: paging, descriptor tables, task register. cr3 is the address space.
void BaseSregs(Vcpu *v, kvm_sregs &s, uint64_t cr3) {
  const Layout &L = g_layout;
  s.cr0 = 0x80050033;  // PG WP NE ET MP PE (AM off)
  s.cr3 = cr3;
  s.cr4 = 0x40620;      // PAE OSFXSR OSXMMEXCPT OSXSAVE
  s.efer = 0xd01;       // SCE LME LMA NXE
  s.gdt.base = v->gdtKva;
  s.gdt.limit = 0x4f;
  s.idt.base = L.idtKva;
  s.idt.limit = 256 * 16 - 1;
  s.tr = {};
  s.tr.base = v->tssKva;
  s.tr.limit = 0x67;
  s.tr.selector = L.tr;
  s.tr.type = 11;
  s.tr.present = 1;
  s.ldt = {};
  s.ldt.unusable = 1;
}

// The syscall MSRs; the host accepts them only once the vCPU has long-mode sregs.
bool SetSyscallMsrs(Napi::Env env, Vcpu *v) {
  // The kernel's struct kvm_msrs: u32 nmsrs, u32 pad, then the entries (C layout).
  struct {
    uint32_t nmsrs, pad;
    kvm_msr_entry e[3];
  } msrs = {};
  static_assert(offsetof(decltype(msrs), e) == 8, "kvm_msrs layout");
  msrs.nmsrs = 3;
  msrs.e[0].index = 0xc0000081;  // STAR
  msrs.e[0].data = v->star;
  msrs.e[1].index = 0xc0000082;  // LSTAR
  msrs.e[1].data = v->lstar;
  msrs.e[2].index = 0xc0000084;  // SFMASK
  msrs.e[2].data = 0;
  int set = ioctl(v->fd, TSV_KVM_SET_MSRS, &msrs);
  if (set != 3) {
    const char *which = set < 0 ? "KVM_SET_MSRS" : set == 0 ? "KVM_SET_MSRS (STAR)" : set == 1 ? "KVM_SET_MSRS (LSTAR)" : "KVM_SET_MSRS (SFMASK)";
    HostError(env, which, set < 0 ? errno : EINVAL).ThrowAsJavaScriptException();
    return false;
  }
  // XCR0: every state component KVM supports (CPUID 0xD.0), so AVX and friends work as
  // on the host (glibc picks its AVX code paths and xsave-based lazy-binding trampoline).
  kvm_xcrs xcrs = {};
  xcrs.nr_xcrs = 1;
  xcrs.xcrs[0].xcr = 0;
  xcrs.xcrs[0].value = g_xcr0;
  if (ioctl(v->fd, KVM_SET_XCRS, &xcrs) < 0) {
    HostError(env, "KVM_SET_XCRS", errno, "XCR0").ThrowAsJavaScriptException();
    return false;
  }
  v->msrsSet = true;
  return true;
}

bool SetUserSregs(Napi::Env env, Vcpu *v, uint64_t cr3, uint64_t fsBase, uint64_t gsBase) {
  kvm_sregs s;
  if (ioctl(v->fd, KVM_GET_SREGS, &s) < 0) {
    HostError(env, "KVM_GET_SREGS", errno).ThrowAsJavaScriptException();
    return false;
  }
  BaseSregs(v, s, cr3);
  const Layout &L = g_layout;
  SetSeg(s.cs, L.userCs, 0xb, 3, true);
  SetSeg(s.ss, L.userSs, 3, 3, false);
  SetSeg(s.ds, 0, 3, 3, false);
  SetSeg(s.es, 0, 3, 3, false);
  SetSeg(s.fs, 0, 3, 3, false, fsBase);
  SetSeg(s.gs, 0, 3, 3, false, gsBase);
  if (ioctl(v->fd, KVM_SET_SREGS, &s) < 0) {
    HostError(env, "KVM_SET_SREGS", errno, "user mode").ThrowAsJavaScriptException();
    return false;
  }
  v->userSregs = true;
  v->cr3 = cr3;
  v->fsBase = fsBase;
  v->gsBase = gsBase;
  if (!v->msrsSet) return SetSyscallMsrs(env, v);
  return true;
}

bool SetKernelSregs(Napi::Env env, Vcpu *v, uint64_t cr3) {
  kvm_sregs s;
  if (ioctl(v->fd, KVM_GET_SREGS, &s) < 0) {
    HostError(env, "KVM_GET_SREGS", errno).ThrowAsJavaScriptException();
    return false;
  }
  BaseSregs(v, s, cr3);
  const Layout &L = g_layout;
  SetSeg(s.cs, L.kernCs, 0xb, 0, true);
  SetSeg(s.ss, L.kernSs, 3, 0, false);
  SetSeg(s.ds, L.kernSs, 3, 0, false);
  SetSeg(s.es, L.kernSs, 3, 0, false);
  SetSeg(s.fs, 0, 3, 0, false, v->fsBase);
  SetSeg(s.gs, 0, 3, 0, false, v->gsBase);
  if (ioctl(v->fd, KVM_SET_SREGS, &s) < 0) {
    HostError(env, "KVM_SET_SREGS", errno, "kernel mode").ThrowAsJavaScriptException();
    return false;
  }
  v->userSregs = false;
  v->cr3 = cr3;
  return true;
}

// createVcpu(regs: BigUint64Array, gdtKva, tssKva, stackTop, star, lstar): slot
// KVM cannot destroy a vCPU before its VM, so released vCPUs are kept and reused.
Napi::Value CreateVcpu(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (g_vm < 0) {
    Napi::Error::New(env, "kvm: createVm() first").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::BigUint64Array regs = info[0].As<Napi::BigUint64Array>();
  if (regs.ElementLength() < NUM_REGS) {
    Napi::TypeError::New(env, "kvm: regs must hold 27 registers").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  size_t slot = 0;
  while (slot < g_vcpus.size() && g_vcpus[slot]->inUse) slot++;
  Vcpu *v;
  if (slot < g_vcpus.size()) {
    v = g_vcpus[slot];
    if (!CompletePending(env, v)) return env.Undefined();
  } else {
    int fd = ioctl(g_vm, KVM_CREATE_VCPU, slot);
    if (fd < 0) THROW_HOST("KVM_CREATE_VCPU", "vCPU " + std::to_string(slot));
    v = new Vcpu();
    v->fd = fd;
    auto fail = [&](const char *call) {
      int e = errno;
      if (v->run) munmap(v->run, g_runSize);
      close(fd);
      delete v;
      HostError(env, call, e, "vCPU " + std::to_string(slot)).ThrowAsJavaScriptException();
      return env.Undefined();
    };
    if (ioctl(fd, TSV_KVM_SET_CPUID2, g_cpuid) < 0) return fail("KVM_SET_CPUID2");
    void *run = mmap(nullptr, g_runSize, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (run == MAP_FAILED) return fail("mmap (kvm_run)");
    v->run = (kvm_run *)run;
    v->run->kvm_valid_regs = KVM_SYNC_X86_REGS;
    g_vcpus.push_back(v);
  }
  v->gdtKva = Num64(info[1]);
  v->tssKva = Num64(info[2]);
  v->stackTop = Num64(info[3]);
  v->star = Num64(info[4]);
  v->lstar = Num64(info[5]);
  v->msrsSet = false;
  v->runNs = 0;
  v->pending = P_NONE;
  v->userSregs = false;
  v->fsBase = v->gsBase = 0;
  memset(v->snap, 0, sizeof(v->snap));
  v->regs = (uint64_t *)regs.Data();
  v->regsRef = Napi::Persistent(regs);
  v->inUse = true;
  return Napi::Number::New(env, (double)slot);
}

// releaseVcpu(slot): the context is gone; the vCPU waits for the next context.
Napi::Value ReleaseVcpu(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  Vcpu *v = GetVcpu(info, 0);
  if (!v) return env.Undefined();
  v->regsRef.Reset();
  v->regs = nullptr;
  v->inUse = false;
  return env.Undefined();
}

// ---- registers ----

void KvmToUser(const kvm_regs &k, uint64_t *r) {
  r[R15] = k.r15; r[R14] = k.r14; r[R13] = k.r13; r[R12] = k.r12;
  r[RBP] = k.rbp; r[RBX] = k.rbx; r[R11] = k.r11; r[R10] = k.r10;
  r[R9] = k.r9; r[R8] = k.r8; r[RAX] = k.rax; r[RCX] = k.rcx;
  r[RDX] = k.rdx; r[RSI] = k.rsi; r[RDI] = k.rdi;
  r[RIP] = k.rip; r[EFLAGS] = k.rflags; r[RSP] = k.rsp;
}

void UserToKvm(const uint64_t *r, kvm_regs &k) {
  k.r15 = r[R15]; k.r14 = r[R14]; k.r13 = r[R13]; k.r12 = r[R12];
  k.rbp = r[RBP]; k.rbx = r[RBX]; k.r11 = r[R11]; k.r10 = r[R10];
  k.r9 = r[R9]; k.r8 = r[R8]; k.rax = r[RAX]; k.rcx = r[RCX];
  k.rdx = r[RDX]; k.rsi = r[RSI]; k.rdi = r[RDI];
  // Only the flags a Linux app may set (CF PF AF ZF SF TF DF OF RF AC ID), IF always on.
  k.rip = r[RIP]; k.rflags = (r[EFLAGS] & 0x250dd5) | 0x202; k.rsp = r[RSP];
}

void FillSegments(Vcpu *v, uint64_t *r) {
  r[CS] = g_layout.userCs;
  r[SS] = g_layout.userSs;
  r[DS] = r[ES] = r[FS] = r[GS] = 0;
  r[FS_BASE] = v->fsBase;
  r[GS_BASE] = v->gsBase;
}

// Run KVM_RUN once; returns false with errno on a failure other than EINTR.
uint64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

inline int RunOnce(Vcpu *v, bool roundTrip = false) {
  g_current = v->run;
  uint64_t t0 = NowNs();
  if (g_kicked) {
    // A kick that arrived outside KVM_RUN: honour it, unless it was meant for an earlier
    // drain (the watchdog saw the old one, the signal landed after the next one started).
    if (g_watch.started && t0 - g_watch.sliceStartNs.load() < g_watch.sliceNs.load()) g_kicked = 0;
    else v->run->immediate_exit = 1;
  }
  if (roundTrip) {
    uint64_t gap = t0 - v->lastExitNs;
    g_stats.roundTrips++;
    g_stats.gapNs += gap;
    if (gap < g_stats.gapMinNs) g_stats.gapMinNs = gap;
    uint64_t b = gap / 250;
    g_stats.hist[b < GAP_BUCKETS ? b : GAP_BUCKETS - 1]++;
  }
  int r = ioctl(v->fd, KVM_RUN, 0);
  int e = errno;
  v->lastExitNs = NowNs();
  v->runNs += v->lastExitNs - t0;
  g_current = nullptr;
  v->run->immediate_exit = 0;
  v->exits++;
  errno = e;
  return r;
}

// Finish a pending MMIO/PIO without entering the guest (immediate_exit).
bool CompletePending(Napi::Env env, Vcpu *v) {
  if (v->pending == P_NONE) return true;
  v->run->immediate_exit = 1;
  int r = ioctl(v->fd, KVM_RUN, 0);
  int e = errno;
  v->run->immediate_exit = 0;
  v->pending = P_NONE;
  if (r < 0 && e != EINTR) {
    HostError(env, "KVM_RUN", e, "completing an exit").ThrowAsJavaScriptException();
    return false;
  }
  return true;
}

// Read a u64 of kernel memory at a kernel VA.
bool ReadKva(uint64_t kva, uint64_t *out) {
  uint64_t off = kva - g_layout.kva;
  if (kva < g_layout.kva || off + 8 > g_layout.kmemSize) return false;
  memcpy(out, g_kmem + off, 8);
  return true;
}

// Turns a vCPU exit into a stop, filling regs (and g_info for faults).
int Classify(Napi::Env env, Vcpu *v, int rc, int err) {
  kvm_run *run = v->run;
  uint64_t *r = v->regs;
  if (rc < 0) {
    if (err == EINTR || err == EAGAIN) {
      v->pending = P_NONE;
      g_stats.preempts++;
      return STOP_PREEMPTED;
    }
    HostError(env, "KVM_RUN", err).ThrowAsJavaScriptException();
    return -1;
  }
  const kvm_regs &k = run->s.regs.regs;
  switch (run->exit_reason) {
    case KVM_EXIT_INTR:
      v->pending = P_NONE;
      g_stats.preempts++;
      return STOP_PREEMPTED;
    case KVM_EXIT_MMIO:
      if (run->mmio.phys_addr - g_layout.doorbellGpa < 4096 &&
          (run->mmio.is_write || k.rip != g_layout.landingVa || run->mmio.phys_addr != g_layout.doorbellGpa)) {
        // The app touched the doorbell page itself: a memory fault there (SIGSEGV, as
        // for any page it has no mapping for). The access stays pending; the kernel's
        // signal delivery replaces the registers (full path) before the app runs again.
        KvmToUser(k, r);
        r[ORIG_RAX] = (uint64_t)-1;
        FillSegments(v, r);
        memcpy(v->snap, r, sizeof(v->snap));
        v->snap[RIP] = ~0ull;  // never resume this access as it is
        v->pending = P_MMIO;
        g_info[0] = 11;
        g_info[1] = 2;  // SEGV_ACCERR
        g_info[2] = (double)(run->mmio.phys_addr - g_layout.doorbellGpa) + (double)(g_layout.landingVa + 4096);
        g_info[3] = run->mmio.is_write ? 2 : 1;
        g_info[4] = 14;
        g_info[5] = 0;
        return STOP_FAULT;
      }
      if (run->mmio.phys_addr == g_layout.doorbellGpa) {
        if (!g_modeChecked) {
          // The host probe, confirmed: on a PVM host a user `syscall` stays at CPL3, on
          // VMX/SVM it enters CPL0 at LSTAR. A mismatch would run app code at CPL0.
          kvm_sregs s;
          if (ioctl(v->fd, KVM_GET_SREGS, &s) < 0) {
            HostError(env, "KVM_GET_SREGS", errno, "entry-mode check").ThrowAsJavaScriptException();
            return -1;
          }
          if ((s.cs.dpl == 3) != g_layout.userDoorbell) {
            g_info[6] = -1;  // entry-mode mismatch
            g_info[7] = s.cs.dpl;
            g_info[2] = (double)k.rip;
            v->pending = P_NONE;
            v->userSregs = false;
            return STOP_DIED;
          }
          g_modeChecked = true;
        }
        // The landing page's load from the doorbell: a system call. rax still holds its
        // number (the load has not completed), rcx the return address, r11 the flags.
        KvmToUser(k, r);
        r[ORIG_RAX] = k.rax;
        r[RAX] = (uint64_t)-38;  // -ENOSYS, as ptrace shows at syscall entry
        r[RIP] = k.rcx;
        r[EFLAGS] = k.r11;
        FillSegments(v, r);
        memcpy(v->snap, r, sizeof(v->snap));
        v->pending = P_MMIO;
        return STOP_SYSCALL;
      }
      break;
    case KVM_EXIT_IO:
      if (run->io.direction == KVM_EXIT_IO_OUT && run->io.port >= VECTOR_PORT_BASE &&
          run->io.port < VECTOR_PORT_BASE + 32) {
        // An exception stub: the frame (error code if any, rip, cs, rflags, rsp, ss) is
        // on the kernel stack at the stub's rsp.
        unsigned vec = run->io.port - VECTOR_PORT_BASE;
        bool hasErr = vec == 8 || (vec >= 10 && vec <= 14) || vec == 17 || vec == 21 || vec == 29 || vec == 30;
        uint64_t sp = k.rsp, errcode = 0, frame[5], rax = k.rax;
        bool ok = true;
        bool cr2InRax = vec == 14 && g_layout.cr2InStub;
        if (cr2InRax) ok = ReadKva(sp, &rax), sp += 8;  // the app's rax, pushed by the stub
        if (hasErr && ok) ok = ReadKva(sp, &errcode), sp += 8;
        for (int i = 0; i < 5 && ok; i++) ok = ReadKva(sp + 8 * i, &frame[i]);
        if (!ok) break;
        KvmToUser(k, r);
        r[RAX] = rax;
        r[ORIG_RAX] = (uint64_t)-1;
        r[RIP] = frame[0];
        r[EFLAGS] = frame[2];
        r[RSP] = frame[3];
        FillSegments(v, r);
        memcpy(v->snap, r, sizeof(v->snap));
        v->pending = P_FAULT;
        v->userSregs = false;  // the vCPU is in the CPL0 stub now
        double *in = g_info;
        in[4] = vec;
        in[5] = (double)errcode;
        in[2] = 0;
        in[3] = 0;
        if (vec == 14) {
          uint64_t cr2 = k.rax;
          if (!cr2InRax) {
            kvm_sregs s;
            if (ioctl(v->fd, KVM_GET_SREGS, &s) < 0) {
              HostError(env, "KVM_GET_SREGS", errno, "page fault").ThrowAsJavaScriptException();
              return -1;
            }
            cr2 = s.cr2;
          }
          in[0] = 11;                            // SIGSEGV
          in[1] = (errcode & 1) ? 2 : 1;         // SEGV_ACCERR : SEGV_MAPERR
          in[2] = (double)cr2;
          in[3] = (errcode & 16) ? 4 : (errcode & 2) ? 2 : 1;  // Exec, Write, Read
          return STOP_FAULT;
        }
        switch (vec) {
          case 0: in[0] = 8; in[1] = 1; in[2] = (double)frame[0]; break;     // #DE: SIGFPE FPE_INTDIV
          case 1: in[0] = 5; in[1] = 2; break;                              // #DB: SIGTRAP TRAP_TRACE
          case 3: in[0] = 5; in[1] = 0x80; break;                           // #BP: SIGTRAP SI_KERNEL
          case 4: in[0] = 11; in[1] = 0x80; break;                          // #OF
          case 6: in[0] = 4; in[1] = 2; in[2] = (double)frame[0]; break;     // #UD: SIGILL ILL_ILLOPN
          case 12: in[0] = 7; in[1] = 0x80; break;                          // #SS: SIGBUS
          case 16: case 19: in[0] = 8; in[1] = 0; in[2] = (double)frame[0]; break;  // x87/SIMD: SIGFPE
          case 17: in[0] = 7; in[1] = 1; break;                             // #AC: SIGBUS BUS_ADRALN
          default: in[0] = 11; in[1] = 0x80; break;                         // #GP and the rest: SIGSEGV SI_KERNEL
        }
        return STOP_SIGNAL;
      }
      break;
    default:
      break;
  }
  // Anything else is a bug in the guest setup: report it and let the context die.
  double *in = g_info;
  in[6] = run->exit_reason;
  in[7] = run->exit_reason == KVM_EXIT_INTERNAL_ERROR ? run->internal.suberror
          : run->exit_reason == KVM_EXIT_MMIO          ? (double)run->mmio.phys_addr
          : run->exit_reason == KVM_EXIT_IO            ? run->io.port
          : run->exit_reason == KVM_EXIT_FAIL_ENTRY    ? (double)run->fail_entry.hardware_entry_failure_reason
                                                       : 0;
  in[2] = (double)k.rip;
  v->pending = P_NONE;
  v->userSregs = false;
  return STOP_DIED;
}

// run(slot, fromStop, cr3, flushCount): StopReason (0 = slice over, still running)
//   fromStop: the context's regs array is authoritative (the kernel may have edited it).
//   flushCount: entries in the page-table command buffer to apply (guest stores) first.
Napi::Value Run(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  Vcpu *v = GetVcpu(info, 0);
  if (!v) return env.Undefined();
  bool fromStop = info[1].As<Napi::Boolean>().Value();
  uint64_t cr3 = Num64(info[2]);
  uint32_t flush = info[3].As<Napi::Number>().Uint32Value();
  uint64_t *r = v->regs;
  bool fast = false;
  bool syscallStop = fromStop && v->pending == P_MMIO;
  if (fromStop && flush == 0 && v->userSregs && cr3 == v->cr3) {
    if (v->pending == P_MMIO) {
      fast = r[RIP] == v->snap[RIP] && r[FS_BASE] == v->fsBase && r[GS_BASE] == v->gsBase;
      // Only rax may differ: the landing's load completes with it and jumps to rcx.
      for (int i = 0; fast && i < NUM_REGS; i++)
        if (i != RAX && r[i] != v->snap[i]) fast = false;
      if (fast) memcpy(v->run->mmio.data, &r[RAX], 8);
    } else if (v->pending == P_FAULT || v->pending == P_NONE) {
      fast = memcmp(r, v->snap, sizeof(v->snap)) == 0;
    }
  } else if (!fromStop && flush == 0) {
    fast = true;  // continuing after a time slice, wherever the vCPU was (maybe in a stub)
  }
  if (!fast && v->pending == P_FAULT && fromStop && flush == 0 && cr3 == v->cr3 &&
      memcmp(r, v->snap, sizeof(v->snap)) == 0) {
    fast = true;  // the stub's iretq returns to the faulting instruction
  }
  if (!fast) {
    kvm_regs k = {};
    kvm_sregs saved;
    if (v->pending == P_MMIO) memcpy(v->run->mmio.data, &r[RAX], 8);
    if (!CompletePending(env, v)) return env.Undefined();
    uint64_t fsBase = r[FS_BASE], gsBase = r[GS_BASE];
    if (fromStop) {
      UserToKvm(r, k);
    } else {
      // Continuing after a time slice with page-table stores owed: the vCPU may be
      // anywhere (user code or a CPL0 stub); save its whole state and put it back.
      if (ioctl(v->fd, KVM_GET_REGS, &k) < 0) THROW_HOST("KVM_GET_REGS");
      if (ioctl(v->fd, KVM_GET_SREGS, &saved) < 0) THROW_HOST("KVM_GET_SREGS");
    }
    if (flush > 0) {
      if (!SetKernelSregs(env, v, cr3)) return env.Undefined();
      kvm_regs f = {};
      f.rip = g_layout.flushKva;
      f.rsi = g_layout.cmdKva;
      f.rcx = flush;
      f.rsp = v->stackTop;
      f.rflags = 2;
      if (ioctl(v->fd, KVM_SET_REGS, &f) < 0) THROW_HOST("KVM_SET_REGS", "page-table flush");
      int rc = RunOnce(v);
      int e = errno;
      if (rc < 0 && e == EINTR) {
        // A time-slice signal during the flush: run it again to its end.
        g_kicked = 0;
        rc = RunOnce(v);
        e = errno;
      }
      if (rc < 0 || v->run->exit_reason != KVM_EXIT_IO || v->run->io.port != FLUSH_PORT) {
        std::string d = rc < 0 ? std::string("errno ") + strerror(e)
                               : "exit " + std::to_string(v->run->exit_reason) + " rip 0x";
        char buf[32];
        snprintf(buf, sizeof buf, "%llx", (unsigned long long)v->run->s.regs.regs.rip);
        if (rc >= 0) d += buf;
        if (rc >= 0 && v->run->exit_reason == KVM_EXIT_INTERNAL_ERROR)
          d += " internal suberror " + std::to_string(v->run->internal.suberror);
        Napi::Error::New(env, "kvm: page-table flush stub did not finish: " + d).ThrowAsJavaScriptException();
        return env.Undefined();
      }
      v->pending = P_FAULT;  // an OUT is pending; complete it before switching
      if (!CompletePending(env, v)) return env.Undefined();
    }
    if (!fromStop) {
      if (ioctl(v->fd, KVM_SET_SREGS, &saved) < 0) THROW_HOST("KVM_SET_SREGS", "restoring after a flush");
      v->userSregs = saved.cs.dpl == 3;
      v->cr3 = saved.cr3;
    } else if (!v->userSregs || v->cr3 != cr3 || v->fsBase != fsBase || v->gsBase != gsBase) {
      if (!SetUserSregs(env, v, cr3, fsBase, gsBase)) return env.Undefined();
    }
    if (ioctl(v->fd, KVM_SET_REGS, &k) < 0) THROW_HOST("KVM_SET_REGS");
  }
  if (syscallStop && !fast) g_stats.slowResumes++;
  int rc = RunOnce(v, syscallStop && fast);
  int e = errno;
  int stop = Classify(env, v, rc, e);
  if (stop < 0) return env.Undefined();
  return Napi::Number::New(env, stop);
}

// fetchRegs(slot): after a time slice (vCPU in user mode), copy its registers into the
// context's array so the kernel can see them (Interrupt stop).
Napi::Value FetchRegs(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  Vcpu *v = GetVcpu(info, 0);
  if (!v) return env.Undefined();
  kvm_sregs s;
  if (ioctl(v->fd, KVM_GET_SREGS, &s) < 0) THROW_HOST("KVM_GET_SREGS");
  if (s.cs.dpl != 3) return Napi::Boolean::New(env, false);  // inside a stub: not yet
  kvm_regs k;
  if (ioctl(v->fd, KVM_GET_REGS, &k) < 0) THROW_HOST("KVM_GET_REGS");
  KvmToUser(k, v->regs);
  v->regs[ORIG_RAX] = (uint64_t)-1;
  FillSegments(v, v->regs);
  memcpy(v->snap, v->regs, sizeof(v->snap));
  v->pending = P_NONE;
  return Napi::Boolean::New(env, true);
}

// armSlice(us): start (us > 0) or stop (0) the time-slice timer; clears a past kick.
Napi::Value ArmSlice(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  double us = info[0].As<Napi::Number>().DoubleValue();
  g_kicked = 0;
  if (g_watch.started) {
    Watchdog &w = g_watch;
    if (us <= 0) {
      w.sliceStartNs.store(0);
      return env.Undefined();
    }
    w.sliceNs.store(us < 1 ? 1000 : (uint64_t)(us * 1000));
    w.sliceStartNs.store(NowNs());
    if (w.sleeping.load()) {
      w.seq.fetch_add(1);
      Futex(&w.seq, FUTEX_WAKE_PRIVATE, 1);
    }
    return env.Undefined();
  }
  if (!g_timerOk) return env.Undefined();
  itimerspec its = {};
  if (us > 0) {
    its.it_value.tv_sec = (time_t)(us / 1e6);
    its.it_value.tv_nsec = (long)((us - its.it_value.tv_sec * 1e6) * 1000);
    if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0) its.it_value.tv_nsec = 1000;
  }
  if (timer_settime(g_timer, 0, &its, nullptr) < 0) THROW_HOST("timer_settime");
  return env.Undefined();
}

// ---- FPU/SSE state (the FXSAVE legacy area of the XSAVE image) ----

Napi::Value GetFp(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  Vcpu *v = GetVcpu(info, 0);
  if (!v) return env.Undefined();
  Napi::Uint8Array out = info[1].As<Napi::Uint8Array>();
  if (out.ByteLength() < 512) {
    Napi::RangeError::New(env, "getFpState: buffer must hold 512 bytes").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  kvm_xsave x;
  if (ioctl(v->fd, TSV_KVM_GET_XSAVE, &x) < 0) THROW_HOST("KVM_GET_XSAVE");
  memcpy(out.Data(), x.region, 464);
  // Bytes 464..511 are software-defined: KVM leaves its own data there (e.g. xfeatures);
  // as PTRACE_GETFPREGS, hand out zeros.
  memset(out.Data() + 464, 0, 48);
  return env.Undefined();
}

Napi::Value SetFp(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  Vcpu *v = GetVcpu(info, 0);
  if (!v) return env.Undefined();
  Napi::Uint8Array in = info[1].As<Napi::Uint8Array>();
  if (in.ByteLength() < 512) {
    Napi::RangeError::New(env, "setFpState: buffer must hold 512 bytes").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  kvm_xsave x;
  if (ioctl(v->fd, TSV_KVM_GET_XSAVE, &x) < 0) THROW_HOST("KVM_GET_XSAVE");
  memcpy(x.region, in.Data(), 464);  // bytes 464..511 are reserved/software
  uint64_t bv;
  memcpy(&bv, (uint8_t *)x.region + 512, 8);
  bv |= 3;  // x87 and SSE state are given
  memcpy((uint8_t *)x.region + 512, &bv, 8);
  if (ioctl(v->fd, TSV_KVM_SET_XSAVE, &x) < 0) THROW_HOST("KVM_SET_XSAVE");
  return env.Undefined();
}

// spinSyscalls(slot, n, rax): the floor of the system-call path on this host. The slot's
// vCPU must be stopped at a syscall (doorbell) exit with unchanged registers; answers the
// next n doorbell exits with `rax` in C (no JS, no N-API crossing) and stops at the n-th,
// leaving the context stopped there as at a normal syscall stop. Returns elapsed ns, or
// -1 if an exit other than a doorbell came first (the context is then lost).
Napi::Value SpinSyscalls(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  Vcpu *v = GetVcpu(info, 0);
  if (!v) return env.Undefined();
  uint32_t n = info[1].As<Napi::Number>().Uint32Value();
  uint64_t rax = Num64(info[2]);
  if (v->pending != P_MMIO) {
    Napi::Error::New(env, "spinSyscalls: the vCPU is not stopped at a system call").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  uint64_t t0 = NowNs();
  for (uint32_t i = 0; i < n; i++) {
    memcpy(v->run->mmio.data, &rax, 8);
    int rc = ioctl(v->fd, KVM_RUN, 0);
    if (rc < 0 && errno == EINTR) {
      i--;
      continue;
    }
    if (rc < 0 || v->run->exit_reason != KVM_EXIT_MMIO || v->run->mmio.phys_addr != g_layout.doorbellGpa) {
      v->pending = P_NONE;
      return Napi::Number::New(env, -1);
    }
  }
  v->lastExitNs = NowNs();
  uint64_t ns = v->lastExitNs - t0;
  int stop = Classify(env, v, 0, 0);
  if (stop < 0) return env.Undefined();
  return Napi::Number::New(env, (double)ns);
}

Napi::Value RunNs(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  Vcpu *v = GetVcpu(info, 0);
  if (!v) return env.Undefined();
  return Napi::Number::New(env, (double)v->runNs);
}

// resetFpState(slot): the FPU/SSE/AVX state of a fresh process (execve): every XSAVE
// component in its init state, MXCSR 0x1f80, FCW 0x37f.
Napi::Value ResetFp(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  Vcpu *v = GetVcpu(info, 0);
  if (!v) return env.Undefined();
  kvm_xsave x;
  if (ioctl(v->fd, TSV_KVM_GET_XSAVE, &x) < 0) THROW_HOST("KVM_GET_XSAVE");
  uint8_t *b = (uint8_t *)x.region;
  memset(b, 0, 512 + 64);  // legacy area and XSAVE header (XSTATE_BV = 0: all init)
  uint16_t fcw = 0x37f;
  uint32_t mxcsr = 0x1f80;
  memcpy(b, &fcw, 2);
  memcpy(b + 24, &mxcsr, 4);
  if (ioctl(v->fd, TSV_KVM_SET_XSAVE, &x) < 0) THROW_HOST("KVM_SET_XSAVE");
  return env.Undefined();
}

// stats(reset): {roundTrips, gapNs, gapMinNs, gapMedianNs, gapP90Ns, gapP99Ns, gapsOver20us, slowResumes, preempts}: system
// calls answered on the fast path and the time between their exit and the answering
// KVM_RUN (the platform's and the sentry's share of a round trip); reset clears them.
Napi::Value GetStats(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  const Stats &s = g_stats;
  o.Set("roundTrips", Napi::Number::New(env, (double)s.roundTrips));
  o.Set("gapNs", Napi::Number::New(env, (double)s.gapNs));
  o.Set("gapMinNs", Napi::Number::New(env, s.roundTrips ? (double)s.gapMinNs : 0));
  auto quantile = [&](double q) {
    uint64_t want = (uint64_t)(q * (double)s.roundTrips), seen = 0;
    for (int b = 0; b < GAP_BUCKETS; b++) {
      seen += s.hist[b];
      if (seen > want) return (double)b * 250 + 125;
    }
    return 0.0;
  };
  o.Set("gapMedianNs", Napi::Number::New(env, s.roundTrips ? quantile(0.5) : 0));
  o.Set("gapP90Ns", Napi::Number::New(env, s.roundTrips ? quantile(0.9) : 0));
  o.Set("gapP99Ns", Napi::Number::New(env, s.roundTrips ? quantile(0.99) : 0));
  // Round trips whose gap was above 20 µs, and their share of gapNs.
  uint64_t over = 0;
  for (int b = 80; b < GAP_BUCKETS; b++) over += s.hist[b];
  o.Set("gapsOver20us", Napi::Number::New(env, (double)over));
  o.Set("slowResumes", Napi::Number::New(env, (double)s.slowResumes));
  o.Set("preempts", Napi::Number::New(env, (double)s.preempts));
  if (info.Length() > 0 && info[0].ToBoolean().Value()) g_stats = Stats();
  return o;
}

Napi::Value Exits(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  Vcpu *v = GetVcpu(info, 0);
  if (!v) return env.Undefined();
  return Napi::Number::New(env, (double)v->exits);
}

// destroyVm(): closes every vCPU and the VM, unmaps guest memory. Idempotent.
Napi::Value DestroyVm(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  for (auto *&v : g_vcpus) {
    munmap(v->run, g_runSize);
    close(v->fd);
    v->regsRef.Reset();
    delete v;
    v = nullptr;
  }
  g_vcpus.clear();
  if (g_timerOk) timer_delete(g_timer);
  g_timerOk = false;
  StopWatchdog();
  if (g_vm >= 0) close(g_vm);
  if (g_kvm >= 0) close(g_kvm);
  g_vm = g_kvm = -1;
  g_modeChecked = false;
  if (g_mem) munmap(g_mem, g_memSize);
  g_mem = nullptr;
  g_chunkSet.clear();
  // Kernel memory stays mapped (JS may still hold its ArrayBuffer) but its pages go back
  // to the host: it reads as zeros from now on.
  if (g_kmem) madvise(g_kmem, g_layout.kmemSize, MADV_DONTNEED);
  g_kmem = nullptr;
  return env.Undefined();
}

// Pre-faulting: the memory file's pages in a mapped range are faulted into this process's
// mapping of it (the one KVM reads guest memory through), so
// that KVM's shadow-paging fault for one page can also fill in its neighbours (KVM only
// prefetches pages already present in the host page tables). Returns 0 or the errno
// (EINVAL: this kernel has no MADV_POPULATE_*).
#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#define MADV_POPULATE_WRITE 23
#endif
// mapped(fileOffset, length, populate): the sentry maps [fileOffset, +length) of the memory
// file into the app: registers the memory slots covering it (first use of a chunk), then,
// when populate is 1 (read) or 2 (write), pre-faults the range (see above). Returns 0 or
// the populate errno; throws if KVM refuses a slot.
Napi::Value Mapped(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  uint64_t off = Num64(info[0]), len = Num64(info[1]);
  uint32_t populate = info[2].As<Napi::Number>().Uint32Value();
  if (!g_mem || off + len > g_memSize || off % 4096 || len % 4096) {
    Napi::RangeError::New(env, "kvm: mapped(): range outside the memory file").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  if (len == 0) return Napi::Number::New(env, 0);
  for (uint64_t c = off / g_chunk, last = (off + len - 1) / g_chunk; c <= last; c++) {
    if (g_chunkSet[c]) continue;
    uint64_t gpa = c * g_chunk, size = g_memSize - gpa < g_chunk ? g_memSize - gpa : g_chunk;
    SetMemorySlot(env, CHUNK_SLOT_BASE + (uint32_t)c, gpa, size, g_mem + gpa);
    if (env.IsExceptionPending()) return env.Undefined();
    g_chunkSet[c] = true;
  }
  if (populate == 0) return Napi::Number::New(env, 0);
  int rc = madvise(g_mem + off, len, populate == 2 ? MADV_POPULATE_WRITE : MADV_POPULATE_READ);
  return Napi::Number::New(env, rc < 0 ? errno : 0);
}

Napi::Value DiscardKmem(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  uint64_t off = Num64(info[0]), len = Num64(info[1]);
  if (!g_kmem || off + len > g_layout.kmemSize) return env.Undefined();
  madvise(g_kmem + off, len, MADV_DONTNEED);
  return env.Undefined();
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("probe", Napi::Function::New(env, Probe));
  exports.Set("createVm", Napi::Function::New(env, CreateVm));
  exports.Set("destroyVm", Napi::Function::New(env, DestroyVm));
  exports.Set("createVcpu", Napi::Function::New(env, CreateVcpu));
  exports.Set("releaseVcpu", Napi::Function::New(env, ReleaseVcpu));
  exports.Set("run", Napi::Function::New(env, Run));
  exports.Set("fetchRegs", Napi::Function::New(env, FetchRegs));
  exports.Set("armSlice", Napi::Function::New(env, ArmSlice));
  exports.Set("getFpState", Napi::Function::New(env, GetFp));
  exports.Set("setFpState", Napi::Function::New(env, SetFp));
  exports.Set("exits", Napi::Function::New(env, Exits));
  exports.Set("stats", Napi::Function::New(env, GetStats));
  exports.Set("runNs", Napi::Function::New(env, RunNs));
  exports.Set("resetFpState", Napi::Function::New(env, ResetFp));
  exports.Set("spinSyscalls", Napi::Function::New(env, SpinSyscalls));
  exports.Set("discardKmem", Napi::Function::New(env, DiscardKmem));
  exports.Set("mapped", Napi::Function::New(env, Mapped));
  return exports;
}

}  // namespace

NODE_API_MODULE(tsvisor_kvm, Init)
