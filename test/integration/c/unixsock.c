// AF_UNIX sockets compared with Linux: socketpairs of each type, bind/listen/accept/
// connect on a path and in the abstract namespace, names, SCM_RIGHTS/SCM_CREDENTIALS,
// SO_PEERCRED, shutdown, non-blocking I/O, epoll readiness and the usual errnos.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define T(expr) do { errno = 0; long _r = (long)(expr); printf("%-64s = %ld errno=%d\n", #expr, _r, _r < 0 ? errno : 0); } while (0)

static void show_name(const char *what, struct sockaddr_un *a, socklen_t len) {
  printf("%s: len=%u family=%d", what, (unsigned)len, len >= 2 ? a->sun_family : -1);
  if (len > 2) {
    if (a->sun_path[0]) printf(" path=%s", strrchr(a->sun_path, '/') ? strrchr(a->sun_path, '/') + 1 : a->sun_path);
    else printf(" abstract(%u bytes)", (unsigned)(len - 3));
  }
  printf("\n");
}

static socklen_t mkaddr(struct sockaddr_un *a, const char *path, int abstract) {
  memset(a, 0, sizeof *a);
  a->sun_family = AF_UNIX;
  if (abstract) {
    a->sun_path[0] = 0;
    memcpy(a->sun_path + 1, path, strlen(path));
    return offsetof(struct sockaddr_un, sun_path) + 1 + strlen(path);
  }
  strcpy(a->sun_path, path);
  return offsetof(struct sockaddr_un, sun_path) + strlen(path) + 1;
}

