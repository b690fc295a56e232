// fork/exec/wait statuses: exit codes, signals, WNOHANG, waitid, orphan reaping, vfork.
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <errno.h>

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "child") == 0) return atoi(argv[2]);
  int st;
  pid_t p = fork();
  if (p == 0) _exit(42);
  waitpid(p, &st, 0);
  printf("exit: exited=%d code=%d\n", WIFEXITED(st), WEXITSTATUS(st));

  p = fork();
  if (p == 0) { raise(SIGTERM); _exit(1); }
  waitpid(p, &st, 0);
  printf("signal: signaled=%d sig=%d\n", WIFSIGNALED(st), WTERMSIG(st));

  p = fork();
  if (p == 0) { pause(); _exit(0); }
  printf("wnohang: %d\n", waitpid(p, &st, WNOHANG));
  kill(p, SIGKILL);
  waitpid(p, &st, 0);
  printf("killed: sig=%d\n", WTERMSIG(st));

  p = fork();
  if (p == 0) { execl("/proc/self/exe", argv[0], "child", "7", (char *)NULL); _exit(99); }
  waitpid(p, &st, 0);
  printf("exec: code=%d\n", WEXITSTATUS(st));

  p = vfork();
  if (p == 0) { execl("/proc/self/exe", argv[0], "child", "9", (char *)NULL); _exit(98); }
  waitpid(p, &st, 0);
  printf("vfork+exec: code=%d\n", WEXITSTATUS(st));

  int gate[2];
  pipe(gate);
  p = fork();
  if (p == 0) { char c; raise(SIGSTOP); read(gate[0], &c, 1); _exit(5); }
  waitpid(p, &st, WUNTRACED);
  printf("stopped: %d sig=%d\n", WIFSTOPPED(st), WSTOPSIG(st));
  kill(p, SIGCONT);
  waitpid(p, &st, WCONTINUED);
  printf("continued: %d\n", WIFCONTINUED(st));
  write(gate[1], "x", 1);
  waitpid(p, &st, 0);
  printf("after continue: code=%d\n", WEXITSTATUS(st));

  siginfo_t si;
  p = fork();
  if (p == 0) _exit(3);
  memset(&si, 0, sizeof si);
  waitid(P_PID, p, &si, WEXITED);
  printf("waitid: code=%d status=%d pid_ok=%d\n", si.si_code, si.si_status, si.si_pid == p);

  int r = waitpid(-1, &st, 0);
  printf("echild: %d errno=%d\n", r, errno);
  errno = 0;
  r = execl("/nonexistent/x", "x", (char *)NULL);
  printf("execve missing: %d errno=%d\n", r, errno);
  r = execl("/etc/hostname", "x", (char *)NULL);
  printf("execve non-elf: %d errno=%d\n", r, errno);
  r = execl("/tmp", "x", (char *)NULL);
  printf("execve dir: %d errno=%d\n", r, errno);
  return 0;
}
