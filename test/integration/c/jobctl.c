// Terminal job control (SIGTTIN/SIGTTOU), compared with Linux: a process group in the
// background of its controlling terminal is stopped when it reads, when it changes the
// terminal, and when it writes under TOSTOP; blocked/ignored signals and orphaned groups
// get Linux's answers instead (EIO, or the call going ahead).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

static int master, slave;
static void say(const char *fmt, ...);
static int report[2]; // children that outlive their parent report here

static void on_hup(int sig) {
  (void)sig;
  char m[128];
  int fd = open("/dev/tty", O_RDWR | O_NOCTTY);
  int n = snprintf(m, sizeof m, "  pid in pgrp %s got SIGHUP; /dev/tty afterwards: %s\n",
                   getpgrp() == getpid() ? "of its own" : "of the leader", fd < 0 ? strerror(errno) : "opened");
  if (write(report[1], m, n) != n) _exit(8);
  _exit(0);
}

// A stopped job whose group is orphaned by its parent's exit gets SIGHUP (then SIGCONT).
static void orphaned_stopped(void) {
  pid_t p = fork();
  if (p == 0) {
    pid_t c = fork();
    if (c == 0) {
      setpgid(0, 0);
      signal(SIGHUP, on_hup);
      raise(SIGSTOP);
      _exit(5); // not reached: SIGHUP comes first
    }
    setpgid(c, c);
    int st;
    waitpid(c, &st, WUNTRACED);
    _exit(WIFSTOPPED(st) ? 0 : 1); // leaving the stopped child's group orphaned
  }
  int st;
  waitpid(p, &st, 0);
  say("parent of a stopped job exited: %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
}

static void say(const char *fmt, ...) {
  char b[256];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(b, sizeof b, fmt, ap);
  va_end(ap);
  if (write(1, b, n) != n) _exit(9);
}

// Run `fn` in a child moved to its own (background) process group; report how it ended.
static void background(const char *what, void (*fn)(void)) {
  pid_t c = fork();
  if (c == 0) {
    setpgid(0, 0);
    fn();
    _exit(0);
  }
  setpgid(c, c);
  int st;
  waitpid(c, &st, WUNTRACED);
  if (WIFSTOPPED(st)) {
    say("%s: stopped by %s\n", what, strsignal(WSTOPSIG(st)));
    kill(c, SIGKILL);
    waitpid(c, &st, 0);
  } else if (WIFEXITED(st)) {
    say("%s: exited %d\n", what, WEXITSTATUS(st));
  } else {
    say("%s: killed by %s\n", what, strsignal(WTERMSIG(st)));
  }
}

static void do_read(void) {
  char c;
  errno = 0;
  ssize_t r = read(slave, &c, 1);
  say("  read = %zd errno=%s\n", r, strerror(errno));
}

static void do_write(void) {
  errno = 0;
  ssize_t r = write(slave, "x", 1);
  say("  write = %zd errno=%s\n", r, strerror(errno));
}

static void do_tcsetattr(void) {
  struct termios t;
  tcgetattr(slave, &t);
  errno = 0;
  int r = tcsetattr(slave, TCSANOW, &t);
  say("  tcsetattr = %d errno=%s\n", r, strerror(errno));
}

static void read_ignoring(void) {
  signal(SIGTTIN, SIG_IGN);
  do_read();
}

static void read_blocking(void) {
  sigset_t s;
  sigemptyset(&s);
  sigaddset(&s, SIGTTIN);
  sigprocmask(SIG_BLOCK, &s, 0);
  do_read();
}

static void write_ignoring(void) {
  signal(SIGTTOU, SIG_IGN);
  do_write();
}

static void tcsetattr_blocking(void) {
  sigset_t s;
  sigemptyset(&s);
  sigaddset(&s, SIGTTOU);
  sigprocmask(SIG_BLOCK, &s, 0);
  do_tcsetattr();
}

static void tcsetpgrp_self(void) {
  errno = 0;
  int r = tcsetpgrp(slave, getpgrp());
  say("  tcsetpgrp = %d errno=%s\n", r, strerror(errno));
}

// An orphaned background group: the child's parent leaves, so no process outside the group
// but in the session can continue it.
static void orphaned(void) {
  pid_t g = fork();
  if (g == 0) {
    while (getppid() != 1 && kill(getppid(), 0) == 0) usleep(1000);
    usleep(20000);
    do_read();
    do_write();
    tcsetpgrp_self();
    raise(SIGTSTP); // discarded: it would stop an orphaned group
    say("  still running after SIGTSTP\n");
    _exit(0);
  }
  _exit(0);
}

static void session_leader(void) {
  setsid();
  slave = open(ptsname(master), O_RDWR); // the session's controlling terminal
  if (slave < 0) {
    perror("open slave");
    _exit(1);
  }
  say("foreground pgrp is mine: %d\n", tcgetpgrp(slave) == getpgrp());

  background("read from the background", do_read);
  background("read, SIGTTIN ignored", read_ignoring);
  background("read, SIGTTIN blocked", read_blocking);
  background("write without TOSTOP", do_write);
  background("tcsetattr", do_tcsetattr);
  background("tcsetattr, SIGTTOU blocked", tcsetattr_blocking);
  background("tcsetpgrp", tcsetpgrp_self);

  struct termios t;
  tcgetattr(slave, &t);
  t.c_lflag |= TOSTOP;
  tcsetattr(slave, TCSANOW, &t);
  background("write with TOSTOP", do_write);
  background("write with TOSTOP, SIGTTOU ignored", write_ignoring);

  // A stopped reader resumes its read once it is made the foreground group.
  pid_t c = fork();
  if (c == 0) {
    setpgid(0, 0);
    char buf[16] = {0};
    ssize_t r = read(slave, buf, sizeof buf - 1);
    say("  resumed read = %zd \"%s\"\n", r, r > 0 ? strtok(buf, "\n") : "");
    _exit(0);
  }
  setpgid(c, c);
  int st;
  waitpid(c, &st, WUNTRACED);
  say("reader in the background: %s\n", WIFSTOPPED(st) ? strsignal(WSTOPSIG(st)) : "not stopped");
  tcsetpgrp(slave, c);
  kill(c, SIGCONT);
  if (write(master, "hello\n", 6) != 6) _exit(3);
  waitpid(c, &st, 0);
  signal(SIGTTOU, SIG_IGN); // take the terminal back from the background
  tcsetpgrp(slave, getpgrp());
  signal(SIGTTOU, SIG_DFL);

  background("orphaned group", orphaned);
  usleep(300000);
  orphaned_stopped();

  // The session leader's exit hangs up its terminal's foreground group (this group).
  pid_t d = fork();
  if (d == 0) {
    signal(SIGHUP, on_hup);
    for (;;) pause();
  }
  usleep(50000);
  _exit(0);
}

int main(void) {
  setvbuf(stdout, 0, _IONBF, 0);
  if (pipe(report)) return 1;
  master = posix_openpt(O_RDWR | O_NOCTTY);
  if (master < 0 || grantpt(master) || unlockpt(master)) {
    perror("pty");
    return 1;
  }
  pid_t a = fork();
  if (a == 0) session_leader();
  int st;
  waitpid(a, &st, 0);
  close(report[1]);
  // Both reports (the orphaned stopped job's and the leader's group member's), in order.
  char rb[512];
  size_t got = 0;
  ssize_t k;
  while ((k = read(report[0], rb + got, sizeof rb - 1 - got)) > 0) got += k;
  rb[got] = 0;
  char *l1 = strstr(rb, "of its own"), *l2 = strstr(rb, "of the leader");
  say("reports: orphaned stopped job %s, leader's group %s\n", l1 ? "SIGHUP" : "none", l2 ? "SIGHUP" : "none");
  if (l2) say("%s", strchr(l2, ';') ? strchr(l2, ';') + 2 : "");
  // Drain what the background writers put on the terminal.
  fcntl(master, F_SETFL, O_NONBLOCK);
  char buf[256];
  ssize_t n = read(master, buf, sizeof buf);
  say("terminal output: %zd bytes\n", n);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}
