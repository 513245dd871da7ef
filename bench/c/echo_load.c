/*
 * echo_load — a ping-pong load generator for echo servers (single thread, epoll).
 *
 *   echo_load -h HOST -p PORT -c CONNS -s SIZE -d SECONDS [-w WARMUP_SECONDS] [-P SERVER_PID]
 *             [-S SOURCES]
 *
 * Opens CONNS connections; each sends a SIZE-byte message, waits until SIZE bytes have come back,
 * checks they are the bytes it sent, and sends the next one. Every message carries its
 * connection's own pattern and its sequence number, so a byte that is lost, duplicated, late or
 * crossed between connections is caught. After the warm-up, counts the messages completed in
 * SECONDS and prints one JSON line on stdout:
 *   {"conns":..,"size":..,"seconds":..,"msgs":..,"msgs_per_sec":..,"errors":..,
 *    "p50_us":..,"p90_us":..,"p99_us":..,"p999_us":..,"max_us":..,"client_cpu_pct":..
 *    [,"server_cpu_us":..,"server_cpu_per_msg_us":..]}
 * With -P, the server's CPU time (utime+stime from /proc/PID/stat) is read at the start and end
 * of the measured window. With -S (IPv4 loopback only), connection i binds the source address
 * 127.0.0.(1 + i % SOURCES), so that a server balancing by source address sees many peers.
 * A mismatch, a closed connection or a socket error is reported on
 * stderr, counted in "errors", and makes the exit status 1.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct client {
  int fd;
  unsigned id;
  int out_armed;        /* EPOLLOUT in the interest set */
  uint64_t seq;         /* sequence number of the message in flight */
  size_t sent, rcvd;    /* bytes of it sent, and received back */
  uint64_t t0;          /* when it was started, ns */
  unsigned char *msg;   /* its bytes */
};

static size_t size;
static int ep;
static unsigned alive;
static unsigned long long errors;
static int measuring;
static unsigned long long msgs;
static unsigned char scratch[64 * 1024];

/* Latency histogram, log-linear: 128 sub-buckets per power of two (< 0.8% error), in ns. */
#define SUB 7
static unsigned long long hist[64 << SUB];
static unsigned long long hist_max;

static unsigned bucket_of(uint64_t v) {
  if (v < (1u << SUB)) return (unsigned)v;
  unsigned shift = 63 - (unsigned)__builtin_clzll(v) - SUB;
  return ((shift + 1) << SUB) + (unsigned)((v >> shift) & ((1u << SUB) - 1));
}

static uint64_t bucket_value(unsigned b) { /* middle of the bucket */
  if (b < (1u << SUB)) return b;
  unsigned shift = (b >> SUB) - 1;
  uint64_t low = ((uint64_t)(1u << SUB) + (b & ((1u << SUB) - 1))) << shift;
  return low + ((1ull << shift) >> 1);
}

static double percentile_us(double q) {
  unsigned long long total = 0, seen = 0;
  for (unsigned b = 0; b < (64u << SUB); b++) total += hist[b];
  if (!total) return 0;
  unsigned long long rank = (unsigned long long)(q * (double)total);
  if (rank >= total) rank = total - 1;
  for (unsigned b = 0; b < (64u << SUB); b++) {
    seen += hist[b];
    if (seen > rank) return (double)bucket_value(b) / 1000.0;
  }
  return (double)hist_max / 1000.0;
}

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static double cpu_self_s(void) {
  struct rusage ru;
  if (getrusage(RUSAGE_SELF, &ru) < 0) { perror("getrusage"); exit(1); }
  return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* utime+stime of a process, in µs, from /proc/PID/stat (fields 14 and 15); -1 if it is gone. */
static double cpu_of_pid_us(long pid) {
  char path[64], line[1024];
  snprintf(path, sizeof path, "/proc/%ld/stat", pid);
  FILE *f = fopen(path, "r");
  if (!f) {
    perror(path);
    return -1;
  }
  size_t n = fread(line, 1, sizeof line - 1, f);
  fclose(f);
  line[n] = 0;
  char *p = strrchr(line, ')'); /* the command name may hold spaces and parentheses */
  unsigned long long utime, stime;
  if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
                   &utime, &stime) != 2) {
    fprintf(stderr, "echo_load: cannot parse %s\n", path);
    exit(1);
  }
  return (double)(utime + stime) * 1e6 / (double)sysconf(_SC_CLK_TCK);
}

static void set_out(struct client *c, int on) {
  if (c->out_armed == on) return;
  struct epoll_event ev = { .events = EPOLLIN | (on ? EPOLLOUT : 0), .data.ptr = c };
  if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) < 0) { perror("epoll_ctl"); exit(1); }
  c->out_armed = on;
}

static void fail(struct client *c, const char *what, int err) {
  if (err) fprintf(stderr, "echo_load: connection %u: %s: %s\n", c->id, what, strerror(err));
  else fprintf(stderr, "echo_load: connection %u: %s\n", c->id, what);
  errors++;
  alive--;
  close(c->fd);
  c->fd = -1;
}

