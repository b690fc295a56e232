// AF_INET/AF_INET6 sockets over loopback inside one process tree: TCP echo (fork),
// MSG_WAITALL, shutdown/EOF, EPIPE+SIGPIPE, UDP truncation/MSG_PEEK/connected and
// unconnected, non-blocking connect + epoll, timeouts, signals, sendmmsg/recvmmsg, ioctls
// and the errnos of bad input. Prints only what does not depend on ports or timing, so
// the output natively and in the sandbox (--network=host) must be identical.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

static const char* en(int e) {
  switch (e) {
    case 0: return "ok";
    case EINVAL: return "EINVAL";
    case EAFNOSUPPORT: return "EAFNOSUPPORT";
    case EPROTONOSUPPORT: return "EPROTONOSUPPORT";
    case ESOCKTNOSUPPORT: return "ESOCKTNOSUPPORT";
    case ENOPROTOOPT: return "ENOPROTOOPT";
    case EAGAIN: return "EAGAIN";
    case EINPROGRESS: return "EINPROGRESS";
    case EALREADY: return "EALREADY";
    case ECONNREFUSED: return "ECONNREFUSED";
    case ENOTCONN: return "ENOTCONN";
    case EISCONN: return "EISCONN";
    case EPIPE: return "EPIPE";
    case EINTR: return "EINTR";
    case EADDRINUSE: return "EADDRINUSE";
    case EADDRNOTAVAIL: return "EADDRNOTAVAIL";
    case EDESTADDRREQ: return "EDESTADDRREQ";
    case EMSGSIZE: return "EMSGSIZE";
    case EOPNOTSUPP: return "EOPNOTSUPP";
    case ENOTSOCK: return "ENOTSOCK";
    case EBADF: return "EBADF";
    case EFAULT: return "EFAULT";
    case ENOTTY: return "ENOTTY";
    case ENODEV: return "ENODEV";
    case ECONNRESET: return "ECONNRESET";
    case EPERM: return "EPERM";
    default: {
      static char b[32];
      snprintf(b, sizeof b, "errno%d", e);
      return b;
    }
  }
}
#define R(label, expr)                                         \
  do {                                                         \
    errno = 0;                                                 \
    long r_ = (long)(expr);                                    \
    printf("%s: %s\n", label, r_ < 0 ? en(errno) : "ok");      \
  } while (0)
