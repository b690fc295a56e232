// tsvisor ptrace platform addon: the host mechanics of running application code in stub
// processes under PTRACE_SYSEMU. All policy (which thread to use, when to resume, how to
// map stops to kernel events) lives in TypeScript; this file only
//   - places the stub code page and forks the master stub (async-signal-safe child),
//   - injects single system calls into stopped stub threads,
//   - keeps a slot table of application threads, each with a pointer into its context's
//     register array (a BigUint64Array laid out as struct user_regs_struct),
//   - resumes a slot (PTRACE_SETREGS + PTRACE_SYSEMU) and polls for stops
//     (waitpid(-pgid, __WALL|WNOHANG) + PTRACE_GETREGS), returning slot and stop kind as
//     one small integer: one native crossing per stop, no JS objects per system call.
// Every call must come from the thread that created the master stub (the Node main
// thread): ptrace tracer identity is per OS thread.
// Every failure throws a JS Error naming the host call, errno and pid.
#include <napi.h>

#include <cpuid.h>
#include <dirent.h>
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <string>
#include <unordered_map>
#include <vector>

#ifndef SYS_close_range
#define SYS_close_range 436
#endif
#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

// glibc >= 2.35 registers an rseq area for every thread; a forked child inherits the
// registration. Declared weak so the addon also loads on older C libraries.
extern "C" {
extern const ptrdiff_t __rseq_offset __attribute__((weak));
extern const unsigned int __rseq_size __attribute__((weak));
}

// The stub: position-independent code copied to a page at a fixed high address.
// Entry (reached once, by the master stub right after its SIGSTOP):
//   munmap(0, stub)                          everything below the stub page
//   munmap(stub + 4096, TASK_TOP - that)     anything above it (normally nothing)
//   int3                                     "ready": the tracer sees SIGTRAP
// tsv_stub_inject (the injection point; the tracer sets rip here, rax and args):
//   syscall; int3; jmp tsv_stub_inject
// The stub uses no stack and no data; after the munmaps the process owns exactly this
// page (plus the kernel's vsyscall page, which cannot be unmapped).
__asm__(
    ".pushsection .text\n"
    ".balign 64\n"
    ".globl tsv_stub_begin\n"
    ".hidden tsv_stub_begin\n"
    ".globl tsv_stub_inject\n"
    ".hidden tsv_stub_inject\n"
    ".globl tsv_stub_end\n"
    ".hidden tsv_stub_end\n"
    "tsv_stub_begin:\n"
    ".Ltsv_begin:\n"
    "  xor %edi, %edi\n"
    "  lea .Ltsv_begin(%rip), %rsi\n"
    "  mov $11, %eax\n"
    "  syscall\n"
    "  lea .Ltsv_begin+4096(%rip), %rdi\n"
    "  movabs $0x7ffffffff000, %rsi\n"
    "  sub %rdi, %rsi\n"
    "  jbe .Ltsv_ready\n"
    "  mov $11, %eax\n"
    "  syscall\n"
    ".Ltsv_ready:\n"
    "  int3\n"
    "tsv_stub_inject:\n"
    ".Ltsv_inject:\n"
    "  syscall\n"
    "  int3\n"
    "  jmp .Ltsv_inject\n"
    "tsv_stub_end:\n"
    ".popsection\n");
extern "C" const char tsv_stub_begin[];
extern "C" const char tsv_stub_inject[];
extern "C" const char tsv_stub_end[];

