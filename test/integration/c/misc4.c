// inotify, splice/tee/vmsplice/copy_file_range/sendfile, pidfds, process_vm_readv/writev
// and membarrier, compared with Linux. argv[1]: a directory to create and work in.
#define _GNU_SOURCE
#include <sched.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/sendfile.h>
#include <sys/ioctl.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#define T(expr) do { errno = 0; long _r = (long)(expr); printf("%-64s = %ld errno=%d\n", #expr, _r, _r < 0 ? errno : 0); } while (0)

static const char *maskname(unsigned m, char *buf) {
  static const struct { unsigned bit; const char *name; } names[] = {
    {IN_ACCESS, "ACCESS"}, {IN_MODIFY, "MODIFY"}, {IN_ATTRIB, "ATTRIB"},
    {IN_CLOSE_WRITE, "CLOSE_WRITE"}, {IN_CLOSE_NOWRITE, "CLOSE_NOWRITE"}, {IN_OPEN, "OPEN"},
    {IN_MOVED_FROM, "MOVED_FROM"}, {IN_MOVED_TO, "MOVED_TO"}, {IN_CREATE, "CREATE"},
    {IN_DELETE, "DELETE"}, {IN_DELETE_SELF, "DELETE_SELF"}, {IN_MOVE_SELF, "MOVE_SELF"},
    {IN_Q_OVERFLOW, "Q_OVERFLOW"}, {IN_IGNORED, "IGNORED"}, {IN_ISDIR, "ISDIR"},
  };
  buf[0] = 0;
  for (unsigned i = 0; i < sizeof names / sizeof names[0]; i++)
    if (m & names[i].bit) {
      if (buf[0]) strcat(buf, "|");
      strcat(buf, names[i].name);
      m &= ~names[i].bit;
    }
  if (m) sprintf(buf + strlen(buf), "|0x%x", m);
  return buf;
}

static unsigned cookies[64];
static int ncookies;

/** Cookies are printed as letters in order of first appearance (their values differ per kernel). */
static char cookiename(unsigned c) {
  if (!c) return '-';
  for (int i = 0; i < ncookies; i++)
    if (cookies[i] == c) return 'A' + i;
  cookies[ncookies] = c;
  return 'A' + ncookies++;
}

static void drain(int in) {
  char buf[4096] __attribute__((aligned(8)));
  char m[256];
  int avail = -1;
  ioctl(in, FIONREAD, &avail);
  printf("  FIONREAD=%d\n", avail);
  for (;;) {
    ssize_t n = read(in, buf, sizeof buf);
    if (n < 0) {
      printf("  read: errno=%d\n", errno);
      return;
    }
    for (char *p = buf; p < buf + n;) {
      struct inotify_event *e = (struct inotify_event *)p;
      printf("  wd=%d %s cookie=%c len=%u name=%s\n", e->wd, maskname(e->mask, m), cookiename(e->cookie), e->len,
             e->len ? e->name : "");
      p += sizeof *e + e->len;
    }
  }
}

