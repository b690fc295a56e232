// Socket-call fuzzer, run ONLY inside the sandbox (--network=host): netfuzz SEED TOTAL
// Workers keep a pool of sockets (AF_INET/AF_INET6 TCP and UDP, listeners and connected
// pairs on loopback, AF_NETLINK route sockets, AF_UNIX) and issue random socket calls on
// them with random flags, option levels/names/lengths, ioctls and sockaddrs of random
// families and lengths. Every AF_INET/AF_INET6 address is forced onto loopback so nothing
// leaves the machine. A worker that hangs is killed and replaced. Prints
// "netfuzz done: N calls, W workers, D deaths".
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static uint64_t state;
static uint64_t next(void) {
  state ^= state << 13;
  state ^= state >> 7;
  state ^= state << 17;
  return state;
}
static long pick(const long* v, int n) { return v[next() % n]; }

#define POOL 24
static int pool[POOL];
static int ports[8];
static char buf[70000];

static const long FAMILIES[] = {AF_INET, AF_INET6, AF_UNIX, AF_NETLINK, AF_UNSPEC, AF_PACKET, 45, 46, 1000, -1};
static const long TYPES[] = {SOCK_STREAM, SOCK_DGRAM, SOCK_RAW, SOCK_SEQPACKET, 0, 7, SOCK_STREAM | SOCK_NONBLOCK,
                             SOCK_DGRAM | SOCK_CLOEXEC, SOCK_STREAM | 0x100};
static const long PROTOS[] = {0, 6, 17, 1, 58, 132, 255, -1, 0};
static const long LEVELS[] = {SOL_SOCKET, IPPROTO_TCP, IPPROTO_IP, IPPROTO_IPV6, IPPROTO_UDP, 270, 999, -1, 0};
static const long IOCTLS[] = {FIONREAD, 0x5411, 0x894b, 0x8910, 0x8912, 0x8913, 0x8915, 0x8921, 0x8927, 0x8933,
                              0x8914, 0x8922, FIONBIO, 0x1234, 0x89f0};

static int fd(void) {
  switch (next() % 8) {
    case 0: return (int)(next() % 64) - 2;
    default: return pool[next() % POOL];
  }
}

// A sockaddr in buf-like storage: random bytes, a random family, loopback addresses.
static socklen_t addr(struct sockaddr_storage* ss) {
  unsigned char* b = (unsigned char*)ss;
  for (size_t i = 0; i < sizeof *ss; i++) b[i] = (unsigned char)next();
  int fam = (int)pick(FAMILIES, 10);
  ss->ss_family = (sa_family_t)fam;
  int port = next() % 3 ? ports[next() % 8] : (int)(next() % 65536);
  if (fam == AF_INET) {
    struct sockaddr_in* a = (struct sockaddr_in*)ss;
    a->sin_port = htons(port);
    a->sin_addr.s_addr = htonl(next() % 4 ? INADDR_LOOPBACK : 0x7f000000 | (next() & 0xffffff));
    if (next() % 5 == 0) a->sin_addr.s_addr = htonl(INADDR_ANY);
  } else if (fam == AF_INET6) {
    struct sockaddr_in6* a = (struct sockaddr_in6*)ss;
    a->sin6_port = htons(port);
    a->sin6_addr = next() % 3 ? in6addr_loopback : in6addr_any;
    if (next() % 4 == 0) {  // v4-mapped loopback
      memset(&a->sin6_addr, 0, 16);
      a->sin6_addr.s6_addr[10] = a->sin6_addr.s6_addr[11] = 0xff;
      a->sin6_addr.s6_addr[12] = 127;
      a->sin6_addr.s6_addr[15] = 1;
    }
  } else if (fam == AF_NETLINK) {
    memset(b + 2, 0, 10);  // nl_pid 0 (the kernel) or, sometimes, another port
    if (next() % 4 == 0) b[4] = (unsigned char)next();
  }
  switch (next() % 6) {
    case 0: return (socklen_t)(next() % 130);
    case 1: return (socklen_t)-1;
    case 2: return 0;
    default: return fam == AF_INET6 ? 28 : fam == AF_INET ? 16 : fam == AF_NETLINK ? 12 : 110;
  }
}