namespace {

constexpr uintptr_t kPage = 4096;
constexpr uintptr_t kTaskTop = 0x7ffffffff000ULL;  // x86-64 4-level paging TASK_SIZE
constexpr int kStubMemFd = 3;                       // the memory file's fd number in every stub
constexpr int kInterruptSignal = SIGCHLD;           // as gVisor: ignored by default, never app-visible
constexpr int kNumRegs = 27;
static_assert(sizeof(struct user_regs_struct) == kNumRegs * 8, "user_regs_struct layout");
static_assert(sizeof(struct user_fpregs_struct) == 512, "user_fpregs_struct layout");

// ptrace options (numeric: glibc's enum and linux/ptrace.h cannot both be included).
constexpr long kOptTraceSysGood = 0x1;
constexpr long kOptTraceFork = 0x2;
constexpr long kOptTraceVfork = 0x4;
constexpr long kOptTraceClone = 0x8;
constexpr long kOptExitKill = 1L << 20;
constexpr int kEventFork = 1, kEventVfork = 2, kEventClone = 3;

// Stop kinds; must match StopReason in core/plugins/platform.ts.
enum Kind : int { kSyscall = 1, kFault = 2, kSignal = 3, kInterrupt = 4, kDied = 5 };
enum State : uint8_t { kFree = 0, kStopped = 1, kRunning = 2, kDead = 3 };

struct Slot {
  pid_t tid = 0;
  pid_t tgid = 0;
  uint64_t* regs = nullptr;  // into the context's BigUint64Array backing store
  napi_ref ref = nullptr;    // keeps that array alive
  State state = kFree;
  bool intrSent = false;  // our interrupt signal is on its way to this thread
};

uintptr_t g_stub = 0;  // address of the stub page (same in Node and every stub)
std::vector<Slot> g_slots;
std::vector<int> g_free;
std::unordered_map<pid_t, int> g_byTid;
// Stub processes (master and address spaces) not yet reaped -> their process group.
// Only these are ever sent a signal by pid, so a recycled pid is never hit.
std::unordered_map<pid_t, pid_t> g_procs;
double* g_info = nullptr;  // [signo, code, addr, access] of the last Fault/Signal stop
napi_ref g_infoRef = nullptr;
pid_t g_self = 0;
bool g_pinned = false;
cpu_set_t g_savedMask;

// ---------------------------------------------------------------------------------------
// Errors

std::string ErrName(int err) {
  const char* n = strerrorname_np(err);
  return n ? std::string(n) : "errno " + std::to_string(err);
}

Napi::Error HostError(Napi::Env env, const char* call, int err, pid_t pid) {
  std::string msg = std::string(call) + " failed";
  if (pid > 0) msg += " for pid " + std::to_string(pid);
  msg += ": " + ErrName(err) + " (" + strerror(err) + ")";
  Napi::Error e = Napi::Error::New(env, msg);
  e.Set("syscall", Napi::String::New(env, call));
  e.Set("errno", Napi::Number::New(env, err));
  e.Set("code", Napi::String::New(env, ErrName(err)));
  if (pid > 0) e.Set("pid", Napi::Number::New(env, pid));
  return e;
}

Napi::Error PlainError(Napi::Env env, const std::string& msg, pid_t pid) {
  Napi::Error e = Napi::Error::New(env, msg);
  if (pid > 0) e.Set("pid", Napi::Number::New(env, pid));
  return e;
}

std::string DescribeStatus(int st) {
  char buf[96];
  if (WIFEXITED(st))
    snprintf(buf, sizeof buf, "exited with status %d", WEXITSTATUS(st));
  else if (WIFSIGNALED(st))
    snprintf(buf, sizeof buf, "killed by signal %d", WTERMSIG(st));
  else if (WIFSTOPPED(st))
    snprintf(buf, sizeof buf, "stopped by signal %d (event %d)", WSTOPSIG(st), st >> 16);
  else
    snprintf(buf, sizeof buf, "status 0x%x", st);
  return buf;
}

// ---------------------------------------------------------------------------------------
// Argument helpers (validate in C++, throw TypeError/RangeError naming the function)

int64_t IntArg(const Napi::CallbackInfo& info, size_t i, const char* fn) {
  if (i >= info.Length() || !info[i].IsNumber())
    throw Napi::TypeError::New(info.Env(), std::string(fn) + ": argument " + std::to_string(i) + " must be a number");
  double d = info[i].As<Napi::Number>().DoubleValue();
  if (d != (double)(int64_t)d)
    throw Napi::RangeError::New(info.Env(), std::string(fn) + ": argument " + std::to_string(i) + " must be an integer");
  return (int64_t)d;
}

pid_t PidArg(const Napi::CallbackInfo& info, size_t i, const char* fn) {
  int64_t v = IntArg(info, i, fn);
  if (v <= 0 || v > 0x3fffffff) throw Napi::RangeError::New(info.Env(), std::string(fn) + ": bad pid/tid");
  return (pid_t)v;
}

Slot& SlotArg(const Napi::CallbackInfo& info, size_t i, const char* fn, int* idx = nullptr) {
  int64_t v = IntArg(info, i, fn);
  if (v < 0 || (uint64_t)v >= g_slots.size() || g_slots[v].state == kFree)
    throw Napi::RangeError::New(info.Env(), std::string(fn) + ": no such context slot " + std::to_string(v));
  if (idx) *idx = (int)v;
  return g_slots[v];
}

// ---------------------------------------------------------------------------------------
// Host helpers

// Blocking waitpid on one specific thread. Only used for injected system calls and
// thread/process teardown, which complete in microseconds.
int WaitTid(Napi::Env env, pid_t tid, int* status) {
  for (;;) {
    pid_t r = waitpid(tid, status, __WALL);
    if (r == tid) return 0;
    if (r < 0 && errno == EINTR) continue;
    if (r < 0 && errno == ECHILD) return -1;
    throw HostError(env, "waitpid", r < 0 ? errno : EINVAL, tid);
  }
}

// Called for every reaped exit status.
void ForgetTid(pid_t tid) {
  g_procs.erase(tid);
  auto it = g_byTid.find(tid);
  if (it == g_byTid.end()) return;
  Slot& s = g_slots[it->second];
  s.state = kDead;
  s.intrSent = false;
  g_byTid.erase(it);
}

// Waits until `tid` has exited and is reaped (it must be exiting or about to be killed);
// stops seen on the way are continued without a signal.
void ReapTid(Napi::Env env, pid_t tid) {
  for (;;) {
    int st;
    if (WaitTid(env, tid, &st) < 0) break;
    if (WIFEXITED(st) || WIFSIGNALED(st)) break;
    ptrace(PTRACE_CONT, tid, 0, 0);
  }
  ForgetTid(tid);
}

uintptr_t InjectPoint() { return g_stub + (uintptr_t)(tsv_stub_inject - tsv_stub_begin); }

// Maps the stub page in this (Node) process at the highest free page below TASK_TOP;
// every stub inherits it at the same address through fork.
uintptr_t SetupStubPage(Napi::Env env) {
  if (g_stub) return g_stub;
  size_t len = (size_t)(tsv_stub_end - tsv_stub_begin);
  if (len > kPage) throw PlainError(env, "stub code larger than a page", 0);
  for (uintptr_t a = kTaskTop - kPage; a >= kTaskTop - (1ULL << 32); a -= kPage) {
    void* p = mmap((void*)a, kPage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (p == MAP_FAILED) {
      if (errno == EEXIST) continue;
      throw HostError(env, "mmap(stub page)", errno, 0);
    }
    if ((uintptr_t)p != a) {  // a kernel without MAP_FIXED_NOREPLACE treats it as a hint
      munmap(p, kPage);
      continue;
    }
    memcpy(p, tsv_stub_begin, len);
    if (mprotect(p, kPage, PROT_READ | PROT_EXEC) != 0) {
      int e = errno;
      munmap(p, kPage);
      throw HostError(env, "mprotect(stub page)", e, 0);
    }
    g_stub = a;
    return a;
  }
  throw PlainError(env, "no free page for the stub in the top 4 GiB of the address space", 0);
}

// ---------------------------------------------------------------------------------------
// The master stub child. Between fork and the jump to the stub only raw system calls
// (async-signal-safe): Node is multi-threaded and the child has a copy of its memory.

struct KernelSigaction {
  uintptr_t handler;
  unsigned long flags;
  uintptr_t restorer;
  uint64_t mask;
};

enum ChildStep {
  kStepSigmask = 1,
  kStepSetsid,
  kStepPdeathsig,
  kStepParentGone,
  kStepAffinity,
  kStepDupMemfd,
  kStepCloseFds,
  kStepTraceme,
};
const char* StepName(int s) {
  switch (s) {
    case kStepSigmask: return "rt_sigprocmask";
    case kStepSetsid: return "setsid";
    case kStepPdeathsig: return "prctl(PR_SET_PDEATHSIG)";
    case kStepParentGone: return "getppid (parent exited)";
    case kStepAffinity: return "sched_setaffinity";
    case kStepDupMemfd: return "dup3(memory fd)";
    case kStepCloseFds: return "close_range";
    case kStepTraceme: return "ptrace(PTRACE_TRACEME)";
    default: return "unknown step";
  }
}
constexpr int kChildExitBase = 100;

[[noreturn]] void ChildFail(int step) {
  syscall(SYS_exit_group, kChildExitBase + step);
  __builtin_unreachable();
}

void UnregisterRseq() {
  if (&__rseq_size == nullptr || &__rseq_offset == nullptr || __rseq_size == 0) return;
  char* tp;
  __asm__ volatile("mov %%fs:0, %0" : "=r"(tp));
  void* area = tp + __rseq_offset;
  const unsigned sig = 0x53053053;  // RSEQ_SIG on x86
  // glibc registers max(__rseq_size, 32) bytes; the kernel insists on the same length.
  unsigned first = __rseq_size < 32 ? 32 : __rseq_size;
  if (syscall(SYS_rseq, area, first, 1 /* RSEQ_FLAG_UNREGISTER */, sig) == 0) return;
  if (errno == ENOSYS) return;
  for (unsigned len = 20; len <= 1024; len += 4)
    if (len != first && syscall(SYS_rseq, area, len, 1, sig) == 0) return;
}

[[noreturn]] void ResetFpuAndJump(uintptr_t entry) {
  // An XRSTOR image with XSTATE_BV = 0 puts x87/SSE/AVX/AVX-512 in their init state, so
  // no register content of Node leaks into app threads. MXCSR is loaded from the image.
  alignas(64) static uint8_t area[1024];  // static: the child's own copy-on-write page
  for (size_t i = 0; i < sizeof area; i++) area[i] = 0;
  area[24] = 0x80;
  area[25] = 0x1f;  // MXCSR = 0x1f80
  unsigned a, b, c, d;
  __cpuid(1, a, b, c, d);
  if (c & (1u << 27)) {  // OSXSAVE
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    lo &= 0xff;  // x87, SSE, AVX, MPX, AVX-512; not PKRU nor XFD-managed AMX
    __asm__ volatile(
        "xrstor64 (%0)\n\t"
        "jmp *%1\n\t" ::"r"(area),
        "r"(entry), "a"(lo), "d"(0)
        : "memory");
  } else {
    __asm__ volatile(
        "fninit\n\t"
        "ldmxcsr 24(%0)\n\t"
        "pxor %%xmm0, %%xmm0\n\tpxor %%xmm1, %%xmm1\n\tpxor %%xmm2, %%xmm2\n\tpxor %%xmm3, %%xmm3\n\t"
        "pxor %%xmm4, %%xmm4\n\tpxor %%xmm5, %%xmm5\n\tpxor %%xmm6, %%xmm6\n\tpxor %%xmm7, %%xmm7\n\t"
        "pxor %%xmm8, %%xmm8\n\tpxor %%xmm9, %%xmm9\n\tpxor %%xmm10, %%xmm10\n\tpxor %%xmm11, %%xmm11\n\t"
        "pxor %%xmm12, %%xmm12\n\tpxor %%xmm13, %%xmm13\n\tpxor %%xmm14, %%xmm14\n\tpxor %%xmm15, %%xmm15\n\t"
        "jmp *%1\n\t" ::"r"(area),
        "r"(entry)
        : "memory");
  }
  __builtin_unreachable();
}

[[noreturn]] void MasterChild(int memFd, int cpu, pid_t parent, uintptr_t entry) {
  uint64_t empty = 0;
  if (syscall(SYS_rt_sigprocmask, SIG_SETMASK, &empty, nullptr, 8) != 0) ChildFail(kStepSigmask);
  KernelSigaction dfl = {0, 0, 0, 0};  // SIG_DFL, no flags, empty mask
  for (int s = 1; s <= 64; s++)
    if (s != SIGKILL && s != SIGSTOP) syscall(SYS_rt_sigaction, s, &dfl, nullptr, 8);
  if (syscall(SYS_setsid) < 0) ChildFail(kStepSetsid);
  if (syscall(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0) ChildFail(kStepPdeathsig);
  if (syscall(SYS_getppid) != parent) ChildFail(kStepParentGone);
  static const char name[16] = "tsvisor-stub";
  syscall(SYS_prctl, PR_SET_NAME, name, 0, 0, 0);
  syscall(SYS_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
  // Fresh namespaces (defence in depth: a stub never runs a host syscall of the app):
  // no network, no SysV IPC, its own hostname, mount table and cgroup view. Best effort:
  // without privilege (non-root) the stub keeps the sentry's.
  syscall(SYS_unshare, CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWNS | CLONE_NEWCGROUP);
  if (cpu >= 0) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (syscall(SYS_sched_setaffinity, 0, sizeof set, &set) != 0) ChildFail(kStepAffinity);
  }
  // The memory file at a fixed fd; no exec ever happens, so its CLOEXEC flag is moot.
  if (memFd != kStubMemFd && syscall(SYS_dup3, memFd, kStubMemFd, 0) != kStubMemFd) ChildFail(kStepDupMemfd);
  if (syscall(SYS_close_range, 0, kStubMemFd - 1, 0) != 0 || syscall(SYS_close_range, kStubMemFd + 1, ~0U, 0) != 0) {
    if (errno != ENOSYS) ChildFail(kStepCloseFds);
    for (int fd = 0; fd < 65536; fd++)
      if (fd != kStubMemFd) syscall(SYS_close, fd);
  }
  UnregisterRseq();  // its area is about to be unmapped; a stale one would raise SIGSEGV
  if (syscall(SYS_ptrace, PTRACE_TRACEME, 0, 0, 0) != 0) ChildFail(kStepTraceme);
  syscall(SYS_kill, syscall(SYS_getpid), SIGSTOP);
  ResetFpuAndJump(entry);
}

// ---------------------------------------------------------------------------------------
// Exported functions

// setupStub(): number: the stub page address (idempotent).
Napi::Value SetupStub(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), (double)SetupStubPage(info.Env()));
}

// spawnMaster(memFd, cpu /* -1: no affinity */): number (pid = process group id)
Napi::Value SpawnMaster(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int memFd = (int)IntArg(info, 0, "spawnMaster");
  int cpu = (int)IntArg(info, 1, "spawnMaster");
  if (memFd < 0) throw Napi::RangeError::New(env, "spawnMaster: bad memory fd");
  if (cpu >= CPU_SETSIZE) throw Napi::RangeError::New(env, "spawnMaster: bad cpu");
  uintptr_t entry = SetupStubPage(env);
  g_self = getpid();
  pid_t parent = g_self;
  long pid = syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
  if (pid == 0) MasterChild(memFd, cpu, parent, entry);
  if (pid < 0) throw HostError(env, "clone(master stub)", errno, 0);
  int st = 0;
  auto fail = [&](const std::string& what) {
    kill((pid_t)pid, SIGKILL);
    int ignored;
    while (waitpid((pid_t)pid, &ignored, __WALL) < 0 && errno == EINTR) {
    }
    return PlainError(env, what, (pid_t)pid);
  };
  if (WaitTid(env, (pid_t)pid, &st) < 0) throw PlainError(env, "master stub vanished", (pid_t)pid);
  if (WIFEXITED(st) && WEXITSTATUS(st) > kChildExitBase && WEXITSTATUS(st) <= kChildExitBase + kStepTraceme) {
    int step = WEXITSTATUS(st) - kChildExitBase;
    std::string msg = std::string("master stub setup failed at ") + StepName(step);
    if (step == kStepTraceme)
      msg += " (ptrace is not permitted: this process is itself being traced, e.g. by strace or gdb, or a"
             " seccomp/LSM policy forbids ptrace; run untraced with ptrace allowed, or use another platform)";
    if (step == kStepAffinity) msg += " (the requested cpu is not in this process's allowed CPU set)";
    throw PlainError(env, msg, (pid_t)pid);
  }
  if (!WIFSTOPPED(st)) throw PlainError(env, "master stub did not stop: " + DescribeStatus(st), (pid_t)pid);
  if (WSTOPSIG(st) != SIGSTOP) throw fail("master stub did not stop: " + DescribeStatus(st));
  long opts = kOptTraceSysGood | kOptExitKill | kOptTraceClone | kOptTraceFork | kOptTraceVfork;
  if (ptrace(PTRACE_SETOPTIONS, (pid_t)pid, 0, (void*)opts) != 0) {
    int e = errno;
    fail("");
    throw HostError(env, "PTRACE_SETOPTIONS", e, (pid_t)pid);
  }
  if (ptrace(PTRACE_CONT, (pid_t)pid, 0, 0) != 0) {
    int e = errno;
    fail("");
    throw HostError(env, "PTRACE_CONT", e, (pid_t)pid);
  }
  if (WaitTid(env, (pid_t)pid, &st) < 0) throw PlainError(env, "master stub vanished", (pid_t)pid);
  if (!WIFSTOPPED(st))
    throw PlainError(env, "master stub died before its ready trap: " + DescribeStatus(st), (pid_t)pid);
  if (WSTOPSIG(st) != SIGTRAP)
    throw fail("master stub did not reach its ready trap: " + DescribeStatus(st));
  g_procs[(pid_t)pid] = (pid_t)pid;
  return Napi::Number::New(env, (double)pid);
}

// inject(tid, nr, a0..a5): number. Runs one system call in a stopped stub thread (rip at
// the injection point, PTRACE_CONT to the following int3) and returns rax (negative
// errno on failure). For fork/clone the new task is auto-attached (TRACEFORK/CLONE):
// its initial SIGSTOP is consumed here, leaving it stopped. Not for exit (see
// releaseThread).
Napi::Value Inject(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  pid_t tid = PidArg(info, 0, "inject");
  int64_t nr = IntArg(info, 1, "inject");
  int64_t a[6];
  for (int i = 0; i < 6; i++) a[i] = info.Length() > (size_t)(2 + i) ? IntArg(info, 2 + i, "inject") : 0;
  if (nr == SYS_exit || nr == SYS_exit_group) throw Napi::RangeError::New(env, "inject: use releaseThread to end a thread");
  if (!g_stub) throw PlainError(env, "inject: no stub (spawnMaster first)", tid);
  struct user_regs_struct r;
  if (ptrace(PTRACE_GETREGS, tid, 0, &r) != 0) throw HostError(env, "PTRACE_GETREGS", errno, tid);
  r.rip = InjectPoint();
  r.rax = (uint64_t)nr;
  r.orig_rax = ~0ULL;
  r.rdi = (uint64_t)a[0];
  r.rsi = (uint64_t)a[1];
  r.rdx = (uint64_t)a[2];
  r.r10 = (uint64_t)a[3];
  r.r8 = (uint64_t)a[4];
  r.r9 = (uint64_t)a[5];
  if (ptrace(PTRACE_SETREGS, tid, 0, &r) != 0) throw HostError(env, "PTRACE_SETREGS", errno, tid);
  if (ptrace(PTRACE_CONT, tid, 0, 0) != 0) throw HostError(env, "PTRACE_CONT", errno, tid);
  pid_t child = 0;
  for (;;) {
    int st;
    if (WaitTid(env, tid, &st) < 0 || WIFEXITED(st) || WIFSIGNALED(st)) {
      ForgetTid(tid);
      throw PlainError(env, "stub thread " + std::to_string(tid) + " died during injected system call " +
                                std::to_string(nr),
                       tid);
    }
    int ev = st >> 16;
    if (ev == kEventFork || ev == kEventVfork || ev == kEventClone) {
      unsigned long msg = 0;
      if (ptrace(PTRACE_GETEVENTMSG, tid, 0, &msg) != 0) throw HostError(env, "PTRACE_GETEVENTMSG", errno, tid);
      child = (pid_t)msg;
      if (ev != kEventClone) {  // a new process: same group as the process that forked it
        auto g = g_procs.find(tid);
        g_procs[child] = g != g_procs.end() ? g->second : tid;
      }
    } else if (WSTOPSIG(st) == SIGTRAP && ev == 0) {
      break;  // the int3 after the syscall
    }
    // Anything else (an event, a signal sent to the stub from outside) is suppressed.
    if (ptrace(PTRACE_CONT, tid, 0, 0) != 0) throw HostError(env, "PTRACE_CONT", errno, tid);
  }
  if (ptrace(PTRACE_GETREGS, tid, 0, &r) != 0) throw HostError(env, "PTRACE_GETREGS", errno, tid);
  int64_t result = (int64_t)r.rax;
  if (child > 0) {
    int st;
    for (;;) {
      if (WaitTid(env, child, &st) < 0 || WIFEXITED(st) || WIFSIGNALED(st))
        throw PlainError(env, "new stub task " + std::to_string(child) + " died before its first stop", child);
      if (WIFSTOPPED(st)) break;
    }
  }
  return Napi::Number::New(env, (double)result);
}

// register(tid, tgid, regs: BigUint64Array(27)): slot. The thread must be stopped; its
// current registers are read into `regs`.
Napi::Value Register(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  pid_t tid = PidArg(info, 0, "register");
  pid_t tgid = PidArg(info, 1, "register");
  if (info.Length() < 3 || !info[2].IsTypedArray())
    throw Napi::TypeError::New(env, "register: regs must be a BigUint64Array(27)");
  Napi::TypedArray ta = info[2].As<Napi::TypedArray>();
  if (ta.TypedArrayType() != napi_biguint64_array || ta.ElementLength() != kNumRegs)
    throw Napi::TypeError::New(env, "register: regs must be a BigUint64Array(27)");
  if (g_byTid.count(tid)) throw Napi::RangeError::New(env, "register: thread already registered");
  uint64_t* regs = (uint64_t*)((uint8_t*)ta.ArrayBuffer().Data() + ta.ByteOffset());
  if (ptrace(PTRACE_GETREGS, tid, 0, regs) != 0) throw HostError(env, "PTRACE_GETREGS", errno, tid);
  int idx;
  if (!g_free.empty()) {
    idx = g_free.back();
    g_free.pop_back();
  } else {
    idx = (int)g_slots.size();
    if (idx >= (1 << 27)) throw PlainError(env, "register: too many contexts", tid);
    g_slots.emplace_back();
  }
  Slot& s = g_slots[idx];
  napi_ref ref;
  if (napi_create_reference(env, ta, 1, &ref) != napi_ok) {
    g_free.push_back(idx);
    throw PlainError(env, "register: napi_create_reference failed", tid);
  }
  s.tid = tid;
  s.tgid = tgid;
  s.regs = regs;
  s.ref = ref;
  s.state = kStopped;
  s.intrSent = false;
  g_byTid[tid] = idx;
  return Napi::Number::New(env, idx);
}

void FreeSlot(Napi::Env env, int idx) {
  Slot& s = g_slots[idx];
  auto it = g_byTid.find(s.tid);
  if (it != g_byTid.end() && it->second == idx) g_byTid.erase(it);
  if (s.ref) napi_delete_reference(env, s.ref);
  s = Slot();
  g_free.push_back(idx);
}

// unregister(slot): forget a slot (bookkeeping only: no host calls).
Napi::Value Unregister(const Napi::CallbackInfo& info) {
  int idx;
  SlotArg(info, 0, "unregister", &idx);
  FreeSlot(info.Env(), idx);
  return info.Env().Undefined();
}

// Brings a running slot to a stop (or notices its death): interrupt signal + wait.
void Halt(Napi::Env env, Slot& s) {
  if (s.state != kRunning) return;
  if (!s.intrSent) syscall(SYS_tgkill, s.tgid, s.tid, kInterruptSignal);
  s.intrSent = false;
  int st;
  if (WaitTid(env, s.tid, &st) < 0 || WIFEXITED(st) || WIFSIGNALED(st)) {
    ForgetTid(s.tid);
    s.state = kDead;
    return;
  }
  s.state = kStopped;
}

// Ends one stopped stub thread with an injected exit(0) and reaps it.
void ExitThread(Napi::Env env, pid_t tid) {
  struct user_regs_struct r;
  if (ptrace(PTRACE_GETREGS, tid, 0, &r) == 0) {
    r.rip = InjectPoint();
    r.rax = SYS_exit;
    r.orig_rax = ~0ULL;
    r.rdi = 0;
    if (ptrace(PTRACE_SETREGS, tid, 0, &r) == 0) ptrace(PTRACE_CONT, tid, 0, 0);
  } else if (errno != ESRCH) {
    throw HostError(env, "PTRACE_GETREGS", errno, tid);
  }
  // ESRCH: already dying (killed from outside); reaping below still applies.
  ReapTid(env, tid);
}

// releaseThread(slot): stop the thread if running, end it (exit, not a signal: a signal
// would kill the whole stub process), reap it, free the slot.
Napi::Value ReleaseThread(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int idx;
  Slot& s = SlotArg(info, 0, "releaseThread", &idx);
  Halt(env, s);
  if (s.state == kStopped) ExitThread(env, s.tid);
  FreeSlot(env, idx);
  return env.Undefined();
}

// retarget(slot, tid, tgid): move a stopped slot to another (stopped) thread, ending the
// old one. Used by execve (switchAddressSpace).
Napi::Value Retarget(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int idx;
  Slot& s = SlotArg(info, 0, "retarget", &idx);
  pid_t tid = PidArg(info, 1, "retarget");
  pid_t tgid = PidArg(info, 2, "retarget");
  if (s.state == kRunning) throw PlainError(env, "retarget: context is running", s.tid);
  if (g_byTid.count(tid)) throw Napi::RangeError::New(env, "retarget: thread already registered");
  if (s.state == kStopped) ExitThread(env, s.tid);
  auto it = g_byTid.find(s.tid);
  if (it != g_byTid.end() && it->second == idx) g_byTid.erase(it);
  s.tid = tid;
  s.tgid = tgid;
  s.state = kStopped;
  s.intrSent = false;
  g_byTid[tid] = idx;
  return env.Undefined();
}

// setInfo(Float64Array(4)): where Fault/Signal details are written.
Napi::Value SetInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsTypedArray()) throw Napi::TypeError::New(env, "setInfo(Float64Array(4))");
  Napi::TypedArray ta = info[0].As<Napi::TypedArray>();
  if (ta.TypedArrayType() != napi_float64_array || ta.ElementLength() < 4)
    throw Napi::TypeError::New(env, "setInfo(Float64Array(4))");
  if (g_infoRef) napi_delete_reference(env, g_infoRef);
  napi_create_reference(env, ta, 1, &g_infoRef);
  g_info = (double*)((uint8_t*)ta.ArrayBuffer().Data() + ta.ByteOffset());
  return env.Undefined();
}