static void inotify_tests(const char *d) {
  printf("== inotify\n");
  mkdir(d, 0755);
  if (chdir(d) != 0) exit(3);
  int in = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  printf("init1 ok=%d nonblock=%d cloexec=%d\n", in >= 0, (fcntl(in, F_GETFL) & O_NONBLOCK) != 0,
         fcntl(in, F_GETFD));
  T(inotify_init1(IN_NONBLOCK | 1));
  int wd = inotify_add_watch(in, ".", IN_ALL_EVENTS);
  printf("wd(dir)=%d\n", wd);
  char b[64];
  T(read(in, b, sizeof b));
  int fd = open("a", O_CREAT | O_WRONLY, 0644);
  write(fd, "hello", 5);
  write(fd, "world", 5);
  close(fd);
  printf("create/write/close:\n");
  drain(in);

  int wda = inotify_add_watch(in, "a", IN_ALL_EVENTS);
  printf("wd(a)=%d same=%d\n", wda, inotify_add_watch(in, "a", IN_ALL_EVENTS) == wda);
  T(inotify_add_watch(in, "a", IN_MODIFY | IN_MASK_CREATE));
  T(inotify_add_watch(in, "a", IN_MODIFY | IN_MASK_CREATE | IN_MASK_ADD));
  T(inotify_add_watch(in, "a", IN_MODIFY | IN_ONLYDIR));
  T(inotify_add_watch(in, "missing", IN_MODIFY));
  T(inotify_add_watch(in, "a", 0));
  T(inotify_add_watch(1, "a", IN_MODIFY));
  T(inotify_add_watch(-1, "a", IN_MODIFY));
  fd = open("a", O_RDONLY);
  read(fd, b, 3);
  close(fd);
  chmod("a", 0600);
  printf("open/read/close/chmod with a watched file:\n");
  drain(in);

  // A too-small buffer for the first event is EINVAL; poll readiness.
  mkdir("sub", 0755);
  struct pollfd pfd = {in, POLLIN, 0};
  int pr = poll(&pfd, 1, 0);
  printf("poll=%d revents=%d\n", pr, pfd.revents);
  T(read(in, b, 16));
  drain(in);
  printf("poll after drain=%d\n", poll(&pfd, 1, 0));

  rename("a", "sub/b");
  rename("sub/b", "c");
  symlink("c", "l");
  link("c", "h");
  unlink("h");
  printf("rename/symlink/link/unlink:\n");
  drain(in);
  unlink("c");
  unlink("l");
  rmdir("sub");
  printf("unlink/rmdir:\n");
  drain(in);

  // Renames within the watched directory pair up with one cookie.
  close(open("x", O_CREAT | O_WRONLY, 0644));
  drain(in);
  rename("x", "y");
  truncate("y", 3);
  int wdy = inotify_add_watch(in, "y", IN_DELETE_SELF | IN_EXCL_UNLINK);
  fd = open("y", O_RDWR);
  unlink("y");
  write(fd, "z", 1);
  printf("rename/truncate/unlink while open (wd(y)=%d):\n", wdy);
  drain(in);
  close(fd);
  printf("after close:\n");
  drain(in);

  // Oneshot, rm_watch.
  close(open("o", O_CREAT | O_WRONLY, 0644));
  int wdo = inotify_add_watch(in, "o", IN_OPEN | IN_ONESHOT);
  drain(in);
  close(open("o", O_RDONLY));
  close(open("o", O_RDONLY));
  printf("oneshot (wd(o)=%d):\n", wdo);
  drain(in);
  T(inotify_rm_watch(in, wdo));
  T(inotify_rm_watch(in, wd));
  T(inotify_rm_watch(in, wd));
  unlink("o");
  printf("after rm_watch:\n");
  drain(in);

  // Blocking read woken by another process.
  int in2 = inotify_init();
  inotify_add_watch(in2, ".", IN_CREATE);
  pid_t p = fork();
  if (p == 0) {
    usleep(50000);
    close(open("late", O_CREAT | O_WRONLY, 0644));
    _exit(0);
  }
  char buf[256] __attribute__((aligned(8)));
  ssize_t n = read(in2, buf, sizeof buf);
  struct inotify_event *e = (struct inotify_event *)buf;
  printf("blocking read=%zd mask=%x name=%s\n", n, e->mask, e->name);
  waitpid(p, NULL, 0);
  unlink("late");
  close(in2);
  close(in);
  if (chdir("/") != 0) exit(4);
  rmdir(d);
}

static void show(const char *what, int fd) {
  char buf[128];
  ssize_t n = read(fd, buf, sizeof buf - 1);
  buf[n > 0 ? n : 0] = 0;
  printf("%s: n=%zd \"%s\"\n", what, n, buf);
}

