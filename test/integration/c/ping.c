// ICMP echo ("ping") sockets: socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP) and the IPv6
// one (IPPROTO_ICMPV6). Prints only what Linux fixes (no random ids, no times), so the
// output natively and in the sandbox must be identical.
//
//   ping echo           echo requests to 127.0.0.1 and ::1: the id rewritten to the
//                       socket's, bind to a chosen id, connect, MSG_TRUNC, errors
//   ping rules SPEC...  for each SPEC (gid:G = egid G; sup:G = egid 65534 with G as its
//                       only supplementary group), in a child: may it create ping
//                       sockets (net.ipv4.ping_group_range; EACCES when not)?
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <grp.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <netinet/ip_icmp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static const char* err(int r) { return r < 0 ? strerrorname_np(errno) : "ok"; }

static void rules(const char* spec) {
  pid_t p = fork();
  if (p == 0) {
    int g = atoi(spec + 4);
    int ok = 1;
    if (strncmp(spec, "gid:", 4) == 0) {
      ok = setgroups(0, NULL) == 0 && setresgid(g, g, g) == 0;
    } else {
      gid_t one = (gid_t)g;
      ok = setgroups(1, &one) == 0 && setresgid(65534, 65534, 65534) == 0;
    }
    if (!ok) {
      printf("%s: cannot set groups: %s\n", spec, strerrorname_np(errno));
      exit(1);
    }
    int s4 = socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP);
    const char* e4 = err(s4);
    int s6 = socket(AF_INET6, SOCK_DGRAM, IPPROTO_ICMPV6);
    printf("%s: icmp %s, icmpv6 %s\n", spec, e4, err(s6));
    exit(0);
  }
  int st;
  waitpid(p, &st, 0);
  fflush(stdout);
}

static unsigned short local_id(int s) {
  struct sockaddr_storage ss;
  socklen_t l = sizeof ss;
  if (getsockname(s, (struct sockaddr*)&ss, &l) < 0) return 0;
  if (ss.ss_family == AF_INET) return ntohs(((struct sockaddr_in*)&ss)->sin_port);
  return ntohs(((struct sockaddr_in6*)&ss)->sin6_port);
}

// One echo request of `type` with id 0x1234 and `seq`, to `to`; returns sendto's result.
static int send_echo(int s, int type, int seq, const struct sockaddr* to, socklen_t tl, const char* data) {
  unsigned char buf[64];
  memset(buf, 0, sizeof buf);
  buf[0] = type;
  buf[4] = 0x12;
  buf[5] = 0x34;
  buf[6] = seq >> 8;
  buf[7] = seq & 0xff;
  size_t n = strlen(data);
  memcpy(buf + 8, data, n);
  return sendto(s, buf, 8 + n, 0, to, tl);
}

// Waits for and prints one reply (type, code, whether the id is the socket's, seq, payload).
static void recv_reply(int s, const char* what, int fixed) {
  struct pollfd pf = {s, POLLIN, 0};
  int pr = poll(&pf, 1, 5000);
  unsigned char buf[128];
  struct sockaddr_storage from;
  socklen_t fl = sizeof from;
  ssize_t n = recvfrom(s, buf, sizeof buf, 0, (struct sockaddr*)&from, &fl);
  if (n < 0) {
    printf("%s: poll %d revents %#x, recvfrom %s\n", what, pr, pf.revents, strerrorname_np(errno));
    return;
  }
  char addr[64] = "?";
  if (from.ss_family == AF_INET)
    inet_ntop(AF_INET, &((struct sockaddr_in*)&from)->sin_addr, addr, sizeof addr);
  else
    inet_ntop(AF_INET6, &((struct sockaddr_in6*)&from)->sin6_addr, addr, sizeof addr);
  unsigned id = (buf[4] << 8) | buf[5];
  char ids[32];
  if (fixed)
    snprintf(ids, sizeof ids, "%u", id);
  else
    snprintf(ids, sizeof ids, "%s", id == local_id(s) ? "= the socket's" : "other");
  printf("%s: poll %d revents %#x, %zd bytes from %s (namelen %u): type %d code %d, id %s, seq %d, data \"%.*s\"\n",
         what, pr, pf.revents, n, addr, fl, buf[0], buf[1], ids, (buf[6] << 8) | buf[7], (int)(n - 8), buf + 8);
}