// resume(slot): 0, or kDied if the thread is known to be gone. PTRACE_SETREGS from the
// slot's array (orig_rax forced to -1: the sentry has dealt with the system call, so
// the host's restart logic must not touch rax/rip) + PTRACE_SYSEMU without a signal.
Napi::Value Resume(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Slot& s = SlotArg(info, 0, "resume");
  if (s.state == kDead) return Napi::Number::New(env, kDied);
  if (s.state != kStopped) throw PlainError(env, "resume: context is already running", s.tid);
  struct user_regs_struct r;
  memcpy(&r, s.regs, sizeof r);
  r.orig_rax = ~0ULL;
  // ESRCH: killed while stopped; its exit status is still to come, poll reports Died.
  if (ptrace(PTRACE_SETREGS, s.tid, 0, &r) != 0) {
    if (errno != ESRCH) throw HostError(env, "PTRACE_SETREGS", errno, s.tid);
  } else if (ptrace(PTRACE_SYSEMU, s.tid, 0, 0) != 0) {
    if (errno != ESRCH) throw HostError(env, "PTRACE_SYSEMU", errno, s.tid);
  }
  s.state = kRunning;
  return Napi::Number::New(env, 0);
}

inline int Encode(int idx, int kind) { return (idx << 3) | kind; }

