// tsvisor net-host addon: host sockets the sentry owns on behalf of the sandbox.
//
// A flat surface of host calls on non-blocking socket fds. Every call returns its result
// or -errno (never throws for a host failure): the TypeScript side turns these into the
// app's errnos. Readiness reaches the sentry's event loop through a Notifier: one host
// epoll set with every socket registered edge-triggered, watched by a single libuv
// uv_poll_t; each change is handed to JS in a batch (see Notifier below).
//
// Network namespaces: socketIn() creates a socket on a short-lived helper thread that
// setns()'d into the namespace first (a socket keeps the namespace it was created in);
// the Node main thread never changes namespace. newNetns() makes a fresh namespace with
// only loopback (up) and returns an fd naming it.
#include <napi.h>
#include <uv.h>

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace {

constexpr size_t kMaxIov = 1024;

int Errno(int r) { return r < 0 ? -errno : r; }

int FdArg(const Napi::CallbackInfo& info, size_t i) { return info[i].As<Napi::Number>().Int32Value(); }
int IntArg(const Napi::CallbackInfo& info, size_t i) { return info[i].As<Napi::Number>().Int32Value(); }

// A Uint8Array argument (null/undefined: empty).
struct Bytes {
  uint8_t* data = nullptr;
  size_t len = 0;
};
Bytes BytesArg(const Napi::CallbackInfo& info, size_t i) {
  Bytes b;
  if (i >= info.Length() || info[i].IsNull() || info[i].IsUndefined()) return b;
  auto a = info[i].As<Napi::Uint8Array>();
  b.data = a.Data();
  b.len = a.ByteLength();
  return b;
}

// An array of Uint8Array segments as iovecs; false if there are too many.
bool IovArg(const Napi::CallbackInfo& info, size_t i, std::vector<iovec>& out) {
  auto arr = info[i].As<Napi::Array>();
  uint32_t n = arr.Length();
  if (n > kMaxIov) return false;
  out.resize(n);
  for (uint32_t k = 0; k < n; k++) {
    auto a = arr.Get(k).As<Napi::Uint8Array>();
    out[k].iov_base = a.Data();
    out[k].iov_len = a.ByteLength();
  }
  return true;
}

Napi::Value Num(Napi::Env env, double v) { return Napi::Number::New(env, v); }

// socket(family, type, protocol): fd (non-blocking, close-on-exec) or -errno.
Napi::Value Socket(const Napi::CallbackInfo& info) {
  int r = socket(IntArg(info, 0), IntArg(info, 1) | SOCK_NONBLOCK | SOCK_CLOEXEC, IntArg(info, 2));
  return Num(info.Env(), Errno(r));
}

// socketIn(nsfd, family, type, protocol[, egid]): socket() on a helper thread that joined
// the netns first (nsfd -1: stays in this one) and, given egid >= 0, took that effective
// group id for itself alone (the raw setresgid system call changes only the calling
// thread; glibc's wrapper would change every thread). ICMP ping sockets need it: the host
// admits their creator by net.ipv4.ping_group_range, which the stack has already applied
// to the app's own groups.
Napi::Value SocketIn(const Napi::CallbackInfo& info) {
  int nsfd = FdArg(info, 0), fam = IntArg(info, 1), type = IntArg(info, 2), proto = IntArg(info, 3);
  long egid = info.Length() > 4 ? IntArg(info, 4) : -1;
  int result = -EINVAL;
  std::thread th([&] {
    if (nsfd >= 0 && setns(nsfd, CLONE_NEWNET) < 0) {
      result = -errno;
      return;
    }
    if (egid >= 0 && syscall(SYS_setresgid, -1L, egid, -1L) < 0) {
      result = -errno;
      return;
    }
    result = Errno(socket(fam, type | SOCK_NONBLOCK | SOCK_CLOEXEC, proto));
  });
  th.join();
  return Num(info.Env(), result);
}

// newNetns(): fd of a fresh network namespace whose loopback is up, or -errno.
Napi::Value NewNetns(const Napi::CallbackInfo& info) {
  int result = -EINVAL;
  std::thread th([&] {
    if (unshare(CLONE_NEWNET) < 0) {
      result = -errno;
      return;
    }
    int fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      result = -errno;
      return;
    }
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s >= 0) {
      struct ifreq ifr;
      memset(&ifr, 0, sizeof ifr);
      strcpy(ifr.ifr_name, "lo");
      if (ioctl(s, SIOCGIFFLAGS, &ifr) == 0) {
        ifr.ifr_flags |= IFF_UP;
        ioctl(s, SIOCSIFFLAGS, &ifr);
      }
      close(s);
    }
    result = fd;
  });
  th.join();
  return Num(info.Env(), result);
}