static void pairs(void) {
  int sv[2];
  char buf[64];
  printf("-- socketpair stream\n");
  T(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
  T(write(sv[0], "abc", 3));
  T(write(sv[0], "def", 3));
  T(read(sv[1], buf, sizeof buf));
  T(send(sv[1], "xyz", 3, 0));
  T(recv(sv[0], buf, 2, MSG_PEEK));
  T(recv(sv[0], buf, sizeof buf, 0));
  buf[3] = 0;
  printf("got %s\n", buf);
  int n = -1;
  T(write(sv[0], "12345", 5));
  T(ioctl(sv[1], FIONREAD, &n));
  printf("FIONREAD=%d\n", n);
  T(recv(sv[1], buf, 5, MSG_WAITALL));
  int v = 0;
  socklen_t l = sizeof v;
  T(getsockopt(sv[0], SOL_SOCKET, SO_TYPE, &v, &l));
  printf("SO_TYPE=%d len=%u\n", v, (unsigned)l);
  T(getsockopt(sv[0], SOL_SOCKET, SO_DOMAIN, &v, &l));
  printf("SO_DOMAIN=%d\n", v);
  T(getsockopt(sv[0], SOL_SOCKET, SO_PROTOCOL, &v, &l));
  printf("SO_PROTOCOL=%d\n", v);
  T(getsockopt(sv[0], SOL_SOCKET, SO_ACCEPTCONN, &v, &l));
  printf("SO_ACCEPTCONN=%d\n", v);
  T(getsockopt(sv[0], SOL_SOCKET, 0x7777, &v, &l));
  v = 10000;
  T(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &v, sizeof v));
  l = sizeof v;
  T(getsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &v, &l));
  printf("SO_SNDBUF=%d\n", v);
  v = 1;
  T(setsockopt(sv[0], SOL_SOCKET, SO_REUSEADDR, &v, sizeof v));
  struct linger lg = {1, 5};
  T(setsockopt(sv[0], SOL_SOCKET, SO_LINGER, &lg, sizeof lg));
  struct timeval tv = {0, 200000};
  T(setsockopt(sv[1], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv));
  memset(&tv, 0, sizeof tv);
  l = sizeof tv;
  T(getsockopt(sv[1], SOL_SOCKET, SO_RCVTIMEO, &tv, &l));
  printf("SO_RCVTIMEO=%ld.%06ld\n", (long)tv.tv_sec, (long)tv.tv_usec);
  T(read(sv[1], buf, sizeof buf)); // times out: EAGAIN
  struct ucred cr;
  l = sizeof cr;
  T(getsockopt(sv[0], SOL_SOCKET, SO_PEERCRED, &cr, &l));
  printf("SO_PEERCRED pid_is_self=%d uid=%d gid=%d\n", cr.pid == getpid(), (int)cr.uid, (int)cr.gid);
  struct sockaddr_un a;
  socklen_t al = sizeof a;
  T(getsockname(sv[0], (struct sockaddr *)&a, &al));
  show_name("pair name", &a, al);
  al = sizeof a;
  T(getpeername(sv[0], (struct sockaddr *)&a, &al));
  show_name("pair peer", &a, al);

  printf("-- shutdown\n");
  T(shutdown(sv[0], SHUT_WR));
  T(read(sv[1], buf, sizeof buf));
  T(write(sv[1], "back", 4));
  T(read(sv[0], buf, sizeof buf));
  T(send(sv[0], "x", 1, MSG_NOSIGNAL));
  T(shutdown(sv[0], 7));
  close(sv[1]);
  T(read(sv[0], buf, sizeof buf));
  signal(SIGPIPE, SIG_IGN);
  T(write(sv[0], "x", 1));
  close(sv[0]);

  printf("-- non-blocking\n");
  T(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv));
  T(read(sv[0], buf, sizeof buf));
  T(recv(sv[1], buf, sizeof buf, MSG_DONTWAIT));
  static char big[65536];
  long total = 0, r;
  while ((r = write(sv[0], big, sizeof big)) > 0) total += r;
  printf("filled: last errno=%d total>0=%d\n", errno, total > 0);
  int ep = epoll_create1(0);
  struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP}, out[4];
  ev.data.fd = sv[0];
  epoll_ctl(ep, EPOLL_CTL_ADD, sv[0], &ev);
  ev.data.fd = sv[1];
  epoll_ctl(ep, EPOLL_CTL_ADD, sv[1], &ev);
  int k = epoll_wait(ep, out, 4, 0);
  for (int i = 0; i < k; i++) printf("epoll fd=%s events=%#x\n", out[i].data.fd == sv[0] ? "w" : "r", out[i].events);
  long drained = 0;
  while ((r = read(sv[1], big, sizeof big)) > 0) drained += r;
  printf("drained==total %d\n", drained == total);
  close(sv[1]);
  k = epoll_wait(ep, out, 4, 0);
  for (int i = 0; i < k; i++) printf("epoll after close events=%#x\n", out[i].events);
  close(ep);
  close(sv[0]);

  printf("-- dgram pair\n");
  T(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv));
  T(send(sv[0], "one", 3, 0));
  T(send(sv[0], "", 0, 0));
  T(send(sv[0], "three33", 7, 0));
  T(ioctl(sv[1], FIONREAD, &n));
  printf("FIONREAD=%d\n", n);
  T(recv(sv[1], buf, sizeof buf, 0));
  T(recv(sv[1], buf, sizeof buf, 0));
  T(recv(sv[1], buf, 3, MSG_PEEK | MSG_TRUNC));
  struct iovec iov = {buf, 3};
  struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
  T(recvmsg(sv[1], &mh, 0));
  printf("msg_flags=%#x (MSG_TRUNC=%#x)\n", mh.msg_flags, MSG_TRUNC);
  T(recv(sv[1], buf, sizeof buf, MSG_DONTWAIT));
  close(sv[0]);
  close(sv[1]);

  printf("-- seqpacket pair\n");
  T(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv));
  T(send(sv[0], "first", 5, 0));
  T(send(sv[0], "second", 6, MSG_EOR));
  T(recv(sv[1], buf, sizeof buf, 0));
  iov.iov_len = 2;
  mh.msg_flags = 0;
  T(recvmsg(sv[1], &mh, 0));
  printf("msg_flags=%#x\n", mh.msg_flags);
  close(sv[0]);
  T(recv(sv[1], buf, sizeof buf, 0));
  close(sv[1]);
}

