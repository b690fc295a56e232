// Run as pid 1 (natively under `unshare --pid --fork`): signals from inside the namespace
// to init are dropped when init has no handler — unless init blocks them (then they queue).
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  printf("pid=%d ppid=%d\n", getpid(), getppid());
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  sigprocmask(SIG_BLOCK, &set, NULL);
  pid_t c = fork();
  if (c == 0) {
    kill(1, SIGUSR1);  // blocked by init: queued
    kill(1, SIGTERM);  // no handler in init: dropped
    _exit(0);
  }
  waitpid(c, NULL, 0);
  struct timespec ts = {2, 0};
  siginfo_t si;
  int s = sigtimedwait(&set, &si, &ts);
  printf("sigtimedwait=%d from_child=%d\n", s, si.si_pid == c);
  puts("still alive after SIGTERM");
  return 0;
}
