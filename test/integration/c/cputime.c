// CPU time accounting: a busy loop shows up in getrusage, times, clock_gettime(CPUTIME)
// and, for a reaped child, in RUSAGE_CHILDREN and wait4's rusage.
#include <signal.h>
#include <stdio.h>
#include <sys/time.h>
#include <sys/resource.h>
#include <sys/times.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(clockid_t c) {
  struct timespec ts;
  clock_gettime(c, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

// Compute until this process has used `secs` of CPU (a loaded machine gives it less than
// the wall-clock time), giving up after 20 s of wall-clock time.
static void burn(double secs) {
  double start = now(CLOCK_PROCESS_CPUTIME_ID), limit = now(CLOCK_MONOTONIC) + 20;
  volatile unsigned long x = 0;
  while (now(CLOCK_PROCESS_CPUTIME_ID) - start < secs && now(CLOCK_MONOTONIC) < limit)
    for (int i = 0; i < 100000; i++) x += i;
}

static double tv(struct timeval t) { return t.tv_sec + t.tv_usec / 1e6; }

static volatile sig_atomic_t vt, prof;
static void on_vt(int s) { (void)s; vt++; }
static void on_prof(int s) { (void)s; prof++; }

int main(void) {
  burn(0.3);
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  struct tms tm;
  times(&tm);
  printf("self getrusage ok=%d\n", tv(ru.ru_utime) + tv(ru.ru_stime) >= 0.1);
  printf("self times ok=%d\n", tm.tms_utime + tm.tms_stime >= 10);
  printf("process cputime ok=%d\n", now(CLOCK_PROCESS_CPUTIME_ID) >= 0.1);
  printf("thread cputime ok=%d\n", now(CLOCK_THREAD_CPUTIME_ID) >= 0.1);
  pid_t c = fork();
  if (c == 0) {
    burn(0.3);
    _exit(0);
  }
  struct rusage cru;
  wait4(c, NULL, 0, &cru);
  printf("wait4 rusage ok=%d\n", tv(cru.ru_utime) + tv(cru.ru_stime) >= 0.1);
  getrusage(RUSAGE_CHILDREN, &ru);
  printf("children ok=%d\n", tv(ru.ru_utime) + tv(ru.ru_stime) >= 0.1);
  // CPU-time interval timers fire while the process computes (and stay quiet while it sleeps).
  signal(SIGVTALRM, on_vt);
  signal(SIGPROF, on_prof);
  struct itimerval it = {{0, 50000}, {0, 50000}};
  setitimer(ITIMER_VIRTUAL, &it, NULL);
  setitimer(ITIMER_PROF, &it, NULL);
  usleep(300000);
  int slept_vt = vt;
  burn(0.3);
  struct itimerval off = {{0, 0}, {0, 0}};
  setitimer(ITIMER_VIRTUAL, &off, NULL);
  setitimer(ITIMER_PROF, &off, NULL);
  printf("itimer virtual quiet while sleeping=%d fired while computing=%d prof fired=%d\n", slept_vt <= 1, vt >= 2, prof >= 2);
  return 0;
}