static void echo4(void) {
  int s = socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP);
  if (s < 0) {
    printf("icmp socket: %s\n", strerrorname_np(errno));
    return;
  }
  int v;
  socklen_t vl = sizeof v;
  getsockopt(s, SOL_SOCKET, SO_PROTOCOL, &v, &vl);
  printf("SO_PROTOCOL %d", v);
  vl = sizeof v;
  getsockopt(s, SOL_SOCKET, SO_TYPE, &v, &vl);
  printf(" SO_TYPE %d, id before use %u\n", v, local_id(s));
  struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(7)};
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  printf("sendto 127.0.0.1: %d\n", send_echo(s, ICMP_ECHO, 1, (struct sockaddr*)&to, sizeof to, "hello ping"));
  printf("an id was given: %s\n", local_id(s) ? "yes" : "no");
  recv_reply(s, "reply", 0);
  errno = 0;
  printf("recv when empty, MSG_DONTWAIT: %s\n", err(recv(s, &v, sizeof v, MSG_DONTWAIT)));
  // Errors.
  printf("echo reply type: %s\n", err(send_echo(s, ICMP_ECHOREPLY, 2, (struct sockaddr*)&to, sizeof to, "x")));
  printf("timestamp type: %s\n", err(send_echo(s, ICMP_TIMESTAMP, 2, (struct sockaddr*)&to, sizeof to, "x")));
  printf("short address: %s\n", err(send_echo(s, ICMP_ECHO, 2, (struct sockaddr*)&to, 4, "x")));
  struct sockaddr_in6 six = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
  printf("AF_INET6 address: %s\n", err(send_echo(s, ICMP_ECHO, 2, (struct sockaddr*)&six, sizeof six, "x")));
  printf("4-byte message: %s\n", err(sendto(s, "\x08\0\0\0", 4, 0, (struct sockaddr*)&to, sizeof to)));
  printf("no address, not connected: %s\n", err(send(s, "\x08\0\0\0\0\0\0\0", 8, 0)));
  // MSG_TRUNC: a short buffer gets the start and the flag; with MSG_TRUNC the full length.
  send_echo(s, ICMP_ECHO, 3, (struct sockaddr*)&to, sizeof to, "truncate me");
  struct pollfd pf = {s, POLLIN, 0};
  poll(&pf, 1, 5000);
  char small[4];
  struct iovec iov = {small, sizeof small};
  struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
  ssize_t n = recvmsg(s, &mh, MSG_PEEK);
  printf("peek 4: %zd, MSG_TRUNC %s\n", n, mh.msg_flags & MSG_TRUNC ? "set" : "clear");
  n = recv(s, small, sizeof small, MSG_TRUNC);
  printf("recv 4 with MSG_TRUNC: %zd, first byte %d\n", n, small[0]);
  close(s);

  // bind(): the chosen port is the echo id on the wire.
  s = socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP);
  struct sockaddr_in me = {.sin_family = AF_INET, .sin_port = htons(4242)};
  me.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  printf("bind id 4242: %s, id %u\n", err(bind(s, (struct sockaddr*)&me, sizeof me)), local_id(s));
  int s2 = socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP);
  printf("bind id 4242 again: %s\n", err(bind(s2, (struct sockaddr*)&me, sizeof me)));
  struct sockaddr_in far = {.sin_family = AF_INET, .sin_port = htons(4243)};
  inet_pton(AF_INET, "203.0.113.9", &far.sin_addr);
  printf("bind to an address not here: %s\n", err(bind(s2, (struct sockaddr*)&far, sizeof far)));
  close(s2);
  printf("connect: %s\n", err(connect(s, (struct sockaddr*)&to, sizeof to)));
  unsigned char req[16] = {ICMP_ECHO, 0, 0, 0, 0, 0, 0, 9, 'c', 'o', 'n', 'n', 'e', 'c', 't', '!'};
  printf("send: %s\n", err(send(s, req, sizeof req, 0)));
  recv_reply(s, "connected reply", 1);
  close(s);
}

static void echo6(void) {
  int s = socket(AF_INET6, SOCK_DGRAM, IPPROTO_ICMPV6);
  if (s < 0) {
    printf("icmpv6 socket: %s\n", strerrorname_np(errno));
    return;
  }
  struct sockaddr_in6 to = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
  printf("sendto ::1: %d\n", send_echo(s, ICMP6_ECHO_REQUEST, 1, (struct sockaddr*)&to, sizeof to, "hello ping6"));
  recv_reply(s, "reply6", 0);
  printf("v6 echo reply type: %s\n",
         err(send_echo(s, ICMP6_ECHO_REPLY, 2, (struct sockaddr*)&to, sizeof to, "x")));
  printf("v6 short address: %s\n", err(send_echo(s, ICMP6_ECHO_REQUEST, 2, (struct sockaddr*)&to, 8, "x")));
  struct sockaddr_in6 me = {.sin6_family = AF_INET6, .sin6_port = htons(4244), .sin6_addr = IN6ADDR_LOOPBACK_INIT};
  printf("v6 bind of a used socket: %s\n", err(bind(s, (struct sockaddr*)&me, sizeof me)));
  close(s);
  s = socket(AF_INET6, SOCK_DGRAM, IPPROTO_ICMPV6);
  printf("v6 bind id 4244: %s\n", err(bind(s, (struct sockaddr*)&me, sizeof me)));
  send_echo(s, ICMP6_ECHO_REQUEST, 5, (struct sockaddr*)&to, sizeof to, "bound6");
  recv_reply(s, "bound reply6", 1);
  close(s);
  printf("SOCK_STREAM + IPPROTO_ICMP: %s\n", err(socket(AF_INET, SOCK_STREAM, IPPROTO_ICMP)));
  printf("AF_INET6 + IPPROTO_ICMP: %s\n", err(socket(AF_INET6, SOCK_DGRAM, IPPROTO_ICMP)));
  printf("AF_INET + IPPROTO_ICMPV6: %s\n", err(socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMPV6)));
}

int main(int argc, char** argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc >= 2 && strcmp(argv[1], "rules") == 0) {
    for (int i = 2; i < argc; i++) rules(argv[i]);
    return 0;
  }
  echo4();
  echo6();
  return 0;
}
