// Anonymous-inode files: epoll (level, edge, oneshot, nesting, errors), eventfd (counter and
// semaphore modes, overflow), timerfd (one-shot, periodic, absolute), signalfd. Only stable
// facts are printed (timer counts as lower bounds), so native and sandboxed output match.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SHOW(label, expr)                                         \
  do {                                                            \
    errno = 0;                                                    \
    long _r = (long)(expr);                                       \
    printf("%s: %ld errno=%d\n", label, _r, _r < 0 ? errno : 0); \
  } while (0)

/* Wait once and print the events and data of what came back. */
static void ep_show(const char *label, int ep, int timeout) {
  struct epoll_event out[8];
  int n = epoll_wait(ep, out, 8, timeout);
  printf("%s: n=%d", label, n);
  if (n < 0) printf(" errno=%d", errno);
  for (int i = 0; i < n; i++) printf(" [0x%x %llu]", out[i].events, (unsigned long long)out[i].data.u64);
  printf("\n");
}

static int ep_add(int ep, int fd, uint32_t events, uint64_t data) {
  struct epoll_event ev = {.events = events, .data.u64 = data};
  return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}
static int ep_mod(int ep, int fd, uint32_t events, uint64_t data) {
  struct epoll_event ev = {.events = events, .data.u64 = data};
  return epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
}

static void drain(int fd) {
  char buf[256];
  while (read(fd, buf, sizeof buf) > 0) {
  }
}

static void link_of(const char *label, int fd) {
  char path[64], buf[128];
  snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
  ssize_t n = readlink(path, buf, sizeof buf - 1);
  buf[n < 0 ? 0 : n] = 0;
  printf("%s link: %s\n", label, buf);
}

static void msleep(int ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
  }
}

static void test_epoll_pipe(void) {
  printf("-- epoll on a pipe\n");
  int p[2];
  pipe2(p, O_NONBLOCK);
  int ep = epoll_create1(0);
  SHOW("add", ep_add(ep, p[0], EPOLLIN, 7));
  ep_show("empty", ep, 0);
  write(p[1], "ab", 2);
  ep_show("level 1", ep, 0);
  ep_show("level 2", ep, 0);
  drain(p[0]);
  ep_show("drained", ep, 0);

  SHOW("mod et", ep_mod(ep, p[0], EPOLLIN | EPOLLET, 8));
  ep_show("et none", ep, 0);
  write(p[1], "a", 1);
  ep_show("et 1", ep, 0);
  ep_show("et again", ep, 0);
  write(p[1], "b", 1);
  ep_show("et new data", ep, 0);
  ep_show("et again", ep, 0);
  SHOW("mod et rearm", ep_mod(ep, p[0], EPOLLIN | EPOLLET, 9));
  ep_show("et after mod", ep, 0);
  drain(p[0]);

  SHOW("mod oneshot", ep_mod(ep, p[0], EPOLLIN | EPOLLONESHOT, 10));
  write(p[1], "c", 1);
  ep_show("oneshot 1", ep, 0);
  ep_show("oneshot spent", ep, 0);
  write(p[1], "d", 1);
  ep_show("oneshot spent new data", ep, 0);
  SHOW("mod rearm", ep_mod(ep, p[0], EPOLLIN | EPOLLONESHOT, 11));
  ep_show("oneshot rearmed", ep, 0);
  drain(p[0]);

  SHOW("add write end", ep_add(ep, p[1], EPOLLOUT | EPOLLET, 12));
  ep_show("out et", ep, 0);
  ep_show("out et again", ep, 0);
  SHOW("del write end", epoll_ctl(ep, EPOLL_CTL_DEL, p[1], NULL));

  SHOW("mod rdhup", ep_mod(ep, p[0], EPOLLIN | EPOLLRDHUP, 13));
  write(p[1], "e", 1);
  close(p[1]);
  ep_show("in+hup", ep, 0);
  drain(p[0]);
  ep_show("hup", ep, 0);
  close(p[0]);
  ep_show("closed file gone", ep, 0);
  close(ep);
}

