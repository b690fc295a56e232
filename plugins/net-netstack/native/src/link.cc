// net-netstack's native helper: opening a TAP device, readiness of its fd on the libuv
// loop (uv_poll), and batched non-blocking reads/writes into caller-owned buffers.
// All policy lives in TypeScript (src/link/tap.ts). Every function runs on the JS thread.
#include <napi.h>
#include <uv.h>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <arpa/inet.h>
#include <sched.h>
#include <string>
#include <thread>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

namespace {

Napi::Error ErrnoError(Napi::Env env, const char* call, int err, const std::string& what = "") {
  std::string msg = std::string(call) + (what.empty() ? "" : " " + what) + ": " + strerror(err);
  Napi::Error e = Napi::Error::New(env, msg);
  e.Set("errno", Napi::Number::New(env, err));
  e.Set("syscall", Napi::String::New(env, call));
  return e;
}

// tapOpen(name) -> { fd, name }: /dev/net/tun, IFF_TAP | IFF_NO_PI, non-blocking, close-on-exec.
// The device lives in the calling thread's network namespace and vanishes when fd closes.
Napi::Value TapOpen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) throw Napi::TypeError::New(env, "tapOpen(name: string)");
  std::string name = info[0].As<Napi::String>();
  if (name.size() >= IFNAMSIZ) throw Napi::TypeError::New(env, "tapOpen: interface name longer than 15 bytes");
  int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) throw ErrnoError(env, "open", errno, "/dev/net/tun");
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
  strncpy(ifr.ifr_name, name.c_str(), IFNAMSIZ - 1);
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
    int e = errno;
    close(fd);
    throw ErrnoError(env, "ioctl", e, "TUNSETIFF " + name);
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("fd", Napi::Number::New(env, fd));
  out.Set("name", Napi::String::New(env, ifr.ifr_name));
  return out;
}

// What opening an AF_PACKET socket produced (or which call failed, with errno).
struct PacketResult {
  int fd = -1;
  unsigned ifindex = 0;
  uint8_t mac[6] = {0};
  int err = 0;
  const char* call = "";
  std::string what;
};

// An AF_PACKET SOCK_RAW socket bound to one interface of the calling thread's network
// namespace, as research/netio.md recommends: created with protocol 0 and bound with
// ETH_P_ALL (so it never sees other interfaces' frames), PACKET_IGNORE_OUTGOING (not our
// own transmissions), 4 MiB forced buffers, non-blocking. No JS: may run on any thread.
void OpenPacket(const std::string& name, PacketResult* r) {
  auto fail = [&](const char* call, const std::string& what) {
    r->err = errno;
    r->call = call;
    r->what = what;
    if (r->fd >= 0) close(r->fd);
    r->fd = -1;
  };
  r->fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (r->fd < 0) return fail("socket", "AF_PACKET");
  r->ifindex = if_nametoindex(name.c_str());
  if (r->ifindex == 0) return fail("if_nametoindex", name);
  struct sockaddr_ll sll;
  memset(&sll, 0, sizeof sll);
  sll.sll_family = AF_PACKET;
  sll.sll_protocol = htons(ETH_P_ALL);
  sll.sll_ifindex = static_cast<int>(r->ifindex);
  if (bind(r->fd, reinterpret_cast<struct sockaddr*>(&sll), sizeof sll) < 0) return fail("bind", name);
  int one = 1;
  if (setsockopt(r->fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one) < 0)
    return fail("setsockopt", "PACKET_IGNORE_OUTGOING");
  int size = 4 << 20;
  if (setsockopt(r->fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) < 0)
    return fail("setsockopt", "SO_RCVBUFFORCE");
  if (setsockopt(r->fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof size) < 0)
    return fail("setsockopt", "SO_SNDBUFFORCE");
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  strncpy(ifr.ifr_name, name.c_str(), IFNAMSIZ - 1);
  if (ioctl(r->fd, SIOCGIFHWADDR, &ifr) < 0) return fail("ioctl", "SIOCGIFHWADDR " + name);
  memcpy(r->mac, ifr.ifr_hwaddr.sa_data, 6);
}

