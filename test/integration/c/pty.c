/*
 * Pseudo-terminals: posix_openpt/grantpt/unlockpt/ptsname, a child that setsid()s and
 * opens the slave as its controlling terminal, then line editing, echo, ONLCR, raw mode,
 * ^C -> SIGINT, window size + SIGWINCH, tcgetpgrp/tcsetpgrp errors, ^D, VMIN/VTIME,
 * FIONREAD, ECHO off, and hang-up. The parent prints everything (the child reports
 * through a pipe), so the transcript is deterministic. Pty numbers are never printed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

static int rep[2]; /* child -> parent reports */
static int go[2];  /* parent -> child "next step" */

static void esc(char *out, const char *in, size_t n) {
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)in[i];
    if (c == '\r')
      out += sprintf(out, "\\r");
    else if (c == '\n')
      out += sprintf(out, "\\n");
    else if (c == '\b')
      out += sprintf(out, "\\b");
    else if (c < 0x20 || c >= 0x7f)
      out += sprintf(out, "\\x%02x", c);
    else
      *out++ = (char)c;
  }
  *out = 0;
}

/* ---- child side ---- */

static void report(const char *fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, sizeof buf - 1, fmt, ap);
  va_end(ap);
  buf[n++] = '\n';
  if (write(rep[1], buf, n) != n) _exit(3);
}

static void wait_go(void) {
  char c;
  if (read(go[0], &c, 1) != 1) _exit(4);
}

static volatile sig_atomic_t got_int, got_winch, got_hup, got_cont;
static void on_sig(int s) {
  if (s == SIGINT) got_int++;
  if (s == SIGWINCH) got_winch++;
  if (s == SIGHUP) got_hup++;
  if (s == SIGCONT) got_cont++;
}

static void report_read(int s, const char *what) {
  char buf[256], e[1024];
  ssize_t n = read(s, buf, sizeof buf);
  if (n < 0) {
    report("%s: read=-1 %s", what, strerrorname_np(errno));
    return;
  }
  esc(e, buf, n);
  report("%s: read=%zd \"%s\"", what, n, e);
}