static void test_epoll_eventfd(void) {
  printf("-- epoll on an eventfd\n");
  int e = eventfd(0, EFD_NONBLOCK);
  int ep = epoll_create(1);
  SHOW("add", ep_add(ep, e, EPOLLIN, 1));
  ep_show("zero", ep, 0);
  uint64_t v = 3;
  SHOW("write 3", write(e, &v, 8));
  ep_show("level", ep, 0);
  ep_show("level again", ep, 0);
  SHOW("read", read(e, &v, 8));
  printf("value=%llu\n", (unsigned long long)v);
  ep_show("after read", ep, 0);
  SHOW("mod et", ep_mod(ep, e, EPOLLIN | EPOLLOUT | EPOLLET, 2));
  ep_show("et out", ep, 0);
  ep_show("et none", ep, 0);
  v = 1;
  write(e, &v, 8);
  ep_show("et in+out", ep, 0);
  ep_show("et none", ep, 0);
  v = 0;
  write(e, &v, 8);
  ep_show("et write 0", ep, 0);

  // Items are keyed by (file, fd): a dup keeps the file (and the item) alive.
  SHOW("mod level", ep_mod(ep, e, EPOLLIN, 4));
  int d = dup(e);
  close(e);
  ep_show("dup keeps item", ep, 0);
  SHOW("del closed fd", epoll_ctl(ep, EPOLL_CTL_DEL, e, NULL));
  SHOW("del by dup", epoll_ctl(ep, EPOLL_CTL_DEL, d, NULL));
  SHOW("add dup", ep_add(ep, d, EPOLLIN, 3));
  ep_show("dup item", ep, 0);
  close(d);
  ep_show("released", ep, 0);
  close(ep);
}

static int thread_efd;
static void *writer_thread(void *arg) {
  (void)arg;
  msleep(30);
  uint64_t v = 5;
  write(thread_efd, &v, 8);
  return NULL;
}

static void test_eventfd(void) {
  printf("-- eventfd\n");
  int s = eventfd(3, EFD_SEMAPHORE | EFD_NONBLOCK | EFD_CLOEXEC);
  printf("getfl=0%o cloexec=%d\n", fcntl(s, F_GETFL), fcntl(s, F_GETFD));
  uint64_t v = 0;
  for (int i = 0; i < 4; i++) {
    v = 0;
    errno = 0;
    long r = read(s, &v, 8);
    printf("sem read %d: %ld errno=%d v=%llu\n", i, r, r < 0 ? errno : 0, (unsigned long long)v);
  }
  close(s);

  int e = eventfd(0, EFD_NONBLOCK);
  char small[4];
  SHOW("short read", read(e, small, 4));
  SHOW("short write", write(e, small, 4));
  v = UINT64_MAX;
  SHOW("write max", write(e, &v, 8));
  v = UINT64_MAX - 1;
  SHOW("write max-1", write(e, &v, 8));
  struct pollfd pf = {.fd = e, .events = POLLIN | POLLOUT};
  poll(&pf, 1, 0);
  printf("poll full: 0x%x\n", pf.revents);
  v = 1;
  SHOW("overflow", write(e, &v, 8));
  char big[16] = {0};
  SHOW("read 16", read(e, big, 16));
  memcpy(&v, big, 8);
  printf("value=%llx\n", (unsigned long long)v);
  SHOW("empty", read(e, &v, 8));
  SHOW("pread", pread(e, &v, 8, 0));
  SHOW("lseek", lseek(e, 0, SEEK_CUR));
  link_of("eventfd", e);
  close(e);

  // Blocking read woken by another process.
  e = eventfd(0, 0);
  pid_t c = fork();
  if (c == 0) {
    msleep(30);
    uint64_t w = 42;
    write(e, &w, 8);
    _exit(0);
  }
  v = 0;
  SHOW("blocking read", read(e, &v, 8));
  printf("value=%llu\n", (unsigned long long)v);
  waitpid(c, NULL, 0);

  // Blocking write (overflow) woken by a reader.
  v = UINT64_MAX - 1;
  write(e, &v, 8);
  c = fork();
  if (c == 0) {
    msleep(30);
    uint64_t r;
    read(e, &r, 8);
    _exit(r == UINT64_MAX - 1 ? 0 : 1);
  }
  v = 9;
  SHOW("blocking write", write(e, &v, 8));
  int st;
  waitpid(c, &st, 0);
  printf("child status=%d\n", WEXITSTATUS(st));
  SHOW("read after", read(e, &v, 8));
  printf("value=%llu\n", (unsigned long long)v);

  // epoll_wait woken by a thread's write.
  thread_efd = e;
  int ep = epoll_create1(EPOLL_CLOEXEC);
  ep_add(ep, e, EPOLLIN, 77);
  pthread_t th;
  pthread_create(&th, NULL, writer_thread, NULL);
  ep_show("thread wake", ep, 5000);
  pthread_join(th, NULL);
  close(ep);
  close(e);
  SHOW("bad flags", eventfd(0, 0x100));
}