// openNetns(path): an O_RDONLY fd of a netns file, or -errno.
Napi::Value OpenNetns(const Napi::CallbackInfo& info) {
  std::string p = info[0].As<Napi::String>().Utf8Value();
  return Num(info.Env(), Errno(open(p.c_str(), O_RDONLY | O_CLOEXEC)));
}

// readIn(nsfd, path): the text of a file read by a thread inside the netns (/proc/thread-self/net/...).
Napi::Value ReadIn(const Napi::CallbackInfo& info) {
  int nsfd = FdArg(info, 0);
  std::string p = info[1].As<Napi::String>().Utf8Value();
  std::string out;
  int err = 0;
  std::thread th([&] {
    if (nsfd >= 0 && setns(nsfd, CLONE_NEWNET) < 0) {
      err = errno;
      return;
    }
    int fd = open(p.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      err = errno;
      return;
    }
    char buf[65536];
    for (;;) {
      ssize_t n = read(fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      out.append(buf, n);
    }
    close(fd);
  });
  th.join();
  if (err) return Num(info.Env(), -err);
  return Napi::Buffer<char>::Copy(info.Env(), out.data(), out.size());
}

// writeIn(nsfd, path, data): write a file (a /proc/sys/net sysctl) from a thread inside the
// netns; bytes written or -errno.
Napi::Value WriteIn(const Napi::CallbackInfo& info) {
  int nsfd = FdArg(info, 0);
  std::string p = info[1].As<Napi::String>().Utf8Value();
  std::string data = info[2].As<Napi::String>().Utf8Value();
  int result = -EINVAL;
  std::thread th([&] {
    if (nsfd >= 0 && setns(nsfd, CLONE_NEWNET) < 0) {
      result = -errno;
      return;
    }
    int fd = open(p.c_str(), O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
      result = -errno;
      return;
    }
    ssize_t n;
    do n = write(fd, data.data(), data.size());
    while (n < 0 && errno == EINTR);
    result = n < 0 ? -errno : (int)n;
    close(fd);
  });
  th.join();
  return Num(info.Env(), result);
}

Napi::Value Bind(const Napi::CallbackInfo& info) {
  Bytes a = BytesArg(info, 1);
  return Num(info.Env(), Errno(bind(FdArg(info, 0), reinterpret_cast<sockaddr*>(a.data), a.len)));
}

Napi::Value Listen(const Napi::CallbackInfo& info) {
  return Num(info.Env(), Errno(listen(FdArg(info, 0), IntArg(info, 1))));
}

// accept(fd): a new non-blocking close-on-exec fd or -errno.
Napi::Value Accept(const Napi::CallbackInfo& info) {
  return Num(info.Env(), Errno(accept4(FdArg(info, 0), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC)));
}

Napi::Value Connect(const Napi::CallbackInfo& info) {
  Bytes a = BytesArg(info, 1);
  return Num(info.Env(), Errno(connect(FdArg(info, 0), reinterpret_cast<sockaddr*>(a.data), a.len)));
}

Napi::Value NameOf(const Napi::CallbackInfo& info, bool peer) {
  sockaddr_storage ss;
  socklen_t len = sizeof ss;
  int r = peer ? getpeername(FdArg(info, 0), reinterpret_cast<sockaddr*>(&ss), &len)
               : getsockname(FdArg(info, 0), reinterpret_cast<sockaddr*>(&ss), &len);
  if (r < 0) return Num(info.Env(), -errno);
  if (len > sizeof ss) len = sizeof ss;
  return Napi::Buffer<uint8_t>::Copy(info.Env(), reinterpret_cast<uint8_t*>(&ss), len);
}
Napi::Value Getsockname(const Napi::CallbackInfo& info) { return NameOf(info, false); }
Napi::Value Getpeername(const Napi::CallbackInfo& info) { return NameOf(info, true); }

Napi::Value Shutdown(const Napi::CallbackInfo& info) {
  return Num(info.Env(), Errno(shutdown(FdArg(info, 0), IntArg(info, 1))));
}

// sendmsg(fd, segs, flags, addr|null, control|null): bytes sent or -errno.
Napi::Value Sendmsg(const Napi::CallbackInfo& info) {
  std::vector<iovec> iov;
  if (!IovArg(info, 1, iov)) return Num(info.Env(), -EMSGSIZE);
  Bytes addr = BytesArg(info, 3), ctl = BytesArg(info, 4);
  msghdr m;
  memset(&m, 0, sizeof m);
  m.msg_iov = iov.data();
  m.msg_iovlen = iov.size();
  m.msg_name = addr.data;
  m.msg_namelen = addr.len;
  m.msg_control = ctl.data;
  m.msg_controllen = ctl.len;
  ssize_t r = sendmsg(FdArg(info, 0), &m, IntArg(info, 2));
  return Num(info.Env(), r < 0 ? -errno : static_cast<double>(r));
}

// recvmsg(fd, segs, flags, name, control|null, out Int32Array[3]): bytes or -errno;
// out = [namelen, controllen, msg_flags].
Napi::Value Recvmsg(const Napi::CallbackInfo& info) {
  std::vector<iovec> iov;
  if (!IovArg(info, 1, iov)) return Num(info.Env(), -EMSGSIZE);
  Bytes name = BytesArg(info, 3), ctl = BytesArg(info, 4);
  auto out = info[5].As<Napi::Int32Array>();
  msghdr m;
  memset(&m, 0, sizeof m);
  m.msg_iov = iov.data();
  m.msg_iovlen = iov.size();
  m.msg_name = name.data;
  m.msg_namelen = name.len;
  m.msg_control = ctl.len ? ctl.data : nullptr;
  m.msg_controllen = ctl.len;
  ssize_t r = recvmsg(FdArg(info, 0), &m, IntArg(info, 2));
  if (r < 0) return Num(info.Env(), -errno);
  out[0] = name.data ? static_cast<int32_t>(m.msg_namelen) : 0;
  out[1] = static_cast<int32_t>(m.msg_controllen);
  out[2] = m.msg_flags;
  return Num(info.Env(), static_cast<double>(r));
}

// getsockopt(fd, level, name, len): the value bytes or -errno.
Napi::Value Getsockopt(const Napi::CallbackInfo& info) {
  int len = IntArg(info, 3);
  if (len < 0 || len > 4096) return Num(info.Env(), -EINVAL);
  std::vector<uint8_t> buf(len ? len : 1);
  socklen_t l = len;
  if (getsockopt(FdArg(info, 0), IntArg(info, 1), IntArg(info, 2), buf.data(), &l) < 0)
    return Num(info.Env(), -errno);
  if (l > static_cast<socklen_t>(len)) l = len;
  return Napi::Buffer<uint8_t>::Copy(info.Env(), buf.data(), l);
}

Napi::Value Setsockopt(const Napi::CallbackInfo& info) {
  Bytes v = BytesArg(info, 3);
  return Num(info.Env(),
             Errno(setsockopt(FdArg(info, 0), IntArg(info, 1), IntArg(info, 2), v.data, v.len)));
}

// ioctlInt(fd, cmd): the int the request stores (FIONREAD, SIOCOUTQ...) or -errno.
Napi::Value IoctlInt(const Napi::CallbackInfo& info) {
  int v = 0;
  if (ioctl(FdArg(info, 0), static_cast<unsigned long>(IntArg(info, 1)), &v) < 0) return Num(info.Env(), -errno);
  return Num(info.Env(), v);
}

// ioctlIfreq(fd, cmd, buf[40]): a struct ifreq request in place; 0 or -errno.
Napi::Value IoctlIfreq(const Napi::CallbackInfo& info) {
  Bytes b = BytesArg(info, 2);
  if (b.len < sizeof(struct ifreq)) return Num(info.Env(), -EINVAL);
  return Num(info.Env(), Errno(ioctl(FdArg(info, 0), static_cast<unsigned long>(IntArg(info, 1)), b.data)));
}

// ifconf(fd, len): the ifreq records SIOCGIFCONF fills into a buffer of len bytes (len 0:
// a Buffer whose length is the size needed), or -errno.
Napi::Value Ifconf(const Napi::CallbackInfo& info) {
  int len = IntArg(info, 1);
  if (len < 0 || len > (1 << 20)) return Num(info.Env(), -EINVAL);
  std::vector<char> buf(len ? len : 1);
  struct ifconf ic;
  ic.ifc_len = len;
  ic.ifc_buf = len ? buf.data() : nullptr;
  if (ioctl(FdArg(info, 0), SIOCGIFCONF, &ic) < 0) return Num(info.Env(), -errno);
  if (!len) return Napi::Buffer<char>::New(info.Env(), ic.ifc_len);
  return Napi::Buffer<char>::Copy(info.Env(), buf.data(), ic.ifc_len);
}

// poll(fd, events): revents now (timeout 0), or -errno.
Napi::Value Poll(const Napi::CallbackInfo& info) {
  pollfd p{FdArg(info, 0), static_cast<short>(IntArg(info, 1)), 0};
  int r = poll(&p, 1, 0);
  if (r < 0) return Num(info.Env(), -errno);
  return Num(info.Env(), r ? p.revents : 0);
}

Napi::Value Close(const Napi::CallbackInfo& info) { return Num(info.Env(), Errno(close(FdArg(info, 0)))); }

// ---------------------------------------------------------------- readiness

void FreeHandle(uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); }