// Handles one waitpid result; returns an encoded stop to report, or 0 to keep polling.
int HandleStatus(pid_t tid, int st) {
  auto it = g_byTid.find(tid);
  if (it == g_byTid.end()) {
    // Not an app thread (a late exit status of a released thread, or a control thread):
    // nothing to report. A stopped control thread is left stopped; inject() handles it.
    if (WIFEXITED(st) || WIFSIGNALED(st)) g_procs.erase(tid);
    return 0;
  }
  int idx = it->second;
  Slot& s = g_slots[idx];
  if (WIFEXITED(st) || WIFSIGNALED(st)) {
    bool wasRunning = s.state == kRunning;
    ForgetTid(tid);
    return wasRunning ? Encode(idx, kDied) : 0;
  }
  if (!WIFSTOPPED(st) || s.state != kRunning) return 0;
  int sig = WSTOPSIG(st);
  user_regs_struct* regs = (user_regs_struct*)s.regs;
  if (sig == (SIGTRAP | 0x80)) {
    if (ptrace(PTRACE_GETREGS, tid, 0, regs) != 0) return 0;  // dying: exit status follows
    regs->rax = regs->orig_rax;  // the number in both, as the Platform API promises
    s.state = kStopped;
    s.intrSent = false;
    return Encode(idx, kSyscall);
  }
  if ((st >> 16) != 0) {  // a ptrace event (none expected for app threads): carry on
    ptrace(PTRACE_SYSEMU, tid, 0, 0);
    return 0;
  }
  siginfo_t si;
  if (ptrace(PTRACE_GETSIGINFO, tid, 0, &si) != 0) return 0;
  if (si.si_code <= 0) {
    // Sent by a process (kill/tgkill/sigqueue), not by the CPU. Ours = interrupt.
    if (sig == kInterruptSignal && si.si_pid == g_self && s.intrSent) {
      if (ptrace(PTRACE_GETREGS, tid, 0, regs) != 0) return 0;
      s.state = kStopped;
      s.intrSent = false;
      return Encode(idx, kInterrupt);
    }
    // A stale interrupt (the thread stopped for another reason first) or a signal from
    // outside the sandbox: the app never sees host signals. Suppress and continue.
    ptrace(PTRACE_SYSEMU, tid, 0, 0);
    return 0;
  }
  if (ptrace(PTRACE_GETREGS, tid, 0, regs) != 0) return 0;
  s.state = kStopped;
  s.intrSent = false;
  uintptr_t addr = (uintptr_t)si.si_addr;
  int kind = (sig == SIGSEGV || sig == SIGBUS) ? kFault : kSignal;
  double access = 0;
  // ptrace does not expose the page-fault error code; an instruction fetch is the one
  // access we can tell: the fault address lies within the instruction at rip.
  if (kind == kFault && addr >= regs->rip && addr < regs->rip + 16) access = 4;  // Access.Exec
  if (g_info) {
    g_info[0] = sig;
    g_info[1] = si.si_code;
    g_info[2] = (double)addr;
    g_info[3] = access;
  }
  return Encode(idx, kind);
}

