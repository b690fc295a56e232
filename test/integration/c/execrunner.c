// For each path argument: fork, execve it, and report how it ended — the execve errno,
// the exit status, or the terminating signal. Output of the programs goes to /dev/null.
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  for (int i = 1; i < argc; i++) {
    int p[2];
    if (pipe(p) != 0) return 2;
    pid_t c = fork();
    if (c == 0) {
      close(p[0]);
      fcntl(p[1], F_SETFD, FD_CLOEXEC);
      int null = open("/dev/null", O_RDWR);
      dup2(null, 1);
      dup2(null, 2);
      char *args[] = {argv[i], NULL};
      char *env[] = {NULL};
      execve(argv[i], args, env);
      int e = errno;
      write(p[1], &e, sizeof e);
      _exit(127);
    }
    close(p[1]);
    int e = 0;
    ssize_t n = read(p[0], &e, sizeof e);
    close(p[0]);
    int st;
    waitpid(c, &st, 0);
    const char *name = strrchr(argv[i], '/');
    name = name ? name + 1 : argv[i];
    if (n == sizeof e) printf("%s: errno %d\n", name, e);
    else if (WIFSIGNALED(st)) printf("%s: signal %d\n", name, WTERMSIG(st));
    else printf("%s: exit %d\n", name, WEXITSTATUS(st));
  }
  return 0;
}
