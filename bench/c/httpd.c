// A minimal keep-alive HTTP/1.1 server for benchmarks: httpd ADDR
// Listens on ADDR:0 (prints the port), answers every request (pipelined ones too) with a
// 13-byte body, one epoll loop, until killed.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

static const char RESP[] =
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\nConnection: keep-alive\r\n\r\nhello, world\n";

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  int l = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  int one = 1;
  setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a = {.sin_family = AF_INET};
  inet_pton(AF_INET, argv[1], &a.sin_addr);
  if (bind(l, (struct sockaddr*)&a, sizeof a) || listen(l, 1024)) {
    perror("listen");
    return 1;
  }
  socklen_t al = sizeof a;
  getsockname(l, (struct sockaddr*)&a, &al);
  printf("port %d\n", ntohs(a.sin_port));
  fflush(stdout);
  int ep = epoll_create1(0);
  struct epoll_event ev = {.events = EPOLLIN, .data.fd = l};
  epoll_ctl(ep, EPOLL_CTL_ADD, l, &ev);
  static char buf[65536];
  // Bytes of a partial request header kept per fd ("\r\n\r\n" matching state).
  static int state[65536];
  struct epoll_event evs[256];
  for (;;) {
    int n = epoll_wait(ep, evs, 256, -1);
    for (int i = 0; i < n; i++) {
      int fd = evs[i].data.fd;
      if (fd == l) {
        for (;;) {
          int c = accept4(l, NULL, NULL, SOCK_NONBLOCK);
          if (c < 0) break;
          if (c >= 65536) {
            close(c);
            continue;
          }
          setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          state[c] = 0;
          struct epoll_event ce = {.events = EPOLLIN, .data.fd = c};
          epoll_ctl(ep, EPOLL_CTL_ADD, c, &ce);
        }
        continue;
      }
      ssize_t k = read(fd, buf, sizeof buf);
      if (k <= 0) {
        if (k < 0 && errno == EAGAIN) continue;
        close(fd);
        continue;
      }
      int reqs = 0;
      for (ssize_t j = 0; j < k; j++) {
        char ch = buf[j];
        int s = state[fd];
        if ((s % 2 == 0 && ch == '\r') || (s % 2 == 1 && ch == '\n')) s++;
        else s = ch == '\r' ? 1 : 0;
        if (s == 4) {
          reqs++;
          s = 0;
        }
        state[fd] = s;
      }
      for (int r = 0; r < reqs; r++)
        if (write(fd, RESP, sizeof RESP - 1) < 0) break;
    }
  }
}
