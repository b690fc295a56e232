// tsvisor core native addon: the few host facilities Node lacks.
//  - memfd_create + ftruncate for the sentry's memory file
//  - mapping a range of an fd into the sentry as an external ArrayBuffer
//  - punching holes (decommit) in the memory file
// Every failure throws a JS Error whose message names the host call and errno,
// and whose `errno` property carries the number.
#include <napi.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <fcntl.h>
#include <unistd.h>
#include <errno.h>
#include <string.h>
#include <string>
#include <sys/stat.h>
#include <sys/ioctl.h>
#include <poll.h>
#include <time.h>
#include <cstddef>

#include "../../vdso/params.h"

namespace {

Napi::Error ErrnoError(Napi::Env env, const char* call, int err) {
  std::string msg = std::string(call) + ": " + strerror(err);
  Napi::Error e = Napi::Error::New(env, msg);
  e.Set("errno", Napi::Number::New(env, err));
  e.Set("syscall", Napi::String::New(env, call));
  return e;
}

// memfdCreate(name: string, size: number): number (fd, CLOEXEC)
Napi::Value MemfdCreate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsString() || !info[1].IsNumber())
    throw Napi::TypeError::New(env, "memfdCreate(name: string, size: number)");
  std::string name = info[0].As<Napi::String>();
  int64_t size = info[1].As<Napi::Number>().Int64Value();
  int fd = (int)syscall(SYS_memfd_create, name.c_str(), MFD_CLOEXEC);
  if (fd < 0) throw ErrnoError(env, "memfd_create", errno);
  if (ftruncate(fd, size) < 0) {
    int e = errno;
    close(fd);
    throw ErrnoError(env, "ftruncate", e);
  }
  return Napi::Number::New(env, fd);
}

void Unmap(napi_env, void* data, void* hint) {
  munmap(data, (size_t)(uintptr_t)hint);
}

// mapShared(fd: number, offset: number, length: number, writable: boolean): ArrayBuffer
// The buffer is a MAP_SHARED view of the fd; it is unmapped when the buffer is collected.
Napi::Value MapShared(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 4 || !info[0].IsNumber() || !info[1].IsNumber() || !info[2].IsNumber())
    throw Napi::TypeError::New(env, "mapShared(fd, offset, length, writable)");
  int fd = info[0].As<Napi::Number>().Int32Value();
  int64_t off = info[1].As<Napi::Number>().Int64Value();
  int64_t len = info[2].As<Napi::Number>().Int64Value();
  bool writable = info[3].ToBoolean();
  if (len <= 0) throw Napi::RangeError::New(env, "mapShared: length must be positive");
  void* p = mmap(nullptr, (size_t)len, PROT_READ | (writable ? PROT_WRITE : 0), MAP_SHARED, fd, off);
  if (p == MAP_FAILED) throw ErrnoError(env, "mmap", errno);
  return Napi::ArrayBuffer::New(env, p, (size_t)len, Unmap, (void*)(uintptr_t)len);
}

// punchHole(fd, offset, length): release the pages of a range back to the host (reads as zero).
Napi::Value PunchHole(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = info[0].As<Napi::Number>().Int32Value();
  int64_t off = info[1].As<Napi::Number>().Int64Value();
  int64_t len = info[2].As<Napi::Number>().Int64Value();
  if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, len) < 0)
    throw ErrnoError(env, "fallocate", errno);
  return env.Undefined();
}

// closeFd(fd)
Napi::Value CloseFd(const Napi::CallbackInfo& info) {
  int fd = info[0].As<Napi::Number>().Int32Value();
  close(fd);
  return info.Env().Undefined();
}


// ---- host file access for directfs and imported host fds ----
// Names are passed as byte buffers (no NUL), never as paths: a name must be one
// component ("." is allowed to reopen a directory fd; ".." and '/' are refused), and
// every open forces O_NOFOLLOW | O_CLOEXEC, so the sentry can only walk downwards one
// component at a time and never follows a host symlink.

