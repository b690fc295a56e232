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

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("memfdCreate", Napi::Function::New(env, MemfdCreate));
  exports.Set("mapShared", Napi::Function::New(env, MapShared));
  exports.Set("punchHole", Napi::Function::New(env, PunchHole));
  exports.Set("closeFd", Napi::Function::New(env, CloseFd));
  return exports;
}

}  // namespace

NODE_API_MODULE(NODE_GYP_MODULE_NAME, Init)