static void test_timerfd(void) {
  printf("-- timerfd\n");
  SHOW("bad clock", timerfd_create(CLOCK_PROCESS_CPUTIME_ID, 0));
  SHOW("bad flags", timerfd_create(CLOCK_MONOTONIC, 0x10));
  int b = timerfd_create(CLOCK_BOOTTIME, TFD_CLOEXEC);
  printf("boottime ok=%d cloexec=%d\n", b >= 0, fcntl(b, F_GETFD));
  close(b);

  int t = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
  printf("getfl=0%o\n", fcntl(t, F_GETFL));
  link_of("timerfd", t);
  uint64_t n = 0;
  SHOW("unarmed read", read(t, &n, 8));
  struct itimerspec cur;
  timerfd_gettime(t, &cur);
  printf("unarmed: %ld %ld %ld %ld\n", (long)cur.it_value.tv_sec, cur.it_value.tv_nsec,
         (long)cur.it_interval.tv_sec, cur.it_interval.tv_nsec);

  struct itimerspec its = {{0, 10000000}, {0, 10000000}};
  SHOW("settime periodic", timerfd_settime(t, 0, &its, NULL));
  msleep(55);
  SHOW("read", read(t, &n, 8));
  printf("periodic count>=4: %d\n", n >= 4);
  timerfd_gettime(t, &cur);
  printf("gettime interval=%ld value_ok=%d\n", cur.it_interval.tv_nsec,
         cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec > 0 && cur.it_value.tv_nsec <= 10000000);
  char small[4];
  SHOW("short read", read(t, small, 4));

  struct itimerspec old;
  struct itimerspec one = {{0, 0}, {5, 0}};
  SHOW("settime oneshot", timerfd_settime(t, 0, &one, &old));
  printf("old interval=%ld\n", old.it_interval.tv_nsec);
  drain(t);
  SHOW("not yet", read(t, &n, 8));
  struct itimerspec zero = {{0, 0}, {0, 0}};
  SHOW("disarm", timerfd_settime(t, 0, &zero, &old));
  printf("old value_ok=%d\n", old.it_value.tv_sec >= 4 && old.it_value.tv_sec <= 5);
  timerfd_gettime(t, &cur);
  printf("disarmed: %ld %ld\n", (long)cur.it_value.tv_sec, cur.it_value.tv_nsec);

  // One-shot through epoll.
  int ep = epoll_create1(0);
  ep_add(ep, t, EPOLLIN, 5);
  struct itimerspec soon = {{0, 0}, {0, 20000000}};
  timerfd_settime(t, 0, &soon, NULL);
  ep_show("epoll timer", ep, 5000);
  SHOW("read", read(t, &n, 8));
  printf("count=%llu\n", (unsigned long long)n);
  SHOW("again", read(t, &n, 8));
  timerfd_gettime(t, &cur);
  printf("expired: %ld %ld\n", (long)cur.it_value.tv_sec, cur.it_value.tv_nsec);
  close(ep);
  close(t);

  // Absolute time on CLOCK_REALTIME, blocking read.
  t = timerfd_create(CLOCK_REALTIME, 0);
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  struct itimerspec abs = {{0, 0}, {now.tv_sec, now.tv_nsec}};
  abs.it_value.tv_nsec += 20000000;
  if (abs.it_value.tv_nsec >= 1000000000) {
    abs.it_value.tv_sec++;
    abs.it_value.tv_nsec -= 1000000000;
  }
  SHOW("settime abs", timerfd_settime(t, TFD_TIMER_ABSTIME, &abs, NULL));
  SHOW("blocking read", read(t, &n, 8));
  printf("count=%llu\n", (unsigned long long)n);
  // An absolute time in the past expires at once.
  abs.it_value.tv_sec -= 10;
  timerfd_settime(t, TFD_TIMER_ABSTIME, &abs, NULL);
  SHOW("past", read(t, &n, 8));
  printf("count=%llu\n", (unsigned long long)n);

  struct itimerspec bad = {{0, 0}, {0, 1000000000}};
  SHOW("bad nsec", timerfd_settime(t, 0, &bad, NULL));
  SHOW("bad settime flags", timerfd_settime(t, 4, &soon, NULL));
  int e = eventfd(0, 0);
  SHOW("settime eventfd", timerfd_settime(e, 0, &soon, NULL));
  SHOW("gettime eventfd", timerfd_gettime(e, &cur));
  SHOW("settime badfd", timerfd_settime(999, 0, &soon, NULL));
  close(e);
  close(t);
}

