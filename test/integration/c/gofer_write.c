/* The write path of a filesystem, one line per step: what it returned and errno's name.
 * Run in an empty writable directory (argv[1]); tests compare the output with Linux's. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

static void r(const char *what, long rc) {
  if (rc < 0) printf("%s = -1 %s\n", what, strerrorname_np(errno));
  else printf("%s = %ld\n", what, rc);
}

static void show(const char *p) {
  struct stat st;
  if (lstat(p, &st) < 0) { printf("stat %s: %s\n", p, strerrorname_np(errno)); return; }
  printf("stat %s: mode %o nlink %lu size %ld\n", p, st.st_mode, (unsigned long)st.st_nlink, (long)st.st_size);
}

static void cat(const char *p) {
  char buf[256];
  int fd = open(p, O_RDONLY);
  if (fd < 0) { printf("cat %s: %s\n", p, strerrorname_np(errno)); return; }
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n < 0) n = 0;
  buf[n] = 0;
  printf("cat %s: [%s]\n", p, buf);
}

int main(int argc, char **argv) {
  if (argc < 2 || chdir(argv[1]) < 0) { perror("chdir"); return 2; }
  umask(022);
  int fd = open("f", O_CREAT | O_EXCL | O_WRONLY, 0640);
  r("create f", fd >= 0 ? 0 : -1);
  r("write", write(fd, "hello world", 11));
  r("pwrite at 20", pwrite(fd, "X", 1, 20));
  close(fd);
  show("f");
  r("create f again O_EXCL", open("f", O_CREAT | O_EXCL | O_WRONLY, 0640));
  fd = open("f", O_WRONLY | O_APPEND);
  r("append", write(fd, "END", 3));
  r("lseek cur after append", lseek(fd, 0, SEEK_CUR));
  r("read from O_WRONLY", read(fd, (char[4]){0}, 4));
  close(fd);
  show("f");
  fd = open("f", O_RDWR | O_TRUNC);
  r("size after O_TRUNC", lseek(fd, 0, SEEK_END));
  r("write", write(fd, "abcdef", 6));
  r("ftruncate 3", ftruncate(fd, 3));
  r("fsync", fsync(fd));
  r("fdatasync", fdatasync(fd));
  close(fd);
  cat("f");
  r("truncate 10", truncate("f", 10));
  show("f");
  r("truncate dir", truncate(".", 0));

  r("mkdir d", mkdir("d", 0750));
  r("mkdir d again", mkdir("d", 0750));
  r("mkdir d/e", mkdir("d/e", 0755));
  r("rmdir d (not empty)", rmdir("d"));
  r("unlink d (a dir)", unlink("d"));
  r("rmdir f (a file)", rmdir("f"));
  r("mkdir under a file", mkdir("f/x", 0755));
  r("rmdir missing", rmdir("nope"));
  show("d");

  r("symlink", symlink("f", "l"));
  r("symlink again", symlink("f", "l"));
  char buf[64] = {0};
  r("readlink", readlink("l", buf, sizeof buf));
  printf("link text [%s]\n", buf);
  cat("l");
  r("open l O_NOFOLLOW", open("l", O_RDONLY | O_NOFOLLOW));
  r("link", link("f", "h"));
  r("link onto existing", link("f", "l"));
  r("link a dir", link("d", "dl"));
  show("f");
  r("unlink h", unlink("h"));
  show("f");
  r("mkfifo", mkfifo("p", 0600));
  show("p");
  r("mknod fifo", mknod("p2", S_IFIFO | 0644, 0));
  show("p2");

  r("rename f g", rename("f", "g"));
  show("f");
  cat("g");
  r("rename g over d (dir)", rename("g", "d"));
  r("rename d over g (file)", rename("d", "g"));
  r("mkdir z", mkdir("z", 0755));
  r("rename z over d (not empty)", rename("z", "d"));
  r("rmdir d/e", rmdir("d/e"));
  r("rename z over d (empty)", rename("z", "d"));
  show("z");
  r("rename into itself", rename("d", "d/sub"));
  r("renameat2 NOREPLACE", renameat2(AT_FDCWD, "g", AT_FDCWD, "l", RENAME_NOREPLACE));
  r("rename g d/g2", rename("g", "d/g2"));
  cat("d/g2");
  r("unlink missing", unlink("g"));

  r("chmod 604", chmod("d/g2", 0604));
  show("d/g2");
  r("chown 1000:1000", chown("d/g2", 1000, 1000));
  struct stat st;
  stat("d/g2", &st);
  printf("owner %u:%u\n", st.st_uid, st.st_gid);
  struct timespec ts[2] = {{1000000000, 123456789}, {1234567890, 987654321}};
  r("utimensat", utimensat(AT_FDCWD, "d/g2", ts, 0));
  stat("d/g2", &st);
  printf("times %ld.%09ld %ld.%09ld\n", (long)st.st_atim.tv_sec, st.st_atim.tv_nsec, (long)st.st_mtim.tv_sec,
         st.st_mtim.tv_nsec);
  struct timespec bad[2] = {{0, 2000000000L}, {0, 0}};
  r("utimensat bad nsec", utimensat(AT_FDCWD, "d/g2", bad, 0));

  /* an unlinked open file stays usable */
  fd = open("tmpf", O_CREAT | O_RDWR, 0600);
  r("unlink open file", unlink("tmpf"));
  r("write after unlink", write(fd, "still", 5));
  r("pread after unlink", pread(fd, buf, 5, 0));
  printf("data [%.5s]\n", buf);
  struct stat fst;
  fstat(fd, &fst);
  printf("fstat nlink %lu size %ld\n", (unsigned long)fst.st_nlink, (long)fst.st_size);
  close(fd);

  /* MAP_SHARED writable mapping reaches the file (read back through another fd after munmap) */
  fd = open("m", O_CREAT | O_RDWR, 0644);
  r("ftruncate m 8192", ftruncate(fd, 8192));
  char *p = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  r("mmap", p == MAP_FAILED ? -1 : 0);
  close(fd);
  if (p != MAP_FAILED) {
    memcpy(p, "mapped!", 7);
    memcpy(p + 5000, "second page", 11);
    r("msync", msync(p, 8192, MS_SYNC));
    r("munmap", munmap(p, 8192));
  }
  fd = open("m", O_RDONLY);
  char mb[16] = {0};
  r("pread m 0", pread(fd, mb, 7, 0));
  printf("m@0 [%s]\n", mb);
  memset(mb, 0, sizeof mb);
  r("pread m 5000", pread(fd, mb, 11, 5000));
  printf("m@5000 [%s]\n", mb);
  close(fd);
  /* write(2) is seen by a shared mapping, and the mapping by read(2) */
  fd = open("m", O_RDWR);
  p = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  r("pwrite under a mapping", pwrite(fd, "WRITTEN", 7, 100));
  printf("mapping sees [%.7s]\n", p + 100);
  memcpy(p + 200, "BYMAP", 5);
  r("pread of mapped bytes", pread(fd, mb, 5, 200));
  printf("read sees [%.5s]\n", mb);
  munmap(p, 8192);
  close(fd);

  /* xattrs */
  r("setxattr", setxattr("d/g2", "user.k", "v1", 2, 0));
  r("setxattr CREATE existing", setxattr("d/g2", "user.k", "v2", 2, XATTR_CREATE));
  r("setxattr REPLACE missing", setxattr("d/g2", "user.nope", "v", 1, XATTR_REPLACE));
  char xv[16] = {0};
  r("getxattr", getxattr("d/g2", "user.k", xv, sizeof xv));
  printf("xattr [%s]\n", xv);
  r("getxattr missing", getxattr("d/g2", "user.missing", xv, sizeof xv));
  r("getxattr small buffer", getxattr("d/g2", "user.k", xv, 1));
  char list[128] = {0};
  long ln = listxattr("d/g2", list, sizeof list);
  r("listxattr", ln);
  for (long i = 0; i < ln; i += strlen(list + i) + 1) printf("  name %s\n", list + i);
  r("removexattr", removexattr("d/g2", "user.k"));
  r("removexattr again", removexattr("d/g2", "user.k"));

  /* small files: create, write, close, read back */
  for (int i = 0; i < 20; i++) {
    char n[32], c[32];
    snprintf(n, sizeof n, "d/s%02d", i);
    snprintf(c, sizeof c, "content %d", i);
    fd = open(n, O_CREAT | O_WRONLY | O_TRUNC, 0644);
    if (fd < 0 || write(fd, c, strlen(c)) != (ssize_t)strlen(c)) printf("small %d failed\n", i);
    close(fd);
  }
  cat("d/s07");
  cat("d/s19");
  return 0;
}
