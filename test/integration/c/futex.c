// Futex contention: many threads hammering one mutex and a semaphore-like futex word.
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <errno.h>
#include <time.h>

static atomic_int word;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static long total;

static void *spin(void *a) {
  (void)a;
  for (int i = 0; i < 2000; i++) {
    pthread_mutex_lock(&mu);
    total++;
    pthread_mutex_unlock(&mu);
  }
  return NULL;
}

static void *sleeper(void *a) {
  (void)a;
  while (atomic_load(&word) == 0) syscall(SYS_futex, &word, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
  return NULL;
}

int main(void) {
  pthread_t t[8];
  for (int i = 0; i < 8; i++) pthread_create(&t[i], NULL, spin, NULL);
  for (int i = 0; i < 8; i++) pthread_join(t[i], NULL);
  printf("total=%ld\n", total);
  for (int i = 0; i < 4; i++) pthread_create(&t[i], NULL, sleeper, NULL);
  usleep(20000);
  atomic_store(&word, 1);
  syscall(SYS_futex, &word, FUTEX_WAKE_PRIVATE, 100, NULL, NULL, 0);
  for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
  puts("woken");
  struct timespec ts = {0, 10000000};
  int r = syscall(SYS_futex, &word, FUTEX_WAIT_PRIVATE, 1, &ts, NULL, 0);
  printf("timeout: r=%d errno=%d\n", r, errno);
  r = syscall(SYS_futex, &word, FUTEX_WAIT_PRIVATE, 5, &ts, NULL, 0);
  printf("mismatch: r=%d errno=%d\n", r, errno);
  return 0;
}