static volatile sig_atomic_t handled;
static void on_sig(int s) { handled = s; }

static void test_signalfd(void) {
  printf("-- signalfd\n");
  sigset_t m;
  sigemptyset(&m);
  sigaddset(&m, SIGUSR1);
  sigaddset(&m, SIGUSR2);
  sigprocmask(SIG_BLOCK, &m, NULL);

  sigset_t only1;
  sigemptyset(&only1);
  sigaddset(&only1, SIGUSR1);
  int s = signalfd(-1, &only1, SFD_NONBLOCK | SFD_CLOEXEC);
  printf("getfl=0%o cloexec=%d\n", fcntl(s, F_GETFL), fcntl(s, F_GETFD));
  link_of("signalfd", s);
  struct signalfd_siginfo si;
  SHOW("empty", read(s, &si, sizeof si));
  char small[64];
  SHOW("short", read(s, small, sizeof small));

  struct pollfd pf = {.fd = s, .events = POLLIN};
  printf("poll before: %d\n", poll(&pf, 1, 0));
  kill(getpid(), SIGUSR1);
  int pr = poll(&pf, 1, 0);
  printf("poll after: %d revents=0x%x\n", pr, pf.revents);
  memset(&si, 0, sizeof si);
  SHOW("read", read(s, &si, sizeof si));
  printf("signo=%u code=%d pid_ok=%d uid_ok=%d\n", si.ssi_signo, si.ssi_code, si.ssi_pid == (uint32_t)getpid(),
         si.ssi_uid == getuid());
  sigset_t pend;
  sigpending(&pend);
  printf("still pending=%d\n", sigismember(&pend, SIGUSR1));

  raise(SIGUSR1);
  memset(&si, 0, sizeof si);
  SHOW("read tkill", read(s, &si, sizeof si));
  printf("signo=%u code=%d\n", si.ssi_signo, si.ssi_code);

  kill(getpid(), SIGUSR2);
  SHOW("usr2 not in mask", read(s, &si, sizeof si));
  sigpending(&pend);
  printf("usr2 pending=%d\n", sigismember(&pend, SIGUSR2));
  sigset_t only2;
  sigemptyset(&only2);
  sigaddset(&only2, SIGUSR2);
  SHOW("update mask", signalfd(s, &only2, 0) == s);
  kill(getpid(), SIGUSR1);
  struct signalfd_siginfo two[2];
  SHOW("read usr2", read(s, two, sizeof two));
  printf("signo=%u\n", two[0].ssi_signo);
  SHOW("usr1 left", read(s, &si, sizeof si));

  // Two signals in one read.
  signalfd(s, &m, 0);
  kill(getpid(), SIGUSR2);
  SHOW("read both", read(s, two, sizeof two));
  printf("signos=%u,%u\n", two[0].ssi_signo, two[1].ssi_signo);

  // epoll on a signalfd.
  int ep = epoll_create1(0);
  ep_add(ep, s, EPOLLIN, 99);
  ep_show("epoll idle", ep, 0);
  kill(getpid(), SIGUSR2);
  ep_show("epoll sig", ep, 0);
  read(s, &si, sizeof si);
  ep_show("epoll consumed", ep, 0);

  // Blocking read woken by another process's kill.
  int bs = signalfd(-1, &only1, 0);
  pid_t c = fork();
  if (c == 0) {
    msleep(30);
    kill(getppid(), SIGUSR1);
    _exit(0);
  }
  memset(&si, 0, sizeof si);
  SHOW("blocking read", read(bs, &si, sizeof si));
  printf("signo=%u from_child=%d\n", si.ssi_signo, si.ssi_pid == (uint32_t)c);
  waitpid(c, NULL, 0);

  // epoll_wait on the signalfd woken by another process.
  c = fork();
  if (c == 0) {
    msleep(30);
    kill(getppid(), SIGUSR2);
    _exit(0);
  }
  ep_show("epoll wake", ep, 5000);
  read(s, &si, sizeof si);
  printf("signo=%u\n", si.ssi_signo);
  waitpid(c, NULL, 0);
  close(ep);

  SHOW("bad size", syscall(SYS_signalfd4, -1, &m, 4, 0));
  SHOW("bad flags", syscall(SYS_signalfd4, -1, &m, 8, 1));
  int e = eventfd(0, 0);
  SHOW("not a signalfd", signalfd(e, &m, 0));
  SHOW("bad fd", signalfd(999, &m, 0));
  close(e);
  close(bs);
  close(s);
  sigprocmask(SIG_UNBLOCK, &m, NULL);
}

