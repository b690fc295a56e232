// Host helpers the OCI runtime needs and Node lacks: a host pseudo-terminal pair for a
// terminal container, and handing its master to a console socket with SCM_RIGHTS (as runc
// does: the message's data is the terminal's name).
#include <napi.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
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

// The terminal signals a tty's line discipline sends its foreground process group.
const int kTtySignals[] = {SIGINT, SIGQUIT, SIGTSTP, SIGWINCH, SIGHUP};

// In the relay child (after fork: async-signal-safe calls only). Never returns.
[[noreturn]] void RelayChild(int tty, int out) {
  sigset_t set;
  sigemptyset(&set);
  for (int s : kTtySignals) sigaddset(&set, s);
  sigprocmask(SIG_SETMASK, &set, nullptr);
  // Dispositions inherited from Node: back to the defaults (SIGPIPE ignored: a write to a
  // closed pipe ends the loop with EPIPE instead).
  struct sigaction dfl = {};
  dfl.sa_handler = SIG_DFL;
  for (int s = 1; s < NSIG; s++)
    if (s != SIGKILL && s != SIGSTOP) sigaction(s, &dfl, nullptr);
  signal(SIGPIPE, SIG_IGN);
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  // Keep only the terminal and the pipe, at fds 3 and 4.
  int t = fcntl(tty, F_DUPFD, 10), o = fcntl(out, F_DUPFD, 10);
  if (t < 0 || o < 0) _exit(120);
  dup2(t, 3);
  dup2(o, 4);
  if (syscall(SYS_close_range, 5, ~0U, 0) < 0)
    for (int fd = 5; fd < 65536; fd++) close(fd);  // kernels before 5.9
  int devnull = open("/dev/null", O_RDWR);
  if (devnull >= 0) {
    dup2(devnull, 0);
    dup2(devnull, 1);
    dup2(devnull, 2);
    if (devnull > 4) close(devnull);
  }
  if (setsid() < 0 || ioctl(3, TIOCSCTTY, 0) < 0) _exit(121);
  // Our own group is the terminal's foreground group: the line discipline signals us.
  if (tcsetpgrp(3, getpid()) < 0) _exit(122);
  for (;;) {
    int sig = sigwaitinfo(&set, nullptr);
    if (sig < 0) {
      if (errno == EINTR) continue;
      _exit(123);
    }
    unsigned char b = (unsigned char)sig;
    if (write(4, &b, 1) != 1) _exit(0);
    if (sig == SIGHUP) _exit(0);
  }
}

// ttySignalRelay(fd): {pid, fd}. Starts a host process that makes the terminal `fd` its
// controlling tty (a new session, its own group in the foreground) and writes the number
// of each terminal signal it then gets (SIGINT, SIGQUIT, SIGTSTP, SIGWINCH, SIGHUP) as one
// byte to the returned pipe. The sandbox forwards them to the app's foreground group, as
// it does for the container's own terminal (its controlling tty). The relay exits at
// SIGHUP (hang-up), when the pipe's reader goes, or with this process; reap it with
// waitPid.
Napi::Value TtySignalRelay(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) throw Napi::TypeError::New(env, "ttySignalRelay(fd: number)");
  int tty = info[0].As<Napi::Number>().Int32Value();
  int p[2];
  if (pipe2(p, O_CLOEXEC) < 0) throw ErrnoError(env, "pipe2", errno);
  pid_t pid = fork();
  if (pid < 0) {
    int err = errno;
    close(p[0]);
    close(p[1]);
    throw ErrnoError(env, "fork", err);
  }
  if (pid == 0) {
    close(p[0]);
    RelayChild(tty, p[1]);
  }
  close(p[1]);
  Napi::Object r = Napi::Object::New(env);
  r.Set("pid", Napi::Number::New(env, pid));
  r.Set("fd", Napi::Number::New(env, p[0]));
  return r;
}

// waitPid(pid): reaps a child started by ttySignalRelay (blocking; it is known to be exiting).
Napi::Value WaitPid(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) throw Napi::TypeError::New(env, "waitPid(pid: number)");
  int st = 0;
  pid_t r;
  do r = waitpid(info[0].As<Napi::Number>().Int32Value(), &st, 0);
  while (r < 0 && errno == EINTR);
  if (r < 0) throw ErrnoError(env, "waitpid", errno);
  return Napi::Number::New(env, st);
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("ttySignalRelay", Napi::Function::New(env, TtySignalRelay));
  exports.Set("waitPid", Napi::Function::New(env, WaitPid));
  exports.Set("setControllingTty", Napi::Function::New(env, SetControllingTty));
  exports.Set("openPty", Napi::Function::New(env, OpenPty));
  exports.Set("sendFd", Napi::Function::New(env, SendFd));
  return exports;
}

}  // namespace

NODE_API_MODULE(tsvisor_oci, Init)