#define CHECK(x)                                              \
  do {                                                        \
    if (!(x)) {                                               \
      printf("FAIL %s:%d %s (%s)\n", __FILE__, __LINE__, #x, en(errno)); \
      exit(1);                                                \
    }                                                         \
  } while (0)

static struct sockaddr_in lo4(int port) {
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

static int port_of(int fd) {
  struct sockaddr_storage ss;
  socklen_t l = sizeof ss;
  CHECK(getsockname(fd, (struct sockaddr*)&ss, &l) == 0);
  return ss.ss_family == AF_INET ? ntohs(((struct sockaddr_in*)&ss)->sin_port)
                                 : ntohs(((struct sockaddr_in6*)&ss)->sin6_port);
}

static int listener4(void) {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  CHECK(s >= 0);
  int one = 1;
  CHECK(setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == 0);
  struct sockaddr_in a = lo4(0);
  CHECK(bind(s, (struct sockaddr*)&a, sizeof a) == 0);
  CHECK(listen(s, 16) == 0);
  return s;
}

static char* big_buf(void);
static int sigpipes;
static void on_pipe(int s) { (void)s; sigpipes++; }
static void on_alarm(int s) { (void)s; }

static void tcp_echo(void) {
  printf("== tcp echo\n");
  int l = listener4();
  int port = port_of(l);
  int v = 0;
  socklen_t vl = sizeof v;
  CHECK(getsockopt(l, SOL_SOCKET, SO_ACCEPTCONN, &v, &vl) == 0);
  printf("acceptconn %d\n", v);
  pid_t pid = fork();
  if (pid == 0) {
    // Server: echo upper-cased until EOF, then report the total.
    struct sockaddr_in peer;
    socklen_t pl = sizeof peer;
    int c = accept4(l, (struct sockaddr*)&peer, &pl, SOCK_CLOEXEC);
    CHECK(c >= 0);
    CHECK(pl == sizeof peer && peer.sin_family == AF_INET && peer.sin_addr.s_addr == htonl(INADDR_LOOPBACK));
    char buf[4096];
    long total = 0;
    for (;;) {
      ssize_t n = read(c, buf, sizeof buf);
      CHECK(n >= 0);
      if (n == 0) break;
      for (ssize_t i = 0; i < n; i++) buf[i] = buf[i] >= 'a' && buf[i] <= 'z' ? buf[i] - 32 : buf[i];
      CHECK(write(c, buf, n) == n);
      total += n;
    }
    close(c);
    _exit(total == 300005 ? 0 : 1);
  }
  close(l);
  int s = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = lo4(port);
  R("getpeername before connect", getpeername(s, (struct sockaddr*)&a, &(socklen_t){sizeof a}));
  R("connect", connect(s, (struct sockaddr*)&a, sizeof a));
  R("connect again", connect(s, (struct sockaddr*)&a, sizeof a));
  struct sockaddr_in pn;
  socklen_t pnl = sizeof pn;
  CHECK(getpeername(s, (struct sockaddr*)&pn, &pnl) == 0);
  printf("peer port matches %d\n", ntohs(pn.sin_port) == port);
  int one = 1;
  R("TCP_NODELAY", setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one));
  vl = sizeof v;
  CHECK(getsockopt(s, IPPROTO_TCP, TCP_NODELAY, &v, &vl) == 0);
  printf("nodelay %d len %u\n", v != 0, vl);
  // A large transfer: the writer blocks for room while the echo comes back.
  static char big[300000], back[300000];
  for (size_t i = 0; i < sizeof big; i++) big[i] = 'a' + i % 26;
  pid_t w = fork();
  if (w == 0) {
    ssize_t n = send(s, big, sizeof big, 0);
    _exit(n == (ssize_t)sizeof big ? 0 : 1);
  }
  ssize_t got = recv(s, back, sizeof back, MSG_WAITALL);
  printf("waitall got %zd\n", got);
  int same = 1;
  for (size_t i = 0; i < sizeof big; i++)
    if (back[i] != big[i] - 32) same = 0;
  printf("echo correct %d\n", same);
  int wst;
  waitpid(w, &wst, 0);
  printf("sender sent all %d\n", WIFEXITED(wst) && WEXITSTATUS(wst) == 0);
  // Peek then read.
  CHECK(send(s, "hello", 5, 0) == 5);
  char b[16] = {0};
  ssize_t n = recv(s, b, 3, MSG_PEEK | MSG_WAITALL);
  printf("peek %zd %.3s\n", n, b);
  n = recv(s, b, 5, MSG_WAITALL);
  printf("read %zd %.5s\n", n, b);
  int avail = -1;
  CHECK(ioctl(s, FIONREAD, &avail) == 0);
  printf("fionread %d\n", avail);
  R("recv DONTWAIT empty", recv(s, b, 5, MSG_DONTWAIT));
  // SO_PEEK_OFF: successive peeks walk forward.
  CHECK(send(s, "abcdef", 6, 0) == 6);
  n = recv(s, b, 6, MSG_PEEK | MSG_WAITALL);  // waits for all six
  printf("peek waitall %zd\n", n);
  int off0 = 0;
  R("SO_PEEK_OFF", setsockopt(s, SOL_SOCKET, SO_PEEK_OFF, &off0, sizeof off0));
  memset(b, 0, sizeof b);
  n = recv(s, b, 2, MSG_PEEK);
  ssize_t n2 = recv(s, b + 2, 2, MSG_PEEK);
  printf("peek_off %zd %zd %.4s\n", n, n2, b);
  n = recv(s, b, 6, MSG_WAITALL);
  printf("after peeks %zd %.6s\n", n, b);
  R("shutdown WR", shutdown(s, SHUT_WR));
  signal(SIGPIPE, on_pipe);
  R("send after SHUT_WR", send(s, "x", 1, 0));
  printf("sigpipes %d\n", sigpipes);
  R("send NOSIGNAL", send(s, "x", 1, MSG_NOSIGNAL));
  printf("sigpipes %d\n", sigpipes);
  n = read(s, b, sizeof b);
  printf("eof read %zd\n", n);
  int st;
  waitpid(pid, &st, 0);
  printf("server exit %d\n", WEXITSTATUS(st));
  R("shutdown bad how", shutdown(s, 7));
  close(s);
}

static void tcp_nonblock(void) {
  printf("== tcp non-blocking connect + epoll\n");
  int l = listener4();
  int port = port_of(l);
  int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  struct sockaddr_in a = lo4(port);
  errno = 0;
  int r = connect(s, (struct sockaddr*)&a, sizeof a);
  printf("nb connect: %s\n", r == 0 || errno == EINPROGRESS ? "ok-or-inprogress" : en(errno));
  int ep = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event ev = {.events = EPOLLOUT, .data.fd = s};
  CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev) == 0);
  struct epoll_event out[4];
  int k = epoll_wait(ep, out, 4, 5000);
  printf("epoll %d out=%d\n", k, k == 1 && (out[0].events & EPOLLOUT) != 0);
  int err = -1;
  socklen_t el = sizeof err;
  CHECK(getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &el) == 0);
  printf("so_error %s\n", en(err));
  // The listener becomes readable; accept4 non-blocking.
  struct pollfd p = {.fd = l, .events = POLLIN};
  int pr = poll(&p, 1, 5000);
  printf("poll listener %d in=%d\n", pr, (p.revents & POLLIN) != 0);
  int c = accept4(l, NULL, NULL, SOCK_NONBLOCK);
  CHECK(fcntl(l, F_SETFL, O_NONBLOCK) == 0);
  CHECK(c >= 0);
  R("accept4 again (empty)", accept4(l, NULL, NULL, SOCK_NONBLOCK));
  l = (close(l), -1);
  char b[8];
  R("nb recv empty", recv(c, b, sizeof b, 0));
  // Edge-triggered epoll wakes for data sent later.
  CHECK(epoll_ctl(ep, EPOLL_CTL_DEL, s, NULL) == 0);
  struct epoll_event ev2 = {.events = EPOLLIN | EPOLLET, .data.fd = c};
  CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev2) == 0);
  pid_t w = fork();
  if (w == 0) {
    usleep(50000);
    write(s, "ping", 4);
    _exit(0);
  }
  int got = 0;
  for (int i = 0; i < 10 && !got; i++) {
    k = epoll_wait(ep, out, 4, 5000);
    for (int j = 0; j < k; j++)
      if (out[j].data.fd == c && (out[j].events & EPOLLIN)) got = 1;
  }
  ssize_t rn = read(c, b, 2);
  printf("epoll in %d read %zd\n", got, rn);
  waitpid(w, NULL, 0);
  // Edge-triggered, not drained: no event until new data arrives, then one.
  k = epoll_wait(ep, out, 4, 100);
  printf("et without new data %d\n", k);
  w = fork();
  if (w == 0) {
    usleep(50000);
    write(s, "more", 4);
    _exit(0);
  }
  k = epoll_wait(ep, out, 4, 5000);
  rn = read(c, b, sizeof b);
  printf("et after new data %d in=%d read %zd\n", k, k == 1 && (out[0].events & EPOLLIN) != 0, rn);
  waitpid(w, NULL, 0);
  // select() sees the peer's close as readable (EOF).
  close(s);
  fd_set rf;
  FD_ZERO(&rf);
  FD_SET(c, &rf);
  struct timeval tv = {5, 0};
  int sr = select(c + 1, &rf, NULL, NULL, &tv);
  rn = read(c, b, sizeof b);
  printf("select %d eof %zd\n", sr, rn);
  close(c);
  close(ep);

  // Connection refused: blocking, then non-blocking + epoll.
  s = socket(AF_INET, SOCK_STREAM, 0);
  a = lo4(port);  // the listener is closed now
  R("connect refused", connect(s, (struct sockaddr*)&a, sizeof a));
  close(s);
  s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  errno = 0;
  r = connect(s, (struct sockaddr*)&a, sizeof a);
  printf("nb connect refused: %s\n", r == 0 ? "ok" : (errno == EINPROGRESS || errno == ECONNREFUSED) ? "inprogress-or-refused" : en(errno));
  if (r < 0 && errno == EINPROGRESS) {
    struct pollfd q = {.fd = s, .events = POLLOUT};
    poll(&q, 1, 5000);
    el = sizeof err;
    getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &el);
    printf("refused so_error %s\n", en(err));
  } else {
    printf("refused so_error ECONNREFUSED\n");
  }
  close(s);
}