static void rights(void) {
  printf("-- SCM_RIGHTS\n");
  int sv[2], p[2];
  char buf[64];
  T(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
  T(pipe(p));
  union {
    char b[CMSG_SPACE(2 * sizeof(int))];
    struct cmsghdr align;
  } u;
  memset(&u, 0, sizeof u);
  struct iovec iov = {"F", 1};
  struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.b, .msg_controllen = CMSG_SPACE(sizeof(int))};
  struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &p[0], sizeof(int));
  T(sendmsg(sv[0], &mh, 0));
  close(p[0]);
  T(write(p[1], "via pipe", 8));
  memset(&u, 0, sizeof u);
  iov.iov_base = buf;
  iov.iov_len = sizeof buf;
  mh.msg_control = u.b;
  mh.msg_controllen = sizeof u.b;
  T(recvmsg(sv[1], &mh, MSG_CMSG_CLOEXEC));
  c = CMSG_FIRSTHDR(&mh);
  int got = -1;
  if (c && c->cmsg_type == SCM_RIGHTS) memcpy(&got, CMSG_DATA(c), sizeof got);
  printf("cmsg level=%d type=%d len=%lu controllen=%lu flags=%#x\n", c ? c->cmsg_level : -1, c ? c->cmsg_type : -1,
         c ? (unsigned long)c->cmsg_len : 0, (unsigned long)mh.msg_controllen, mh.msg_flags);
  T(fcntl(got, F_GETFD));
  T(read(got, buf, sizeof buf));
  close(got);

  // Truncation: no room for the descriptor.
  int p2[2];
  T(pipe(p2));
  mh.msg_iov = &iov;
  iov.iov_base = "G";
  iov.iov_len = 1;
  mh.msg_control = u.b;
  mh.msg_controllen = CMSG_SPACE(sizeof(int));
  c = CMSG_FIRSTHDR(&mh);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &p2[0], sizeof(int));
  T(sendmsg(sv[0], &mh, 0));
  iov.iov_base = buf;
  iov.iov_len = sizeof buf;
  mh.msg_control = u.b;
  mh.msg_controllen = sizeof(struct cmsghdr);
  T(recvmsg(sv[1], &mh, 0));
  printf("truncated: controllen=%lu ctrunc=%d\n", (unsigned long)mh.msg_controllen, (mh.msg_flags & MSG_CTRUNC) != 0);
  close(p2[0]);
  T(write(p2[1], "x", 1)); // no reader left anywhere: EPIPE
  close(p2[1]);

  // Bad fd.
  mh.msg_control = u.b;
  mh.msg_controllen = CMSG_SPACE(sizeof(int));
  iov.iov_base = "H";
  iov.iov_len = 1;
  c = CMSG_FIRSTHDR(&mh);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  int bad = 999;
  memcpy(CMSG_DATA(c), &bad, sizeof(int));
  T(sendmsg(sv[0], &mh, 0));

  printf("-- SCM_CREDENTIALS\n");
  int one = 1;
  T(setsockopt(sv[1], SOL_SOCKET, SO_PASSCRED, &one, sizeof one));
  T(write(sv[0], "c", 1));
  union {
    char b[CMSG_SPACE(sizeof(struct ucred))];
    struct cmsghdr align;
  } cu;
  iov.iov_base = buf;
  iov.iov_len = sizeof buf;
  mh.msg_control = cu.b;
  mh.msg_controllen = sizeof cu.b;
  T(recvmsg(sv[1], &mh, 0));
  c = CMSG_FIRSTHDR(&mh);
  if (c && c->cmsg_type == SCM_CREDENTIALS) {
    struct ucred cr;
    memcpy(&cr, CMSG_DATA(c), sizeof cr);
    printf("cred pid_is_self=%d uid=%d gid=%d\n", cr.pid == getpid(), (int)cr.uid, (int)cr.gid);
  } else printf("no credentials\n");
  close(sv[0]);
  close(sv[1]);
}

