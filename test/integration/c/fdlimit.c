// RLIMIT_NOFILE governs the descriptor table: lowering it makes the next open fail with
// EMFILE (and dup2/fcntl beyond it EBADF/EINVAL), raising it lets a process hold more
// descriptors at once (CPython's test_selectors opens thousands of socketpairs this way).
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

int main(void) {
  struct rlimit r;
  getrlimit(RLIMIT_NOFILE, &r);
  struct rlimit lo = {64, r.rlim_max};
  printf("lower to 64: %d\n", setrlimit(RLIMIT_NOFILE, &lo));
  int top = -1, fd;
  errno = 0;
  while ((fd = open("/dev/null", O_RDONLY)) >= 0) top = fd;
  printf("opened until %s (highest fd %d)\n", strerror(errno), top);
  errno = 0;
  int d = dup2(0, 64);
  printf("dup2 to 64: %d %s\n", d, strerror(errno));
  errno = 0;
  d = fcntl(0, F_DUPFD, 64);
  printf("F_DUPFD from 64: %d %s\n", d, strerror(errno));
  for (int i = 3; i < 64; i++) close(i);
  struct rlimit hi = {r.rlim_max < 4096 ? r.rlim_max : 4096, r.rlim_max};
  printf("raise to %lu: %d\n", (unsigned long)hi.rlim_cur, setrlimit(RLIMIT_NOFILE, &hi));
  int pairs = 0, sv[2];
  while (pairs < 1500 && socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0) pairs++;
  printf("socketpairs held at once: %d\n", pairs);
  return 0;
}