static void tcp_signals(void) {
  printf("== tcp timeouts and signals\n");
  int l = listener4();
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_alarm;  // no SA_RESTART
  sigaction(SIGALRM, &sa, NULL);
  struct itimerval it = {{0, 0}, {0, 100000}};
  setitimer(ITIMER_REAL, &it, NULL);
  R("accept interrupted", accept(l, NULL, NULL));
  struct timeval tv = {0, 100000};
  R("SO_RCVTIMEO", setsockopt(l, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv));
  R("accept timeout", accept(l, NULL, NULL));
  struct timeval got;
  socklen_t gl = sizeof got;
  CHECK(getsockopt(l, SOL_SOCKET, SO_RCVTIMEO, &got, &gl) == 0);
  printf("rcvtimeo %ld.%06ld\n", (long)got.tv_sec, (long)got.tv_usec);
  int s = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = lo4(port_of(l));
  CHECK(connect(s, (struct sockaddr*)&a, sizeof a) == 0);
  int c = accept(l, NULL, NULL);
  CHECK(c >= 0);
  CHECK(setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) == 0);
  char b[4];
  R("recv timeout", recv(c, b, sizeof b, 0));
  R("read timeout", read(c, b, sizeof b));
  setitimer(ITIMER_REAL, &it, NULL);
  tv.tv_usec = 0;
  tv.tv_sec = 0;
  CHECK(setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) == 0);
  R("recv interrupted", recv(c, b, sizeof b, 0));
  // Connect to a listener whose accept queue is full: the SYN is dropped and connect
  // waits, until a signal (EINTR, no SA_RESTART) or SO_SNDTIMEO (EINPROGRESS).
  {
    int full = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in fa = lo4(0);
    CHECK(bind(full, (struct sockaddr*)&fa, sizeof fa) == 0 && listen(full, 0) == 0);
    fa = lo4(port_of(full));
    int fillers[4];
    for (int i = 0; i < 4; i++) {
      fillers[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
      connect(fillers[i], (struct sockaddr*)&fa, sizeof fa);
    }
    usleep(100000);
    int cc = socket(AF_INET, SOCK_STREAM, 0);
    setitimer(ITIMER_REAL, &it, NULL);
    R("connect to full backlog, interrupted", connect(cc, (struct sockaddr*)&fa, sizeof fa));
    close(cc);
    cc = socket(AF_INET, SOCK_STREAM, 0);
    struct timeval st = {0, 100000};
    CHECK(setsockopt(cc, SOL_SOCKET, SO_SNDTIMEO, &st, sizeof st) == 0);
    R("connect to full backlog, SO_SNDTIMEO", connect(cc, (struct sockaddr*)&fa, sizeof fa));
    R("connect again while in progress", connect(cc, (struct sockaddr*)&fa, sizeof fa));
    close(cc);
    for (int i = 0; i < 4; i++) close(fillers[i]);
    close(full);
  }
  // Reset: close with unread data.
  CHECK(write(s, "zz", 2) == 2);
  usleep(20000);
  close(c);
  usleep(20000);
  R("recv after RST", recv(s, b, sizeof b, 0));
  close(s);
  close(l);
}

static void udp(void) {
  printf("== udp\n");
  int u = socket(AF_INET, SOCK_DGRAM, 0);
  int v = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in a = lo4(0);
  CHECK(bind(u, (struct sockaddr*)&a, sizeof a) == 0);
  CHECK(bind(v, (struct sockaddr*)&a, sizeof a) == 0);
  struct sockaddr_in ua = lo4(port_of(u)), va = lo4(port_of(v));
  R("send unconnected no addr", send(v, "x", 1, 0));
  R("sendto", sendto(v, "0123456789", 10, 0, (struct sockaddr*)&ua, sizeof ua));
  int avail = -1;
  CHECK(ioctl(u, FIONREAD, &avail) == 0);
  printf("fionread %d\n", avail);
  char b[64] = {0};
  struct sockaddr_in from;
  socklen_t fl = sizeof from;
  ssize_t n = recvfrom(u, b, 4, MSG_PEEK, (struct sockaddr*)&from, &fl);
  printf("peek %zd %.4s from-is-v %d fl %u\n", n, b, from.sin_port == va.sin_port, fl);
  n = recv(u, b, 4, MSG_PEEK | MSG_TRUNC);
  printf("peek trunc %zd\n", n);
  struct iovec iov = {b, 4};
  struct msghdr m = {.msg_name = &from, .msg_namelen = sizeof from, .msg_iov = &iov, .msg_iovlen = 1};
  n = recvmsg(u, &m, 0);
  printf("recvmsg %zd flags trunc=%d %.4s\n", n, (m.msg_flags & MSG_TRUNC) != 0, b);
  R("recv empty DONTWAIT", recv(u, b, 4, MSG_DONTWAIT));
  // Zero-length datagram.
  CHECK(sendto(v, "", 0, 0, (struct sockaddr*)&ua, sizeof ua) == 0);
  ssize_t vn = recv(u, b, sizeof b, 0);
  printf("zero-length %zd\n", vn);
  // Connected.
  R("connect", connect(u, (struct sockaddr*)&va, sizeof va));
  R("send connected", send(u, "abc", 3, 0));
  vn = recv(v, b, sizeof b, 0);
  printf("v got %zd\n", vn);
  // A datagram from a third socket is dropped by the connected u.
  int w = socket(AF_INET, SOCK_DGRAM, 0);
  sendto(w, "nope", 4, 0, (struct sockaddr*)&ua, sizeof ua);
  sendto(v, "yes", 3, 0, (struct sockaddr*)&ua, sizeof ua);
  memset(b, 0, sizeof b);
  vn = recv(u, b, sizeof b, 0);
  printf("u got %zd %s\n", vn, b);
  // sendmmsg / recvmmsg.
  struct mmsghdr mm[3];
  struct iovec iv[3];
  char* words[3] = {"one", "three", "fifteen"};
  memset(mm, 0, sizeof mm);
  for (int i = 0; i < 3; i++) {
    iv[i].iov_base = words[i];
    iv[i].iov_len = strlen(words[i]);
    mm[i].msg_hdr.msg_iov = &iv[i];
    mm[i].msg_hdr.msg_iovlen = 1;
    mm[i].msg_hdr.msg_name = &ua;
    mm[i].msg_hdr.msg_namelen = sizeof ua;
  }
  printf("sendmmsg %d\n", sendmmsg(v, mm, 3, 0));
  char rb[3][8];
  memset(mm, 0, sizeof mm);
  for (int i = 0; i < 3; i++) {
    iv[i].iov_base = rb[i];
    iv[i].iov_len = 5;
    mm[i].msg_hdr.msg_iov = &iv[i];
    mm[i].msg_hdr.msg_iovlen = 1;
  }
  int k = recvmmsg(u, mm, 3, MSG_WAITFORONE, NULL);
  printf("recvmmsg %d", k);
  for (int i = 0; i < k; i++) printf(" %u%s", mm[i].msg_len, (mm[i].msg_hdr.msg_flags & MSG_TRUNC) ? "T" : "");
  printf("\n");
  // Connected to a port nobody listens on: ICMP port unreachable -> ECONNREFUSED.
  close(v);
  R("send to closed", send(u, "x", 1, 0));
  usleep(20000);
  R("recv refused", recv(u, b, sizeof b, MSG_DONTWAIT));
  // Disconnect with AF_UNSPEC.
  struct sockaddr un = {.sa_family = AF_UNSPEC};
  R("disconnect", connect(u, &un, sizeof un));
  R("getpeername disconnected", getpeername(u, (struct sockaddr*)&from, &fl));
  R("too big datagram", sendto(u, big_buf(), 70000, 0, (struct sockaddr*)&ua, sizeof ua));
  close(u);
  close(w);
}