inline uint64_t NowNs() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

// poll(pgid, spinUs): encoded stop ((slot << 3) | kind) or 0 if none within spinUs.
// Between empty waitpid calls it sched_yield()s: with pinning the tracee runs on this
// CPU, so yielding is what lets it reach its next stop.
Napi::Value Poll(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  pid_t pgid = PidArg(info, 0, "poll");
  int64_t spinUs = IntArg(info, 1, "poll");
  uint64_t deadline = 0;
  for (;;) {
    int st;
    pid_t t = waitpid(-pgid, &st, __WALL | WNOHANG);
    if (t > 0) {
      int r = HandleStatus(t, st);
      if (r) return Napi::Number::New(env, r);
      continue;
    }
    if (t < 0) {
      if (errno == EINTR) continue;
      if (errno == ECHILD) return Napi::Number::New(env, 0);
      throw HostError(env, "waitpid", errno, -pgid);
    }
    uint64_t now = NowNs();
    if (deadline == 0) deadline = now + (uint64_t)(spinUs < 0 ? 0 : spinUs) * 1000ULL;
    if (now >= deadline) return Napi::Number::New(env, 0);
    sched_yield();
  }
}

// interrupt(slot): boolean. Sends the interrupt signal to a running thread (once).
Napi::Value Interrupt(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Slot& s = SlotArg(info, 0, "interrupt");
  if (s.state != kRunning) return Napi::Boolean::New(env, false);
  if (!s.intrSent) {
    if (syscall(SYS_tgkill, s.tgid, s.tid, kInterruptSignal) != 0) {
      if (errno == ESRCH) return Napi::Boolean::New(env, false);  // dying; poll reports Died
      throw HostError(env, "tgkill", errno, s.tid);
    }
    s.intrSent = true;
  }
  return Napi::Boolean::New(env, true);
}