static void fill_pool(void) {
  for (int i = 0; i < POOL; i++) {
    int fam = i % 3 == 0 ? AF_INET6 : AF_INET;
    int type = i % 2 ? SOCK_DGRAM : SOCK_STREAM;
    if (i == 20 || i == 21) pool[i] = socket(AF_NETLINK, SOCK_RAW, 0);
    else if (i == 22) {
      int sv[2];
      socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
      pool[i] = sv[0];
      pool[23] = sv[1];
      break;
    } else pool[i] = socket(fam, type | (next() % 2 ? SOCK_NONBLOCK : 0), 0);
  }
  // A listener and a connected pair per family.
  for (int f = 0; f < 2; f++) {
    int fam = f ? AF_INET6 : AF_INET;
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    ss.ss_family = fam;
    socklen_t l = fam == AF_INET ? 16 : 28;
    if (fam == AF_INET) ((struct sockaddr_in*)&ss)->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    else ((struct sockaddr_in6*)&ss)->sin6_addr = in6addr_loopback;
    int ls = pool[f * 3];
    if (bind(ls, (struct sockaddr*)&ss, l) == 0 && listen(ls, 8) == 0) {
      socklen_t gl = sizeof ss;
      getsockname(ls, (struct sockaddr*)&ss, &gl);
      ports[f] = ntohs(((struct sockaddr_in*)&ss)->sin_port);
      int c = pool[f * 3 + 6];
      fcntl(c, F_SETFL, O_NONBLOCK);
      connect(c, (struct sockaddr*)&ss, gl);
    }
  }
  for (int i = 2; i < 8; i++) ports[i] = (int)(next() % 65536);
  // Mostly non-blocking, so a worker gets far before a call blocks for good.
  for (int i = 0; i < POOL; i++) fcntl(pool[i], F_SETFL, O_NONBLOCK);
}