// packetOpen(ifname, netnsPath?) -> { fd, ifindex, mac }. With a namespace path (a
// /var/run/netns/NAME or /proc/PID/ns/net file), the socket is made by a short-lived
// thread that joined that namespace (setns); the socket keeps it, and the sentry's own
// threads never change namespace.
Napi::Value PacketOpen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString())
    throw Napi::TypeError::New(env, "packetOpen(ifname: string, netns?: string)");
  std::string name = info[0].As<Napi::String>();
  if (name.size() >= IFNAMSIZ) throw Napi::TypeError::New(env, "packetOpen: interface name longer than 15 bytes");
  PacketResult r;
  if (info.Length() >= 2 && info[1].IsString()) {
    std::string ns = info[1].As<Napi::String>();
    std::thread th([&]() {
      int nsfd = open(ns.c_str(), O_RDONLY | O_CLOEXEC);
      if (nsfd < 0) {
        r.err = errno;
        r.call = "open";
        r.what = ns;
        return;
      }
      if (setns(nsfd, CLONE_NEWNET) < 0) {
        r.err = errno;
        r.call = "setns";
        r.what = ns;
        close(nsfd);
        return;
      }
      close(nsfd);
      OpenPacket(name, &r);
    });
    th.join();
  } else {
    OpenPacket(name, &r);
  }
  if (r.err) throw ErrnoError(env, r.call, r.err, r.what);
  Napi::Object out = Napi::Object::New(env);
  out.Set("fd", Napi::Number::New(env, r.fd));
  out.Set("ifindex", Napi::Number::New(env, r.ifindex));
  out.Set("mac", Napi::Buffer<uint8_t>::Copy(env, r.mac, 6));
  return out;
}

struct Poller {
  uv_poll_t handle;
  Napi::FunctionReference cb;
  napi_env env;
  bool closing = false;
};

void OnPoll(uv_poll_t* h, int status, int events) {
  Poller* p = static_cast<Poller*>(h->data);
  if (p->closing) return;
  Napi::Env env(p->env);
  Napi::HandleScope scope(env);
  try {
    p->cb.MakeCallback(env.Global(), {Napi::Number::New(env, status), Napi::Number::New(env, events)});
  } catch (const Napi::Error& e) {
    napi_fatal_exception(p->env, e.Value());
  }
}

void OnClose(uv_handle_t* h) {
  Poller* p = static_cast<Poller*>(h->data);
  delete p;
}

// pollStart(fd, callback(status, events)) -> handle. Readable readiness on the loop.
Napi::Value PollStart(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsFunction())
    throw Napi::TypeError::New(env, "pollStart(fd: number, cb: function)");
  int fd = info[0].As<Napi::Number>().Int32Value();
  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) throw Napi::Error::New(env, "pollStart: no uv loop");
  Poller* p = new Poller();
  p->env = env;
  p->cb = Napi::Persistent(info[1].As<Napi::Function>());
  int r = uv_poll_init(loop, &p->handle, fd);
  if (r != 0) {
    delete p;
    throw Napi::Error::New(env, std::string("uv_poll_init: ") + uv_strerror(r));
  }
  p->handle.data = p;
  r = uv_poll_start(&p->handle, UV_READABLE, OnPoll);
  if (r != 0) {
    p->closing = true;
    uv_close(reinterpret_cast<uv_handle_t*>(&p->handle), OnClose);
    throw Napi::Error::New(env, std::string("uv_poll_start: ") + uv_strerror(r));
  }
  return Napi::External<Poller>::New(env, p);
}

// pollStop(handle): stops and frees the poll handle (idempotent per handle).
Napi::Value PollStop(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsExternal()) throw Napi::TypeError::New(env, "pollStop(handle)");
  Poller* p = info[0].As<Napi::External<Poller>>().Data();
  if (p->closing) return env.Undefined();
  p->closing = true;
  p->cb.Reset();
  uv_poll_stop(&p->handle);
  uv_close(reinterpret_cast<uv_handle_t*>(&p->handle), OnClose);
  return env.Undefined();
}

