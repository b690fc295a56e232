/*
 * What a container process may do with the credentials its runtime gave it: prints its ids,
 * groups, capability sets and no_new_privs, then tries privileged operations and prints
 * each result (0 or the errno name). Run as a container's process by runc and by runsc
 * from the same bundle; the outputs must be identical.
 *
 * Usage: capsoci [DIR]   (DIR: a writable scratch directory, default /tmp)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#define R(label, expr)                                                                   \
  do {                                                                                   \
    errno = 0;                                                                           \
    long r_ = (long)(expr);                                                              \
    printf("%s: %s\n", label, r_ < 0 ? strerrorname_np(errno) : "ok");                   \
  } while (0)

int main(int argc, char **argv) {
  const char *dir = argc > 1 ? argv[1] : "/tmp";
  setvbuf(stdout, NULL, _IOLBF, 0);
  FILE *f = fopen("/proc/self/status", "r");
  char line[512];
  while (f && fgets(line, sizeof line, f))
    if (!strncmp(line, "Cap", 3) || !strncmp(line, "NoNewPrivs", 10) || !strncmp(line, "Uid:", 4) ||
        !strncmp(line, "Gid:", 4) || !strncmp(line, "Groups:", 7))
      fputs(line, stdout);
  if (f) fclose(f);
  printf("keepcaps=%d ambient(CAP_CHOWN)=%d bounding(CAP_SYS_ADMIN)=%d\n", prctl(PR_GET_KEEPCAPS),
         prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, 0, 0, 0), prctl(PR_CAPBSET_READ, 21));

  /* A fresh directory of our own, so that nothing left by an earlier run matters. */
  char tmpl[4200], path[4300], dev[4300];
  snprintf(tmpl, sizeof tmpl, "%s/capsoci-XXXXXX", dir);
  if (!mkdtemp(tmpl)) {
    printf("mkdtemp %s: %s\n", tmpl, strerrorname_np(errno));
    return 1;
  }
  snprintf(path, sizeof path, "%s/file", tmpl);
  snprintf(dev, sizeof dev, "%s/null", tmpl);
  int fd;
  R("create file", fd = open(path, O_CREAT | O_WRONLY, 0644));
  if (fd >= 0) close(fd);
  R("chown file to 4321", chown(path, 4321, 4321));
  R("chmod file (owner or CAP_FOWNER)", chmod(path, 0600));
  R("open file for reading (DAC)", (fd = open(path, O_RDONLY)) >= 0 ? close(fd) : -1);
  R("mknod char device", mknod(dev, S_IFCHR | 0666, makedev(1, 3)));
  unlink(dev);
  unlink(path);
  rmdir(tmpl);
  R("setpriority(self, -5)", setpriority(PRIO_PROCESS, 0, -5));
  R("setrlimit raise RLIMIT_NOFILE hard", ({
      struct rlimit rl;
      getrlimit(RLIMIT_NOFILE, &rl);
      rl.rlim_max += 1;
      setrlimit(RLIMIT_NOFILE, &rl);
    }));
  R("chroot /", chroot("/"));
  R("setgroups", setgroups(0, NULL));

  /* A child that tries to become another user; the parent then tries to signal it. */
  int p[2];
  if (pipe(p)) return 1;
  pid_t c = fork();
  if (c == 0) {
    int r = setresuid(2000, 2000, 2000);
    char ch = r == 0 ? 'y' : 'n';
    write(p[1], &ch, 1);
    pause();
    _exit(0);
  }
  char ch = 0;
  read(p[0], &ch, 1);
  printf("child setresuid(2000): %s\n", ch == 'y' ? "ok" : "EPERM");
  R("kill(child, 0)", kill(c, 0));
  if (kill(c, SIGKILL) != 0) {
    /* Not allowed to: the child is another user; it is reaped when the container ends. */
    printf("child left running\n");
    return 0;
  }
  int st;
  waitpid(c, &st, 0);
  printf("child killed: %d\n", WIFSIGNALED(st) ? WTERMSIG(st) : -1);
  return 0;
}
