// TCP between two hosts (bench/netstack-veth.ts): a server run wherever the variant puts it
// (natively in a namespace, in a sandbox) and a client that times itself.
//   tcpnet serve PORT                      -> serves connections one at a time, forever:
//                                             first byte 'p': 1-byte echo until EOF;
//                                             's': reads until EOF, then writes "k"
//   tcpnet pingpong ADDR PORT N ROUNDS     -> per round, µs per 1-byte round trip
//   tcpnet stream ADDR PORT BYTES ROUNDS   -> per round, MiB/s of one connection (64 KiB writes)
// The client retries its first connect for up to 60 s (the server may still be starting).
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

static void die(const char* what) {
  perror(what);
  exit(1);
}

static char buf[65536];

static int serve(int port) {
  int l = socket(AF_INET, SOCK_STREAM, 0);
  if (l < 0) die("socket");
  int one = 1;
  setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
  if (bind(l, (struct sockaddr*)&a, sizeof a) < 0 || listen(l, 16) < 0) die("bind/listen");
  for (;;) {
    int c = accept(l, NULL, NULL);
    if (c < 0) die("accept");
    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    char mode;
    if (read(c, &mode, 1) != 1) {
      close(c);
      continue;
    }
    ssize_t k;
    while ((k = read(c, buf, mode == 'p' ? 1 : sizeof buf)) > 0)
      if (mode == 'p' && write(c, buf, 1) != 1) break;
    if (mode == 's') write(c, "k", 1);
    close(c);
  }
}

static int dial(struct sockaddr_in* a, int retry) {
  double until = now() + (retry ? 60 : 0);
  for (;;) {
    int c = socket(AF_INET, SOCK_STREAM, 0);
    if (c < 0) die("socket");
    if (connect(c, (struct sockaddr*)a, sizeof *a) == 0) {
      int one = 1;
      setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      return c;
    }
    int e = errno;
    close(c);
    if (now() > until || (e != ECONNREFUSED && e != EHOSTUNREACH && e != ETIMEDOUT)) {
      errno = e;
      die("connect");
    }
    usleep(100000);
  }
}

int main(int argc, char** argv) {
  if (argc == 3 && strcmp(argv[1], "serve") == 0) return serve(atoi(argv[2]));
  if (argc != 6 || (strcmp(argv[1], "pingpong") != 0 && strcmp(argv[1], "stream") != 0)) {
    fprintf(stderr, "usage: tcpnet serve PORT | tcpnet pingpong|stream ADDR PORT N ROUNDS\n");
    return 2;
  }
  int ping = strcmp(argv[1], "pingpong") == 0;
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[3]))};
  if (inet_pton(AF_INET, argv[2], &a.sin_addr) != 1) {
    fprintf(stderr, "tcpnet: %s: not an IPv4 address\n", argv[2]);
    return 2;
  }
  long n = atol(argv[4]);
  int rounds = atoi(argv[5]);
  for (int r = 0; r < rounds; r++) {
    int c = dial(&a, r == 0);
    if (write(c, ping ? "p" : "s", 1) != 1) die("mode");
    double t0 = now();
    if (ping) {
      for (long i = 0; i < n; i++)
        if (write(c, buf, 1) != 1 || read(c, buf, 1) != 1) die("pingpong");
      printf("%.3f\n", (now() - t0) * 1e6 / n);
    } else {
      for (long left = n; left > 0;) {
        ssize_t k = write(c, buf, left < (long)sizeof buf ? left : (long)sizeof buf);
        if (k <= 0) die("write");
        left -= k;
      }
      shutdown(c, SHUT_WR);
      if (read(c, buf, 1) != 1) die("ack");
      printf("%.1f\n", n / 1048576.0 / (now() - t0));
    }
    fflush(stdout);
    close(c);
  }
  return 0;
}