// Control messages both ways: IP_TOS sent as a cmsg, received with IP_RECVTOS and
// IP_PKTINFO; IPV6_HOPLIMIT sent, received with IPV6_RECVHOPLIMIT; MSG_CTRUNC.
static void cmsgs(void) {
  printf("== control messages\n");
  int r = socket(AF_INET, SOCK_DGRAM, 0), w = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in a = lo4(0);
  CHECK(bind(r, (struct sockaddr*)&a, sizeof a) == 0);
  a = lo4(port_of(r));
  int one = 1;
  CHECK(setsockopt(r, IPPROTO_IP, IP_RECVTOS, &one, sizeof one) == 0);
  CHECK(setsockopt(r, IPPROTO_IP, IP_PKTINFO, &one, sizeof one) == 0);
  char cbuf[CMSG_SPACE(sizeof(int))];
  memset(cbuf, 0, sizeof cbuf);
  struct iovec iov = {"tos", 3};
  struct msghdr m = {.msg_name = &a, .msg_namelen = sizeof a, .msg_iov = &iov, .msg_iovlen = 1,
                     .msg_control = cbuf, .msg_controllen = sizeof cbuf};
  struct cmsghdr* c = CMSG_FIRSTHDR(&m);
  c->cmsg_level = IPPROTO_IP;
  c->cmsg_type = IP_TOS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  int tos = 0x28;
  memcpy(CMSG_DATA(c), &tos, sizeof tos);
  R("sendmsg IP_TOS", sendmsg(w, &m, 0));
  char data[8], rc[256];
  struct iovec riov = {data, sizeof data};
  struct msghdr rm = {.msg_iov = &riov, .msg_iovlen = 1, .msg_control = rc, .msg_controllen = sizeof rc};
  ssize_t n = recvmsg(r, &rm, 0);
  printf("recvmsg %zd", n);
  for (struct cmsghdr* h = CMSG_FIRSTHDR(&rm); h; h = CMSG_NXTHDR(&rm, h)) {
    if (h->cmsg_level == IPPROTO_IP && h->cmsg_type == IP_TOS) printf(" tos=0x%x", *(unsigned char*)CMSG_DATA(h));
    else if (h->cmsg_level == IPPROTO_IP && h->cmsg_type == IP_PKTINFO) {
      struct in_pktinfo pi;
      memcpy(&pi, CMSG_DATA(h), sizeof pi);
      printf(" pktinfo=%s", inet_ntoa(pi.ipi_addr));
    } else printf(" cmsg(%d,%d)", h->cmsg_level, h->cmsg_type);
  }
  printf("\n");
  // Too little room: MSG_CTRUNC.
  CHECK(sendto(w, "x", 1, 0, (struct sockaddr*)&a, sizeof a) == 1);
  rm.msg_controllen = 20;
  n = recvmsg(r, &rm, 0);
  printf("short control %zd ctrunc=%d\n", n, (rm.msg_flags & MSG_CTRUNC) != 0);
  // A bad IP-level cmsg is the host's EINVAL.
  c->cmsg_type = 9999;
  R("sendmsg unknown IP cmsg", sendmsg(w, &m, 0));
  close(r);
  close(w);

  int r6 = socket(AF_INET6, SOCK_DGRAM, 0), w6 = socket(AF_INET6, SOCK_DGRAM, 0);
  struct sockaddr_in6 b;
  memset(&b, 0, sizeof b);
  b.sin6_family = AF_INET6;
  b.sin6_addr = in6addr_loopback;
  CHECK(bind(r6, (struct sockaddr*)&b, sizeof b) == 0);
  b.sin6_port = htons(port_of(r6));
  CHECK(setsockopt(r6, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, &one, sizeof one) == 0);
  m.msg_name = &b;
  m.msg_namelen = sizeof b;
  c->cmsg_level = IPPROTO_IPV6;
  c->cmsg_type = IPV6_HOPLIMIT;
  int hops = 7;
  memcpy(CMSG_DATA(c), &hops, sizeof hops);
  R("sendmsg IPV6_HOPLIMIT", sendmsg(w6, &m, 0));
  rm.msg_controllen = sizeof rc;
  n = recvmsg(r6, &rm, 0);
  printf("recvmsg6 %zd", n);
  for (struct cmsghdr* h = CMSG_FIRSTHDR(&rm); h; h = CMSG_NXTHDR(&rm, h))
    if (h->cmsg_level == IPPROTO_IPV6 && h->cmsg_type == IPV6_HOPLIMIT) printf(" hoplimit=%d", *(int*)CMSG_DATA(h));
  printf("\n");
  close(r6);
  close(w6);
}

