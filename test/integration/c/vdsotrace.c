// 100 clock reads through glibc (the vDSO where there is one) and 3 through the system call.
#include <stdio.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int main(void) {
  struct timespec t;
  long sum = 0;
  for (int i = 0; i < 100; i++) {
    clock_gettime(CLOCK_MONOTONIC, &t);
    sum += t.tv_nsec & 1;
  }
  for (int i = 0; i < 3; i++) syscall(SYS_clock_gettime, CLOCK_REALTIME, &t);
  printf("done %d\n", sum >= 0);
  return 0;
}
