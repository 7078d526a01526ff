/*
 * A TaskManager stand-in for the operator benchmarks: a few hundred kilobytes
 * of memory instead of a Node.js process, so a 2-core machine can run
 * thousands of pods. On $POD_IP:8081 it answers GET /v1/status with a status
 * document like a TaskManager's (control-api.ts): one task per index in
 * $WEIR_TASKS, of run $WEIR_RUN_ID, committing every second, with load
 * counters that grow as a task of TINY_RATE records per second, busy
 * TINY_BUSY_PERCENT of the time (moved by up to ±TINY_NOISE_PERCENT every 30 s),
 * its share of TINY_PARTITIONS partitions; that is what the autoscaler measures.
 * Every other request (the probes) gets 200 "ok".
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static long env_long(const char *name, long fallback, long low, long high) {
  const char *text = getenv(name);
  if (!text || !*text) return fallback;
  char *end;
  long value = strtol(text, &end, 10);
  if (*end || value < low || value > high) {
    fprintf(stderr, "tiny-taskmanager: %s must be an integer from %ld to %ld, got \"%s\"\n", name, low, high, text);
    exit(78);
  }
  return value;
}

/* Run ids and task lists go into JSON unescaped: only these characters are let through. */
static int plain(const char *text, const char *allowed) {
  for (; *text; text++)
    if (!strchr(allowed, *text)) return 0;
  return 1;
}

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_REALTIME, &t);
  return t.tv_sec * 1000.0 + t.tv_nsec / 1e6;
}

/* The busy share (0..1) over [0, at): steady, or stepping every 30 s by a pseudo-random ±noise. */
static double busy_ms_until(double at_ms, double busy, double noise, unsigned seed) {
  double total = 0;
  for (double from = 0; from < at_ms; from += 30000) {
    unsigned step = (unsigned)(from / 30000) * 2654435761u ^ seed;
    double wobble = noise * ((step % 2001) / 1000.0 - 1.0);
    double share = busy * (1 + wobble);
    if (share > 1) share = 1;
    double until = from + 30000 < at_ms ? from + 30000 : at_ms;
    total += (until - from) * share;
  }
  return total;
}

int main(void) {
  const char *ip = getenv("POD_IP");
  const char *run = getenv("WEIR_RUN_ID");
  const char *tasks = getenv("WEIR_TASKS");
  if (!run || !plain(run, "abcdefghijklmnopqrstuvwxyz0123456789-")) run = "";
  if (!tasks || !plain(tasks, "0123456789,")) tasks = "";
  long rate = env_long("TINY_RATE", 1000, 0, 10000000);
  double busy = env_long("TINY_BUSY_PERCENT", 40, 0, 100) / 100.0;
  double noise = env_long("TINY_NOISE_PERCENT", 0, 0, 100) / 100.0;
  long partitions = env_long("TINY_PARTITIONS", 12, 1, 256);
  long pod = env_long("WEIR_POD_INDEX", 0, 0, 100000);
  long parallelism = env_long("WEIR_PARALLELISM", 1, 1, 100000);
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
  static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n";
  static char body[65536];
  static char reply[66000];
  char request[2048];
  double started = now_ms();
  for (;;) {
    int client = accept(fd, NULL, NULL);
    if (client < 0) continue;
    ssize_t got = read(client, request, sizeof request - 1);
    request[got > 0 ? got : 0] = 0;
    if (strncmp(request, "GET /v1/status ", 15) != 0) {
      (void)write(client, ok, sizeof ok - 1);
      close(client);
      continue;
    }
    double now = now_ms();
    double uptime = now - started;
    time_t seconds = (time_t)(now / 1000);
    char committed[32];
    strftime(committed, sizeof committed, "%Y-%m-%dT%H:%M:%SZ", gmtime(&seconds));
    int used = snprintf(body, sizeof body, "{\"runId\":\"%s\",\"tasks\":[", run);
    const char *next = tasks;
    while (*next && used < (int)sizeof body - 4096) {
      long task = strtol(next, (char **)&next, 10);
      if (*next == ',') next++;
      double busy_ms = busy_ms_until(uptime, busy, noise, (unsigned)(pod * 31 + task));
      long records = (long)(uptime / 1000 * rate);
      used += snprintf(body + used, sizeof body - used,
                       "%s{\"task\":%ld,\"state\":\"running\",\"lastCheckpointId\":%ld,"
                       "\"consecutiveCheckpointFailures\":0,\"committedAsOf\":\"%s\",\"sinceCommitMs\":0,"
                       "\"load\":{\"recordsIn\":%ld,\"recordsOut\":%ld,\"busyMs\":%ld,\"backpressureMs\":0,"
                       "\"uptimeMs\":%ld},\"partitions\":[",
                       body[used - 1] == '[' ? "" : ",", task, (long)(uptime / 1000) + 1, committed, records,
                       records, (long)busy_ms, (long)uptime);
      /* Partitions are spread over the tasks as the runtime spreads them: p to task p % parallelism. */
      for (long p = task, first = 1; p < partitions; p += parallelism, first = 0)
        used += snprintf(body + used, sizeof body - used, "%s{\"lag\":0}", first ? "" : ",");
      used += snprintf(body + used, sizeof body - used, "]}");
    }
    used += snprintf(body + used, sizeof body - used, "]}");
    int length = snprintf(reply, sizeof reply,
                          "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
                          "Connection: close\r\n\r\n%s",
                          used, body);
    (void)write(client, reply, length);
    close(client);
  }
}