static void named(const char *dir) {
  char path[200];
  struct sockaddr_un a, b;
  socklen_t al;
  char buf[64];
  printf("-- path bind/listen/connect\n");
  snprintf(path, sizeof path, "%s/sock", dir);
  socklen_t len = mkaddr(&a, path, 0);
  int srv = socket(AF_UNIX, SOCK_STREAM, 0);
  T(bind(srv, (struct sockaddr *)&a, len));
  int other = socket(AF_UNIX, SOCK_STREAM, 0);
  T(bind(other, (struct sockaddr *)&a, len));
  T(bind(srv, (struct sockaddr *)&a, len));
  struct stat st;
  T(stat(path, &st));
  printf("S_ISSOCK=%d\n", S_ISSOCK(st.st_mode));
  int cl = socket(AF_UNIX, SOCK_STREAM, 0);
  T(connect(cl, (struct sockaddr *)&a, len));
  T(listen(srv, 1));
  T(connect(socket(AF_UNIX, SOCK_DGRAM, 0), (struct sockaddr *)&a, len)); // EPROTOTYPE
  al = sizeof b;
  T(getsockname(srv, (struct sockaddr *)&b, &al));
  show_name("listener", &b, al);
  T(connect(cl, (struct sockaddr *)&a, len));
  T(connect(cl, (struct sockaddr *)&a, len));
  T(write(cl, "early", 5));
  int cl2 = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
  T(connect(cl2, (struct sockaddr *)&a, len));
  int cl3 = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
  T(connect(cl3, (struct sockaddr *)&a, len)); // backlog 1 holds two: EAGAIN
  int ep = epoll_create1(0);
  struct epoll_event ev = {.events = EPOLLIN}, out[2];
  epoll_ctl(ep, EPOLL_CTL_ADD, srv, &ev);
  T(epoll_wait(ep, out, 2, 0));
  al = sizeof b;
  int acc = accept4(srv, (struct sockaddr *)&b, &al, SOCK_CLOEXEC);
  printf("accept4 ok=%d\n", acc >= 0);
  show_name("accepted peer", &b, al);
  T(fcntl(acc, F_GETFD));
  al = sizeof b;
  T(getsockname(acc, (struct sockaddr *)&b, &al));
  show_name("accepted name", &b, al);
  al = sizeof b;
  T(getpeername(cl, (struct sockaddr *)&b, &al));
  show_name("client peer", &b, al);
  T(read(acc, buf, sizeof buf));
  int acc2 = accept(srv, NULL, NULL);
  printf("accept2 ok=%d\n", acc2 >= 0);
  fcntl(srv, F_SETFL, O_NONBLOCK);
  T(accept(srv, NULL, NULL));
  struct ucred cr;
  socklen_t cl_len = sizeof cr;
  T(getsockopt(acc, SOL_SOCKET, SO_PEERCRED, &cr, &cl_len));
  printf("server sees pid_is_self=%d\n", cr.pid == getpid());
  int v;
  socklen_t vl = sizeof v;
  T(getsockopt(srv, SOL_SOCKET, SO_ACCEPTCONN, &v, &vl));
  printf("SO_ACCEPTCONN=%d\n", v);
  close(acc);
  close(acc2);
  close(cl);
  close(cl2);
  close(cl3);
  close(other);

  // A child connects and sends; the parent accepts (cross-process, blocking accept).
  fcntl(srv, F_SETFL, 0);
  pid_t pid = fork();
  if (pid == 0) {
    int c = socket(AF_UNIX, SOCK_STREAM, 0);
    if (connect(c, (struct sockaddr *)&a, len) != 0) _exit(1);
    write(c, "from child", 10);
    _exit(0);
  }
  acc = accept(srv, NULL, NULL);
  T(read(acc, buf, sizeof buf));
  cl_len = sizeof cr;
  getsockopt(acc, SOL_SOCKET, SO_PEERCRED, &cr, &cl_len);
  printf("peer is child=%d\n", cr.pid == pid);
  int status;
  waitpid(pid, &status, 0);
  printf("child status=%d\n", status);
  T(read(acc, buf, sizeof buf));
  close(acc);
  close(srv);
  T(connect(socket(AF_UNIX, SOCK_STREAM, 0), (struct sockaddr *)&a, len)); // ECONNREFUSED (stale)
  T(unlink(path));
  T(connect(socket(AF_UNIX, SOCK_STREAM, 0), (struct sockaddr *)&a, len)); // ENOENT

  printf("-- abstract\n");
  char name[64];
  snprintf(name, sizeof name, "tsvisor-unixsock-%d", getpid());
  len = mkaddr(&a, name, 1);
  srv = socket(AF_UNIX, SOCK_SEQPACKET, 0);
  T(bind(srv, (struct sockaddr *)&a, len));
  T(bind(socket(AF_UNIX, SOCK_SEQPACKET, 0), (struct sockaddr *)&a, len));
  T(listen(srv, 5));
  al = sizeof b;
  T(getsockname(srv, (struct sockaddr *)&b, &al));
  printf("abstract name matches=%d\n", al == len && memcmp(&a, &b, len) == 0);
  cl = socket(AF_UNIX, SOCK_STREAM, 0);
  T(connect(cl, (struct sockaddr *)&a, len)); // ECONNREFUSED: abstract names are per type
  cl = socket(AF_UNIX, SOCK_SEQPACKET, 0);
  T(connect(cl, (struct sockaddr *)&a, len));
  acc = accept(srv, NULL, NULL);
  T(send(cl, "msg1", 4, 0));
  T(send(cl, "msg22", 5, 0));
  T(recv(acc, buf, sizeof buf, 0));
  T(recv(acc, buf, sizeof buf, 0));
  close(acc);
  close(cl);
  close(srv);
  T(connect(socket(AF_UNIX, SOCK_SEQPACKET, 0), (struct sockaddr *)&a, len)); // ECONNREFUSED

  printf("-- autobind and dgram addresses\n");
  int d1 = socket(AF_UNIX, SOCK_DGRAM, 0);
  a.sun_family = AF_UNIX;
  T(bind(d1, (struct sockaddr *)&a, sizeof(sa_family_t)));
  al = sizeof b;
  T(getsockname(d1, (struct sockaddr *)&b, &al));
  printf("autobind len=%u first=%d\n", (unsigned)al, b.sun_path[0]);
  snprintf(path, sizeof path, "%s/dgram", dir);
  len = mkaddr(&a, path, 0);
  int d2 = socket(AF_UNIX, SOCK_DGRAM, 0);
  T(bind(d2, (struct sockaddr *)&a, len));
  T(sendto(d1, "hello", 5, 0, (struct sockaddr *)&a, len));
  int d3 = socket(AF_UNIX, SOCK_DGRAM, 0);
  T(sendto(d3, "anon", 4, 0, (struct sockaddr *)&a, len));
  al = sizeof b;
  T(recvfrom(d2, buf, sizeof buf, 0, (struct sockaddr *)&b, &al));
  printf("from autobound: len=%u abstract=%d\n", (unsigned)al, al > 2 && b.sun_path[0] == 0);
  al = sizeof b;
  T(recvfrom(d2, buf, sizeof buf, 0, (struct sockaddr *)&b, &al));
  printf("from unnamed: len=%u\n", (unsigned)al);
  T(send(d3, "x", 1, 0)); // ENOTCONN
  T(connect(d3, (struct sockaddr *)&a, len));
  T(send(d3, "y", 1, 0));
  al = sizeof b;
  T(getpeername(d3, (struct sockaddr *)&b, &al));
  show_name("dgram peer", &b, al);
  close(d2);
  T(send(d3, "z", 1, 0)); // ECONNREFUSED
  T(send(d3, "z", 1, 0)); // ENOTCONN now
  close(d1);
  close(d3);
  T(unlink(path));

  printf("-- errors\n");
  T(socket(AF_INET6 + 100, SOCK_STREAM, 0));
  T(socket(AF_UNIX, 9, 0));
  T(socket(AF_UNIX, SOCK_STREAM, 7));
  T(socket(AF_UNIX, SOCK_STREAM | 0x100000, 0));
  int rf = open("/", O_RDONLY);
  T(listen(rf, 1)); // ENOTSOCK
  close(rf);
  T(listen(1000, 1));
  int u = socket(AF_UNIX, SOCK_STREAM, 0);
  T(listen(u, 1)); // unbound: EINVAL
  T(accept(u, NULL, NULL));
  T(read(u, buf, 1)); // unconnected stream: EINVAL
  T(write(u, "x", 1)); // ENOTCONN
  al = sizeof b;
  T(getpeername(u, (struct sockaddr *)&b, &al));
  al = sizeof b;
  T(getsockname(u, (struct sockaddr *)&b, &al));
  show_name("unbound", &b, al);
  a.sun_family = AF_INET;
  T(bind(u, (struct sockaddr *)&a, len));
  T(connect(u, (struct sockaddr *)&a, 1));
  close(u);
}