static void bad_input(void) {
  printf("== bad input\n");
  R("socket family 12345", socket(12345, SOCK_STREAM, 0));
  R("socket family -1", socket(-1, SOCK_STREAM, 0));
  R("socket AF_INET type 99", socket(AF_INET, 99, 0));
  R("socket AF_INET SEQPACKET", socket(AF_INET, SOCK_SEQPACKET, 0));
  R("socket stream udp", socket(AF_INET, SOCK_STREAM, IPPROTO_UDP));
  R("socket dgram tcp", socket(AF_INET, SOCK_DGRAM, IPPROTO_TCP));
  R("socket proto 200", socket(AF_INET, SOCK_STREAM, 200));
  R("socket bad flags", socket(AF_INET, SOCK_STREAM | 0x100, 0));
  R("socketpair AF_INET", socketpair(AF_INET, SOCK_STREAM, 0, (int[2]){0, 0}));
  errno = 0;
  int icmp = socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP);
  printf("socket icmp dgram: %s\n", icmp >= 0 ? "ok" : en(errno));
  if (icmp >= 0) close(icmp);
  int s = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = lo4(0);
  R("bind len 3", bind(s, (struct sockaddr*)&a, 3));
  R("bind len 0", bind(s, (struct sockaddr*)&a, 0));
  R("bind len -1", bind(s, (struct sockaddr*)&a, -1));
  R("bind len 129", bind(s, (struct sockaddr*)&a, 129));
  struct sockaddr_in6 a6;
  memset(&a6, 0, sizeof a6);
  a6.sin6_family = AF_INET6;
  R("bind v6 addr on v4", bind(s, (struct sockaddr*)&a6, sizeof a6));
  a.sin_addr.s_addr = inet_addr("192.0.2.77");
  R("bind foreign address", bind(s, (struct sockaddr*)&a, sizeof a));
  R("connect len 200", connect(s, (struct sockaddr*)&a, 200));
  R("connect len 4", connect(s, (struct sockaddr*)&a, 4));
  R("listen unbound ok", listen(s, 1));
  R("connect on listener", connect(s, (struct sockaddr*)&a, sizeof a));
  int v = 1;
  R("setsockopt short", setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &v, 2));
  R("setsockopt unknown name", setsockopt(s, SOL_SOCKET, 9999, &v, sizeof v));
  R("setsockopt unknown level", setsockopt(s, 999, 1, &v, sizeof v));
  R("setsockopt tcp unknown", setsockopt(s, IPPROTO_TCP, 9999, &v, sizeof v));
  R("setsockopt SO_LINGER short", setsockopt(s, SOL_SOCKET, SO_LINGER, &v, 4));
  R("setsockopt TCP_MAXSEG 1", setsockopt(s, IPPROTO_TCP, TCP_MAXSEG, &v, sizeof v));
  socklen_t l = sizeof v;
  R("getsockopt unknown", getsockopt(s, SOL_SOCKET, 9999, &v, &l));
  l = (socklen_t)-1;
  R("getsockopt negative len", getsockopt(s, SOL_SOCKET, SO_TYPE, &v, &l));
  l = 2;
  v = 0;
  R("getsockopt short len", getsockopt(s, SOL_SOCKET, SO_TYPE, &v, &l));
  printf("short len %u value %d\n", l, v);
  l = sizeof v;
  CHECK(getsockopt(s, SOL_SOCKET, SO_DOMAIN, &v, &l) == 0);
  printf("domain %d\n", v);
  int u = socket(AF_INET, SOCK_DGRAM, 0);
  l = sizeof v;
  R("getsockopt TCP_NODELAY on udp", getsockopt(u, IPPROTO_TCP, TCP_NODELAY, &v, &l));
  R("listen on udp", listen(u, 1));
  R("accept on udp", accept(u, NULL, NULL));
  R("sendto bad addr len", sendto(u, "x", 1, 0, (struct sockaddr*)&a, 5));
  R("ioctl unknown", ioctl(u, 0x1234, &v));
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  strcpy(ifr.ifr_name, "lo");
  R("SIOCGIFINDEX lo", ioctl(u, SIOCGIFINDEX, &ifr));
  printf("lo index %d\n", ifr.ifr_ifindex);
  R("SIOCGIFFLAGS lo", ioctl(u, SIOCGIFFLAGS, &ifr));
  printf("lo up %d loopback %d\n", (ifr.ifr_flags & IFF_UP) != 0, (ifr.ifr_flags & IFF_LOOPBACK) != 0);
  R("SIOCGIFADDR lo", ioctl(u, SIOCGIFADDR, &ifr));
  printf("lo addr %s\n", inet_ntoa(((struct sockaddr_in*)&ifr.ifr_addr)->sin_addr));
  strcpy(ifr.ifr_name, "nosuchif0");
  R("SIOCGIFINDEX missing", ioctl(u, SIOCGIFINDEX, &ifr));
  struct ifconf ic = {.ifc_len = 0, .ifc_buf = NULL};
  R("SIOCGIFCONF size", ioctl(u, SIOCGIFCONF, &ic));
  printf("ifconf has room %d\n", ic.ifc_len >= (int)sizeof(struct ifreq));
  char icb[4096];
  ic.ifc_len = sizeof icb;
  ic.ifc_buf = icb;
  R("SIOCGIFCONF", ioctl(u, SIOCGIFCONF, &ic));
  int found = 0;
  for (int i = 0; i < ic.ifc_len / (int)sizeof(struct ifreq); i++)
    if (!strcmp(ic.ifc_req[i].ifr_name, "lo")) found = 1;
  printf("ifconf lists lo %d\n", found);
  R("bind bad pointer", bind(u, (struct sockaddr*)8, 16));
  close(s);
  close(u);
}