Napi::Value FpRegs(const Napi::CallbackInfo& info, bool set) {
  Napi::Env env = info.Env();
  const char* fn = set ? "setFpRegs" : "getFpRegs";
  Slot& s = SlotArg(info, 0, fn);
  if (info.Length() < 2 || !info[1].IsTypedArray()) throw Napi::TypeError::New(env, std::string(fn) + ": Uint8Array(512)");
  Napi::TypedArray ta = info[1].As<Napi::TypedArray>();
  if (ta.TypedArrayType() != napi_uint8_array || ta.ByteLength() < sizeof(struct user_fpregs_struct))
    throw Napi::TypeError::New(env, std::string(fn) + ": Uint8Array of at least 512 bytes");
  if (s.state != kStopped) throw PlainError(env, std::string(fn) + ": context is not stopped", s.tid);
  uint8_t* p = (uint8_t*)ta.ArrayBuffer().Data() + ta.ByteOffset();
  struct user_fpregs_struct fp;
  if (set) {
    memcpy(&fp, p, sizeof fp);
    if (ptrace(PTRACE_SETFPREGS, s.tid, 0, &fp) != 0) throw HostError(env, "PTRACE_SETFPREGS", errno, s.tid);
  } else {
    if (ptrace(PTRACE_GETFPREGS, s.tid, 0, &fp) != 0) throw HostError(env, "PTRACE_GETFPREGS", errno, s.tid);
    memcpy(p, &fp, sizeof fp);
  }
  return env.Undefined();
}
Napi::Value GetFpRegs(const Napi::CallbackInfo& info) { return FpRegs(info, false); }
Napi::Value SetFpRegs(const Napi::CallbackInfo& info) { return FpRegs(info, true); }