// readBatch(fd, buf: Uint8Array, slot: number, lens: Int32Array) -> frames read.
// Reads up to lens.length frames, frame i at buf[i*slot], its length in lens[i]; stops at
// EAGAIN. Returns -errno for other errors when nothing was read.
Napi::Value ReadBatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 4 || !info[0].IsNumber() || !info[1].IsTypedArray() || !info[2].IsNumber() ||
      !info[3].IsTypedArray())
    throw Napi::TypeError::New(env, "readBatch(fd, buf: Uint8Array, slot: number, lens: Int32Array)");
  int fd = info[0].As<Napi::Number>().Int32Value();
  Napi::Uint8Array buf = info[1].As<Napi::Uint8Array>();
  size_t slot = info[2].As<Napi::Number>().Uint32Value();
  Napi::Int32Array lens = info[3].As<Napi::Int32Array>();
  size_t max = lens.ElementLength();
  if (slot == 0 || max * slot > buf.ByteLength()) throw Napi::RangeError::New(env, "readBatch: buffer too small");
  uint8_t* base = buf.Data();
  int32_t* l = lens.Data();
  size_t n = 0;
  for (; n < max; n++) {
    ssize_t r = read(fd, base + n * slot, slot);
    if (r < 0) {
      if (errno == EINTR) {
        n--;
        continue;
      }
      if (n == 0 && errno != EAGAIN && errno != EWOULDBLOCK) return Napi::Number::New(env, -errno);
      break;
    }
    l[n] = static_cast<int32_t>(r);
  }
  return Napi::Number::New(env, static_cast<double>(n));
}

// writeFrame(fd, buf: Uint8Array) -> bytes written or -errno (EAGAIN when the queue is full).
Napi::Value WriteFrame(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsTypedArray())
    throw Napi::TypeError::New(env, "writeFrame(fd, buf: Uint8Array)");
  int fd = info[0].As<Napi::Number>().Int32Value();
  Napi::Uint8Array buf = info[1].As<Napi::Uint8Array>();
  ssize_t r;
  do {
    r = write(fd, buf.Data(), buf.ByteLength());
  } while (r < 0 && errno == EINTR);
  return Napi::Number::New(env, r < 0 ? -errno : static_cast<double>(r));
}

// writeBatch(fd, buf: Uint8Array, offs: Int32Array, lens: Int32Array, n) -> frames written.
Napi::Value WriteBatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 5 || !info[0].IsNumber() || !info[1].IsTypedArray() || !info[2].IsTypedArray() ||
      !info[3].IsTypedArray() || !info[4].IsNumber())
    throw Napi::TypeError::New(env, "writeBatch(fd, buf, offs: Int32Array, lens: Int32Array, n)");
  int fd = info[0].As<Napi::Number>().Int32Value();
  Napi::Uint8Array buf = info[1].As<Napi::Uint8Array>();
  Napi::Int32Array offs = info[2].As<Napi::Int32Array>();
  Napi::Int32Array lens = info[3].As<Napi::Int32Array>();
  size_t n = info[4].As<Napi::Number>().Uint32Value();
  if (n > offs.ElementLength() || n > lens.ElementLength()) throw Napi::RangeError::New(env, "writeBatch: n too large");
  size_t i = 0;
  for (; i < n; i++) {
    size_t o = static_cast<size_t>(offs[i]), len = static_cast<size_t>(lens[i]);
    if (o + len > buf.ByteLength()) throw Napi::RangeError::New(env, "writeBatch: frame outside the buffer");
    ssize_t r;
    do {
      r = write(fd, buf.Data() + o, len);
    } while (r < 0 && errno == EINTR);
    if (r < 0) break;
  }
  return Napi::Number::New(env, static_cast<double>(i));
}

Napi::Value CloseFd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) throw Napi::TypeError::New(env, "closeFd(fd)");
  close(info[0].As<Napi::Number>().Int32Value());
  return env.Undefined();
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("tapOpen", Napi::Function::New(env, TapOpen));
  exports.Set("packetOpen", Napi::Function::New(env, PacketOpen));
  exports.Set("pollStart", Napi::Function::New(env, PollStart));
  exports.Set("pollStop", Napi::Function::New(env, PollStop));
  exports.Set("readBatch", Napi::Function::New(env, ReadBatch));
  exports.Set("writeFrame", Napi::Function::New(env, WriteFrame));
  exports.Set("writeBatch", Napi::Function::New(env, WriteBatch));
  exports.Set("closeFd", Napi::Function::New(env, CloseFd));
  return exports;
}

}  // namespace

NODE_API_MODULE(NODE_GYP_MODULE_NAME, Init)