static void v6(void) {
  printf("== ipv6\n");
  int l = socket(AF_INET6, SOCK_STREAM, 0);
  CHECK(l >= 0);
  int v = -1;
  socklen_t vl = sizeof v;
  R("IPV6_V6ONLY get", getsockopt(l, IPPROTO_IPV6, IPV6_V6ONLY, &v, &vl));
  struct sockaddr_in6 a;
  memset(&a, 0, sizeof a);
  a.sin6_family = AF_INET6;
  a.sin6_addr = in6addr_loopback;
  R("bind ::1", bind(l, (struct sockaddr*)&a, sizeof a));
  R("bind len 20", bind(l, (struct sockaddr*)&a, 20));
  CHECK(listen(l, 4) == 0);
  a.sin6_port = htons(port_of(l));
  int c = socket(AF_INET6, SOCK_STREAM, 0);
  R("connect ::1", connect(c, (struct sockaddr*)&a, sizeof a));
  struct sockaddr_in6 peer;
  socklen_t pl = sizeof peer;
  int s = accept(l, (struct sockaddr*)&peer, &pl);
  CHECK(s >= 0);
  printf("peer len %u loopback %d\n", pl, IN6_IS_ADDR_LOOPBACK(&peer.sin6_addr));
  CHECK(write(c, "six", 3) == 3);
  char b[8] = {0};
  ssize_t sn = read(s, b, sizeof b);
  printf("read %zd %s\n", sn, b);
  close(s);
  close(c);
  close(l);
  // Dual stack: an AF_INET6 UDP socket receives from AF_INET via a v4-mapped address.
  int u6 = socket(AF_INET6, SOCK_DGRAM, 0);
  memset(&a, 0, sizeof a);
  a.sin6_family = AF_INET6;
  a.sin6_addr = in6addr_any;
  CHECK(bind(u6, (struct sockaddr*)&a, sizeof a) == 0);
  int u4 = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in to = lo4(port_of(u6));
  CHECK(sendto(u4, "mapped", 6, 0, (struct sockaddr*)&to, sizeof to) == 6);
  struct sockaddr_in6 from;
  socklen_t fl = sizeof from;
  memset(b, 0, sizeof b);
  ssize_t n = recvfrom(u6, b, sizeof b, 0, (struct sockaddr*)&from, &fl);
  char txt[64];
  inet_ntop(AF_INET6, &from.sin6_addr, txt, sizeof txt);
  printf("u6 got %zd %s from %s len %u\n", n, b, txt, fl);
  close(u4);
  close(u6);
}

// More IPv6: IPPROTO_IPV6 options, sockaddr_in6 fields, dual stack through v4-mapped
// addresses, IPV6_V6ONLY's binds and connects, getsockname/getpeername, UDP refusals.
static struct sockaddr_in6 sa6(const char* text, int port) {
  struct sockaddr_in6 a;
  memset(&a, 0, sizeof a);
  a.sin6_family = AF_INET6;
  a.sin6_port = htons(port);
  CHECK(inet_pton(AF_INET6, text, &a.sin6_addr) == 1);
  return a;
}

static void name6(const char* label, int fd, int peer) {
  struct sockaddr_in6 a;
  memset(&a, 0xaa, sizeof a);
  socklen_t l = sizeof a;
  errno = 0;
  int r = peer ? getpeername(fd, (struct sockaddr*)&a, &l) : getsockname(fd, (struct sockaddr*)&a, &l);
  if (r < 0) {
    printf("%s: %s\n", label, en(errno));
    return;
  }
  char t[64];
  inet_ntop(AF_INET6, &a.sin6_addr, t, sizeof t);
  printf("%s: family %d len %u %s port %s flowinfo %u scope %u\n", label, a.sin6_family, l, t,
         a.sin6_port ? "set" : "0", ntohl(a.sin6_flowinfo), a.sin6_scope_id);
}

static void opt6(const char* label, int fd, int level, int name) {
  int v = -99;
  socklen_t l = sizeof v;
  errno = 0;
  if (getsockopt(fd, level, name, &v, &l) < 0) printf("%s: %s\n", label, en(errno));
  else printf("%s: %d (len %u)\n", label, v, l);
}

static void set6(const char* label, int fd, int level, int name, int v) {
  R(label, setsockopt(fd, level, name, &v, sizeof v));
}

