// TCP loopback benchmark, timed by the program itself (one process pair over 127.0.0.1):
//   netbench rr N ROUNDS     1-byte request/response: prints µs per round trip, per round
//   netbench tput MIB ROUNDS bulk transfer of MIB MiB in 64 KiB writes: prints ms per round
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
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static void die(const char* m) {
  perror(m);
  exit(1);
}

int main(int argc, char** argv) {
  if (argc < 4) return 2;
  int rr = !strcmp(argv[1], "rr");
  long n = atol(argv[2]);
  int rounds = atoi(argv[3]);
  int l = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  if (bind(l, (struct sockaddr*)&a, sizeof a) || listen(l, 4)) die("listen");
  socklen_t al = sizeof a;
  getsockname(l, (struct sockaddr*)&a, &al);
  static char buf[65536];
  pid_t pid = fork();
  if (pid == 0) {
    int c = accept(l, NULL, NULL);
    if (c < 0) die("accept");
    int one = 1;
    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    for (int r = 0; r < rounds; r++) {
      if (rr) {
        for (long i = 0; i < n; i++) {
          if (read(c, buf, 1) != 1) die("srv read");
          if (write(c, buf, 1) != 1) die("srv write");
        }
      } else {
        long want = n << 20, got = 0;
        while (got < want) {
          ssize_t k = read(c, buf, sizeof buf);
          if (k <= 0) die("srv read");
          got += k;
        }
        if (write(c, "k", 1) != 1) die("srv ack");
      }
    }
    _exit(0);
  }
  close(l);
  int s = socket(AF_INET, SOCK_STREAM, 0);
  if (connect(s, (struct sockaddr*)&a, sizeof a)) die("connect");
  int one = 1;
  setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  for (int r = 0; r < rounds; r++) {
    double t0 = now();
    if (rr) {
      for (long i = 0; i < n; i++) {
        if (write(s, "x", 1) != 1) die("write");
        if (read(s, buf, 1) != 1) die("read");
      }
      printf("%.3f\n", (now() - t0) / n);
    } else {
      long want = n << 20, sent = 0;
      while (sent < want) {
        ssize_t k = write(s, buf, want - sent < (long)sizeof buf ? want - sent : (long)sizeof buf);
        if (k <= 0) die("write");
        sent += k;
      }
      if (read(s, buf, 1) != 1) die("ack");
      printf("%.3f\n", (now() - t0) / 1e3);
    }
  }
  int st;
  waitpid(pid, &st, 0);
  return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 1;
}