// Notifier(callback(batch)): one host epoll set, edge-triggered, watched by one uv_poll_t
// on the event loop. add(fd, token) registers a socket for every readiness change
// (EPOLLIN|OUT|RDHUP|PRI|ET); when changes arrive, the callback gets a flat array
// [token, events, token, events, ...] (events in poll(2) bits). Edge-triggered: a change
// is reported once, so nothing spins on a socket nobody reads, and new data always wakes.
// The uv handle is unref'd: it never keeps the process alive.
class Notifier : public Napi::ObjectWrap<Notifier> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Notifier",
                       {InstanceMethod("add", &Notifier::Add), InstanceMethod("del", &Notifier::Del),
                        InstanceMethod("close", &Notifier::CloseN)});
  }

  explicit Notifier(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Notifier>(info) {
    Napi::Env env = info.Env();
    cb_ = Napi::Persistent(info[0].As<Napi::Function>());
    ctx_ = std::make_unique<Napi::AsyncContext>(env, "tsvisor:net-host");
    epfd_ = epoll_create1(EPOLL_CLOEXEC);
    if (epfd_ < 0) {
      Napi::Error::New(env, std::string("epoll_create1: ") + strerror(errno)).ThrowAsJavaScriptException();
      return;
    }
    uv_loop_t* loop = nullptr;
    napi_get_uv_event_loop(env, &loop);
    handle_ = new uv_poll_t;
    int r = uv_poll_init(loop, handle_, epfd_);
    if (r != 0) {
      delete handle_;
      handle_ = nullptr;
      Napi::Error::New(env, std::string("uv_poll_init: ") + uv_strerror(r)).ThrowAsJavaScriptException();
      return;
    }
    handle_->data = this;
    uv_poll_start(handle_, UV_READABLE, OnPoll);
    uv_unref(reinterpret_cast<uv_handle_t*>(handle_));
  }

  ~Notifier() override { Stop(); }

 private:
  void Stop() {
    if (handle_) {
      handle_->data = nullptr;
      uv_poll_stop(handle_);
      uv_close(reinterpret_cast<uv_handle_t*>(handle_), FreeHandle);
      handle_ = nullptr;
    }
    if (epfd_ >= 0) close(epfd_);
    epfd_ = -1;
  }

  Napi::Value Add(const Napi::CallbackInfo& info) {
    epoll_event ev;
    memset(&ev, 0, sizeof ev);
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLPRI | EPOLLET;
    ev.data.u64 = static_cast<uint64_t>(info[1].As<Napi::Number>().Int64Value());
    return Num(info.Env(), Errno(epoll_ctl(epfd_, EPOLL_CTL_ADD, FdArg(info, 0), &ev)));
  }

  Napi::Value Del(const Napi::CallbackInfo& info) {
    return Num(info.Env(), Errno(epoll_ctl(epfd_, EPOLL_CTL_DEL, FdArg(info, 0), nullptr)));
  }

  Napi::Value CloseN(const Napi::CallbackInfo& info) {
    Stop();
    cb_.Reset();
    return info.Env().Undefined();
  }

  static void OnPoll(uv_poll_t* h, int status, int events) {
    Notifier* n = static_cast<Notifier*>(h->data);
    if (!n || n->epfd_ < 0 || n->cb_.IsEmpty()) return;
    Napi::Env env = n->Env();
    Napi::HandleScope scope(env);
    std::vector<double> batch;
    epoll_event evs[256];
    for (;;) {
      int k = epoll_wait(n->epfd_, evs, 256, 0);
      if (k < 0 && errno == EINTR) continue;
      if (k <= 0) break;
      for (int i = 0; i < k; i++) {
        batch.push_back(static_cast<double>(evs[i].data.u64));
        batch.push_back(static_cast<double>(evs[i].events));
      }
      if (k < 256) break;
    }
    if (batch.empty()) return;
    auto arr = Napi::Float64Array::New(env, batch.size());
    for (size_t i = 0; i < batch.size(); i++) arr[i] = batch[i];
    try {
      n->cb_.MakeCallback(env.Global(), {arr}, *n->ctx_);
    } catch (const Napi::Error& e) {
      fprintf(stderr, "tsvisor net-host: readiness callback threw: %s\n", e.Message().c_str());
    }
  }

  int epfd_ = -1;
  uv_poll_t* handle_ = nullptr;
  Napi::FunctionReference cb_;
  std::unique_ptr<Napi::AsyncContext> ctx_;
};

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("socket", Napi::Function::New(env, Socket));
  exports.Set("socketIn", Napi::Function::New(env, SocketIn));
  exports.Set("newNetns", Napi::Function::New(env, NewNetns));
  exports.Set("openNetns", Napi::Function::New(env, OpenNetns));
  exports.Set("readIn", Napi::Function::New(env, ReadIn));
  exports.Set("writeIn", Napi::Function::New(env, WriteIn));
  exports.Set("bind", Napi::Function::New(env, Bind));
  exports.Set("listen", Napi::Function::New(env, Listen));
  exports.Set("accept", Napi::Function::New(env, Accept));
  exports.Set("connect", Napi::Function::New(env, Connect));
  exports.Set("getsockname", Napi::Function::New(env, Getsockname));
  exports.Set("getpeername", Napi::Function::New(env, Getpeername));
  exports.Set("shutdown", Napi::Function::New(env, Shutdown));
  exports.Set("sendmsg", Napi::Function::New(env, Sendmsg));
  exports.Set("recvmsg", Napi::Function::New(env, Recvmsg));
  exports.Set("getsockopt", Napi::Function::New(env, Getsockopt));
  exports.Set("setsockopt", Napi::Function::New(env, Setsockopt));
  exports.Set("ioctlInt", Napi::Function::New(env, IoctlInt));
  exports.Set("ioctlIfreq", Napi::Function::New(env, IoctlIfreq));
  exports.Set("ifconf", Napi::Function::New(env, Ifconf));
  exports.Set("poll", Napi::Function::New(env, Poll));
  exports.Set("close", Napi::Function::New(env, Close));
  exports.Set("Notifier", Notifier::Define(env));
  return exports;
}

}  // namespace

NODE_API_MODULE(NODE_GYP_MODULE_NAME, Init)