static void v6_more(void) {
  printf("== ipv6 more\n");
  int s = socket(AF_INET6, SOCK_STREAM, 0);
  CHECK(s >= 0);
  opt6("V6ONLY default", s, IPPROTO_IPV6, IPV6_V6ONLY);
  opt6("UNICAST_HOPS default", s, IPPROTO_IPV6, IPV6_UNICAST_HOPS);
  opt6("TCLASS default", s, IPPROTO_IPV6, IPV6_TCLASS);
  set6("set UNICAST_HOPS 7", s, IPPROTO_IPV6, IPV6_UNICAST_HOPS, 7);
  opt6("UNICAST_HOPS", s, IPPROTO_IPV6, IPV6_UNICAST_HOPS);
  set6("set UNICAST_HOPS -1", s, IPPROTO_IPV6, IPV6_UNICAST_HOPS, -1);
  opt6("UNICAST_HOPS after -1", s, IPPROTO_IPV6, IPV6_UNICAST_HOPS);
  set6("set UNICAST_HOPS 256", s, IPPROTO_IPV6, IPV6_UNICAST_HOPS, 256);
  set6("set UNICAST_HOPS -2", s, IPPROTO_IPV6, IPV6_UNICAST_HOPS, -2);
  set6("set TCLASS 0x28", s, IPPROTO_IPV6, IPV6_TCLASS, 0x28);
  opt6("TCLASS", s, IPPROTO_IPV6, IPV6_TCLASS);
  set6("set TCLASS 300", s, IPPROTO_IPV6, IPV6_TCLASS, 300);
  short sh = 1;
  R("set V6ONLY short", setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &sh, sizeof sh));
  opt6("get IPV6 9999", s, IPPROTO_IPV6, 9999);
  set6("set IPV6 9999", s, IPPROTO_IPV6, 9999, 1);
  opt6("get level 999", s, 999, 1);
  opt6("IP_TTL on v6", s, IPPROTO_IP, IP_TTL);
  opt6("SO_DOMAIN", s, SOL_SOCKET, SO_DOMAIN);
  close(s);

  // A dual-stack listener on [::] takes IPv4 (as ::ffff:127.0.0.1) and IPv6 clients.
  int l = socket(AF_INET6, SOCK_STREAM, 0);
  struct sockaddr_in6 any = sa6("::", 0);
  CHECK(bind(l, (struct sockaddr*)&any, sizeof any) == 0);
  CHECK(listen(l, 8) == 0);
  int port = port_of(l);
  name6("listener", l, 0);
  name6("listener peer", l, 1);
  int c4 = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in to4 = lo4(port);
  R("v4 connect to dual-stack", connect(c4, (struct sockaddr*)&to4, sizeof to4));
  struct sockaddr_in6 pa;
  socklen_t pl = sizeof pa;
  int a4 = accept(l, (struct sockaddr*)&pa, &pl);
  CHECK(a4 >= 0);
  char t[64];
  inet_ntop(AF_INET6, &pa.sin6_addr, t, sizeof t);
  printf("accepted v4 client as %s len %u\n", t, pl);
  name6("accepted v4 name", a4, 0);
  name6("accepted v4 peer", a4, 1);
  CHECK(write(c4, "four", 4) == 4);
  char b[16] = {0};
  printf("read %zd %s\n", read(a4, b, sizeof b), b);
  struct sockaddr_in6 lo6 = sa6("::1", port);
  lo6.sin6_flowinfo = htonl(0x12345);
  int c6 = socket(AF_INET6, SOCK_STREAM, 0);
  R("v6 connect ::1 (with flowinfo)", connect(c6, (struct sockaddr*)&lo6, sizeof lo6));
  int a6 = accept(l, NULL, NULL);
  CHECK(a6 >= 0);
  name6("v6 client name", c6, 0);
  name6("v6 client peer", c6, 1);
  name6("accepted v6 name", a6, 0);
  struct sockaddr_in6 mapped = sa6("::ffff:127.0.0.1", port);
  int cm = socket(AF_INET6, SOCK_STREAM, 0);
  R("v6 socket connect ::ffff:127.0.0.1", connect(cm, (struct sockaddr*)&mapped, sizeof mapped));
  int am = accept(l, NULL, NULL);
  CHECK(am >= 0);
  name6("mapped client name", cm, 0);
  name6("mapped client peer", cm, 1);
  CHECK(write(cm, "mapped", 6) == 6);
  memset(b, 0, sizeof b);
  printf("read %zd %s\n", read(am, b, sizeof b), b);
  struct sockaddr_in6 zero = sa6("::", port);
  int cz = socket(AF_INET6, SOCK_STREAM, 0);
  R("connect [::] goes to ::1", connect(cz, (struct sockaddr*)&zero, sizeof zero));
  int az = accept(l, NULL, NULL);
  CHECK(az >= 0);
  name6("[::] client peer", cz, 1);
  set6("V6ONLY after bind", l, IPPROTO_IPV6, IPV6_V6ONLY, 1);
  int dup = socket(AF_INET, SOCK_STREAM, 0);
  to4.sin_addr.s_addr = htonl(INADDR_ANY);
  R("bind 0.0.0.0 on the dual-stack port", bind(dup, (struct sockaddr*)&to4, sizeof to4));
  close(dup);
  close(az); close(cz); close(am); close(cm); close(a6); close(c6); close(a4); close(c4); close(l);

  // V6ONLY: a wildcard that leaves IPv4 to an AF_INET socket on the same port.
  int o6 = socket(AF_INET6, SOCK_STREAM, 0);
  set6("set V6ONLY 1", o6, IPPROTO_IPV6, IPV6_V6ONLY, 1);
  opt6("V6ONLY", o6, IPPROTO_IPV6, IPV6_V6ONLY);
  struct sockaddr_in6 m0 = sa6("::ffff:127.0.0.1", 0);
  R("V6ONLY bind v4-mapped", bind(o6, (struct sockaddr*)&m0, sizeof m0));
  CHECK(bind(o6, (struct sockaddr*)&any, sizeof any) == 0);
  CHECK(listen(o6, 4) == 0);
  port = port_of(o6);
  int o4 = socket(AF_INET, SOCK_STREAM, 0);
  to4 = lo4(port);
  to4.sin_addr.s_addr = htonl(INADDR_ANY);
  R("bind 0.0.0.0 beside a V6ONLY [::]", bind(o4, (struct sockaddr*)&to4, sizeof to4));
  CHECK(listen(o4, 4) == 0);
  int k4 = socket(AF_INET, SOCK_STREAM, 0);
  to4 = lo4(port);
  R("v4 connect reaches the AF_INET listener", connect(k4, (struct sockaddr*)&to4, sizeof to4));
  int g4 = accept(o4, NULL, NULL);
  printf("AF_INET listener accepted %d\n", g4 >= 0);
  int k6 = socket(AF_INET6, SOCK_STREAM, 0);
  set6("set V6ONLY on a client", k6, IPPROTO_IPV6, IPV6_V6ONLY, 1);
  mapped = sa6("::ffff:127.0.0.1", port);
  R("V6ONLY connect v4-mapped", connect(k6, (struct sockaddr*)&mapped, sizeof mapped));
  close(k6); close(g4); close(k4); close(o4); close(o6);

  // sockaddr_in6 lengths and families; addresses that are not ours.
  int e = socket(AF_INET6, SOCK_STREAM, 0);
  struct sockaddr_in6 ea = sa6("::1", 0);
  R("bind len 23", bind(e, (struct sockaddr*)&ea, 23));
  struct sockaddr_in e4 = lo4(0);
  R("bind AF_INET on v6", bind(e, (struct sockaddr*)&e4, sizeof e4));
  struct sockaddr_in6 doc = sa6("2001:db8::1", 0);
  R("bind 2001:db8::1", bind(e, (struct sockaddr*)&doc, sizeof doc));
  struct sockaddr_in6 ll = sa6("fe80::1", 0);
  R("bind fe80::1 without scope", bind(e, (struct sockaddr*)&ll, sizeof ll));
  ll.sin6_scope_id = 0x7ffffff0;
  R("bind fe80::1 on no such interface", bind(e, (struct sockaddr*)&ll, sizeof ll));
  ll.sin6_scope_id = 1;
  R("bind fe80::1 on lo", bind(e, (struct sockaddr*)&ll, sizeof ll));
  int lc = socket(AF_INET6, SOCK_STREAM, 0);
  ll.sin6_port = htons(80);
  ll.sin6_scope_id = 0;
  R("connect fe80::1 without scope", connect(lc, (struct sockaddr*)&ll, sizeof ll));
  ll.sin6_scope_id = 0x7ffffff0;
  R("connect fe80::1 on no such interface", connect(lc, (struct sockaddr*)&ll, sizeof ll));
  close(lc);
  lc = socket(AF_INET6, SOCK_DGRAM, 0);
  ll.sin6_scope_id = 0;
  R("udp connect fe80::1 without scope", connect(lc, (struct sockaddr*)&ll, sizeof ll));
  close(lc);
  R("bind ::1 len 24", bind(e, (struct sockaddr*)&ea, 24));
  name6("bound with len 24", e, 0);
  R("connect AF_INET on v6", connect(e, (struct sockaddr*)&e4, sizeof e4));
  struct sockaddr_in6 closed = sa6("::1", port_of(e));
  int e2 = socket(AF_INET6, SOCK_STREAM, 0);
  R("connect to a bound, not listening port", connect(e2, (struct sockaddr*)&closed, sizeof closed));
  close(e2);
  close(e);

  // UDP: a dual-stack socket sends to AF_INET and v4-mapped destinations; a connected
  // socket learns ECONNREFUSED from ICMPv6 port unreachable.
  int r4 = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in rb = lo4(0);
  CHECK(bind(r4, (struct sockaddr*)&rb, sizeof rb) == 0);
  int u6 = socket(AF_INET6, SOCK_DGRAM, 0);
  rb = lo4(port_of(r4));
  R("udp6 sendto AF_INET", sendto(u6, "v4", 2, 0, (struct sockaddr*)&rb, sizeof rb));
  struct sockaddr_in6 rm = sa6("::ffff:127.0.0.1", port_of(r4));
  R("udp6 sendto v4-mapped", sendto(u6, "mapped", 6, 0, (struct sockaddr*)&rm, sizeof rm));
  for (int i = 0; i < 2; i++) {
    struct sockaddr_in from;
    socklen_t fl = sizeof from;
    memset(b, 0, sizeof b);
    ssize_t n = recvfrom(r4, b, sizeof b, 0, (struct sockaddr*)&from, &fl);
    printf("udp4 got %zd %s from %s\n", n, b, inet_ntoa(from.sin_addr));
  }
  name6("udp6 name after sendto", u6, 0);
  int u6b = socket(AF_INET6, SOCK_DGRAM, 0);
  struct sockaddr_in6 ub = sa6("::1", 0);
  CHECK(bind(u6b, (struct sockaddr*)&ub, sizeof ub) == 0);
  int dead = port_of(u6b);
  close(u6b);
  struct sockaddr_in6 dd = sa6("::1", dead);
  R("udp6 connect", connect(u6, (struct sockaddr*)&dd, sizeof dd));
  name6("udp6 name", u6, 0);
  name6("udp6 peer", u6, 1);
  R("udp6 send to a closed port", send(u6, "x", 1, 0));
  usleep(20000);
  R("udp6 recv after the refusal", recv(u6, b, sizeof b, MSG_DONTWAIT));
  R("udp6 connect AF_UNSPEC", connect(u6, (struct sockaddr*)&(struct sockaddr){.sa_family = AF_UNSPEC}, sizeof(struct sockaddr)));
  name6("udp6 peer after AF_UNSPEC", u6, 1);
  close(u6);
  close(r4);
}