static void test_nested(void) {
  printf("-- nested epoll\n");
  int p[2];
  pipe2(p, O_NONBLOCK);
  int inner = epoll_create1(0);
  int outer = epoll_create1(0);
  link_of("epoll", inner);
  ep_add(inner, p[0], EPOLLIN, 1);
  SHOW("add inner to outer", ep_add(outer, inner, EPOLLIN, 2));
  ep_show("outer idle", outer, 0);
  struct pollfd pf = {.fd = inner, .events = POLLIN | POLLOUT};
  printf("poll inner idle: %d\n", poll(&pf, 1, 0));
  write(p[1], "x", 1);
  ep_show("outer ready", outer, 0);
  int pr = poll(&pf, 1, 0);
  printf("poll inner: %d revents=0x%x\n", pr, pf.revents);
  ep_show("inner ready", inner, 0);
  drain(p[0]);
  ep_show("outer drained", outer, 0);

  SHOW("mod outer et", ep_mod(outer, inner, EPOLLIN | EPOLLET, 3));
  write(p[1], "y", 1);
  ep_show("outer et", outer, 0);
  ep_show("outer et again", outer, 0);
  write(p[1], "z", 1);
  ep_show("outer et new", outer, 0);
  drain(p[0]);

  SHOW("cycle", ep_add(inner, outer, EPOLLIN, 4));
  SHOW("self", ep_add(inner, inner, EPOLLIN, 4));
  int third = epoll_create1(0);
  SHOW("add outer to third", ep_add(third, outer, EPOLLIN, 5));
  SHOW("cycle via third", ep_add(inner, third, EPOLLIN, 6));
  write(p[1], "w", 1);
  ep_show("third", third, 0);

  // Blocking epoll_wait on the outer woken by a child's write.
  drain(p[0]);
  ep_mod(outer, inner, EPOLLIN, 7);
  pid_t c = fork();
  if (c == 0) {
    msleep(30);
    write(p[1], "q", 1);
    _exit(0);
  }
  ep_show("outer wake", outer, 5000);
  waitpid(c, NULL, 0);
  close(third);
  close(outer);
  close(inner);
  close(p[0]);
  close(p[1]);
}

