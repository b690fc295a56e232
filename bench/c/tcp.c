// TCP over the loopback interface, timed by the program itself (bench/netstack.ts):
//   tcp pingpong N ROUNDS   -> per round, µs per 1-byte round trip
//   tcp stream BYTES ROUNDS -> per round, MiB/s of one connection (64 KiB writes)
// A forked child is the server on 127.0.0.1 (an ephemeral port). Runs natively or under runsc.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
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

int main(int argc, char** argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: tcp pingpong|stream N ROUNDS\n");
    return 2;
  }
  int ping = strcmp(argv[1], "pingpong") == 0;
  long n = atol(argv[2]);
  int rounds = atoi(argv[3]);
  int l = socket(AF_INET, SOCK_STREAM, 0);
  if (l < 0) die("socket");
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t al = sizeof a;
  if (bind(l, (struct sockaddr*)&a, sizeof a) < 0 || listen(l, 4) < 0) die("bind/listen");
  getsockname(l, (struct sockaddr*)&a, &al);
  static char buf[65536];
  pid_t pid = fork();
  if (pid == 0) {
    for (int r = 0; r < rounds; r++) {
      int c = accept(l, NULL, NULL);
      if (c < 0) die("accept");
      int one = 1;
      setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      ssize_t k;
      while ((k = read(c, buf, ping ? 1 : sizeof buf)) > 0)
        if (ping && write(c, buf, 1) != 1) die("write");
      if (!ping) write(c, "k", 1);
      close(c);
    }
    _exit(0);
  }
  for (int r = 0; r < rounds; r++) {
    int c = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(c, (struct sockaddr*)&a, sizeof a) < 0) die("connect");
    int one = 1;
    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
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
    close(c);
  }
  waitpid(pid, NULL, 0);
  return 0;
}
