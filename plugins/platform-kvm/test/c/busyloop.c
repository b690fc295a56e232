// A thread that makes no system call must still be cut at the end of its time slice, so
// the sentry's timers run: alarm(1) interrupts a busy loop (the handler sets `stop`), and a
// second thread's nanosleep returns while the first one spins.
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop;
static volatile int slept;

static void on_alarm(int sig) {
  (void)sig;
  stop = 1;
}

static void *sleeper(void *arg) {
  (void)arg;
  struct timespec ts = {0, 100 * 1000 * 1000};
  nanosleep(&ts, NULL);
  slept = 1;
  return NULL;
}

int main(void) {
  signal(SIGALRM, on_alarm);
  pthread_t t;
  pthread_create(&t, NULL, sleeper, NULL);
  alarm(1);
  unsigned long spins = 0;
  while (!stop) spins++;
  pthread_join(t, NULL);
  printf("busy loop stopped by alarm: %d; sleeper woke while it spun: %d; spun: %d\n", stop, slept, spins > 0);
  return 0;
}