// killProcess(pid): SIGKILL one stub process and reap all its threads (slots -> dead).
Napi::Value KillProcess(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  pid_t pid = PidArg(info, 0, "killProcess");
  if (!g_procs.count(pid)) {
    // Already reaped (killed from outside): only its slots are left to mark.
    for (Slot& s : g_slots)
      if (s.state != kFree && s.tgid == pid) ForgetTid(s.tid);
    return env.Undefined();
  }
  if (kill(pid, SIGKILL) != 0 && errno != ESRCH) throw HostError(env, "kill", errno, pid);
  // Non-leader threads first: a traced group leader is reported only after the others.
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/task", pid);
  for (int round = 0; round < 64; round++) {
    DIR* d = opendir(path);
    if (!d) break;
    std::vector<pid_t> tids;
    while (struct dirent* e = readdir(d)) {
      pid_t t = (pid_t)atoi(e->d_name);
      if (t > 0 && t != pid) tids.push_back(t);
    }
    closedir(d);
    if (tids.empty()) break;
    for (pid_t t : tids) ReapTid(env, t);
  }
  ReapTid(env, pid);
  for (Slot& s : g_slots)
    if (s.state != kFree && s.tgid == pid) ForgetTid(s.tid);
  return env.Undefined();
}

// killGroup(pgid): SIGKILL every stub of a platform and reap them all.
Napi::Value KillGroup(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  pid_t pgid = PidArg(info, 0, "killGroup");
  bool alive = false;
  for (auto& [p, g] : g_procs) alive |= g == pgid;
  if (!alive) return env.Undefined();  // every stub of the group is reaped already
  if (kill(-pgid, SIGKILL) != 0 && errno != ESRCH) throw HostError(env, "kill", errno, -pgid);
  for (;;) {
    int st;
    pid_t t = waitpid(-pgid, &st, __WALL);
    if (t > 0) {
      if (WIFEXITED(st) || WIFSIGNALED(st))
        ForgetTid(t);
      else
        ptrace(PTRACE_CONT, t, 0, 0);  // a stop that raced with the kill
      continue;
    }
    if (errno == EINTR) continue;
    if (errno == ECHILD) break;
    throw HostError(env, "waitpid", errno, -pgid);
  }
  for (auto it = g_procs.begin(); it != g_procs.end();) it = it->second == pgid ? g_procs.erase(it) : std::next(it);
  return env.Undefined();
}

