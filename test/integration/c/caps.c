/*
 * Capabilities: capget/capset (three header versions), prctl (bounding set, ambient,
 * keepcaps, securebits, no_new_privs), the setuid/setfsuid transitions, the execve
 * transformation (root, keepcaps, ambient, set-user-ID-root, no_new_privs) and the
 * privilege checks that consult capabilities. Prints results and errnos; the test
 * compares the output with the same program run natively (as root).
 *
 * Usage: caps DIR            (DIR: a scratch directory, created and removed)
 *        caps --report TAG   (print the ids and capability sets; used after execve)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <grp.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/securebits.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

static char self[4096];
static const char *dir;

#define R(label, expr)                                                                  \
  do {                                                                                  \
    errno = 0;                                                                          \
    long r_ = (long)(expr);                                                             \
    printf("%s: %ld%s%s\n", label, r_, r_ < 0 ? " " : "", r_ < 0 ? strerrorname_np(errno) : ""); \
  } while (0)

static int capget_(uint32_t version, int pid, struct __user_cap_data_struct *d) {
  struct __user_cap_header_struct h = {version, pid};
  return syscall(SYS_capget, &h, d);
}
static int capset_(uint32_t version, int pid, struct __user_cap_data_struct *d) {
  struct __user_cap_header_struct h = {version, pid};
  return syscall(SYS_capset, &h, d);
}

/* The five sets from /proc/self/status, the ids and no_new_privs. */
static void report(const char *tag) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  printf("[%s]", tag);
  while (f && fgets(line, sizeof line, f)) {
    if (!strncmp(line, "Cap", 3) || !strncmp(line, "NoNewPrivs", 10) || !strncmp(line, "Uid:", 4) ||
        !strncmp(line, "Gid:", 4)) {
      line[strcspn(line, "\n")] = 0;
      for (char *p = line; *p; p++)
        if (*p == '\t') *p = ' ';
      printf(" {%s}", line);
    }
  }
  if (f) fclose(f);
  printf(" keepcaps=%d secbits=%d\n", prctl(PR_GET_KEEPCAPS), prctl(PR_GET_SECUREBITS));
  fflush(stdout);
}

/* Drop one capability from the effective set (capset v3). */
static int drop_eff(int cap) {
  struct __user_cap_data_struct d[2];
  if (capget_(_LINUX_CAPABILITY_VERSION_3, 0, d)) return -1;
  d[cap / 32].effective &= ~(1u << (cap % 32));
  return capset_(_LINUX_CAPABILITY_VERSION_3, 0, d);
}
static int add_inh(int cap) {
  struct __user_cap_data_struct d[2];
  if (capget_(_LINUX_CAPABILITY_VERSION_3, 0, d)) return -1;
  d[cap / 32].inheritable |= 1u << (cap % 32);
  return capset_(_LINUX_CAPABILITY_VERSION_3, 0, d);
}

static void exec_report(const char *tag) {
  fflush(stdout);
  execl(self, self, "--report", tag, (char *)NULL);
  printf("execl: %s\n", strerrorname_np(errno));
  _exit(1);
}

