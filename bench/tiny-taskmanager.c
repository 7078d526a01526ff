/*
 * A TaskManager stand-in for the operator scale benchmark: a few hundred
 * kilobytes of memory instead of a Node.js process, so a 2-core machine can
 * run thousands of pods. It answers every HTTP request on $POD_IP:8081 with
 * 200, which satisfies the pod's readiness and liveness probes.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(void) {
  const char *ip = getenv("POD_IP");
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  struct sockaddr_in addr;
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_port = htons(8081);
  if (!ip || inet_pton(AF_INET, ip, &addr.sin_addr) != 1) {
    fprintf(stderr, "tiny-taskmanager: POD_IP is missing or invalid\n");
    return 78;
  }
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(fd, 64) != 0) {
    perror("tiny-taskmanager: bind/listen");
    return 1;
  }
  static const char reply[] = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n";
  char buffer[2048];
  for (;;) {
    int client = accept(fd, NULL, NULL);
    if (client < 0) continue;
    (void)read(client, buffer, sizeof buffer);
    (void)write(client, reply, sizeof reply - 1);
    close(client);
  }
}