static void child(int m, const char *name) {
  close(m);
  close(rep[0]);
  close(go[1]);
  sigset_t blocked, waitmask;
  sigemptyset(&blocked);
  sigaddset(&blocked, SIGINT);
  sigaddset(&blocked, SIGWINCH);
  sigaddset(&blocked, SIGHUP);
  sigaddset(&blocked, SIGTTOU);
  sigprocmask(SIG_BLOCK, &blocked, NULL);
  struct sigaction sa = {0};
  sa.sa_handler = on_sig;
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGWINCH, &sa, NULL);
  sigaction(SIGHUP, &sa, NULL);
  sigaction(SIGCONT, &sa, NULL);

  pid_t sid = setsid();
  report("setsid: %s", sid == getpid() ? "ok" : "FAIL");
  int s = open(name, O_RDWR); /* no O_NOCTTY: becomes the controlling terminal */
  if (s < 0) {
    report("open slave: %s", strerrorname_np(errno));
    _exit(1);
  }
  report("slave isatty=%d tcgetpgrp==pid:%d tcgetsid==pid:%d", isatty(s), tcgetpgrp(s) == getpid(),
         tcgetsid(s) == getpid());
  char tn[64] = "";
  ttyname_r(s, tn, sizeof tn);
  report("ttyname matches ptsname: %d", strcmp(tn, name) == 0);
  struct termios t0;
  tcgetattr(s, &t0);
  report("default termios iflag=%#o oflag=%#o cflag=%#o lflag=%#o VMIN=%d VTIME=%d VEOF=%d VERASE=%d",
         t0.c_iflag, t0.c_oflag, t0.c_cflag, t0.c_lflag, t0.c_cc[VMIN], t0.c_cc[VTIME], t0.c_cc[VEOF],
         t0.c_cc[VERASE]);
  int tty = open("/dev/tty", O_RDWR);
  report("open /dev/tty: %s isatty=%d", tty >= 0 ? "ok" : strerrorname_np(errno), tty >= 0 && isatty(tty));
  if (tty >= 0) close(tty);

  /* canonical editing: "ab\x7fc\n" */
  report_read(s, "erase");
  wait_go();
  /* output processing */
  if (write(s, "out\n", 4) != 4) report("write failed");
  report("wrote out");
  /* kill: "xyz\x15q\n" */
  report_read(s, "kill");
  /* EOF: "abc\x04" then "\x04" */
  report_read(s, "eof-with-data");
  report_read(s, "eof");

  /* FIONREAD: wait for the line, then count it. */
  struct pollfd p = {s, POLLIN, 0};
  int pr = poll(&p, 1, 5000);
  int avail = -1;
  ioctl(s, FIONREAD, &avail);
  report("poll=%d revents=%#x FIONREAD=%d", pr, p.revents, avail);
  report_read(s, "fionread");

  /* ^C: SIGINT to the foreground group (the child's). */
  sigfillset(&waitmask);
  sigdelset(&waitmask, SIGINT);
  report("waiting for SIGINT");
  while (!got_int) sigsuspend(&waitmask);
  report("got SIGINT %d", (int)got_int);

  /* Window size. */
  sigfillset(&waitmask);
  sigdelset(&waitmask, SIGWINCH);
  report("waiting for SIGWINCH");
  while (!got_winch) sigsuspend(&waitmask);
  struct winsize ws;
  ioctl(s, TIOCGWINSZ, &ws);
  report("got SIGWINCH %d: rows=%d cols=%d", (int)got_winch, ws.ws_row, ws.ws_col);
  wait_go(); /* the parent checks the foreground group before it changes */

  /* tcsetpgrp. */
  pid_t gc = fork();
  if (gc == 0) {
    setpgid(0, 0);
    char c;
    read(go[0], &c, 1); /* never written: the parent of gc kills it */
    _exit(0);
  }
  setpgid(gc, gc);
  int r = tcsetpgrp(s, gc);
  report("tcsetpgrp(other group)=%d tcgetpgrp==gc:%d", r, tcgetpgrp(s) == gc);
  r = tcsetpgrp(s, getpgrp());
  report("tcsetpgrp(back)=%d tcgetpgrp==pid:%d", r, tcgetpgrp(s) == getpid());
  r = tcsetpgrp(s, 999999);
  report("tcsetpgrp(no such group)=%d %s", r, r < 0 ? strerrorname_np(errno) : "");
  r = tcsetpgrp(s, getppid()); /* the parent's group: another session */
  report("tcsetpgrp(other session)=%d %s", r, r < 0 ? strerrorname_np(errno) : "");
  int neg = -1;
  r = ioctl(s, TIOCSPGRP, &neg);
  report("TIOCSPGRP(-1)=%d %s", r, r < 0 ? strerrorname_np(errno) : "");
  kill(gc, SIGKILL);
  waitpid(gc, NULL, 0);
  report("tcsetpgrp done");
  wait_go();

  /* Raw mode. */
  struct termios raw = t0;
  cfmakeraw(&raw);
  tcsetattr(s, TCSANOW, &raw);
  report("raw mode set");
  char buf[16];
  int got = 0;
  while (got < 4) {
    ssize_t n = read(s, buf + got, 4 - got);
    if (n <= 0) break;
    got += n;
  }
  report("raw read %d: %02x %02x %02x %02x", got, buf[0], buf[1], buf[2], buf[3]);
  wait_go();
  write(s, "r\n", 2);
  report("raw wrote");
  /* VMIN=0 VTIME=0: nothing there, returns 0 at once; VTIME=1: 0 after 0.1s. */
  raw.c_cc[VMIN] = 0;
  raw.c_cc[VTIME] = 0;
  tcsetattr(s, TCSANOW, &raw);
  ssize_t n0 = read(s, buf, sizeof buf);
  raw.c_cc[VTIME] = 1;
  tcsetattr(s, TCSANOW, &raw);
  ssize_t n1 = read(s, buf, sizeof buf);
  report("VMIN=0: VTIME=0 read=%zd, VTIME=1 read=%zd", n0, n1);
  tcsetattr(s, TCSANOW, &t0);

  /* ECHO off (getpass style), ECHONL on. */
  struct termios noecho = t0;
  noecho.c_lflag &= ~ECHO;
  noecho.c_lflag |= ECHONL;
  tcsetattr(s, TCSAFLUSH, &noecho);
  report("echo off");
  report_read(s, "noecho");
  tcsetattr(s, TCSANOW, &t0);

  /* Hang-up: the parent closes the master. */
  sigfillset(&waitmask);
  sigdelset(&waitmask, SIGHUP);
  report("waiting for SIGHUP");
  while (!got_hup) sigsuspend(&waitmask);
  report("got SIGHUP %d SIGCONT %d", (int)got_hup, got_cont > 0);
  report_read(s, "after hangup");
  ssize_t w = write(s, "x", 1);
  report("write after hangup=%zd %s", w, w < 0 ? strerrorname_np(errno) : "");
  int fd = open(name, O_RDWR | O_NOCTTY);
  report("reopen after hangup: %s", fd >= 0 ? "ok" : strerrorname_np(errno));
  _exit(0);
}