/* Run fn in a child and wait for it (each scenario changes credentials for good). */
static void scenario(const char *name, void (*fn)(void)) {
  printf("== %s\n", name);
  fflush(stdout);
  pid_t p = fork();
  if (p == 0) {
    fn();
    fflush(stdout);
    _exit(0);
  }
  int st;
  waitpid(p, &st, 0);
  printf("== %s: %s %d\n", name, WIFEXITED(st) ? "exit" : "signal", WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
}

static void s_capget(void) {
  struct __user_cap_data_struct d[2];
  struct __user_cap_header_struct h = {0x12345678, 0};
  R("capget bad version, data", syscall(SYS_capget, &h, d));
  printf("  header version now %#x\n", h.version);
  h.version = 0x12345678;
  R("capget bad version, NULL data", syscall(SYS_capget, &h, NULL));
  printf("  header version now %#x\n", h.version);
  R("capget v3 NULL data", capget_(_LINUX_CAPABILITY_VERSION_3, 0, NULL));
  memset(d, 0xaa, sizeof d);
  R("capget v1", capget_(_LINUX_CAPABILITY_VERSION_1, 0, d));
  printf("  v1 eff=%#x prm=%#x inh=%#x; word 1 untouched=%d\n", d[0].effective, d[0].permitted, d[0].inheritable,
         d[1].effective == 0xaaaaaaaa);
  R("capget v2", capget_(_LINUX_CAPABILITY_VERSION_2, 0, d));
  R("capget v3", capget_(_LINUX_CAPABILITY_VERSION_3, 0, d));
  printf("  v3 eff=%#x:%#x prm=%#x:%#x inh=%#x:%#x\n", d[1].effective, d[0].effective, d[1].permitted,
         d[0].permitted, d[1].inheritable, d[0].inheritable);
  R("capget pid -1", capget_(_LINUX_CAPABILITY_VERSION_3, -1, d));
  R("capget pid 999999", capget_(_LINUX_CAPABILITY_VERSION_3, 999999, d));
  R("capget pid getppid()", capget_(_LINUX_CAPABILITY_VERSION_3, getppid(), d));
  R("capset pid getppid()", capset_(_LINUX_CAPABILITY_VERSION_3, getppid(), d));
  R("capset bad version", capset_(0x1, 0, d));
}

static void s_capset(void) {
  struct __user_cap_data_struct d[2], o[2];
  capget_(_LINUX_CAPABILITY_VERSION_3, 0, o);
  memcpy(d, o, sizeof d);
  d[0].effective = 0;
  d[1].effective = 0;
  R("capset clear effective", capset_(_LINUX_CAPABILITY_VERSION_3, 0, d));
  report("eff cleared");
  R("chown (no CAP_CHOWN in effective)", chown(dir, 4321, -1));
  memcpy(d, o, sizeof d);
  R("capset restore effective", capset_(_LINUX_CAPABILITY_VERSION_3, 0, d));
  d[0].permitted &= ~(1u << CAP_SETUID);
  d[0].effective &= ~(1u << CAP_SETUID);
  R("capset drop CAP_SETUID from permitted", capset_(_LINUX_CAPABILITY_VERSION_3, 0, d));
  d[0].permitted |= 1u << CAP_SETUID;
  R("capset raise it back", capset_(_LINUX_CAPABILITY_VERSION_3, 0, d));
  d[0].permitted &= ~(1u << CAP_SETUID);
  d[0].effective |= 1u << CAP_SETUID;
  R("capset effective not in permitted", capset_(_LINUX_CAPABILITY_VERSION_3, 0, d));
  d[0].effective &= ~(1u << CAP_SETUID);
  R("setuid(1000) without CAP_SETUID", setuid(1000));
  /* Version 1 sees only the low 32 bits: the high ones are cleared from every set. */
  capget_(_LINUX_CAPABILITY_VERSION_1, 0, d);
  R("capset v1", capset_(_LINUX_CAPABILITY_VERSION_1, 0, d));
  report("after v1 capset");
  R("prctl PR_CAPBSET_READ CAP_SYSLOG (bounding untouched)", prctl(PR_CAPBSET_READ, CAP_SYSLOG));
}

static void s_bounding(void) {
  R("PR_CAPBSET_READ CAP_CHOWN", prctl(PR_CAPBSET_READ, CAP_CHOWN));
  R("PR_CAPBSET_READ 63", prctl(PR_CAPBSET_READ, 63));
  R("PR_CAPBSET_READ -1", prctl(PR_CAPBSET_READ, -1L));
  R("PR_CAPBSET_DROP CAP_MKNOD", prctl(PR_CAPBSET_DROP, CAP_MKNOD));
  R("PR_CAPBSET_READ CAP_MKNOD", prctl(PR_CAPBSET_READ, CAP_MKNOD));
  R("PR_CAPBSET_DROP 99", prctl(PR_CAPBSET_DROP, 99));
  /* Permitted keeps CAP_MKNOD; an inheritable bit outside the bounding set is refused. */
  R("add CAP_MKNOD to inheritable", add_inh(CAP_MKNOD));
  R("add CAP_CHOWN to inheritable", add_inh(CAP_CHOWN));
  report("bounding dropped");
  /* execve as root: permitted = bounding | inheritable, so CAP_MKNOD is gone. */
  exec_report("exec after bounding drop");
}

static void s_nosetpcap(void) {
  R("drop CAP_SETPCAP from effective", drop_eff(CAP_SETPCAP));
  R("PR_CAPBSET_DROP without CAP_SETPCAP", prctl(PR_CAPBSET_DROP, CAP_CHOWN));
  R("PR_SET_SECUREBITS without CAP_SETPCAP", prctl(PR_SET_SECUREBITS, SECBIT_KEEP_CAPS));
  R("add permitted CAP_CHOWN to inheritable", add_inh(CAP_CHOWN));
}

static void s_prctl(void) {
  R("PR_GET_KEEPCAPS", prctl(PR_GET_KEEPCAPS));
  R("PR_SET_KEEPCAPS 2", prctl(PR_SET_KEEPCAPS, 2));
  R("PR_SET_KEEPCAPS 1", prctl(PR_SET_KEEPCAPS, 1));
  R("PR_GET_KEEPCAPS", prctl(PR_GET_KEEPCAPS));
  R("PR_GET_SECUREBITS", prctl(PR_GET_SECUREBITS));
  R("PR_SET_SECUREBITS unknown bit", prctl(PR_SET_SECUREBITS, 1 << 12));
  R("PR_SET_SECUREBITS keep_caps|keep_caps_locked",
    prctl(PR_SET_SECUREBITS, SECBIT_KEEP_CAPS | SECBIT_KEEP_CAPS_LOCKED));
  R("PR_SET_KEEPCAPS 0 when locked", prctl(PR_SET_KEEPCAPS, 0));
  R("PR_SET_SECUREBITS unlock", prctl(PR_SET_SECUREBITS, 0));
  R("PR_GET_SECUREBITS", prctl(PR_GET_SECUREBITS));
  R("PR_CAP_AMBIENT IS_SET CAP_CHOWN", prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, CAP_CHOWN, 0, 0));
  R("PR_CAP_AMBIENT RAISE (not inheritable)", prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_CHOWN, 0, 0));
  R("PR_CAP_AMBIENT RAISE bad cap", prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, 77, 0, 0));
  R("PR_CAP_AMBIENT RAISE arg4 set", prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_CHOWN, 1, 0));
  R("PR_CAP_AMBIENT bad op", prctl(PR_CAP_AMBIENT, 9, CAP_CHOWN, 0, 0));
  R("PR_CAP_AMBIENT CLEAR_ALL arg3 set", prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 1, 0, 0));
  R("add CAP_CHOWN to inheritable", add_inh(CAP_CHOWN));
  R("PR_CAP_AMBIENT RAISE", prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_CHOWN, 0, 0));
  R("PR_CAP_AMBIENT IS_SET", prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, CAP_CHOWN, 0, 0));
  R("PR_CAP_AMBIENT LOWER", prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_LOWER, CAP_CHOWN, 0, 0));
  R("PR_CAP_AMBIENT IS_SET", prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, CAP_CHOWN, 0, 0));
  R("PR_CAP_AMBIENT RAISE", prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_CHOWN, 0, 0));
  /* Dropping it from inheritable drops it from ambient too. */
  struct __user_cap_data_struct d[2];
  capget_(_LINUX_CAPABILITY_VERSION_3, 0, d);
  d[0].inheritable = 0;
  R("capset inheritable 0", capset_(_LINUX_CAPABILITY_VERSION_3, 0, d));
  R("PR_CAP_AMBIENT IS_SET", prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, CAP_CHOWN, 0, 0));
  R("PR_GET_NO_NEW_PRIVS extra arg", prctl(PR_GET_NO_NEW_PRIVS, 1, 0, 0, 0));
  R("PR_SET_NO_NEW_PRIVS 2", prctl(PR_SET_NO_NEW_PRIVS, 2, 0, 0, 0));
  R("PR_SET_NO_NEW_PRIVS 1", prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0));
  R("PR_GET_NO_NEW_PRIVS", prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
  report("prctl end");
}