std::string NameArg(const Napi::CallbackInfo& info, size_t i, bool allowEmpty) {
  Napi::Env env = info.Env();
  if (!info[i].IsTypedArray()) throw Napi::TypeError::New(env, "name must be a Uint8Array");
  Napi::Uint8Array a = info[i].As<Napi::Uint8Array>();
  std::string name(reinterpret_cast<const char*>(a.Data()), a.ByteLength());
  if (name.find('/') != std::string::npos || name.find('\0') != std::string::npos || name == "..")
    throw ErrnoError(env, "name", EINVAL);
  if (name.empty() && !allowEmpty) throw ErrnoError(env, "name", ENOENT);
  return name;
}

// hostOpenat(dirfd, name, flags, mode): fd
Napi::Value HostOpenat(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 4) throw Napi::TypeError::New(env, "hostOpenat(dirfd, name, flags, mode)");
  int dirfd = info[0].As<Napi::Number>().Int32Value();
  std::string name = NameArg(info, 1, false);
  int flags = info[2].As<Napi::Number>().Int32Value() | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY;
  int mode = info[3].As<Napi::Number>().Int32Value();
  int fd;
  do fd = openat(dirfd, name.c_str(), flags, mode); while (fd < 0 && errno == EINTR);
  if (fd < 0) throw ErrnoError(env, "openat", errno);
  return Napi::Number::New(env, fd);
}

// hostFstatat(dirfd, name, out: Float64Array(16)): never follows; "" = the fd itself.
// out: dev, ino, mode, nlink, uid, gid, rdev, size, blksize, blocks,
//      atime_s, atime_ns, mtime_s, mtime_ns, ctime_s, ctime_ns
Napi::Value HostFstatat(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int dirfd = info[0].As<Napi::Number>().Int32Value();
  std::string name = NameArg(info, 1, true);
  if (!info[2].IsTypedArray()) throw Napi::TypeError::New(env, "out must be a Float64Array");
  Napi::Float64Array out = info[2].As<Napi::Float64Array>();
  if (out.ElementLength() < 16) throw Napi::RangeError::New(env, "out needs 16 elements");
  struct stat st;
  int flags = AT_SYMLINK_NOFOLLOW | (name.empty() ? AT_EMPTY_PATH : 0);
  if (fstatat(dirfd, name.c_str(), &st, flags) < 0) throw ErrnoError(env, "fstatat", errno);
  double* o = out.Data();
  o[0] = (double)st.st_dev; o[1] = (double)st.st_ino; o[2] = st.st_mode; o[3] = (double)st.st_nlink;
  o[4] = st.st_uid; o[5] = st.st_gid; o[6] = (double)st.st_rdev; o[7] = (double)st.st_size;
  o[8] = (double)st.st_blksize; o[9] = (double)st.st_blocks;
  o[10] = (double)st.st_atim.tv_sec; o[11] = (double)st.st_atim.tv_nsec;
  o[12] = (double)st.st_mtim.tv_sec; o[13] = (double)st.st_mtim.tv_nsec;
  o[14] = (double)st.st_ctim.tv_sec; o[15] = (double)st.st_ctim.tv_nsec;
  return env.Undefined();
}

// hostReadlinkat(dirfd, name): Buffer with the target bytes.
Napi::Value HostReadlinkat(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int dirfd = info[0].As<Napi::Number>().Int32Value();
  std::string name = NameArg(info, 1, true);
  char buf[4096];
  ssize_t n = readlinkat(dirfd, name.c_str(), buf, sizeof buf);
  if (n < 0) throw ErrnoError(env, "readlinkat", errno);
  return Napi::Buffer<char>::Copy(env, buf, (size_t)n);
}