/* ---- parent side ---- */

static char line[1024];
/* One report line from the child, printed. */
static void expect_report(void) {
  size_t n = 0;
  char c;
  while (n < sizeof line - 1 && read(rep[0], &c, 1) == 1 && c != '\n') line[n++] = c;
  line[n] = 0;
  printf("child: %s\n", line);
}

/* Read the master until `until` shows up (or 5 s pass); print what came, escaped. */
static void expect_master(int m, const char *label, const char *until) {
  char buf[512], e[2048];
  size_t n = 0;
  while (!memmem(buf, n, until, strlen(until)) && n < sizeof buf) {
    struct pollfd p = {m, POLLIN, 0};
    if (poll(&p, 1, 5000) <= 0) break;
    ssize_t r = read(m, buf + n, sizeof buf - n);
    if (r <= 0) break;
    n += r;
  }
  esc(e, buf, n);
  printf("master %s: \"%s\"\n", label, e);
}

static void master_quiet(int m, const char *label) {
  struct pollfd p = {m, POLLIN, 0};
  printf("master %s: poll=%d\n", label, poll(&p, 1, 0));
}

static void put(int m, const char *s) {
  if (write(m, s, strlen(s)) != (ssize_t)strlen(s)) printf("write to master failed\n");
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);

  /* A pair whose slave is opened and closed: the master reads EIO and polls POLLHUP. */
  int m2 = posix_openpt(O_RDWR | O_NOCTTY);
  struct pollfd p2 = {m2, POLLIN, 0};
  printf("fresh master poll=%d\n", poll(&p2, 1, 0));
  int locked = -1;
  ioctl(m2, TIOCGPTLCK, &locked);
  printf("new pty locked=%d\n", locked);
  int s2 = open(ptsname(m2), O_RDWR | O_NOCTTY);
  printf("open locked slave: %s\n", s2 < 0 ? strerrorname_np(errno) : "opened");
  unlockpt(m2);
  s2 = ioctl(m2, TIOCGPTPEER, O_RDWR | O_NOCTTY);
  printf("TIOCGPTPEER: %s isatty=%d\n", s2 >= 0 ? "ok" : strerrorname_np(errno), isatty(s2));
  int ptn = -1;
  printf("TIOCGPTN on slave: %s\n", ioctl(s2, TIOCGPTN, &ptn) < 0 ? strerrorname_np(errno) : "ok");
  write(s2, "bye\n", 4);
  close(s2);
  char b2[64];
  ssize_t r2 = read(m2, b2, sizeof b2);
  printf("master read after slave wrote and closed: %zd\n", r2);
  r2 = read(m2, b2, sizeof b2);
  printf("master read again: %zd %s\n", r2, r2 < 0 ? strerrorname_np(errno) : "");
  int pr2 = poll(&p2, 1, 0);
  printf("master poll=%d revents has POLLHUP=%d\n", pr2, (p2.revents & POLLHUP) != 0);
  close(m2);

  int m = posix_openpt(O_RDWR | O_NOCTTY);
  if (m < 0 || grantpt(m) || unlockpt(m)) {
    printf("posix_openpt/grantpt/unlockpt failed: %s\n", strerror(errno));
    return 1;
  }
  char name[64];
  strcpy(name, ptsname(m));
  unsigned n = 99999;
  ioctl(m, TIOCGPTN, &n);
  char want[64];
  snprintf(want, sizeof want, "/dev/pts/%u", n);
  printf("ptsname matches TIOCGPTN: %d, master isatty=%d\n", strcmp(want, name) == 0, isatty(m));
  struct stat st;
  int ok = stat(name, &st) == 0 && S_ISCHR(st.st_mode);
  printf("slave node: chr=%d major=%d\n", ok, major(st.st_rdev));
  ok = stat("/dev/pts/ptmx", &st) == 0 && S_ISCHR(st.st_mode);
  printf("/dev/pts/ptmx: chr=%d rdev=%d:%d\n", ok, major(st.st_rdev), minor(st.st_rdev));

  pipe(rep);
  pipe(go);
  pid_t pid = fork();
  if (pid == 0) child(m, name);
  close(rep[1]);
  close(go[0]);
  for (int i = 0; i < 5; i++) expect_report();

  put(m, "ab\x7f" "c\n");
  expect_report();
  expect_master(m, "echo of erase", "\r\n");
  write(go[1], "g", 1);
  expect_report();
  expect_master(m, "slave output", "\r\n");
  put(m, "xyz\x15q\n");
  expect_report();
  expect_master(m, "echo of kill", "\r\n");
  put(m, "abc\x04");
  expect_report();
  put(m, "\x04");
  expect_report();
  expect_master(m, "echo of eof", "abc");
  put(m, "hello\n");
  expect_report();
  expect_report();
  expect_master(m, "echo of hello", "\r\n");

  expect_report(); /* waiting for SIGINT */
  put(m, "\x03");
  expect_report();
  expect_master(m, "echo of ^C", "^C");

  expect_report(); /* waiting for SIGWINCH */
  struct winsize ws = {.ws_row = 24, .ws_col = 80};
  ioctl(m, TIOCSWINSZ, &ws);
  expect_report();
  int fg = -1;
  ioctl(m, TIOCGPGRP, &fg);
  printf("master TIOCGPGRP==child: %d\n", fg == pid);
  int sid = -1;
  ioctl(m, TIOCGSID, &sid);
  printf("master TIOCGSID==child: %d\n", sid == pid);
  write(go[1], "g", 1);
  int pg = getpgrp();
  printf("master TIOCSPGRP from outside: %s\n", ioctl(m, TIOCSPGRP, &pg) < 0 ? strerrorname_np(errno) : "ok");
  int s = open(name, O_RDWR | O_NOCTTY);
  int tg = tcgetpgrp(s);
  printf("parent tcgetpgrp(slave, not its tty): %d %s\n", tg, strerrorname_np(errno));
  printf("parent TIOCSCTTY (not a session leader): %s\n",
         ioctl(s, TIOCSCTTY, 0) < 0 ? strerrorname_np(errno) : "ok");
  printf("parent TIOCNOTTY (not its tty): %s\n", ioctl(s, TIOCNOTTY) < 0 ? strerrorname_np(errno) : "ok");
  close(s);
  for (int i = 0; i < 6; i++) expect_report();
  printf("TCFLSH(9): %s, TCXONC(TCOON): %d\n", ioctl(m, TCFLSH, 9) < 0 ? strerrorname_np(errno) : "ok",
         ioctl(m, TCXONC, TCOON));
  write(go[1], "g", 1);

  expect_report(); /* raw mode set */
  put(m, "x\r\x03y");
  expect_report();
  master_quiet(m, "after raw input (no echo)");
  write(go[1], "g", 1);
  expect_report();
  expect_master(m, "raw output", "\n");
  expect_report(); /* VMIN/VTIME */

  expect_report(); /* echo off */
  put(m, "secret\n");
  expect_report();
  expect_master(m, "echo with ECHO off, ECHONL on", "\n");

  expect_report(); /* waiting for SIGHUP */
  close(m);
  for (int i = 0; i < 4; i++) expect_report();
  int status;
  waitpid(pid, &status, 0);
  printf("child exit %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
  return 0;
}
