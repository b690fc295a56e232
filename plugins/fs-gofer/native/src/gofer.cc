// tsvisor_gofer: the host calls of the 9P gofer (plugins/fs-gofer/src/server.ts) that
// Node's fs lacks: the *at() family on directory fds, OFD locks, xattrs, fstatfs, and the
// confinement steps (mount namespace, bind mounts, pivot_root, capability drop).
//
// Confinement contract: every function that takes (dirfd, name) takes ONE path component:
// the name may not be empty, contain '/' or NUL, or be "." or "..", and openat() always adds
// O_NOFOLLOW, so no call here ever resolves a host symlink or leaves the directory it was given.
// Every failure throws a JS Error naming the host call, with the errno in `errno`.
#include <napi.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <sched.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <string>
#include <vector>

namespace {

Napi::Error ErrnoError(Napi::Env env, const char* call, int err) {
  Napi::Error e = Napi::Error::New(env, std::string(call) + ": " + strerror(err));
  e.Set("errno", Napi::Number::New(env, err));
  e.Set("syscall", Napi::String::New(env, call));
  return e;
}

// An O_PATH fd of /proc/self/fd, opened before any chroot so that reopening an fd through
// its magic link keeps working inside the gofer's new root (which has no /proc).
int procFdDir = -1;

int ProcFdDir() {
  if (procFdDir < 0) procFdDir = open("/proc/self/fd", O_PATH | O_DIRECTORY | O_CLOEXEC);
  return procFdDir;
}

int Fd(const Napi::CallbackInfo& info, size_t i) { return info[i].As<Napi::Number>().Int32Value(); }

// One path component, validated (see the contract above).
std::string Component(const Napi::CallbackInfo& info, size_t i, const char* call) {
  std::string s = info[i].As<Napi::String>().Utf8Value();
  if (s.empty() || s == "." || s == ".." || s.find('/') != std::string::npos ||
      s.find('\0') != std::string::npos)
    throw ErrnoError(info.Env(), call, EINVAL);
  return s;
}

// openat(dirfd, name, flags | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, mode) -> fd.
Napi::Value OpenAt(const Napi::CallbackInfo& info) {
  int dirfd = Fd(info, 0);
  std::string name = Component(info, 1, "openat");
  int flags = info[2].As<Napi::Number>().Int32Value() | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY;
  mode_t mode = info[3].As<Napi::Number>().Uint32Value();
  int fd;
  do fd = openat(dirfd, name.c_str(), flags, mode); while (fd < 0 && errno == EINTR);
  if (fd < 0) throw ErrnoError(info.Env(), "openat", errno);
  return Napi::Number::New(info.Env(), fd);
}

// reopen(fd, flags) -> a new fd for the file an O_PATH fd names (through /proc/self/fd, which
// jumps straight to the inode: no path walk). O_NOFOLLOW is not added (it would refuse the
// magic link itself); the caller makes sure the fd is not a symlink.
Napi::Value Reopen(const Napi::CallbackInfo& info) {
  int fd = Fd(info, 0);
  int flags = (info[1].As<Napi::Number>().Int32Value() | O_CLOEXEC | O_NOCTTY) & ~(O_CREAT | O_NOFOLLOW);
  std::string p = std::to_string(fd);
  int nfd;
  do nfd = openat(ProcFdDir(), p.c_str(), flags); while (nfd < 0 && errno == EINTR);
  if (nfd < 0) throw ErrnoError(info.Env(), "open(/proc/self/fd)", errno);
  return Napi::Number::New(info.Env(), nfd);
}

// dup(fd) -> a new close-on-exec fd sharing the open file description (O_PATH fds too).
Napi::Value Dup(const Napi::CallbackInfo& info) {
  int nfd = fcntl(Fd(info, 0), F_DUPFD_CLOEXEC, 3);
  if (nfd < 0) throw ErrnoError(info.Env(), "fcntl(F_DUPFD_CLOEXEC)", errno);
  return Napi::Number::New(info.Env(), nfd);
}

Napi::Value MkdirAt(const Napi::CallbackInfo& info) {
  std::string name = Component(info, 1, "mkdirat");
  if (mkdirat(Fd(info, 0), name.c_str(), info[2].As<Napi::Number>().Uint32Value()) < 0)
    throw ErrnoError(info.Env(), "mkdirat", errno);
  return info.Env().Undefined();
}

// symlinkat(target, dirfd, name): the target is stored, never resolved here.
Napi::Value SymlinkAt(const Napi::CallbackInfo& info) {
  std::string target = info[0].As<Napi::String>().Utf8Value();
  std::string name = Component(info, 2, "symlinkat");
  if (target.empty() || target.find('\0') != std::string::npos)
    throw ErrnoError(info.Env(), "symlinkat", ENOENT);
  if (symlinkat(target.c_str(), Fd(info, 1), name.c_str()) < 0) throw ErrnoError(info.Env(), "symlinkat", errno);
  return info.Env().Undefined();
}

// mknodat(dirfd, name, mode, major, minor).
Napi::Value MknodAt(const Napi::CallbackInfo& info) {
  std::string name = Component(info, 1, "mknodat");
  mode_t mode = info[2].As<Napi::Number>().Uint32Value();
  dev_t dev = makedev(info[3].As<Napi::Number>().Uint32Value(), info[4].As<Napi::Number>().Uint32Value());
  if (mknodat(Fd(info, 0), name.c_str(), mode, dev) < 0) throw ErrnoError(info.Env(), "mknodat", errno);
  return info.Env().Undefined();
}

// readlinkFd(fd): the target of the symlink an O_PATH|O_NOFOLLOW fd names.
Napi::Value ReadlinkFd(const Napi::CallbackInfo& info) {
  char buf[4096];
  ssize_t n = readlinkat(Fd(info, 0), "", buf, sizeof buf);
  if (n < 0) throw ErrnoError(info.Env(), "readlinkat", errno);
  return Napi::Buffer<char>::Copy(info.Env(), buf, (size_t)n);
}

// linkFd(fd, newdirfd, newname): a hard link to the file fd names. AT_EMPTY_PATH needs
// CAP_DAC_READ_SEARCH; without it, link through /proc/self/fd (AT_SYMLINK_FOLLOW follows the
// magic link to the same inode).
Napi::Value LinkFd(const Napi::CallbackInfo& info) {
  int fd = Fd(info, 0);
  int newdir = Fd(info, 1);
  std::string name = Component(info, 2, "linkat");
  if (linkat(fd, "", newdir, name.c_str(), AT_EMPTY_PATH) == 0) return info.Env().Undefined();
  if (errno != ENOENT && errno != EPERM) throw ErrnoError(info.Env(), "linkat", errno);
  std::string p = std::to_string(fd);
  if (linkat(ProcFdDir(), p.c_str(), newdir, name.c_str(), AT_SYMLINK_FOLLOW) < 0)
    throw ErrnoError(info.Env(), "linkat", errno);
  return info.Env().Undefined();
}

Napi::Value RenameAt(const Napi::CallbackInfo& info) {
  std::string oldname = Component(info, 1, "renameat");
  std::string newname = Component(info, 3, "renameat");
  if (renameat(Fd(info, 0), oldname.c_str(), Fd(info, 2), newname.c_str()) < 0)
    throw ErrnoError(info.Env(), "renameat", errno);
  return info.Env().Undefined();
}

Napi::Value UnlinkAt(const Napi::CallbackInfo& info) {
  std::string name = Component(info, 1, "unlinkat");
  if (unlinkat(Fd(info, 0), name.c_str(), info[2].As<Napi::Number>().Int32Value()) < 0)
    throw ErrnoError(info.Env(), "unlinkat", errno);
  return info.Env().Undefined();
}

// fchownFd(fd, uid, gid): -1 leaves one unchanged; works on O_PATH fds, never follows.
Napi::Value FchownFd(const Napi::CallbackInfo& info) {
  uid_t uid = (uid_t)info[1].As<Napi::Number>().Int64Value();
  gid_t gid = (gid_t)info[2].As<Napi::Number>().Int64Value();
  if (fchownat(Fd(info, 0), "", uid, gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
    throw ErrnoError(info.Env(), "fchownat", errno);
  return info.Env().Undefined();
}

// utimensFd(fd, asec, ansec, msec, mnsec): nsec may be UTIME_NOW / UTIME_OMIT.
Napi::Value UtimensFd(const Napi::CallbackInfo& info) {
  struct timespec ts[2];
  ts[0].tv_sec = (time_t)info[1].As<Napi::Number>().Int64Value();
  ts[0].tv_nsec = (long)info[2].As<Napi::Number>().Int64Value();
  ts[1].tv_sec = (time_t)info[3].As<Napi::Number>().Int64Value();
  ts[1].tv_nsec = (long)info[4].As<Napi::Number>().Int64Value();
  std::string p = std::to_string(Fd(info, 0));
  if (utimensat(ProcFdDir(), p.c_str(), ts, 0) < 0) throw ErrnoError(info.Env(), "utimensat", errno);
  return info.Env().Undefined();
}

// fstatfsFd(fd) -> [type, bsize, blocks, bfree, bavail, files, ffree, fsid, namelen].
Napi::Value FstatfsFd(const Napi::CallbackInfo& info) {
  struct statfs s;
  if (fstatfs(Fd(info, 0), &s) < 0) throw ErrnoError(info.Env(), "fstatfs", errno);
  Napi::Env env = info.Env();
  Napi::Array a = Napi::Array::New(env, 9);
  uint64_t fsid = ((uint64_t)(uint32_t)s.f_fsid.__val[1] << 32) | (uint32_t)s.f_fsid.__val[0];
  a.Set(0u, Napi::Number::New(env, (double)(uint32_t)s.f_type));
  a.Set(1u, Napi::Number::New(env, (double)s.f_bsize));
  a.Set(2u, Napi::BigInt::New(env, (uint64_t)s.f_blocks));
  a.Set(3u, Napi::BigInt::New(env, (uint64_t)s.f_bfree));
  a.Set(4u, Napi::BigInt::New(env, (uint64_t)s.f_bavail));
  a.Set(5u, Napi::BigInt::New(env, (uint64_t)s.f_files));
  a.Set(6u, Napi::BigInt::New(env, (uint64_t)s.f_ffree));
  a.Set(7u, Napi::BigInt::New(env, fsid));
  a.Set(8u, Napi::Number::New(env, (double)s.f_namelen));
  return a;
}

// getdents(fd): every linux_dirent64 record of an open directory, from the start.
Napi::Value Getdents(const Napi::CallbackInfo& info) {
  int fd = Fd(info, 0);
  if (lseek(fd, 0, SEEK_SET) < 0) throw ErrnoError(info.Env(), "lseek", errno);
  std::string all;
  char buf[32768];
  for (;;) {
    long n = syscall(SYS_getdents64, fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw ErrnoError(info.Env(), "getdents64", errno);
    }
    if (n == 0) break;
    all.append(buf, (size_t)n);
  }
  return Napi::Buffer<char>::Copy(info.Env(), all.data(), all.size());
}

// The xattr calls take an fd opened for reading (the caller reopens the O_PATH fd).

// getxattrFd(fd, name) -> Buffer; listxattrFd(fd) -> Buffer (NUL-separated names).
Napi::Value GetxattrFd(const Napi::CallbackInfo& info) {
  int fd = Fd(info, 0);
  std::string name = info[1].As<Napi::String>().Utf8Value();
  ssize_t n = fgetxattr(fd, name.c_str(), nullptr, 0);
  if (n < 0) throw ErrnoError(info.Env(), "getxattr", errno);
  std::string buf((size_t)n, '\0');
  n = fgetxattr(fd, name.c_str(), buf.data(), buf.size());
  if (n < 0) throw ErrnoError(info.Env(), "getxattr", errno);
  return Napi::Buffer<char>::Copy(info.Env(), buf.data(), (size_t)n);
}

Napi::Value ListxattrFd(const Napi::CallbackInfo& info) {
  int fd = Fd(info, 0);
  ssize_t n = flistxattr(fd, nullptr, 0);
  if (n < 0) throw ErrnoError(info.Env(), "listxattr", errno);
  std::string buf((size_t)n, '\0');
  n = flistxattr(fd, buf.data(), buf.size());
  if (n < 0) throw ErrnoError(info.Env(), "listxattr", errno);
  return Napi::Buffer<char>::Copy(info.Env(), buf.data(), (size_t)n);
}

// setxattrFd(fd, name, value, flags); removexattrFd(fd, name).
Napi::Value SetxattrFd(const Napi::CallbackInfo& info) {
  int fd = Fd(info, 0);
  std::string name = info[1].As<Napi::String>().Utf8Value();
  Napi::Uint8Array v = info[2].As<Napi::Uint8Array>();
  if (fsetxattr(fd, name.c_str(), v.Data(), v.ByteLength(), info[3].As<Napi::Number>().Int32Value()) < 0)
    throw ErrnoError(info.Env(), "setxattr", errno);
  return info.Env().Undefined();
}

Napi::Value RemovexattrFd(const Napi::CallbackInfo& info) {
  int fd = Fd(info, 0);
  std::string name = info[1].As<Napi::String>().Utf8Value();
  if (fremovexattr(fd, name.c_str()) < 0) throw ErrnoError(info.Env(), "removexattr", errno);
  return info.Env().Undefined();
}

// ofdLock(fd, cmd, type, start, len, out): cmd 0 = F_OFD_SETLK, 1 = F_OFD_GETLK. For GETLK,
// out (Float64Array[4]) receives type, start, len, pid. Returns 0 or the errno (EAGAIN when
// held by someone else) instead of throwing, since a conflict is an answer, not a failure.
Napi::Value OfdLock(const Napi::CallbackInfo& info) {
  struct flock fl;
  memset(&fl, 0, sizeof fl);
  int cmd = info[1].As<Napi::Number>().Int32Value() == 1 ? F_OFD_GETLK : F_OFD_SETLK;
  fl.l_type = (short)info[2].As<Napi::Number>().Int32Value();
  fl.l_whence = SEEK_SET;
  fl.l_start = (off_t)info[3].As<Napi::Number>().Int64Value();
  fl.l_len = (off_t)info[4].As<Napi::Number>().Int64Value();
  int r = fcntl(Fd(info, 0), cmd, &fl);
  if (r < 0) return Napi::Number::New(info.Env(), errno);
  if (cmd == F_OFD_GETLK && info.Length() > 5) {
    Napi::Float64Array out = info[5].As<Napi::Float64Array>();
    out[0] = fl.l_type;
    out[1] = (double)fl.l_start;
    out[2] = (double)fl.l_len;
    out[3] = fl.l_pid;
  }
  return Napi::Number::New(info.Env(), 0);
}

// The mount API's flags (<linux/mount.h> clashes with glibc's <sys/mount.h>).
constexpr unsigned kOpenTreeClone = 1;          // OPEN_TREE_CLONE
constexpr unsigned kAtRecursive = 0x8000;       // AT_RECURSIVE
constexpr unsigned kMoveMountFEmptyPath = 0x4;  // MOVE_MOUNT_F_EMPTY_PATH

// Keep only the capabilities the gofer uses (file ownership, DAC override for serving files
// of any owner, fowner, fsetid, mknod), in every set; and PR_SET_NO_NEW_PRIVS.
void DropPrivileges(Napi::Env env) {
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) throw ErrnoError(env, "prctl(NO_NEW_PRIVS)", errno);
  uint64_t keep = (1ULL << CAP_CHOWN) | (1ULL << CAP_DAC_OVERRIDE) | (1ULL << CAP_DAC_READ_SEARCH) |
                  (1ULL << CAP_FOWNER) | (1ULL << CAP_FSETID) | (1ULL << CAP_MKNOD);
  for (int c = 0; c <= 63; c++) {
    if (keep & (1ULL << c)) continue;
    if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL) throw ErrnoError(env, "prctl(CAPBSET_DROP)", errno);
  }
  struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct data[2];
  if (syscall(SYS_capget, &hdr, data) < 0) throw ErrnoError(env, "capget", errno);
  for (int i = 0; i < 2; i++) {
    uint32_t k = (uint32_t)(keep >> (32 * i));
    data[i].effective &= k;
    data[i].permitted &= k;
    data[i].inheritable = 0;
  }
  if (syscall(SYS_capset, &hdr, data) < 0) throw ErrnoError(env, "capset", errno);
}

// confineMounts([dir0, dir1, ...], [readOnly0, ...]) -> ["/0", "/1", ...]: the gofer's own
// filesystem view.
// Opens every directory, enters a private mount namespace (nothing propagates back to the
// host), clones each directory's mount tree, mounts a small tmpfs (on /tmp of that namespace:
// a staging place only), attaches clone i at <tmpfs>/i (read-only when readOnly[i]), makes the tmpfs its root with pivot_root (chroot when the
// current root cannot be pivoted) and detaches the old root, so the host's tree is gone from
// its namespace; the tmpfs is then made read-only. Capabilities are dropped as above (with
// CAP_SYS_ADMIN gone, nothing can be mounted or unmounted again).
Napi::Value ConfineMounts(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Array dirs = info[0].As<Napi::Array>();
  Napi::Array readOnly = info[1].As<Napi::Array>();
  uint32_t n = dirs.Length();
  if (n == 0 || n > 4096 || readOnly.Length() != n) throw ErrnoError(env, "confineMounts", EINVAL);
  if (ProcFdDir() < 0) throw ErrnoError(env, "open(/proc/self/fd)", errno);
  std::vector<int> fds;
  auto closeAll = [&]() {
    for (int fd : fds) close(fd);
    fds.clear();
  };
  auto fail = [&](const char* call) {
    int e = errno;
    closeAll();
    throw ErrnoError(env, call, e);
  };
  if (unshare(CLONE_NEWNS) < 0) fail("unshare(CLONE_NEWNS)");
  // Mounts made from here on stay in this namespace.
  if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) < 0) fail("mount(/, MS_PRIVATE)");
  // A detached copy of each directory's mount tree (open_tree(OPEN_TREE_CLONE|AT_RECURSIVE)),
  // taken in the new namespace before the staging tmpfs exists: a recursive bind made after
  // it would copy the tmpfs too when a directory contains the staging place (e.g. "/").
  for (uint32_t i = 0; i < n; i++) {
    std::string d = dirs.Get(i).As<Napi::String>().Utf8Value();
    int fd = (int)syscall(SYS_open_tree, AT_FDCWD, d.c_str(), kOpenTreeClone | O_CLOEXEC | kAtRecursive);
    struct stat st;
    if (fd >= 0 && (fstat(fd, &st) < 0 || !S_ISDIR(st.st_mode))) {
      close(fd);
      fd = -1;
      errno = ENOTDIR;
    }
    if (fd < 0) {
      int e = errno;
      closeAll();
      throw ErrnoError(env, ("open_tree(" + d + ")").c_str(), e);
    }
    fds.push_back(fd);
  }
  const char* stage = nullptr;
  for (const char* c : {"/tmp", "/mnt", "/var/tmp", "/dev"}) {
    struct stat st;
    if (stat(c, &st) == 0 && S_ISDIR(st.st_mode)) {
      stage = c;
      break;
    }
  }
  if (!stage) {
    errno = ENOENT;
    fail("no staging directory (/tmp, /mnt, /var/tmp, /dev)");
  }
  std::string opts = "mode=0555,size=64k,nr_inodes=" + std::to_string(n + 16);
  if (mount("tsvisor-gofer", stage, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, opts.c_str()) < 0)
    fail("mount(tmpfs)");
  for (uint32_t i = 0; i < n; i++) {
    std::string at = std::string(stage) + "/" + std::to_string(i);
    if (mkdir(at.c_str(), 0755) < 0) fail("mkdir");
    if (syscall(SYS_move_mount, fds[i], "", AT_FDCWD, at.c_str(), kMoveMountFEmptyPath) < 0) fail("move_mount");
    // A directory the sandbox only reads is read-only here too (its top mount; a mount
    // under it keeps its own flags).
    if (readOnly.Get(i).ToBoolean() &&
        mount(nullptr, at.c_str(), nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY, nullptr) < 0)
      fail("mount(MS_REMOUNT|MS_RDONLY)");
  }
  closeAll();
  if (chdir(stage) < 0) fail("chdir");
  if (syscall(SYS_pivot_root, ".", ".") == 0) {
    // The old root is stacked on the new one: detach it (and everything under it).
    if (umount2(".", MNT_DETACH) < 0) fail("umount2(old root)");
  } else if (chroot(".") < 0) {
    fail("chroot");
  }
  if (chdir("/") < 0) fail("chdir(/)");
  if (mount(nullptr, "/", nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) < 0)
    fail("mount(/, MS_RDONLY)");
  DropPrivileges(env);
  Napi::Array out = Napi::Array::New(env, n);
  for (uint32_t i = 0; i < n; i++) out.Set(i, Napi::String::New(env, "/" + std::to_string(i)));
  return out;
}