static void s_setuid_drop(void) {
  R("setresuid(1000,1000,1000)", setresuid(1000, 1000, 1000));
  report("all uids nonzero");
  R("setuid(0)", setuid(0));
  R("chown", chown(dir, 1000, -1));
  R("chroot", chroot("/"));
  R("sethostname", sethostname("x", 1));
  R("setpriority -5", setpriority(PRIO_PROCESS, 0, -5));
  R("setgroups", setgroups(0, NULL));
  exec_report("exec as uid 1000");
}

static void s_keepcaps(void) {
  R("PR_SET_KEEPCAPS 1", prctl(PR_SET_KEEPCAPS, 1));
  R("setresuid(1000,1000,1000)", setresuid(1000, 1000, 1000));
  report("keepcaps, uids nonzero");
  struct __user_cap_data_struct d[2];
  capget_(_LINUX_CAPABILITY_VERSION_3, 0, d);
  d[0].effective = d[0].permitted;
  d[1].effective = d[1].permitted;
  R("capset effective = permitted", capset_(_LINUX_CAPABILITY_VERSION_3, 0, d));
  R("chown with CAP_CHOWN as uid 1000", chown(dir, 1000, -1));
  R("setuid(0) with CAP_SETUID", setuid(0));
  report("back to 0");
  R("setuid(1000)", setuid(1000));
  report("setuid(1000) with keepcaps");
  exec_report("exec with keepcaps");
}

