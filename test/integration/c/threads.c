// pthreads: create/join, mutex, condvar, barrier, 200 threads, thread-local storage.
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define N 200
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static pthread_barrier_t bar;
static long counter;
static int ready;
static __thread int tls_value;

static void *worker(void *arg) {
  long id = (long)arg;
  tls_value = (int)id;
  for (int i = 0; i < 100; i++) {
    pthread_mutex_lock(&mu);
    counter++;
    pthread_mutex_unlock(&mu);
  }
  pthread_barrier_wait(&bar);
  return (void *)(long)(tls_value * 2);
}

static void *waiter(void *arg) {
  (void)arg;
  pthread_mutex_lock(&mu);
  while (!ready) pthread_cond_wait(&cv, &mu);
  pthread_mutex_unlock(&mu);
  return (void *)7;
}

static void *idle(void *a) {
  (void)a;
  for (;;) pause();
  return NULL;
}

int main(int argc, char **argv) {
  if (argc > 1) {
    printf("exec from a multi-threaded process: %s\n", argv[1]);
    return 0;
  }
  pthread_t th[N];
  pthread_barrier_init(&bar, NULL, N);
  for (long i = 0; i < N; i++)
    if (pthread_create(&th[i], NULL, worker, (void *)i) != 0) { puts("create failed"); return 1; }
  long sum = 0;
  for (int i = 0; i < N; i++) {
    void *r;
    pthread_join(th[i], &r);
    sum += (long)r;
  }
  printf("counter=%ld sum=%ld\n", counter, sum);
  pthread_t w;
  pthread_create(&w, NULL, waiter, NULL);
  pthread_mutex_lock(&mu);
  ready = 1;
  pthread_cond_broadcast(&cv);
  pthread_mutex_unlock(&mu);
  void *r;
  pthread_join(w, &r);
  printf("waiter=%ld\n", (long)r);
  fflush(stdout);
  // execve from a process with other live threads: they vanish, the exec'ing thread
  // becomes the process.
  pthread_t idlers[3];
  for (int i = 0; i < 3; i++) pthread_create(&idlers[i], NULL, idle, NULL);
  execl("/proc/self/exe", argv[0], "ok", (char *)NULL);
  perror("execl");
  return 1;
}