static void splice_tests(const char *d) {
  printf("== splice\n");
  char path[512], path2[512];
  snprintf(path, sizeof path, "%s.src", d);
  snprintf(path2, sizeof path2, "%s.dst", d);
  int src = open(path, O_CREAT | O_RDWR | O_TRUNC, 0644);
  int dst = open(path2, O_CREAT | O_RDWR | O_TRUNC, 0644);
  write(src, "splice-data-0123456789", 22);
  int p[2], q[2];
  pipe(p);
  pipe(q);
  loff_t off = 2, off2 = 0;
  T(splice(src, &off, p[1], NULL, 10, 0));
  printf("off=%lld pos=%ld\n", (long long)off, (long)lseek(src, 0, SEEK_CUR));
  T(tee(p[0], q[1], 100, 0));
  show("tee copy", q[0]);
  T(splice(p[0], NULL, dst, &off2, 100, 0));
  printf("off2=%lld dstpos=%ld\n", (long long)off2, (long)lseek(dst, 0, SEEK_CUR));
  lseek(src, 0, SEEK_SET);
  T(splice(src, NULL, p[1], NULL, 6, SPLICE_F_MORE));
  printf("src pos=%ld\n", (long)lseek(src, 0, SEEK_CUR));
  T(splice(p[0], NULL, q[1], NULL, 4, SPLICE_F_MOVE));
  show("pipe to pipe", q[0]);
  show("rest", p[0]);
  T(splice(p[0], NULL, q[1], NULL, 4, SPLICE_F_NONBLOCK));
  T(splice(src, NULL, dst, NULL, 4, 0));
  T(splice(p[0], &off, dst, NULL, 4, 0));
  T(splice(src, NULL, p[1], &off, 4, 0));
  T(splice(p[0], NULL, p[1], NULL, 4, 0));
  T(splice(p[1], NULL, q[1], NULL, 4, 0));
  T(splice(99, NULL, q[1], NULL, 4, 0));
  T(splice(src, NULL, q[1], NULL, 0, 0));
  T(splice(src, NULL, q[1], NULL, 4, 0x100));
  T(tee(src, q[1], 4, 0));
  T(tee(p[0], p[1], 4, 0));
  T(tee(p[0], q[1], 4, SPLICE_F_NONBLOCK));
  struct iovec iov[2] = {{"vm", 2}, {"splice", 6}};
  T(vmsplice(p[1], iov, 2, 0));
  show("vmsplice", p[0]);
  T(vmsplice(src, iov, 2, 0));
  // A blocking splice from an empty pipe is woken by a writer in another process.
  pid_t c = fork();
  if (c == 0) {
    usleep(50000);
    write(p[1], "late", 4);
    _exit(0);
  }
  T(splice(p[0], NULL, q[1], NULL, 100, 0));
  waitpid(c, NULL, 0);
  show("woken", q[0]);
  close(p[1]);
  T(splice(p[0], NULL, q[1], NULL, 100, 0));

  printf("== copy_file_range\n");
  loff_t oi = 7, oo = 0;
  ftruncate(dst, 0);
  T(copy_file_range(src, &oi, dst, &oo, 100, 0));
  printf("oi=%lld oo=%lld srcpos=%ld\n", (long long)oi, (long long)oo, (long)lseek(src, 0, SEEK_CUR));
  lseek(src, 0, SEEK_SET);
  lseek(dst, 0, SEEK_END);
  T(copy_file_range(src, NULL, dst, NULL, 6, 0));
  printf("srcpos=%ld dstpos=%ld\n", (long)lseek(src, 0, SEEK_CUR), (long)lseek(dst, 0, SEEK_CUR));
  lseek(dst, 0, SEEK_SET);
  show("dst", dst);
  T(copy_file_range(src, NULL, dst, NULL, 6, 1));
  oi = 0, oo = 4;
  T(copy_file_range(src, &oi, src, &oo, 10, 0));
  oo = 100;
  T(copy_file_range(src, &oi, src, &oo, 10, 0));
  oi = 1000;
  T(copy_file_range(src, &oi, dst, NULL, 10, 0));
  // cp passes SSIZE_MAX: copies to EOF; only a loff_t overflow is EOVERFLOW.
  oi = 0;
  T(copy_file_range(src, &oi, dst, NULL, 0x7fffffffffffffffLL, 0));
  oi = 0x7ffffffffffffff0LL;
  T(copy_file_range(src, &oi, dst, NULL, 100, 0));
  T(copy_file_range(q[0], NULL, dst, NULL, 10, 0));
  int dirfd = open("/", O_RDONLY | O_DIRECTORY);
  T(copy_file_range(dirfd, NULL, dst, NULL, 10, 0));
  int ro = open(path2, O_RDONLY);
  T(copy_file_range(src, NULL, ro, NULL, 10, 0));
  int ap = open(path2, O_WRONLY | O_APPEND);
  T(copy_file_range(src, NULL, ap, NULL, 10, 0));

  printf("== sendfile\n");
  off = 3;
  ftruncate(dst, 0);
  lseek(dst, 0, SEEK_SET);
  T(sendfile(dst, src, &off, 5));
  printf("off=%lld\n", (long long)off);
  lseek(dst, 0, SEEK_SET);
  show("sendfile", dst);
  pipe(p);
  T(sendfile(p[1], src, NULL, 4));
  show("sendfile to pipe", p[0]);
  T(sendfile(ap, src, NULL, 4));
  close(src), close(dst), close(ro), close(ap), close(dirfd);
  close(p[0]), close(p[1]), close(q[0]), close(q[1]);
  unlink(path);
  unlink(path2);
}

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

