// Pipes and epoll: PIPE_BUF atomic writes, EOF, EPIPE, non-blocking EAGAIN, epoll level/edge readiness.
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <unistd.h>
#define SHOW(label, expr) do { errno = 0; long _r = (long)(expr); printf("%s: %ld errno=%d\n", label, _r, errno); } while (0)

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  int p[2];
  pipe(p);
  pid_t c = fork();
  if (c == 0) {
    close(p[0]);
    char buf[512];
    for (int i = 0; i < 200; i++) {
      memset(buf, 'a' + (i % 26), sizeof buf);
      write(p[1], buf, sizeof buf);
    }
    _exit(0);
  }
  close(p[1]);
  char buf[512];
  long total = 0;
  int torn = 0;
  ssize_t n;
  while ((n = read(p[0], buf, sizeof buf)) > 0) {
    total += n;
    for (int i = 1; i < n; i++) if (buf[i] != buf[0]) torn = 1;
  }
  waitpid(c, NULL, 0);
  printf("total=%ld torn=%d eof=%zd\n", total, torn, n);
  close(p[0]);

  pipe(p);
  close(p[0]);
  signal(SIGPIPE, SIG_IGN);
  SHOW("epipe", write(p[1], "x", 1));
  close(p[1]);

  pipe2(p, O_NONBLOCK);
  SHOW("eagain", read(p[0], buf, 1));
  int ep = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event ev = {.events = EPOLLIN, .data.fd = p[0]};
  epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev);
  struct epoll_event out[4];
  printf("epoll empty: %d\n", epoll_wait(ep, out, 4, 10));
  write(p[1], "hi", 2);
  int r = epoll_wait(ep, out, 4, 100);
  printf("epoll ready: %d in=%d fd_ok=%d\n", r, !!(out[0].events & EPOLLIN), out[0].data.fd == p[0]);
  printf("level again: %d\n", epoll_wait(ep, out, 4, 0));
  ev.events = EPOLLIN | EPOLLET;
  epoll_ctl(ep, EPOLL_CTL_MOD, p[0], &ev);
  printf("edge first: %d\n", epoll_wait(ep, out, 4, 0));
  printf("edge second: %d\n", epoll_wait(ep, out, 4, 0));
  close(p[1]);
  ev.events = EPOLLIN;
  epoll_ctl(ep, EPOLL_CTL_MOD, p[0], &ev);
  r = epoll_wait(ep, out, 4, 0);
  printf("hup: %d hup=%d\n", r, !!(out[0].events & EPOLLHUP));
  SHOW("ctl bad", epoll_ctl(ep, EPOLL_CTL_ADD, 12345, &ev));
  return 0;
}