// hostGetdents(fd): every linux_dirent64 record of the directory, from the start.
Napi::Value HostGetdents(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = info[0].As<Napi::Number>().Int32Value();
  if (lseek(fd, 0, SEEK_SET) < 0) throw ErrnoError(env, "lseek", errno);
  std::string all;
  char buf[32768];
  for (;;) {
    long n = syscall(SYS_getdents64, fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw ErrnoError(env, "getdents64", errno);
    }
    if (n == 0) break;
    all.append(buf, (size_t)n);
  }
  return Napi::Buffer<char>::Copy(env, all.data(), all.size());
}

// hostTtyIoctl(fd, request, buf): terminal ioctls on a host tty, whitelisted.
Napi::Value HostTtyIoctl(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = info[0].As<Napi::Number>().Int32Value();
  unsigned long req = info[1].As<Napi::Number>().Uint32Value();
  Napi::Uint8Array buf = info[2].As<Napi::Uint8Array>();
  size_t need;
  switch (req) {
    case 0x5401: case 0x5402: case 0x5403: case 0x5404: need = 36; break;  // TCGETS, TCSETS, TCSETSW, TCSETSF
    case 0x5413: case 0x5414: need = 8; break;                              // TIOCGWINSZ, TIOCSWINSZ
    default: throw ErrnoError(env, "ioctl", ENOTTY);
  }
  if (buf.ByteLength() < need) throw Napi::RangeError::New(env, "buffer too small");
  int r;
  do r = ioctl(fd, req, buf.Data()); while (r < 0 && errno == EINTR);
  if (r < 0) throw ErrnoError(env, "ioctl", errno);
  return Napi::Number::New(env, r);
}

// hostSetNonblock(fd, on)
Napi::Value HostSetNonblock(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = info[0].As<Napi::Number>().Int32Value();
  bool on = info[1].ToBoolean();
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0) throw ErrnoError(env, "fcntl", errno);
  fl = on ? (fl | O_NONBLOCK) : (fl & ~O_NONBLOCK);
  if (fcntl(fd, F_SETFL, fl) < 0) throw ErrnoError(env, "fcntl", errno);
  return env.Undefined();
}

// hostPoll(fd, events): revents now (poll with zero timeout).
Napi::Value HostPoll(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  struct pollfd p;
  p.fd = info[0].As<Napi::Number>().Int32Value();
  p.events = (short)info[1].As<Napi::Number>().Int32Value();
  p.revents = 0;
  int r = poll(&p, 1, 0);
  if (r < 0) throw ErrnoError(env, "poll", errno);
  return Napi::Number::New(env, p.revents);
}

// hostLseek(fd, offset, whence): lseek(2) on a host fd (imported stdio files share the host offset).
Napi::Value HostLseek(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsNumber() || !info[1].IsNumber() || !info[2].IsNumber())
    throw Napi::TypeError::New(env, "hostLseek(fd, offset, whence)");
  int fd = info[0].As<Napi::Number>().Int32Value();
  int64_t off = info[1].As<Napi::Number>().Int64Value();
  int whence = info[2].As<Napi::Number>().Int32Value();
  off_t r = lseek(fd, (off_t)off, whence);
  if (r < 0) throw ErrnoError(env, "lseek", errno);
  return Napi::Number::New(env, (double)r);
}

// ---- the vDSO parameter page (core/vdso/params.h; policy in core/kernel/vdso.ts) ----

static_assert(offsetof(tsv_vdso_params, seq) == TSV_OFF_SEQ, "params layout");
static_assert(offsetof(tsv_vdso_params, tsc_base) == TSV_OFF_TSC_BASE, "params layout");
static_assert(offsetof(tsv_vdso_params, mult) == TSV_OFF_MULT, "params layout");
static_assert(offsetof(tsv_vdso_params, mono_base_ns) == TSV_OFF_MONO_BASE, "params layout");
static_assert(offsetof(tsv_vdso_params, realtime_offset_ns) == TSV_OFF_RT_OFFSET, "params layout");
static_assert(offsetof(tsv_vdso_params, boottime_offset_ns) == TSV_OFF_BT_OFFSET, "params layout");
static_assert(offsetof(tsv_vdso_params, cpu) == TSV_OFF_CPU, "params layout");
static_assert(offsetof(tsv_vdso_params, version) == TSV_OFF_VERSION, "params layout");