static void s_seteuid(void) {
  R("seteuid(1000)", seteuid(1000));
  report("euid 1000");
  R("seteuid(0)", seteuid(0));
  report("euid 0 again");
  R("setfsuid(1000) returns old", setfsuid(1000));
  report("fsuid 1000");
  R("setfsuid(0) returns old", setfsuid(0));
  report("fsuid 0");
  R("setreuid(-1, 1000)", setreuid(-1, 1000));
  report("setreuid(-1, 1000)");
  R("setreuid(1000, -1) (real 0 -> 1000, saved 0?)", setreuid(1000, -1));
  report("setreuid(1000, -1)");
}

static void s_ambient(void) {
  R("add CAP_NET_BIND_SERVICE to inheritable", add_inh(CAP_NET_BIND_SERVICE));
  R("add CAP_KILL to inheritable", add_inh(CAP_KILL));
  R("ambient raise NET_BIND_SERVICE", prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_NET_BIND_SERVICE, 0, 0));
  R("ambient raise KILL", prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_KILL, 0, 0));
  R("PR_SET_KEEPCAPS 1", prctl(PR_SET_KEEPCAPS, 1));
  R("setresuid(1000,1000,1000)", setresuid(1000, 1000, 1000));
  report("ambient after setresuid");
  exec_report("exec: ambient cleared by setresuid");
}

static void s_ambient_kept(void) {
  R("add CAP_NET_BIND_SERVICE to inheritable", add_inh(CAP_NET_BIND_SERVICE));
  R("ambient raise", prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_NET_BIND_SERVICE, 0, 0));
  R("PR_SET_SECUREBITS keep_caps|no_setuid_fixup",
    prctl(PR_SET_SECUREBITS, SECBIT_KEEP_CAPS | SECBIT_NO_SETUID_FIXUP));
  R("setresuid(1000,1000,1000)", setresuid(1000, 1000, 1000));
  report("no_setuid_fixup");
  /* Effective still has everything (no fix-up); narrow permitted to the ambient cap + inheritable. */
  struct __user_cap_data_struct d[2] = {{0}};
  d[0].permitted = d[0].inheritable = d[0].effective = 1u << CAP_NET_BIND_SERVICE;
  R("capset to NET_BIND_SERVICE only", capset_(_LINUX_CAPABILITY_VERSION_3, 0, d));
  exec_report("exec as 1000 with ambient");
}

static char suidcopy[4200];

static void s_suid_exec(void) {
  R("setresuid(1000,1000,1000)", setresuid(1000, 1000, 1000));
  exec_report("x");
}

static void suid_child(int nnp) {
  R("setresuid(1000,1000,1000)", setresuid(1000, 1000, 1000));
  if (nnp) R("PR_SET_NO_NEW_PRIVS", prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0));
  fflush(stdout);
  execl(suidcopy, suidcopy, "--report", nnp ? "setuid-root exec under no_new_privs" : "setuid-root exec",
        (char *)NULL);
  printf("execl: %s\n", strerrorname_np(errno));
}
static void s_suid(void) { suid_child(0); }
static void s_suid_nnp(void) { suid_child(1); }

