// System V IPC (shm, sem, msg) and POSIX message queues: creation and lookup by key,
// attach/detach and sharing across fork, IPC_STAT counters, deferred IPC_RMID, SEM_UNDO
// at exit, blocking with IPC_NOWAIT/timeouts, typed message selection, mqueue priorities,
// attributes, readiness and notification, and the errnos of bad calls. Keys derive from
// the pid and every object is removed, so the native run leaves nothing on the host.
// Only stable facts are printed (no ids, times or pids), so native and sandboxed output match.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SHOW(label, expr)                                         \
  do {                                                            \
    errno = 0;                                                    \
    long _r = (long)(expr);                                       \
    printf("%s: %ld errno=%d\n", label, _r, _r < 0 ? errno : 0); \
  } while (0)
#define OK(label, expr)                                                \
  do {                                                                 \
    errno = 0;                                                         \
    long _r = (long)(expr);                                            \
    printf("%s: %s errno=%d\n", label, _r < 0 ? "fail" : "ok", errno); \
  } while (0)

union semun {
  int val;
  struct semid_ds *buf;
  unsigned short *array;
};

static key_t base_key;

static int wait_child(pid_t p) {
  int st = 0;
  waitpid(p, &st, 0);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void test_shm(void) {
  printf("-- shm\n");
  key_t key = base_key + 1;
  int id = shmget(key, 10000, IPC_CREAT | IPC_EXCL | 0600);
  OK("shmget create", id);
  SHOW("shmget excl again", shmget(key, 10000, IPC_CREAT | IPC_EXCL | 0600));
  printf("shmget same key: %s\n", shmget(key, 4096, 0600) == id ? "same id" : "other");
  SHOW("shmget bigger than segment", shmget(key, 20000, 0600));
  SHOW("shmget missing key", shmget(base_key + 99, 4096, 0600));
  SHOW("shmget size 0", shmget(IPC_PRIVATE, 0, 0600));
  char *p = shmat(id, NULL, 0);
  printf("shmat: %s\n", p == (void *)-1 ? strerror(errno) : "ok");
  strcpy(p, "parent");
  struct shmid_ds ds;
  shmctl(id, IPC_STAT, &ds);
  printf("stat: size=%zu nattch=%lu mode=%o cpid_is_me=%d\n", ds.shm_segsz, (unsigned long)ds.shm_nattch,
         ds.shm_perm.mode & 0777, ds.shm_cpid == getpid());
  pid_t c = fork();
  if (c == 0) {
    // Inherited attachment: see the parent's write, and write back.
    printf("child sees: %s\n", p);
    strcpy(p + 100, "child");
    struct shmid_ds d2;
    shmctl(id, IPC_STAT, &d2);
    printf("child nattch=%lu\n", (unsigned long)d2.shm_nattch);
    char *q = shmat(id, NULL, SHM_RDONLY);
    printf("child second attach sees: %s\n", q);
    shmdt(q);
    _exit(0);
  }
  wait_child(c);
  printf("parent sees: %s\n", p + 100);
  shmctl(id, IPC_STAT, &ds);
  printf("after child exit nattch=%lu\n", (unsigned long)ds.shm_nattch);
  // Fixed address with SHM_RND, and a read-only attachment that faults on write.
  char *fixed = (char *)((uintptr_t)p + (64 << 20));
  char *r = shmat(id, fixed + 100, SHM_RND | SHM_RDONLY);
  printf("shmat SHM_RND: %s rounded=%d sees=%s\n", r == (void *)-1 ? strerror(errno) : "ok", r == fixed, r);
  SHOW("shmat unaligned without SHM_RND", shmat(id, fixed + 100, 0));
  SHOW("shmat over existing mapping", shmat(id, fixed, 0));
  c = fork();
  if (c == 0) {
    r[0] = 'x';
    _exit(0);
  }
  printf("write to SHM_RDONLY: status=%d\n", wait_child(c));
  SHOW("mprotect RDONLY attach writable", mprotect(r, 4096, PROT_READ | PROT_WRITE));
  shmctl(id, IPC_STAT, &ds);
  printf("two attaches nattch=%lu\n", (unsigned long)ds.shm_nattch);
  SHOW("shmdt", shmdt(r));
  SHOW("shmdt again", shmdt(r));
  SHOW("shmdt unaligned", shmdt(p + 1));
  // IPC_RMID while attached: the key is gone, the segment lives until the last detach.
  SHOW("IPC_RMID", shmctl(id, IPC_RMID, NULL));
  shmctl(id, IPC_STAT, &ds);
  printf("after RMID: dest=%d key_private=%d nattch=%lu\n", !!(ds.shm_perm.mode & SHM_DEST),
         ds.shm_perm.__key == IPC_PRIVATE, (unsigned long)ds.shm_nattch);
  SHOW("shmget removed key", shmget(key, 4096, 0600));
  printf("still readable: %s\n", p);
  SHOW("shmdt last", shmdt(p));
  SHOW("IPC_STAT after last detach", shmctl(id, IPC_STAT, &ds));
  SHOW("shmat removed", (long)shmat(id, NULL, 0));
  SHOW("shmctl bad cmd", shmctl(0, 12345, &ds));
  struct shminfo info;
  shmctl(0, IPC_INFO, (struct shmid_ds *)&info);
  printf("IPC_INFO: shmmni=%lu shmmin=%lu\n", info.shmmni, info.shmmin);
}

static void test_sem(void) {
  printf("-- sem\n");
  key_t key = base_key + 2;
  int id = semget(key, 3, IPC_CREAT | IPC_EXCL | 0600);
  OK("semget", id);
  SHOW("semget more sems than set", semget(key, 4, 0600));
  SHOW("semget nsems 0 create", semget(IPC_PRIVATE, 0, IPC_CREAT | 0600));
  SHOW("GETVAL fresh", semctl(id, 0, GETVAL));
  SHOW("SETVAL", semctl(id, 0, SETVAL, (union semun){.val = 1}));
  SHOW("SETVAL out of range", semctl(id, 0, SETVAL, (union semun){.val = 40000}));
  SHOW("GETVAL bad semnum", semctl(id, 5, GETVAL));
  unsigned short all[3] = {2, 0, 7};
  SHOW("SETALL", semctl(id, 0, SETALL, (union semun){.array = all}));
  unsigned short got[3];
  semctl(id, 0, GETALL, (union semun){.array = got});
  printf("GETALL: %u %u %u\n", got[0], got[1], got[2]);
  printf("GETPID is me: %d\n", semctl(id, 2, GETPID) == getpid());
  struct sembuf op = {1, -1, IPC_NOWAIT};
  SHOW("semop would block IPC_NOWAIT", semop(id, &op, 1));
  struct timespec ts = {0, 20 * 1000 * 1000};
  op.sem_flg = 0;
  SHOW("semtimedop timeout", semtimedop(id, &op, 1, &ts));
  struct sembuf bad = {3, 1, 0};
  SHOW("semop semnum out of range", semop(id, &bad, 1));
  SHOW("semop nsops 0", semop(id, &op, 0));
  ts.tv_nsec = 2000000000;
  SHOW("semtimedop bad timespec", semtimedop(id, &op, 1, &ts));
  // Atomicity: the second op blocks, so the first is not applied.
  struct sembuf two[2] = {{0, -1, IPC_NOWAIT}, {1, -1, IPC_NOWAIT}};
  SHOW("atomic pair", semop(id, two, 2));
  SHOW("sem0 unchanged", semctl(id, 0, GETVAL));
  // A child blocks on sem 1 until the parent posts; the parent waits for GETNCNT.
  pid_t c = fork();
  if (c == 0) {
    struct sembuf w = {1, -1, 0};
    int r = semop(id, &w, 1);
    printf("child got sem1: %d\n", r);
    fflush(stdout);
    _exit(0);
  }
  while (semctl(id, 1, GETNCNT) != 1) usleep(1000);
  printf("GETNCNT: 1\n");
  struct sembuf post = {1, 1, 0};
  semop(id, &post, 1);
  wait_child(c);
  SHOW("sem1 after handoff", semctl(id, 1, GETVAL));
  // SEM_UNDO: the child takes 2 from sem 2 and exits; its adjustment gives them back.
  c = fork();
  if (c == 0) {
    struct sembuf u = {2, -2, SEM_UNDO};
    semop(id, &u, 1);
    printf("child took 2, sem2=%d\n", semctl(id, 2, GETVAL));
    fflush(stdout);
    _exit(0);
  }
  wait_child(c);
  SHOW("sem2 after undo", semctl(id, 2, GETVAL));
  // Wait-for-zero, woken by a child.
  semctl(id, 1, SETVAL, (union semun){.val = 1});
  c = fork();
  if (c == 0) {
    while (semctl(id, 1, GETZCNT) != 1) usleep(1000);
    struct sembuf d = {1, -1, 0};
    semop(id, &d, 1);
    _exit(0);
  }
  struct sembuf z = {1, 0, 0};
  SHOW("wait for zero", semop(id, &z, 1));
  wait_child(c);
  // Removal wakes a waiter with EIDRM.
  c = fork();
  if (c == 0) {
    struct sembuf w = {1, -1, 0};
    int r = semop(id, &w, 1);
    printf("child after RMID: %d errno=%d\n", r, errno);
    fflush(stdout);
    _exit(0);
  }
  while (semctl(id, 1, GETNCNT) != 1) usleep(1000);
  int rm = semctl(id, 0, IPC_RMID);
  wait_child(c); // the child prints first
  printf("IPC_RMID: %d\n", rm);
  SHOW("GETVAL removed", semctl(id, 0, GETVAL));
  struct seminfo si;
  semctl(0, 0, IPC_INFO, (union semun){.buf = (struct semid_ds *)&si});
  printf("IPC_INFO: semmsl=%d semopm=%d semvmx=%d\n", si.semmsl, si.semopm, si.semvmx);
}

struct mbuf {
  long mtype;
  char mtext[64];
};

static void snd(int id, long type, const char *s) {
  struct mbuf m = {.mtype = type};
  strcpy(m.mtext, s);
  if (msgsnd(id, &m, strlen(s) + 1, 0) < 0) printf("msgsnd %ld: errno=%d\n", type, errno);
}

static void rcv(const char *label, int id, long type, size_t sz, int flags) {
  struct mbuf m = {0};
  errno = 0;
  long n = msgrcv(id, &m, sz, type, flags);
  if (n < 0)
    printf("%s: -1 errno=%d\n", label, errno);
  else
    printf("%s: %ld type=%ld text=%.*s\n", label, n, m.mtype, (int)n, m.mtext);
}

static void test_msg(void) {
  printf("-- msg\n");
  int id = msgget(base_key + 3, IPC_CREAT | IPC_EXCL | 0600);
  OK("msgget", id);
  snd(id, 5, "five");
  snd(id, 2, "two");
  snd(id, 9, "nine");
  snd(id, 2, "two-b");
  snd(id, 1, "one");
  struct msqid_ds ds;
  msgctl(id, IPC_STAT, &ds);
  printf("stat: qnum=%lu cbytes=%lu qbytes=%lu lspid_is_me=%d\n", (unsigned long)ds.msg_qnum,
         (unsigned long)ds.__msg_cbytes, (unsigned long)ds.msg_qbytes, ds.msg_lspid == getpid());
  rcv("type 2", id, 2, 64, 0);
  rcv("type -4 (lowest <= 4)", id, -4, 64, 0);
  rcv("except 9", id, 9, 64, MSG_EXCEPT);
  rcv("small buffer", id, 0, 2, IPC_NOWAIT);
  rcv("small buffer MSG_NOERROR", id, 0, 2, MSG_NOERROR);
  rcv("type 0", id, 0, 64, 0);
  rcv("empty IPC_NOWAIT", id, 0, 64, IPC_NOWAIT);
  rcv("no such type", id, 3, 64, IPC_NOWAIT);
  struct mbuf m = {.mtype = 0};
  SHOW("msgsnd type 0", msgsnd(id, &m, 4, 0));
  SHOW("msgsnd too big", msgsnd(id, &m, 9000, 0));
  // A receiver blocks for type 7; a later sender wakes it.
  pid_t c = fork();
  if (c == 0) {
    rcv("child type 7", id, 7, 64, 0);
    fflush(stdout);
    _exit(0);
  }
  usleep(20000);
  snd(id, 7, "seven");
  wait_child(c);
  // Filling the queue: IPC_NOWAIT gives EAGAIN.
  ds.msg_qbytes = 100;
  SHOW("IPC_SET qbytes", msgctl(id, IPC_SET, &ds));
  struct mbuf big = {.mtype = 1};
  SHOW("fill", msgsnd(id, &big, 60, IPC_NOWAIT));
  SHOW("full IPC_NOWAIT", msgsnd(id, &big, 60, IPC_NOWAIT));
  // A blocked receiver is woken by removal with EIDRM.
  rcv("drain", id, 0, 64, 0);
  c = fork();
  if (c == 0) {
    rcv("child after RMID", id, 0, 64, 0);
    fflush(stdout);
    _exit(0);
  }
  usleep(50000);
  int rm = msgctl(id, IPC_RMID, NULL);
  wait_child(c); // the child prints first
  printf("IPC_RMID: %d\n", rm);
  SHOW("msgsnd removed", msgsnd(id, &big, 1, 0));
  struct msginfo mi;
  msgctl(0, IPC_INFO, (struct msqid_ds *)&mi);
  printf("IPC_INFO: msgmax=%d msgmnb=%d\n", mi.msgmax, mi.msgmnb);
}

static volatile sig_atomic_t got_sig;
static volatile int got_code;
static void on_usr1(int sig, siginfo_t *si, void *uc) {
  (void)sig, (void)uc;
  got_sig = si->si_value.sival_int;
  got_code = si->si_code;
}

static void test_mq(void) {
  printf("-- mqueue\n");
  char name[64];
  snprintf(name, sizeof name, "/tsvisor-ipc-%d", getpid());
  struct mq_attr at = {.mq_maxmsg = 4, .mq_msgsize = 32};
  mqd_t q = mq_open(name, O_RDWR | O_CREAT | O_EXCL, 0600, &at);
  OK("mq_open create", q);
  SHOW("mq_open excl again", mq_open(name, O_RDWR | O_CREAT | O_EXCL, 0600, &at));
  SHOW("mq_open missing", mq_open("/tsvisor-no-such-queue", O_RDONLY));
  struct mq_attr huge = {.mq_maxmsg = 4, .mq_msgsize = 0};
  SHOW("mq_open bad attr", mq_open("/tsvisor-bad-attr", O_RDWR | O_CREAT, 0600, &huge));
  struct pollfd pf = {.fd = q, .events = POLLIN | POLLOUT};
  poll(&pf, 1, 0);
  printf("poll empty: 0x%x\n", pf.revents);
  mq_send(q, "low", 3, 1);
  mq_send(q, "high", 4, 10);
  mq_send(q, "mid", 3, 5);
  mq_send(q, "low2", 4, 1);
  poll(&pf, 1, 0);
  printf("poll full: 0x%x\n", pf.revents);
  char qs[128] = {0};
  ssize_t n = read(q, qs, sizeof qs - 1);
  printf("read %zd: %s", n, qs);
  mq_getattr(q, &at);
  printf("attr: maxmsg=%ld msgsize=%ld curmsgs=%ld flags=%ld\n", at.mq_maxmsg, at.mq_msgsize, at.mq_curmsgs,
         at.mq_flags);
  struct timespec past = {1, 0};
  SHOW("send full timedsend", mq_timedsend(q, "x", 1, 0, &past));
  SHOW("send too long", mq_send(q, "0123456789012345678901234567890123456789", 40, 0));
  SHOW("send bad prio", mq_send(q, "x", 1, 40000));
  char buf[64];
  unsigned prio;
  SHOW("receive small buffer", mq_receive(q, buf, 8, &prio));
  for (int i = 0; i < 4; i++) {
    n = mq_receive(q, buf, sizeof buf, &prio);
    printf("receive: %.*s prio=%u\n", (int)n, buf, prio);
  }
  SHOW("receive empty timed", mq_timedreceive(q, buf, sizeof buf, &prio, &past));
  struct mq_attr nb = {.mq_flags = O_NONBLOCK}, old;
  mq_setattr(q, &nb, &old);
  printf("setattr old flags=%ld\n", old.mq_flags);
  SHOW("receive O_NONBLOCK", mq_receive(q, buf, sizeof buf, &prio));
  nb.mq_flags = 0;
  mq_setattr(q, &nb, NULL);
  // Blocking receive woken by a child's send.
  pid_t c = fork();
  if (c == 0) {
    mqd_t w = mq_open(name, O_WRONLY);
    usleep(20000);
    mq_send(w, "from-child", 10, 3);
    _exit(0);
  }
  n = mq_receive(q, buf, sizeof buf, &prio);
  printf("blocking receive: %.*s prio=%u\n", (int)n, buf, prio);
  wait_child(c);
  // Notification by signal on arrival to an empty queue.
  struct sigaction sa = {.sa_sigaction = on_usr1, .sa_flags = SA_SIGINFO};
  sigaction(SIGUSR1, &sa, NULL);
  struct sigevent sev = {.sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGUSR1, .sigev_value.sival_int = 42};
  SHOW("mq_notify", mq_notify(q, &sev));
  SHOW("mq_notify busy", mq_notify(q, &sev) == 0 ? 0 : -1);
  memset(qs, 0, sizeof qs);
  lseek(q, 0, SEEK_SET);
  read(q, qs, sizeof qs - 1);
  printf("registered: %.*s\n", 42, qs);
  mq_send(q, "ping", 4, 0);
  printf("signal: value=%d code_is_mesgq=%d\n", (int)got_sig, got_code == SI_MESGQ);
  SHOW("mq_notify again after firing", mq_notify(q, &sev));
  SHOW("mq_notify remove", mq_notify(q, NULL));
  mq_receive(q, buf, sizeof buf, &prio);
  SHOW("mq_unlink", mq_unlink(name));
  SHOW("mq_unlink again", mq_unlink(name));
  SHOW("send after unlink", mq_send(q, "still", 5, 0));
  SHOW("mq_close", mq_close(q));
  SHOW("mq_send closed", mq_send(q, "x", 1, 0));
  SHOW("mq_open bad name", syscall(SYS_mq_open, "a/b", O_RDONLY, 0, NULL));
}

static void test_perms(void) {
  printf("-- permissions\n");
  int shm = shmget(IPC_PRIVATE, 4096, 0600);
  int sem = semget(IPC_PRIVATE, 1, 0600);
  int msg = msgget(IPC_PRIVATE, 0644);
  pid_t c = fork();
  if (c == 0) {
    if (setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534)) _exit(9);
    SHOW("shmat no perm", (long)shmat(shm, NULL, 0));
    struct sembuf op = {0, 1, 0};
    SHOW("semop no perm", semop(sem, &op, 1));
    struct mbuf m = {.mtype = 1};
    SHOW("msgsnd read-only for others", msgsnd(msg, &m, 1, 0));
    struct msqid_ds ds;
    SHOW("IPC_STAT readable", msgctl(msg, IPC_STAT, &ds));
    SHOW("IPC_RMID not owner", msgctl(msg, IPC_RMID, NULL));
    fflush(stdout);
    _exit(0);
  }
  printf("child: %d\n", wait_child(c));
  shmctl(shm, IPC_RMID, NULL);
  semctl(sem, 0, IPC_RMID);
  msgctl(msg, IPC_RMID, NULL);
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  base_key = (key_t)(0x7e000000 | ((getpid() & 0xffff) << 8));
  test_shm();
  test_sem();
  test_msg();
  test_mq();
  test_perms();
  return 0;
}