int64_t ClockNs(clockid_t c) {
  struct timespec ts;
  clock_gettime(c, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

tsv_vdso_params* ParamsPage(const Napi::CallbackInfo& info, const char* what) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsTypedArray())
    throw Napi::TypeError::New(env, std::string(what) + ": page must be a Uint8Array");
  Napi::Uint8Array page = info[0].As<Napi::Uint8Array>();
  if (page.ByteLength() < sizeof(tsv_vdso_params) || ((uintptr_t)page.Data() & 7))
    throw Napi::RangeError::New(env, std::string(what) + ": page too small or misaligned");
  return reinterpret_cast<tsv_vdso_params*>(page.Data());
}

// vdsoSample(out: BigInt64Array(4)): the TSC and the host's CLOCK_MONOTONIC, CLOCK_REALTIME
// and CLOCK_BOOTTIME read as close together as possible (best of a few tries: the pair whose
// TSC readings bracket the monotonic read most tightly). out = [tsc, mono, real, boot].
Napi::Value VdsoSample(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsTypedArray() ||
      info[0].As<Napi::TypedArray>().TypedArrayType() != napi_bigint64_array)
    throw Napi::TypeError::New(env, "vdsoSample(out: BigInt64Array)");
  Napi::BigInt64Array out = info[0].As<Napi::BigInt64Array>();
  if (out.ElementLength() < 4) throw Napi::RangeError::New(env, "vdsoSample: out needs 4 elements");
  uint64_t best = UINT64_MAX;
  for (int i = 0; i < 8; i++) {
    uint64_t t0 = tsv_rdtsc_ordered();
    int64_t mono = ClockNs(CLOCK_MONOTONIC);
    uint64_t t1 = tsv_rdtsc_ordered();
    if (t1 < t0 || t1 - t0 >= best) continue;
    best = t1 - t0;
    out[0] = (int64_t)(t0 + (t1 - t0) / 2);
    out[1] = mono;
    out[2] = ClockNs(CLOCK_REALTIME) - (ClockNs(CLOCK_MONOTONIC) - mono);
    out[3] = ClockNs(CLOCK_BOOTTIME) - (ClockNs(CLOCK_MONOTONIC) - mono);
  }
  return env.Undefined();
}