static void one(void) {
  struct sockaddr_storage ss;
  socklen_t sl;
  int s = fd();
  switch (next() % 22) {
    case 0: {
      int n = socket((int)pick(FAMILIES, 10), (int)pick(TYPES, 9), (int)pick(PROTOS, 9));
      if (n >= 0) {
        int k = next() % POOL;
        close(pool[k]);
        pool[k] = n;
      }
      break;
    }
    case 1: sl = addr(&ss); bind(s, next() % 20 ? (struct sockaddr*)&ss : (struct sockaddr*)16, sl); break;
    case 2: listen(s, (int)(next() % 20) - 2); break;
    case 3: {
      int n = accept4(s, next() % 2 ? (struct sockaddr*)&ss : NULL, &(socklen_t){(socklen_t)(next() % 200)},
                      (int)(next() % 4 ? SOCK_NONBLOCK : next()));
      if (n >= 0) {
        int k = next() % POOL;
        close(pool[k]);
        pool[k] = n;
      }
      break;
    }
    case 4: sl = addr(&ss); connect(s, (struct sockaddr*)&ss, sl); break;
    case 5: sl = (socklen_t)(next() % 200); getsockname(s, (struct sockaddr*)&ss, next() % 10 ? &sl : (socklen_t*)8); break;
    case 6: sl = (socklen_t)(next() % 200); getpeername(s, (struct sockaddr*)&ss, &sl); break;
    case 7: sl = addr(&ss);
      sendto(s, buf, next() % 4 ? next() % 2000 : next() % sizeof buf, (int)(next() % 2 ? MSG_DONTWAIT : next()),
             next() % 2 ? (struct sockaddr*)&ss : NULL, sl);
      break;
    case 8: sl = sizeof ss;
      recvfrom(s, buf, next() % sizeof buf, (int)(next() % 2 ? MSG_DONTWAIT : next() | MSG_DONTWAIT),
               next() % 2 ? (struct sockaddr*)&ss : NULL, &sl);
      break;
    case 9: case 10: {
      struct iovec iov[4];
      for (int i = 0; i < 4; i++) {
        iov[i].iov_base = buf + next() % 60000;
        iov[i].iov_len = next() % 3000;
      }
      char ctl[256];
      for (size_t i = 0; i < sizeof ctl; i++) ctl[i] = (char)next();
      ((struct cmsghdr*)ctl)->cmsg_len = next() % 300;
      ((struct cmsghdr*)ctl)->cmsg_level = (int)pick(LEVELS, 9);
      ((struct cmsghdr*)ctl)->cmsg_type = (int)(next() % 4);
      sl = addr(&ss);
      struct msghdr m = {.msg_name = next() % 2 ? &ss : NULL, .msg_namelen = sl, .msg_iov = iov,
                         .msg_iovlen = next() % 5, .msg_control = next() % 2 ? ctl : NULL,
                         .msg_controllen = next() % 300};
      if (next() % 2) sendmsg(s, &m, (int)(next() % 2 ? MSG_DONTWAIT | MSG_NOSIGNAL : next() | MSG_DONTWAIT));
      else recvmsg(s, &m, (int)(next() | MSG_DONTWAIT));
      break;
    }
    case 11: {
      struct mmsghdr mm[4];
      struct iovec iov[4];
      memset(mm, 0, sizeof mm);
      for (int i = 0; i < 4; i++) {
        iov[i].iov_base = buf + i * 1000;
        iov[i].iov_len = next() % 1500;
        mm[i].msg_hdr.msg_iov = &iov[i];
        mm[i].msg_hdr.msg_iovlen = 1;
      }
      struct timespec ts = {0, 1000};
      if (next() % 2) sendmmsg(s, mm, next() % 5, MSG_DONTWAIT);
      else recvmmsg(s, mm, next() % 5, MSG_DONTWAIT | (int)(next() & MSG_WAITFORONE), next() % 2 ? &ts : NULL);
      break;
    }
    case 12: shutdown(s, (int)(next() % 4)); break;
    case 13: case 14: {
      int len = next() % 4 ? (int)(next() % 9) : (int)(next() % 300) - 10;
      for (int i = 0; i < 300; i++) buf[i] = (char)(next() % 3 ? next() % 2 : next());
      setsockopt(s, (int)pick(LEVELS, 9), (int)(next() % 80), buf, (socklen_t)len);
      break;
    }
    case 15: {
      sl = next() % 4 ? (socklen_t)(next() % 300) : (socklen_t)-1;
      getsockopt(s, (int)pick(LEVELS, 9), (int)(next() % 80), buf, &sl);
      break;
    }
    case 16: {
      long cmd = pick(IOCTLS, 15);
      if (cmd == 0x8912) {
        struct ifconf ic = {.ifc_len = (int)(next() % 2000) - 10, .ifc_buf = next() % 3 ? buf : NULL};
        ioctl(s, cmd, &ic);
      } else {
        for (int i = 0; i < 40; i++) buf[i] = (char)(i < 3 ? "lo"[i % 3] : next());
        ioctl(s, cmd, next() % 10 ? buf : (char*)16);
      }
      break;
    }
    case 17: {
      struct pollfd p[3] = {{s, (short)next(), 0}, {fd(), POLLIN | POLLOUT, 0}, {fd(), POLLIN, 0}};
      poll(p, 3, (int)(next() % 3));
      break;
    }
    case 18: {
      int ep = epoll_create1(0);
      struct epoll_event ev = {.events = (uint32_t)next(), .data.u64 = 0};
      epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev);
      epoll_ctl(ep, EPOLL_CTL_ADD, fd(), &ev);
      struct epoll_event out[4];
      epoll_wait(ep, out, 4, (int)(next() % 2));
      close(ep);
      break;
    }
    case 19: fcntl(s, F_SETFL, next() % 50 ? O_NONBLOCK : 0); break;
    case 20: {
      int k = next() % POOL;
      int d = dup(pool[next() % POOL]);
      if (d >= 0) {
        close(pool[k]);
        pool[k] = d;
      }
      break;
    }
    default: read(s, buf, next() % 100); write(s, buf, next() % 100); break;
  }
}

int main(int argc, char** argv) {
  if (argc < 3) return 2;
  uint64_t seed = strtoull(argv[1], 0, 10);
  long total = atol(argv[2]);
  long* done = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  long workers = 0, deaths = 0;
  signal(SIGPIPE, SIG_IGN);
  while (*done < total) {
    workers++;
    pid_t c = fork();
    if (c < 0) return 3;
    if (c == 0) {
      state = (seed * 1000003 + (uint64_t)workers) | 1;
      fill_pool();
      for (long i = 0; i < 1000 && *done < total; i++) {
        __atomic_add_fetch(done, 1, __ATOMIC_SEQ_CST);
        one();
      }
      _exit(0);
    }
    int st = 0;
    struct timespec ts = {0, 5000000};
    int waited = 0;
    for (;;) {
      pid_t r = waitpid(c, &st, WNOHANG);
      if (r == c || r < 0) break;
      nanosleep(&ts, NULL);
      if (++waited > 60) {  // ~300 ms: a worker stuck in a blocking call is replaced
        kill(c, SIGKILL);
        waitpid(c, &st, 0);
        break;
      }
    }
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) deaths++;
  }
  printf("netfuzz done: %ld calls, %ld workers, %ld deaths\n", *done, workers, deaths);
  return 0;
}
