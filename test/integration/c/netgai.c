// getaddrinfo("localhost") with AI_ADDRCONFIG (glibc asks rtnetlink which address
// families have addresses: RTM_GETADDR over AF_NETLINK), then a TCP connection to
// every address it returned that a listener on the same family accepts.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(void) {
  struct addrinfo hints, *res = NULL;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_ADDRCONFIG;
  int r = getaddrinfo("localhost", "0", &hints, &res);
  printf("getaddrinfo: %s\n", r ? gai_strerror(r) : "ok");
  if (r) return 1;
  for (struct addrinfo* ai = res; ai; ai = ai->ai_next) {
    char txt[64];
    void* a = ai->ai_family == AF_INET ? (void*)&((struct sockaddr_in*)ai->ai_addr)->sin_addr
                                       : (void*)&((struct sockaddr_in6*)ai->ai_addr)->sin6_addr;
    inet_ntop(ai->ai_family, a, txt, sizeof txt);
    int l = socket(ai->ai_family, SOCK_STREAM, 0);
    int ok = l >= 0 && bind(l, ai->ai_addr, ai->ai_addrlen) == 0 && listen(l, 1) == 0;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    ok = ok && getsockname(l, (struct sockaddr*)&ss, &sl) == 0;
    int c = socket(ai->ai_family, SOCK_STREAM, 0);
    ok = ok && connect(c, (struct sockaddr*)&ss, sl) == 0;
    int s = ok ? accept(l, NULL, NULL) : -1;
    ok = ok && s >= 0 && write(c, "x", 1) == 1;
    char b;
    ok = ok && read(s, &b, 1) == 1 && b == 'x';
    printf("%s %s socktype %d connect+accept %s\n", ai->ai_family == AF_INET ? "inet" : "inet6", txt,
           ai->ai_socktype, ok ? "ok" : "failed");
    close(s);
    close(c);
    close(l);
  }
  freeaddrinfo(res);
  return 0;
}