static void s_kill(void) {
  /* A child of another uid; kill it without CAP_KILL (EPERM), then with it. */
  int pfd[2];
  if (pipe(pfd)) return;
  pid_t c = fork();
  if (c == 0) {
    setresuid(2000, 2000, 2000);
    write(pfd[1], "x", 1);
    pause();
    _exit(0);
  }
  char b;
  read(pfd[0], &b, 1);
  R("drop CAP_KILL", drop_eff(CAP_KILL));
  R("kill(other uid, 0) without CAP_KILL", kill(c, 0));
  R("kill(other uid, SIGTERM) without CAP_KILL", kill(c, SIGTERM));
  R("setpriority(other uid, 5) with CAP_SYS_NICE", setpriority(PRIO_PROCESS, c, 5));
  R("drop CAP_SYS_NICE", drop_eff(CAP_SYS_NICE));
  R("setpriority(other uid, 6) without CAP_SYS_NICE", setpriority(PRIO_PROCESS, c, 6));
  cpu_set_t cs;
  sched_getaffinity(0, sizeof cs, &cs);
  R("sched_setaffinity(other uid) without CAP_SYS_NICE", sched_setaffinity(c, sizeof cs, &cs));
  struct sched_param sp = {0};
  R("sched_setscheduler(other uid, SCHED_OTHER) without CAP_SYS_NICE", sched_setscheduler(c, SCHED_OTHER, &sp));
  R("sched_setaffinity(self)", sched_setaffinity(0, sizeof cs, &cs));
  R("setpriority(self, -3) without CAP_SYS_NICE", setpriority(PRIO_PROCESS, 0, -3));
  R("setpriority(self, 3)", setpriority(PRIO_PROCESS, 0, 3));
  struct __user_cap_data_struct d[2];
  capget_(_LINUX_CAPABILITY_VERSION_3, 0, d);
  d[0].effective = d[0].permitted;
  capset_(_LINUX_CAPABILITY_VERSION_3, 0, d);
  R("kill(other uid, SIGKILL) with CAP_KILL", kill(c, SIGKILL));
  int st;
  waitpid(c, &st, 0);
  printf("child: %s %d\n", WIFSIGNALED(st) ? "signal" : "exit", WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
}

static void s_fs(void) {
  char f[4200], sub[4200];
  snprintf(f, sizeof f, "%s/secret", dir);
  snprintf(sub, sizeof sub, "%s/locked", dir);
  R("chown DIR back to 0", chown(dir, 0, 0));
  int fd = open(f, O_CREAT | O_WRONLY | O_TRUNC, 0600);
  close(fd);
  R("chown secret to 4321", chown(f, 4321, 4321));
  mkdir(sub, 0700);
  R("chown locked to 4321", chown(sub, 4321, 4321));
  R("open secret O_RDONLY", (fd = open(f, O_RDONLY)) >= 0 ? 0 : -1);
  if (fd >= 0) close(fd);
  R("drop CAP_DAC_OVERRIDE", drop_eff(CAP_DAC_OVERRIDE));
  R("open secret O_RDONLY (DAC_READ_SEARCH)", (fd = open(f, O_RDONLY)) >= 0 ? 0 : -1);
  if (fd >= 0) close(fd);
  R("open secret O_WRONLY", (fd = open(f, O_WRONLY)) >= 0 ? 0 : -1);
  if (fd >= 0) close(fd);
  R("access locked/ X_OK", access(sub, X_OK));
  R("drop CAP_DAC_READ_SEARCH", drop_eff(CAP_DAC_READ_SEARCH));
  R("open secret O_RDONLY", (fd = open(f, O_RDONLY)) >= 0 ? 0 : -1);
  if (fd >= 0) close(fd);
  R("stat locked/x", ({ struct stat s_; char p_[4300]; snprintf(p_, sizeof p_, "%s/x", sub); stat(p_, &s_); }));
  R("faccessat(AT_EACCESS) secret R_OK", faccessat(AT_FDCWD, f, R_OK, AT_EACCESS));
  R("access(secret, R_OK) (real uid 0: permitted caps)", access(f, R_OK));
  R("chmod secret (CAP_FOWNER)", chmod(f, 0640));
  R("drop CAP_FOWNER", drop_eff(CAP_FOWNER));
  R("chmod secret", chmod(f, 0600));
  R("utimensat secret now (owner or write access)", utimensat(AT_FDCWD, f, NULL, 0));
  R("chown secret (CAP_CHOWN)", chown(f, 0, 0));
  R("chmod secret 02755 as owner", chmod(f, 02755));
  struct stat st;
  stat(f, &st);
  printf("  mode %o (S_ISGID kept with CAP_FSETID)\n", st.st_mode & 07777);
  R("chown secret 0:4321", chown(f, 0, 4321));
  R("drop CAP_FSETID", drop_eff(CAP_FSETID));
  R("chmod secret 02755 (group 4321, not a member)", chmod(f, 02755));
  stat(f, &st);
  printf("  mode %o\n", st.st_mode & 07777);
  R("drop CAP_CHOWN", drop_eff(CAP_CHOWN));
  R("chown secret 4321", chown(f, 4321, -1));
  R("drop CAP_MKNOD", drop_eff(CAP_MKNOD));
  char dev[4200];
  snprintf(dev, sizeof dev, "%s/null", dir);
  R("mknod char device", mknod(dev, S_IFCHR | 0600, makedev(1, 3)));
  R("mknod fifo", mknod(dev, S_IFIFO | 0600, 0));
  R("drop CAP_SYS_CHROOT", drop_eff(CAP_SYS_CHROOT));
  R("chroot", chroot("/"));
  R("drop CAP_SYS_ADMIN", drop_eff(CAP_SYS_ADMIN));
  R("sethostname", sethostname("x", 1));
  R("drop CAP_SETGID", drop_eff(CAP_SETGID));
  R("setgroups", setgroups(0, NULL));
  R("setgid(5)", setgid(5));
}

int main(int argc, char **argv) {
  if (argc == 3 && !strcmp(argv[1], "--report")) {
    report(argv[2]);
    return 0;
  }
  if (argc != 2) {
    fprintf(stderr, "usage: caps DIR | caps --report TAG\n");
    return 2;
  }
  setvbuf(stdout, NULL, _IOLBF, 0);
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n < 0) return 3;
  self[n] = 0;
  dir = argv[1];
  if (mkdir(dir, 0755) && errno != EEXIST) {
    perror("mkdir");
    return 3;
  }
  report("start");
  /* The user namespace files (the initial namespace: identity maps, already set). */
  {
    const char *files[] = {"/proc/self/uid_map", "/proc/self/gid_map", "/proc/self/setgroups"};
    for (int i = 0; i < 3; i++) {
      char buf[256] = {0};
      int fd = open(files[i], O_RDONLY);
      ssize_t k = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
      if (fd >= 0) close(fd);
      printf("%s: [%s] %zd\n", files[i], k > 0 ? buf : strerrorname_np(errno), k);
    }
    const char *writes[][3] = {{"/proc/self/uid_map", "0 0 1\n", "write uid_map"},
                               {"/proc/self/gid_map", "0 0 1\n", "write gid_map"},
                               {"/proc/self/setgroups", "allow\n", "write setgroups allow"},
                               {"/proc/self/setgroups", "deny\n", "write setgroups deny"}};
    for (int i = 0; i < 4; i++) {
      int fd = open(writes[i][0], O_WRONLY);
      R(writes[i][2], fd >= 0 ? write(fd, writes[i][1], strlen(writes[i][1])) : -1);
      if (fd >= 0) close(fd);
    }
  }
  scenario("capget", s_capget);
  scenario("capset", s_capset);
  scenario("bounding", s_bounding);
  scenario("no CAP_SETPCAP", s_nosetpcap);
  scenario("prctl", s_prctl);
  scenario("setresuid drops caps", s_setuid_drop);
  scenario("keepcaps", s_keepcaps);
  scenario("seteuid/setfsuid", s_seteuid);
  scenario("ambient cleared", s_ambient);
  scenario("ambient kept", s_ambient_kept);
  scenario("kill/setpriority", s_kill);
  scenario("filesystem caps", s_fs);
  /* A set-user-ID-root copy of this program. */
  snprintf(suidcopy, sizeof suidcopy, "%s/suid", dir);
  {
    int in = open(self, O_RDONLY), out = open(suidcopy, O_CREAT | O_WRONLY | O_TRUNC, 0755);
    char buf[65536];
    ssize_t k;
    while ((k = read(in, buf, sizeof buf)) > 0) write(out, buf, k);
    close(in);
    close(out);
    chown(suidcopy, 0, 0);
    chmod(suidcopy, 04755);
  }
  scenario("setuid-root exec", s_suid);
  scenario("setuid-root exec, no_new_privs", s_suid_nnp);
  (void)s_suid_exec;
  char cmd[8500];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  unlink(suidcopy);
  char p[4300];
  snprintf(p, sizeof p, "%s/secret", dir);
  unlink(p);
  snprintf(p, sizeof p, "%s/null", dir);
  unlink(p);
  snprintf(p, sizeof p, "%s/locked", dir);
  rmdir(p);
  rmdir(dir);
  return 0;
}
