// File operations and their errnos, compared with Linux.
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <signal.h>

static volatile sig_atomic_t sigio_count;
static void on_sigio(int s) { (void)s; sigio_count++; }

#define T(expr) do { errno = 0; long _r = (long)(expr); printf("%-60s = %ld errno=%d\n", #expr, _r, _r < 0 ? errno : 0); } while (0)

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  const char *d = argc > 1 ? argv[1] : "/tmp/fileops";
  char path[256];
  if (chdir("/tmp") != 0) return 2;
  mkdir(d, 0755);
  if (chdir(d) != 0) return 3;
  T(open("missing", O_RDONLY));
  T(open("f", O_CREAT | O_WRONLY | O_EXCL, 0644));
  T(open("f", O_CREAT | O_WRONLY | O_EXCL, 0644));
  T(write(3, "hello world", 11));
  T(lseek(3, 0, SEEK_CUR));
  T(read(3, path, 1));
  T(close(3));
  T(close(3));
  T(open("f/x", O_RDONLY));
  T(mkdir("dir", 0700));
  T(mkdir("dir", 0700));
  T(rmdir("f"));
  T(unlink("dir"));
  T(open("dir", O_WRONLY));
  T(symlink("f", "link"));
  T(readlink("link", path, sizeof path));
  T(link("f", "hard"));
  struct stat st;
  T(stat("hard", &st));
  printf("nlink=%lu size=%ld mode=%o\n", (unsigned long)st.st_nlink, (long)st.st_size, st.st_mode & 07777);
  T(rename("hard", "dir"));
  T(rename("hard", "renamed"));
  T(truncate("renamed", 5));
  T(stat("f", &st));
  printf("size after truncate=%ld\n", (long)st.st_size);
  T(chmod("f", 0600));
  T(access("f", R_OK | W_OK));
  T(open("dir/sub/deeper", O_CREAT | O_WRONLY, 0644));
  int fd = open("dir", O_RDONLY | O_DIRECTORY);
  T(openat(fd, "inner", O_CREAT | O_RDWR, 0600));
  T(fcntl(fd, F_GETFD));
  T(dup2(fd, 100));
  T(fcntl(100, F_GETFD));
  T(dup3(fd, 100, O_CLOEXEC));
  T(fcntl(100, F_GETFD));
  T(rmdir("dir"));
  T(unlinkat(fd, "inner", 0));
  T(rmdir("dir"));
  T(ftruncate(fd, 0));
  char big[5000];
  memset(big, 'x', sizeof big);
  big[sizeof big - 1] = 0;
  T(open(big, O_RDONLY));
  T(symlink("loop1", "loop2"));
  T(symlink("loop2", "loop1"));
  T(open("loop1", O_RDONLY));
  T(open("link", O_RDONLY | O_NOFOLLOW));
  T(getcwd(path, 2) == NULL);
  DIR *dp = opendir(".");
  int count = 0;
  struct dirent *de;
  while ((de = readdir(dp))) count++;
  closedir(dp);
  printf("entries=%d\n", count);
  // dnotify: SIGIO on a new entry in a watched directory; ENOTDIR on a file.
  signal(SIGIO, on_sigio);
  int dfd = open(".", O_RDONLY);
  T(fcntl(dfd, F_NOTIFY, DN_CREATE | DN_MULTISHOT));
  close(open("dn-new", O_CREAT | O_WRONLY, 0644));
  printf("dnotify signalled=%d\n", sigio_count > 0);
  T(fcntl(3, F_NOTIFY, DN_CREATE) < 0 ? -1 : 0);
  unlink("dn-new");
  close(dfd);
  unlink("f"); unlink("renamed"); unlink("link"); unlink("loop1"); unlink("loop2");
  T(rmdir(d));
  return 0;
}