static void test_errors(void) {
  printf("-- errors\n");
  SHOW("create 0", epoll_create(0));
  SHOW("create1 flags", epoll_create1(1));
  int ep = epoll_create1(0);
  int p[2];
  pipe(p);
  SHOW("ctl bad epfd", ep_add(999, p[0], EPOLLIN, 0));
  SHOW("ctl bad fd", ep_add(ep, 999, EPOLLIN, 0));
  SHOW("ctl not epoll", ep_add(p[1], p[0], EPOLLIN, 0));
  SHOW("add", ep_add(ep, p[0], EPOLLIN, 0));
  SHOW("add again", ep_add(ep, p[0], EPOLLIN, 0));
  SHOW("mod missing", ep_mod(ep, p[1], EPOLLOUT, 0));
  SHOW("del missing", epoll_ctl(ep, EPOLL_CTL_DEL, p[1], NULL));
  struct epoll_event ev = {.events = EPOLLIN};
  SHOW("bad op", epoll_ctl(ep, 99, p[0], &ev));
  SHOW("efault", epoll_ctl(ep, EPOLL_CTL_ADD, p[1], (struct epoll_event *)8));
  SHOW("exclusive add", ep_add(ep, p[1], EPOLLOUT | EPOLLEXCLUSIVE, 0));
  SHOW("exclusive mod", ep_mod(ep, p[1], EPOLLOUT | EPOLLEXCLUSIVE, 0));
  SHOW("mod exclusive item", ep_mod(ep, p[1], EPOLLOUT, 0));
  SHOW("exclusive bad bits", ep_add(ep, p[1], EPOLLOUT | EPOLLEXCLUSIVE | EPOLLRDNORM, 0));
  int ep2 = epoll_create1(0);
  SHOW("exclusive epoll target", ep_add(ep, ep2, EPOLLIN | EPOLLEXCLUSIVE, 0));
  SHOW("wakeup accepted", ep_add(ep, ep2, EPOLLIN | EPOLLWAKEUP, 0));

  char tmpl[] = "/tmp/anonfds-XXXXXX";
  int rf = mkstemp(tmpl);
  unlink(tmpl);
  SHOW("regular file", ep_add(ep, rf, EPOLLIN, 0));
  int dn = open("/dev/null", O_RDWR);
  SHOW("dev null", ep_add(ep, dn, EPOLLIN, 0));
  close(dn);
  close(rf);

  struct epoll_event out[2];
  SHOW("wait maxevents 0", epoll_wait(ep, out, 0, 0));
  SHOW("wait not epoll", epoll_wait(p[0], out, 2, 0));
  SHOW("wait bad fd", epoll_wait(999, out, 2, 0));
  struct timespec ts = {0, 10000000};
  SHOW("pwait2 timeout", syscall(SYS_epoll_pwait2, ep2, out, 2, &ts, NULL, 8));
  struct timespec bad = {0, -1};
  SHOW("pwait2 bad ts", syscall(SYS_epoll_pwait2, ep2, out, 2, &bad, NULL, 8));
  sigset_t none;
  sigemptyset(&none);
  SHOW("pwait bad sigsetsize", syscall(SYS_epoll_pwait, ep2, out, 2, 0, &none, 4));
  close(ep2);
  close(ep);
  close(p[0]);
  close(p[1]);
}

static void test_signals(void) {
  printf("-- epoll and signals\n");
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_sig;
  sa.sa_flags = SA_RESTART;
  sigaction(SIGUSR1, &sa, NULL);
  int ep = epoll_create1(0);
  struct epoll_event out[2];

  // epoll_pwait's mask lets a blocked pending signal in: EINTR, handler ran, mask restored.
  sigset_t m, none, cur;
  sigemptyset(&m);
  sigaddset(&m, SIGUSR1);
  sigemptyset(&none);
  sigprocmask(SIG_BLOCK, &m, NULL);
  raise(SIGUSR1);
  handled = 0;
  SHOW("pwait", epoll_pwait(ep, out, 2, 5000, &none));
  sigprocmask(SIG_BLOCK, NULL, &cur);
  printf("handled=%d still blocked=%d\n", handled, sigismember(&cur, SIGUSR1));
  SHOW("pwait timeout", epoll_pwait(ep, out, 2, 10, &none));
  sigprocmask(SIG_UNBLOCK, &m, NULL);

  // A handled signal interrupts epoll_wait with EINTR even with SA_RESTART.
  handled = 0;
  pid_t c = fork();
  if (c == 0) {
    msleep(30);
    kill(getppid(), SIGUSR1);
    _exit(0);
  }
  SHOW("wait interrupted", epoll_wait(ep, out, 2, 5000));
  printf("handled=%d\n", handled);
  waitpid(c, NULL, 0);
  signal(SIGUSR1, SIG_DFL);
  close(ep);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  test_epoll_pipe();
  test_epoll_eventfd();
  test_eventfd();
  test_timerfd();
  // Run in a child so that no test depends on the rules for signalling init (the program
  // is pid 1 of its PID namespace in the sandbox, not natively).
  pid_t c = fork();
  if (c == 0) {
    test_signalfd();
    _exit(0);
  }
  waitpid(c, NULL, 0);
  test_nested();
  test_errors();
  test_signals();
  printf("done\n");
  return 0;
}
