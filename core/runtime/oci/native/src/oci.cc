// Host helpers the OCI runtime needs and Node lacks: a host pseudo-terminal pair for a
// terminal container, and handing its master to a console socket with SCM_RIGHTS (as runc
// does: the message's data is the terminal's name).
#include <napi.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <string>

namespace {

Napi::Error ErrnoError(Napi::Env env, const char* call, int err) {
  std::string msg = std::string(call) + ": " + strerror(err);
  Napi::Error e = Napi::Error::New(env, msg);
  e.Set("errno", Napi::Number::New(env, err));
  e.Set("syscall", Napi::String::New(env, call));
  return e;
}

// openPty(): {master, slave, name}; both fds O_CLOEXEC and O_NOCTTY.
Napi::Value OpenPty(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (m < 0) throw ErrnoError(env, "posix_openpt", errno);
  char name[128];
  if (grantpt(m) < 0 || unlockpt(m) < 0 || ptsname_r(m, name, sizeof name) != 0) {
    int err = errno;
    close(m);
    throw ErrnoError(env, "unlockpt", err);
  }
  int s = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (s < 0) {
    int err = errno;
    close(m);
    throw ErrnoError(env, "open(pts)", err);
  }
  Napi::Object o = Napi::Object::New(env);
  o.Set("master", Napi::Number::New(env, m));
  o.Set("slave", Napi::Number::New(env, s));
  o.Set("name", Napi::String::New(env, name));
  return o;
}

// sendFd(socketPath, fd, name): connects to the unix stream socket and sends fd with SCM_RIGHTS.
Napi::Value SendFd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsString() || !info[1].IsNumber() || !info[2].IsString())
    throw Napi::TypeError::New(env, "sendFd(socketPath: string, fd: number, name: string)");
  std::string path = info[0].As<Napi::String>();
  int fd = info[1].As<Napi::Number>().Int32Value();
  std::string name = info[2].As<Napi::String>();
  struct sockaddr_un sa;
  memset(&sa, 0, sizeof sa);
  sa.sun_family = AF_UNIX;
  if (path.size() >= sizeof sa.sun_path) throw Napi::RangeError::New(env, "sendFd: socket path too long");
  memcpy(sa.sun_path, path.data(), path.size());
  int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0) throw ErrnoError(env, "socket", errno);
  if (connect(s, reinterpret_cast<struct sockaddr*>(&sa), sizeof sa) < 0) {
    int err = errno;
    close(s);
    throw ErrnoError(env, "connect", err);
  }
  struct iovec iov;
  iov.iov_base = const_cast<char*>(name.data());
  iov.iov_len = name.size() ? name.size() : 1;
  char cbuf[CMSG_SPACE(sizeof(int))];
  memset(cbuf, 0, sizeof cbuf);
  struct msghdr msg;
  memset(&msg, 0, sizeof msg);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = cbuf;
  msg.msg_controllen = sizeof cbuf;
  struct cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &fd, sizeof fd);
  ssize_t n;
  do n = sendmsg(s, &msg, MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  int err = errno;
  close(s);
  if (n < 0) throw ErrnoError(env, "sendmsg", err);
  return env.Undefined();
}

// setControllingTty(fd): makes the terminal the caller's controlling terminal (TIOCSCTTY); the
// caller must be a session leader without one.
Napi::Value SetControllingTty(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) throw Napi::TypeError::New(env, "setControllingTty(fd: number)");
  if (ioctl(info[0].As<Napi::Number>().Int32Value(), TIOCSCTTY, 0) < 0) throw ErrnoError(env, "ioctl(TIOCSCTTY)", errno);
  return env.Undefined();
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("setControllingTty", Napi::Function::New(env, SetControllingTty));
  exports.Set("openPty", Napi::Function::New(env, OpenPty));
  exports.Set("sendFd", Napi::Function::New(env, SendFd));
  return exports;
}

}  // namespace

NODE_API_MODULE(tsvisor_oci, Init)
