// A small well-formed static program: the seed for corrupted-ELF tests.
#include <unistd.h>
int main(void) { write(1, "ok\n", 3); return 0; }