/* Returns 0, or -1 if the connection failed. */
static int send_rest(struct client *c) {
  while (c->sent < size) {
    ssize_t n = send(c->fd, c->msg + c->sent, size - c->sent, MSG_NOSIGNAL);
    if (n >= 0) { c->sent += (size_t)n; continue; }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) { set_out(c, 1); return 0; }
    fail(c, "send", errno);
    return -1;
  }
  set_out(c, 0);
  return 0;
}

static int start_message(struct client *c, uint64_t now) {
  c->seq++;
  if (size >= sizeof c->seq) memcpy(c->msg, &c->seq, sizeof c->seq);
  else c->msg[0] = (unsigned char)c->seq;
  c->sent = c->rcvd = 0;
  c->t0 = now;
  return send_rest(c);
}

static void on_readable(struct client *c) {
  for (;;) {
    size_t want = size - c->rcvd;
    if (want > sizeof scratch) want = sizeof scratch;
    ssize_t n = recv(c->fd, scratch, want, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) fail(c, "recv", errno);
      return;
    }
    if (n == 0) {
      fail(c, "server closed the connection", 0);
      return;
    }
    if (c->rcvd + (size_t)n > c->sent) {
      fail(c, "received bytes that were never sent", 0);
      return;
    }
    if (memcmp(scratch, c->msg + c->rcvd, (size_t)n) != 0) {
      size_t i = 0;
      while (scratch[i] == c->msg[c->rcvd + i]) i++;
      fprintf(stderr, "echo_load: connection %u, message %llu, byte %zu: expected 0x%02x, got 0x%02x\n",
              c->id, (unsigned long long)c->seq, c->rcvd + i, c->msg[c->rcvd + i], scratch[i]);
      fail(c, "echoed bytes differ from the bytes sent", 0);
      return;
    }
    c->rcvd += (size_t)n;
    if (c->rcvd == size) {
      uint64_t now = now_ns(), lat = now - c->t0;
      if (measuring) {
        msgs++;
        hist[bucket_of(lat)]++;
        if (lat > hist_max) hist_max = lat;
      }
      start_message(c, now);
      return; /* the reply cannot be here yet: let epoll say when it is */
    }
    if ((size_t)n < want) return; /* drained the socket: skip the recv that would say EAGAIN */
  }
}

static void usage(void) {
  fprintf(stderr, "usage: echo_load -h HOST -p PORT -c CONNS -s SIZE -d SECONDS "
                  "[-w WARMUP_SECONDS] [-P SERVER_PID] [-S SOURCES]\n");
  exit(2);
}