// vdsoWrite(page: Uint8Array, f: BigInt64Array(11)): publish new parameters under the
// sequence counter. f = [flags, mult, step, realtimeOffset, boottimeOffset, cpu, node,
// version, initial, tsc, mono]. initial = 1: the formula starts at (tsc, mono). Otherwise
// it is re-based where it stands at a TSC read after the counter turned odd (so no reader
// can see time go backwards across the update), moved forward by step >= 0 ns.
Napi::Value VdsoWrite(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  tsv_vdso_params* p = ParamsPage(info, "vdsoWrite");
  if (info.Length() < 2 || !info[1].IsTypedArray() ||
      info[1].As<Napi::TypedArray>().TypedArrayType() != napi_bigint64_array ||
      info[1].As<Napi::BigInt64Array>().ElementLength() < 11)
    throw Napi::TypeError::New(env, "vdsoWrite(page, fields: BigInt64Array(11))");
  Napi::BigInt64Array f = info[1].As<Napi::BigInt64Array>();
  if (f[1] <= 0 || f[2] < 0) throw Napi::RangeError::New(env, "vdsoWrite: mult must be > 0 and step >= 0");
  uint32_t seq = __atomic_load_n(&p->seq, __ATOMIC_RELAXED);
  __atomic_store_n(&p->seq, seq | 1, __ATOMIC_RELAXED);
  __atomic_thread_fence(__ATOMIC_SEQ_CST);
  uint64_t tsc_base;
  int64_t mono_base;
  if (f[8] || !(p->flags & TSV_VDSO_CLOCK_VALID)) {
    tsc_base = (uint64_t)f[9];
    mono_base = f[10];
  } else {
    tsc_base = tsv_rdtsc_ordered();
    uint64_t delta = tsc_base > p->tsc_base ? tsc_base - p->tsc_base : 0;
    mono_base = p->mono_base_ns + (int64_t)(((unsigned __int128)delta * p->mult) >> 32) + f[2];
  }
  __atomic_store_n(&p->flags, (uint32_t)f[0], __ATOMIC_RELAXED);
  __atomic_store_n(&p->tsc_base, tsc_base, __ATOMIC_RELAXED);
  __atomic_store_n(&p->mult, (uint64_t)f[1], __ATOMIC_RELAXED);
  __atomic_store_n(&p->mono_base_ns, mono_base, __ATOMIC_RELAXED);
  __atomic_store_n(&p->realtime_offset_ns, (int64_t)f[3], __ATOMIC_RELAXED);
  __atomic_store_n(&p->boottime_offset_ns, (int64_t)f[4], __ATOMIC_RELAXED);
  __atomic_store_n(&p->cpu, (uint32_t)f[5], __ATOMIC_RELAXED);
  __atomic_store_n(&p->node, (uint32_t)f[6], __ATOMIC_RELAXED);
  __atomic_store_n(&p->version, (uint32_t)f[7], __ATOMIC_RELAXED);
  __atomic_store_n(&p->seq, (seq | 1) + 1, __ATOMIC_RELEASE);
  return env.Undefined();
}

// vdsoClock(page: Uint8Array, which: 0 mono | 1 real | 2 boot): bigint ns, or -1n when the
// page holds no valid clock. The same code the vDSO runs in the app.
Napi::Value VdsoClock(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  tsv_vdso_params* p = ParamsPage(info, "vdsoClock");
  int which = info.Length() > 1 ? info[1].As<Napi::Number>().Int32Value() : 0;
  if (which < TSV_CLK_MONO || which > TSV_CLK_BOOT) throw Napi::RangeError::New(env, "vdsoClock: bad clock");
  int64_t ns;
  if (tsv_clock_ns(p, which, &ns) < 0) return Napi::BigInt::New(env, (int64_t)-1);
  return Napi::BigInt::New(env, ns);
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("memfdCreate", Napi::Function::New(env, MemfdCreate));
  exports.Set("mapShared", Napi::Function::New(env, MapShared));
  exports.Set("punchHole", Napi::Function::New(env, PunchHole));
  exports.Set("closeFd", Napi::Function::New(env, CloseFd));
  exports.Set("hostLseek", Napi::Function::New(env, HostLseek));
  exports.Set("hostOpenat", Napi::Function::New(env, HostOpenat));
  exports.Set("hostFstatat", Napi::Function::New(env, HostFstatat));
  exports.Set("hostReadlinkat", Napi::Function::New(env, HostReadlinkat));
  exports.Set("hostGetdents", Napi::Function::New(env, HostGetdents));
  exports.Set("hostTtyIoctl", Napi::Function::New(env, HostTtyIoctl));
  exports.Set("hostSetNonblock", Napi::Function::New(env, HostSetNonblock));
  exports.Set("hostPoll", Napi::Function::New(env, HostPoll));
  exports.Set("vdsoSample", Napi::Function::New(env, VdsoSample));
  exports.Set("vdsoWrite", Napi::Function::New(env, VdsoWrite));
  exports.Set("vdsoClock", Napi::Function::New(env, VdsoClock));
  return exports;
}

}  // namespace

NODE_API_MODULE(NODE_GYP_MODULE_NAME, Init)