// pin(cpu): bind the calling thread (the tracer) to one CPU, remembering its old mask.
Napi::Value Pin(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t cpu = IntArg(info, 0, "pin");
  if (cpu < 0 || cpu >= CPU_SETSIZE) throw Napi::RangeError::New(env, "pin: bad cpu");
  if (!g_pinned) {
    if (sched_getaffinity(0, sizeof g_savedMask, &g_savedMask) != 0) throw HostError(env, "sched_getaffinity", errno, 0);
  }
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET((int)cpu, &set);
  if (sched_setaffinity(0, sizeof set, &set) != 0) throw HostError(env, "sched_setaffinity", errno, (pid_t)syscall(SYS_gettid));
  g_pinned = true;
  return env.Undefined();
}

// unpin(): restore the mask saved by the first pin().
Napi::Value Unpin(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (g_pinned && sched_setaffinity(0, sizeof g_savedMask, &g_savedMask) != 0)
    throw HostError(env, "sched_setaffinity", errno, (pid_t)syscall(SYS_gettid));
  g_pinned = false;
  return env.Undefined();
}

// currentCpu(): the CPU the calling thread runs on.
Napi::Value CurrentCpu(const Napi::CallbackInfo& info) {
  int c = sched_getcpu();
  if (c < 0) throw HostError(info.Env(), "sched_getcpu", errno, 0);
  return Napi::Number::New(info.Env(), c);
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("setupStub", Napi::Function::New(env, SetupStub));
  exports.Set("spawnMaster", Napi::Function::New(env, SpawnMaster));
  exports.Set("inject", Napi::Function::New(env, Inject));
  exports.Set("register", Napi::Function::New(env, Register));
  exports.Set("unregister", Napi::Function::New(env, Unregister));
  exports.Set("releaseThread", Napi::Function::New(env, ReleaseThread));
  exports.Set("retarget", Napi::Function::New(env, Retarget));
  exports.Set("setInfo", Napi::Function::New(env, SetInfo));
  exports.Set("resume", Napi::Function::New(env, Resume));
  exports.Set("poll", Napi::Function::New(env, Poll));
  exports.Set("interrupt", Napi::Function::New(env, Interrupt));
  exports.Set("getFpRegs", Napi::Function::New(env, GetFpRegs));
  exports.Set("setFpRegs", Napi::Function::New(env, SetFpRegs));
  exports.Set("killProcess", Napi::Function::New(env, KillProcess));
  exports.Set("killGroup", Napi::Function::New(env, KillGroup));
  exports.Set("pin", Napi::Function::New(env, Pin));
  exports.Set("unpin", Napi::Function::New(env, Unpin));
  exports.Set("currentCpu", Napi::Function::New(env, CurrentCpu));
  exports.Set("stubMemFd", Napi::Number::New(env, kStubMemFd));
  exports.Set("interruptSignal", Napi::Number::New(env, kInterruptSignal));
  return exports;
}

}  // namespace

NODE_API_MODULE(NODE_GYP_MODULE_NAME, Init)