// socketpair() -> [fd0, fd1]: blocking AF_UNIX SOCK_STREAM, close-on-exec.
Napi::Value SocketPair(const Napi::CallbackInfo& info) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) throw ErrnoError(info.Env(), "socketpair", errno);
  // Room for a whole 1 MiB Rread in flight (the default ~200 KiB makes a large read several
  // wake-ups of each side). The *FORCE variants need CAP_NET_ADMIN; without it the kernel
  // clamps to net.core.*mem_max, which is fine.
  int sz = 4 << 20;
  for (int i = 0; i < 2; i++) {
    if (setsockopt(sv[i], SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof sz) < 0)
      setsockopt(sv[i], SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
    if (setsockopt(sv[i], SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof sz) < 0)
      setsockopt(sv[i], SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
  }
  Napi::Array a = Napi::Array::New(info.Env(), 2);
  a.Set(0u, Napi::Number::New(info.Env(), sv[0]));
  a.Set(1u, Napi::Number::New(info.Env(), sv[1]));
  return a;
}

// connectTcp(ipv4, port) -> a blocking, close-on-exec TCP socket fd (TCP_NODELAY).
Napi::Value ConnectTcp(const Napi::CallbackInfo& info) {
  std::string host = info[0].As<Napi::String>().Utf8Value();
  struct sockaddr_in sa;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_port = htons((uint16_t)info[1].As<Napi::Number>().Uint32Value());
  if (inet_pton(AF_INET, host.c_str(), &sa.sin_addr) != 1) throw ErrnoError(info.Env(), "inet_pton", EINVAL);
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw ErrnoError(info.Env(), "socket", errno);
  int r;
  do r = connect(fd, (struct sockaddr*)&sa, sizeof sa); while (r < 0 && errno == EINTR);
  if (r < 0) {
    int e = errno;
    close(fd);
    throw ErrnoError(info.Env(), "connect", e);
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return Napi::Number::New(info.Env(), fd);
}

// clearCloexec(fd): let a child inherit fd.
Napi::Value ClearCloexec(const Napi::CallbackInfo& info) {
  int fd = Fd(info, 0);
  int fl = fcntl(fd, F_GETFD);
  if (fl < 0 || fcntl(fd, F_SETFD, fl & ~FD_CLOEXEC) < 0) throw ErrnoError(info.Env(), "fcntl(F_SETFD)", errno);
  return info.Env().Undefined();
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("openat", Napi::Function::New(env, OpenAt));
  exports.Set("reopen", Napi::Function::New(env, Reopen));
  exports.Set("dup", Napi::Function::New(env, Dup));
  exports.Set("mkdirat", Napi::Function::New(env, MkdirAt));
  exports.Set("symlinkat", Napi::Function::New(env, SymlinkAt));
  exports.Set("mknodat", Napi::Function::New(env, MknodAt));
  exports.Set("readlinkFd", Napi::Function::New(env, ReadlinkFd));
  exports.Set("linkFd", Napi::Function::New(env, LinkFd));
  exports.Set("renameat", Napi::Function::New(env, RenameAt));
  exports.Set("unlinkat", Napi::Function::New(env, UnlinkAt));
  exports.Set("fchownFd", Napi::Function::New(env, FchownFd));
  exports.Set("utimensFd", Napi::Function::New(env, UtimensFd));
  exports.Set("fstatfsFd", Napi::Function::New(env, FstatfsFd));
  exports.Set("getdents", Napi::Function::New(env, Getdents));
  exports.Set("getxattrFd", Napi::Function::New(env, GetxattrFd));
  exports.Set("listxattrFd", Napi::Function::New(env, ListxattrFd));
  exports.Set("setxattrFd", Napi::Function::New(env, SetxattrFd));
  exports.Set("removexattrFd", Napi::Function::New(env, RemovexattrFd));
  exports.Set("ofdLock", Napi::Function::New(env, OfdLock));
  exports.Set("socketpair", Napi::Function::New(env, SocketPair));
  exports.Set("connectTcp", Napi::Function::New(env, ConnectTcp));
  exports.Set("clearCloexec", Napi::Function::New(env, ClearCloexec));
  exports.Set("confineMounts", Napi::Function::New(env, ConfineMounts));
  return exports;
}

}  // namespace

NODE_API_MODULE(NODE_GYP_MODULE_NAME, Init)