static char secret[64] = "parent-value";

static void pidfd_tests(void) {
  printf("== pidfd\n");
  int sync[2];
  pipe(sync);
  pid_t c = fork();
  if (c == 0) {
    strcpy(secret, "child-secret");
    write(sync[1], "x", 1);
    pause();
    _exit(0);
  }
  char x;
  read(sync[0], &x, 1);
  int pfd = syscall(SYS_pidfd_open, c, 0);
  printf("pidfd ok=%d cloexec=%d\n", pfd >= 0, fcntl(pfd, F_GETFD));
  T(syscall(SYS_pidfd_open, c, 1));
  T(syscall(SYS_pidfd_open, 0, 0));
  T(syscall(SYS_pidfd_open, 999999, 0));
  struct pollfd pp = {pfd, POLLIN, 0};
  int pr = poll(&pp, 1, 0);
  printf("poll before exit=%d\n", pr);

  printf("== process_vm\n");
  char buf[64] = {0};
  struct iovec lv = {buf, 12}, rv = {secret, 12};
  T(syscall(SYS_process_vm_readv, c, &lv, 1, &rv, 1, 0));
  printf("read from child: %s\n", buf);
  struct iovec wv = {"written!", 9};
  T(syscall(SYS_process_vm_writev, c, &wv, 1, &rv, 1, 0));
  memset(buf, 0, sizeof buf);
  T(syscall(SYS_process_vm_readv, c, &lv, 1, &rv, 1, 0));
  printf("after write: %s\n", buf);
  struct iovec bad = {(void *)8, 4};
  T(syscall(SYS_process_vm_readv, c, &lv, 1, &bad, 1, 0));
  T(syscall(SYS_process_vm_readv, c, &lv, 1, &rv, 1, 1));
  T(syscall(SYS_process_vm_readv, 999999, &lv, 1, &rv, 1, 0));
  struct iovec two[2] = {{secret, 4}, {(void *)8, 4}};
  T(syscall(SYS_process_vm_readv, c, &lv, 1, two, 2, 0));

  printf("== pidfd signal and wait\n");
  T(syscall(SYS_pidfd_send_signal, pfd, 0, NULL, 0));
  T(syscall(SYS_pidfd_send_signal, pfd, 0, NULL, 1));
  T(syscall(SYS_pidfd_send_signal, pfd, 0, NULL, 3));
  {
    // A /proc/<pid> directory fd names the process too (legacy pidfd).
    char procdir[32];
    snprintf(procdir, sizeof procdir, "/proc/%d", (int)getpid());
    int pd = open(procdir, O_RDONLY | O_DIRECTORY);
    T(syscall(SYS_pidfd_send_signal, pd, 0, NULL, 0));
    close(pd);
  }
  T(syscall(SYS_pidfd_send_signal, pfd, 0, NULL, 8));
  T(syscall(SYS_pidfd_send_signal, 1, SIGTERM, NULL, 0));
  T(syscall(SYS_pidfd_send_signal, pfd, SIGTERM, NULL, 0));
  pr = poll(&pp, 1, 5000);
  printf("poll after kill=%d revents=%d\n", pr, pp.revents & POLLIN);
  siginfo_t si;
  memset(&si, 0, sizeof si);
  T(waitid(P_PIDFD, pfd, &si, WEXITED | WNOWAIT));
  printf("signo=%d code=%d status=%d pid_ok=%d\n", si.si_signo, si.si_code, si.si_status, si.si_pid == c);
  T(syscall(SYS_pidfd_send_signal, pfd, 0, NULL, 0));
  T(waitid(P_PIDFD, pfd, &si, WEXITED));
  T(waitid(P_PIDFD, pfd, &si, WEXITED));
  T(syscall(SYS_pidfd_send_signal, pfd, SIGTERM, NULL, 0));
  T(waitid(P_PIDFD, 1, &si, WEXITED));
  close(pfd);

  // A non-blocking pidfd: waitid gives EAGAIN while the child runs; pidfd_getfd.
  c = fork();
  if (c == 0) {
    read(sync[0], &x, 1);
    _exit(7);
  }
  pfd = syscall(SYS_pidfd_open, c, PIDFD_NONBLOCK);
  T(waitid(P_PIDFD, pfd, &si, WEXITED));
  int self = syscall(SYS_pidfd_open, getpid(), 0);
  int dupd = syscall(SYS_pidfd_getfd, self, sync[1], 0);
  printf("getfd ok=%d cloexec=%d\n", dupd > sync[1], fcntl(dupd, F_GETFD));
  T(syscall(SYS_pidfd_getfd, self, 999, 0));
  T(syscall(SYS_pidfd_getfd, self, sync[1], 1));
  write(dupd, "y", 1);
  pr = poll(&pp, 1, 0);
  pp.fd = pfd;
  pr = poll(&pp, 1, 5000);
  printf("nonblock child poll=%d\n", pr);
  memset(&si, 0, sizeof si);
  T(waitid(P_PIDFD, pfd, &si, WEXITED));
  printf("code=%d status=%d\n", si.si_code, si.si_status);
  close(pfd), close(self), close(dupd), close(sync[0]), close(sync[1]);

  // clone(CLONE_PIDFD): the pidfd comes back in parent_tid.
  int cpfd = -1;
  long r = syscall(SYS_clone, CLONE_PIDFD | SIGCHLD, NULL, &cpfd, NULL, NULL);
  if (r == 0) _exit(3);
  printf("clone pidfd ok=%d cloexec=%d\n", cpfd >= 0, fcntl(cpfd, F_GETFD));
  memset(&si, 0, sizeof si);
  T(waitid(P_PIDFD, cpfd, &si, WEXITED));
  printf("code=%d status=%d\n", si.si_code, si.si_status);
  close(cpfd);
  T(syscall(SYS_clone, CLONE_PIDFD | CLONE_PARENT_SETTID | SIGCHLD, NULL, &cpfd, NULL, NULL));

  printf("== membarrier\n");
  long q = syscall(SYS_membarrier, 0, 0, 0);
  printf("query has private_expedited=%d\n", q > 0 && (q & 8) && (q & 16));
  T(syscall(SYS_membarrier, 8, 0, 0));
  T(syscall(SYS_membarrier, 512, 0, 0));
  T(syscall(SYS_membarrier, 16, 0, 0));
  T(syscall(SYS_membarrier, 8, 0, 0));
  T(syscall(SYS_membarrier, 512, 0, 0));
  T(syscall(SYS_membarrier, 0, 1, 0));
  T(syscall(SYS_membarrier, 3, 0, 0));
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  const char *d = argc > 1 ? argv[1] : "/tmp/misc4";
  inotify_tests(d);
  splice_tests(d);
  pidfd_tests();
  return 0;
}
