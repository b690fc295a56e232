/* Network privileges by capability: bind to a port below 1024 (CAP_NET_BIND_SERVICE) and a
 * raw ICMP socket (CAP_NET_RAW), as whatever uid and capabilities the caller gave us. */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const char *res(int r) { return r < 0 ? strerrorname_np(errno) : "ok"; }

int main(void) {
  printf("euid=%d\n", (int)geteuid());
  int s = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(80), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  printf("bind tcp 127.0.0.1:80: %s\n", res(bind(s, (struct sockaddr *)&a, sizeof a)));
  close(s);
  s = socket(AF_INET, SOCK_DGRAM, 0);
  a.sin_port = htons(1023);
  printf("bind udp 127.0.0.1:1023: %s\n", res(bind(s, (struct sockaddr *)&a, sizeof a)));
  a.sin_port = htons(1024);
  int s2 = socket(AF_INET, SOCK_DGRAM, 0);
  printf("bind udp 127.0.0.1:1024: %s\n", res(bind(s2, (struct sockaddr *)&a, sizeof a)));
  close(s);
  close(s2);
  s = socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);
  printf("raw icmp socket: %s\n", res(s));
  if (s >= 0) close(s);
  return 0;
}