static char* big_buf(void) {
  static char b[70000];
  return b;
}

// Edge-triggered EPOLLOUT on a freshly connected pair (blocking connect, accept): the first
// wait reports both writable, a second one nothing until something changes (test_epoll's
// test_control_and_wait), then data makes a new edge on each side.
static void tcp_edge(void) {
  printf("== tcp edge-triggered EPOLLOUT\n");
  int l = listener4();
  int c = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = lo4(port_of(l));
  CHECK(connect(c, (struct sockaddr*)&a, sizeof a) == 0);
  int s = accept(l, NULL, NULL);
  CHECK(s >= 0);
  int ep = epoll_create1(0);
  struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLET};
  ev.data.fd = s;
  CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev) == 0);
  ev.data.fd = c;
  CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev) == 0);
  struct epoll_event out[4];
  int k = epoll_wait(ep, out, 4, 1000);
  printf("first wait: %d events, all EPOLLOUT only: %d\n", k,
         k == 2 && out[0].events == EPOLLOUT && out[1].events == EPOLLOUT);
  k = epoll_wait(ep, out, 4, 100);
  printf("second wait: %d events\n", k);
  CHECK(send(c, "Hello!", 6, 0) == 6);
  CHECK(send(s, "world!!!", 8, 0) == 8);
  usleep(50000);
  k = epoll_wait(ep, out, 4, 1000);
  printf("after sends: %d events, all IN|OUT: %d\n", k,
         k == 2 && out[0].events == (EPOLLIN | EPOLLOUT) && out[1].events == (EPOLLIN | EPOLLOUT));
  k = epoll_wait(ep, out, 4, 100);
  printf("then: %d events\n", k);
  close(ep);
  close(s);
  close(c);
  close(l);
}

int main(int argc, char** argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  const char* only = argc > 1 ? argv[1] : "";
  if (!*only || !strcmp(only, "tcp")) tcp_echo();
  if (!*only || !strcmp(only, "nonblock")) tcp_nonblock();
  if (!*only || !strcmp(only, "edge")) tcp_edge();
  if (!*only || !strcmp(only, "signals")) tcp_signals();
  if (!*only || !strcmp(only, "udp")) udp();
  if (!*only || !strcmp(only, "cmsg")) cmsgs();
  if (!*only || !strcmp(only, "bad")) bad_input();
  if (!*only || !strcmp(only, "v6")) v6();
  if (!*only || !strcmp(only, "v6more")) v6_more();
  printf("done\n");
  return 0;
}