/** sendmmsg/recvmmsg on a datagram pair: counts, per-message lengths, MSG_WAITFORONE. */
static void multi(void) {
  printf("== mmsg\n");
  int sv[2];
  socketpair(AF_UNIX, SOCK_DGRAM, 0, sv);
  struct mmsghdr m[3];
  struct iovec io[3];
  char b[3][8] = {"one", "two", "three"};
  for (int i = 0; i < 3; i++) {
    io[i].iov_base = b[i];
    io[i].iov_len = strlen(b[i]);
    memset(&m[i], 0, sizeof m[i]);
    m[i].msg_hdr.msg_iov = &io[i];
    m[i].msg_hdr.msg_iovlen = 1;
  }
  T(sendmmsg(sv[0], m, 3, 0));
  char r[4][8];
  struct mmsghdr rm[4];
  struct iovec ri[4];
  for (int i = 0; i < 4; i++) {
    ri[i].iov_base = r[i];
    ri[i].iov_len = 8;
    memset(&rm[i], 0, sizeof rm[i]);
    rm[i].msg_hdr.msg_iov = &ri[i];
    rm[i].msg_hdr.msg_iovlen = 1;
  }
  T(recvmmsg(sv[1], rm, 4, MSG_WAITFORONE, NULL));
  printf("lens=%u %u %u\n", rm[0].msg_len, rm[1].msg_len, rm[2].msg_len);
  T(recvmmsg(sv[1], rm, 4, MSG_DONTWAIT, NULL));
  close(sv[0]);
  close(sv[1]);
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  const char *dir = argc > 1 ? argv[1] : "/tmp/unixsock";
  alarm(30); // a hang fails the comparison instead of stalling the suite
  mkdir(dir, 0755);
  pairs();
  rights();
  named(dir);
  multi();
  T(rmdir(dir));
  return 0;
}
