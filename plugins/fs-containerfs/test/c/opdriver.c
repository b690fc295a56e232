/*
 * Applies a list of filesystem operations (one per line on stdin) in the directory argv[1],
 * printing each operation's errno (0 on success), then dumps the tree below it: type, mode,
 * size, link count of non-directories, an FNV-1a hash of file contents, symlink targets.
 * Used to compare containerfs with the Linux kernel's overlayfs on the same operations.
 *
 *   create P MODE | write P TEXT | read P | rename A B | unlink P | mkdir P MODE | rmdir P
 *   chmod P MODE | link A B | symlink TARGET P | truncate P LEN
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static unsigned long long fnv(int fd, long long *len) {
  unsigned long long h = 1469598103934665603ULL;
  char buf[4096];
  ssize_t n;
  *len = 0;
  while ((n = read(fd, buf, sizeof buf)) > 0) {
    for (ssize_t i = 0; i < n; i++) h = (h ^ (unsigned char)buf[i]) * 1099511628211ULL;
    *len += n;
  }
  if (n < 0) *len = -errno;
  return h;
}

static int cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void dump(const char *path) {
  DIR *d = opendir(path);
  if (!d) {
    printf("%s opendir errno=%d\n", path, errno);
    return;
  }
  char *names[4096];
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)) && n < 4096) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    names[n++] = strdup(e->d_name);
  }
  closedir(d);
  qsort(names, n, sizeof names[0], cmp);
  for (int i = 0; i < n; i++) {
    char p[4096];
    snprintf(p, sizeof p, "%s/%s", path, names[i]);
    struct stat st;
    if (lstat(p, &st) < 0) {
      printf("%s lstat errno=%d\n", p, errno);
      continue;
    }
    if (S_ISDIR(st.st_mode)) {
      printf("%s dir %o\n", p, st.st_mode & 07777);
      dump(p);
    } else if (S_ISLNK(st.st_mode)) {
      char t[4096];
      ssize_t k = readlink(p, t, sizeof t - 1);
      t[k < 0 ? 0 : k] = 0;
      printf("%s link -> %s\n", p, t);
    } else if (S_ISREG(st.st_mode)) {
      int fd = open(p, O_RDONLY);
      long long len = 0;
      unsigned long long h = fd < 0 ? 0 : fnv(fd, &len);
      if (fd >= 0) close(fd);
      printf("%s file %o size=%lld nlink=%lu read=%lld hash=%016llx\n", p, st.st_mode & 07777, (long long)st.st_size,
             (unsigned long)st.st_nlink, len, h);
    } else {
      printf("%s other %o\n", p, st.st_mode);
    }
    free(names[i]);
  }
}

int main(int argc, char **argv) {
  if (argc < 2 || chdir(argv[1]) < 0) {
    perror("chdir");
    return 2;
  }
  umask(0);
  char line[8192];
  int no = 0;
  while (fgets(line, sizeof line, stdin)) {
    line[strcspn(line, "\n")] = 0;
    char op[32] = "", a[4096] = "", b[4096] = "";
    sscanf(line, "%31s %4095s %4095s", op, a, b);
    int r = 0;
    errno = 0;
    if (!strcmp(op, "create")) {
      int fd = open(a, O_CREAT | O_WRONLY, (mode_t)strtol(b, 0, 8));
      r = fd < 0 ? -1 : close(fd);
    } else if (!strcmp(op, "write")) {
      int fd = open(a, O_WRONLY | O_APPEND);
      if (fd < 0) r = -1;
      else {
        r = write(fd, b, strlen(b)) < 0 ? -1 : 0;
        int e = errno;
        close(fd);
        errno = e;
      }
    } else if (!strcmp(op, "read")) {
      int fd = open(a, O_RDONLY);
      if (fd < 0) r = -1;
      else {
        long long len;
        unsigned long long h = fnv(fd, &len);
        close(fd);
        printf("%d read %lld %016llx\n", no, len, h);
      }
    } else if (!strcmp(op, "rename")) r = rename(a, b);
    else if (!strcmp(op, "unlink")) r = unlink(a);
    else if (!strcmp(op, "mkdir")) r = mkdir(a, (mode_t)strtol(b, 0, 8));
    else if (!strcmp(op, "rmdir")) r = rmdir(a);
    else if (!strcmp(op, "chmod")) r = chmod(a, (mode_t)strtol(b, 0, 8));
    else if (!strcmp(op, "link")) r = link(a, b);
    else if (!strcmp(op, "symlink")) r = symlink(a, b);
    else if (!strcmp(op, "truncate")) r = truncate(a, atoll(b));
    else {
      printf("%d bad op %s\n", no, op);
      return 2;
    }
    printf("%d %s %s %s -> %d\n", no, op, a, b, r < 0 ? errno : 0);
    no++;
  }
  printf("--- tree\n");
  dump(".");
  return 0;
}