int main(int argc, char **argv) {
  const char *host = "127.0.0.1", *port = NULL;
  unsigned conns = 0;
  double seconds = 0, warmup = 0;
  long pid = 0;
  unsigned sources = 0;
  int opt;
  while ((opt = getopt(argc, argv, "h:p:c:s:d:w:P:S:")) != -1) {
    switch (opt) {
    case 'h': host = optarg; break;
    case 'p': port = optarg; break;
    case 'c': conns = (unsigned)strtoul(optarg, NULL, 10); break;
    case 's': size = strtoul(optarg, NULL, 10); break;
    case 'd': seconds = strtod(optarg, NULL); break;
    case 'w': warmup = strtod(optarg, NULL); break;
    case 'P': pid = strtol(optarg, NULL, 10); break;
    case 'S': sources = (unsigned)strtoul(optarg, NULL, 10); break;
    default: usage();
    }
  }
  if (!port || !conns || !size || seconds <= 0 || warmup < 0 || sources > 254 || optind != argc) usage();

  /* One fd per connection plus a few: raise the soft limit as far as needed (and allowed). */
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) < 0) { perror("getrlimit"); return 1; }
  rlim_t need = (rlim_t)conns + 32;
  if (rl.rlim_cur < need) {
    if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need) {
      fprintf(stderr, "echo_load: %u connections need %llu fds, hard limit is %llu\n",
              conns, (unsigned long long)need, (unsigned long long)rl.rlim_max);
      return 1;
    }
    rl.rlim_cur = need;
    if (setrlimit(RLIMIT_NOFILE, &rl) < 0) { perror("setrlimit"); return 1; }
  }

  struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                            .ai_flags = AI_NUMERICSERV }, *ai;
  int rc = getaddrinfo(host, port, &hints, &ai);
  if (rc != 0) {
    fprintf(stderr, "echo_load: %s:%s: %s\n", host, port, gai_strerror(rc));
    return 1;
  }
  if ((ep = epoll_create1(EPOLL_CLOEXEC)) < 0) { perror("epoll_create1"); return 1; }

  struct client *clients = calloc(conns, sizeof *clients);
  unsigned char *bytes = malloc((size_t)conns * size);
  if (!clients || !bytes) { perror("malloc"); return 1; }

  uint64_t t_connect = now_ns();
  for (unsigned i = 0; i < conns; i++) {
    struct client *c = &clients[i];
    c->id = i;
    c->msg = bytes + (size_t)i * size;
    uint32_t x = 2654435761u * (i + 1); /* xorshift32: each connection its own pattern */
    for (size_t j = 0; j < size; j++) {
      x ^= x << 13; x ^= x >> 17; x ^= x << 5;
      c->msg[j] = (unsigned char)x;
    }
    /* Blocking connect, one at a time: no SYN burst overflows the server's backlog. */
    if ((c->fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
      perror("socket");
      return 1;
    }
    if (sources > 0) {
      struct sockaddr_in from = { .sin_family = AF_INET };
      from.sin_addr.s_addr = htonl(0x7f000001u + i % sources);
      if (bind(c->fd, (struct sockaddr *)&from, sizeof from) < 0) { perror("bind"); return 1; }
    }
    while (connect(c->fd, ai->ai_addr, ai->ai_addrlen) < 0) {
      if (errno == EINTR) continue; /* not restartable in general; we install no handlers */
      fprintf(stderr, "echo_load: connect #%u to %s:%s: %s\n", i, host, port, strerror(errno));
      return 1;
    }
    int one = 1;
    if (setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0 ||
        fcntl(c->fd, F_SETFL, O_NONBLOCK) < 0) {
      perror("setsockopt/fcntl");
      return 1;
    }
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
    if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) < 0) { perror("epoll_ctl"); return 1; }
  }
  freeaddrinfo(ai);
  double connect_ms = (double)(now_ns() - t_connect) / 1e6;

  alive = conns;
  for (unsigned i = 0; i < conns; i++) start_message(&clients[i], now_ns());

  uint64_t t = now_ns(), t_begin = t, t_end = t + (uint64_t)(warmup * 1e9);
  double cpu0 = 0, server0 = 0;
  enum { WARMUP, MEASURE, DONE } phase = WARMUP;
  if (warmup == 0) t_end = t; /* begin measuring at the first check below */
  struct epoll_event events[512];
  while (phase != DONE && alive > 0) {
    if (t >= t_end) {
      if (phase == WARMUP) {
        phase = MEASURE;
        measuring = 1;
        t_begin = t;
        t_end = t + (uint64_t)(seconds * 1e9);
        cpu0 = cpu_self_s();
        if (pid) server0 = cpu_of_pid_us(pid);
      } else {
        phase = DONE;
        break;
      }
    }
    int timeout = (int)((t_end - t + 999999) / 1000000);
    int n = epoll_wait(ep, events, 512, timeout);
    if (n < 0 && errno != EINTR) { perror("epoll_wait"); return 1; }
    for (int i = 0; i < n; i++) {
      struct client *c = events[i].data.ptr;
      if (c->fd < 0) continue; /* failed earlier in this batch */
      unsigned ev = events[i].events;
      if (ev & EPOLLERR) {
        int err = 0;
        socklen_t len = sizeof err;
        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) err = errno;
        fail(c, "socket error", err);
        continue;
      }
      if (ev & (EPOLLIN | EPOLLHUP)) on_readable(c); /* HUP: recv reports EOF or the error */
      if (c->fd >= 0 && (ev & EPOLLOUT)) send_rest(c);
    }
    t = now_ns();
  }
  if (!measuring) { /* every connection failed during the warm-up */
    t_begin = t;
    cpu0 = cpu_self_s();
  }
  double elapsed = (double)(t - t_begin) / 1e9;
  double cpu = cpu_self_s() - cpu0;
  double server1 = pid && measuring ? cpu_of_pid_us(pid) : -1;
  double server = server0 >= 0 && server1 >= 0 ? server1 - server0 : -1;

  printf("{\"conns\":%u,\"size\":%zu,\"seconds\":%.3f,\"warmup\":%.3f,\"connect_ms\":%.1f,"
         "\"msgs\":%llu,\"msgs_per_sec\":%.0f,\"errors\":%llu,"
         "\"p50_us\":%.1f,\"p90_us\":%.1f,\"p99_us\":%.1f,\"p999_us\":%.1f,\"max_us\":%.1f,"
         "\"client_cpu_pct\":%.1f",
         conns, size, elapsed, warmup, connect_ms, msgs, elapsed > 0 ? (double)msgs / elapsed : 0,
         errors, percentile_us(0.50), percentile_us(0.90), percentile_us(0.99),
         percentile_us(0.999), (double)hist_max / 1000.0, elapsed > 0 ? 100.0 * cpu / elapsed : 0);
  if (pid && server >= 0)
    printf(",\"server_cpu_us\":%.0f,\"server_cpu_pct\":%.1f,\"server_cpu_per_msg_us\":%.3f",
           server, elapsed > 0 ? server / elapsed / 1e4 : 0, msgs ? server / (double)msgs : 0);
  else if (pid)
    printf(",\"server_cpu_us\":null,\"server_cpu_pct\":null,\"server_cpu_per_msg_us\":null");
  printf("}\n");
  fflush(stdout);

  for (unsigned i = 0; i < conns; i++)
    if (clients[i].fd >= 0) close(clients[i].fd);
  return errors ? 1 : 0;
}
