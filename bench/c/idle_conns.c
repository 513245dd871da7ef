/*
 * idle_conns — opens N connections to an echo server and holds them idle (bench/idle.js).
 *
 *   idle_conns -h HOST -p PORT -c N [-n]
 *
 * Connects N times (one at a time, blocking), sends one byte on each and waits for every echo,
 * so that the server has surely accepted and served each connection (-n skips this), then prints
 * one JSON line {"conns":N,"connect_ms":..} and holds the connections until stdin reaches EOF or
 * SIGINT/SIGTERM arrives; then closes them and exits 0. Any failure: message on stderr, exit 1.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static void die(const char *what) {
  perror(what);
  exit(1);
}

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

int main(int argc, char **argv) {
  const char *host = "127.0.0.1", *port = NULL;
  unsigned n = 0;
  int ping = 1, opt;
  while ((opt = getopt(argc, argv, "h:p:c:n")) != -1) {
    switch (opt) {
    case 'h': host = optarg; break;
    case 'p': port = optarg; break;
    case 'c': n = (unsigned)strtoul(optarg, NULL, 10); break;
    case 'n': ping = 0; break;
    default: goto usage;
    }
  }
  if (!port || !n || optind != argc) {
  usage:
    fprintf(stderr, "usage: idle_conns -h HOST -p PORT -c N [-n]\n");
    return 2;
  }

  /* Signals are taken from a signalfd while waiting; block them from here on. */
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGTERM);
  if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0) die("sigprocmask");
  int sfd = signalfd(-1, &mask, SFD_CLOEXEC);
  if (sfd < 0) die("signalfd");

  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) < 0) die("getrlimit");
  rlim_t need = (rlim_t)n + 32;
  if (rl.rlim_cur < need) {
    if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need) {
      fprintf(stderr, "idle_conns: %u connections need %llu fds, hard limit is %llu\n",
              n, (unsigned long long)need, (unsigned long long)rl.rlim_max);
      return 1;
    }
    rl.rlim_cur = need;
    if (setrlimit(RLIMIT_NOFILE, &rl) < 0) die("setrlimit");
  }

  struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                            .ai_flags = AI_NUMERICSERV }, *ai;
  int rc = getaddrinfo(host, port, &hints, &ai);
  if (rc != 0) {
    fprintf(stderr, "idle_conns: %s:%s: %s\n", host, port, gai_strerror(rc));
    return 1;
  }
  int *fds = malloc(n * sizeof *fds);
  if (!fds) die("malloc");

  double t0 = now_ms();
  struct timeval tv = { .tv_sec = 10 }; /* bound every blocking recv/send below */
  for (unsigned i = 0; i < n; i++) {
    if ((fds[i] = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) die("socket");
    if (setsockopt(fds[i], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) < 0 ||
        setsockopt(fds[i], SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) < 0)
      die("setsockopt");
    if (connect(fds[i], ai->ai_addr, ai->ai_addrlen) < 0) {
      fprintf(stderr, "idle_conns: connect #%u: %s\n", i, strerror(errno));
      return 1;
    }
    ssize_t w;
    do w = ping ? send(fds[i], "x", 1, MSG_NOSIGNAL) : 1; while (w < 0 && errno == EINTR);
    if (w != 1) {
      fprintf(stderr, "idle_conns: send #%u: %s\n", i, w < 0 ? strerror(errno) : "short write");
      return 1;
    }
  }
  freeaddrinfo(ai);
  for (unsigned i = 0; ping && i < n; i++) {
    char b;
    ssize_t r;
    do r = recv(fds[i], &b, 1, 0); while (r < 0 && errno == EINTR);
    if (r != 1 || b != 'x') {
      fprintf(stderr, "idle_conns: echo #%u: %s\n", i,
              r < 0 ? strerror(errno) : r == 0 ? "connection closed" : "wrong byte");
      return 1;
    }
  }
  printf("{\"conns\":%u,\"connect_ms\":%.1f}\n", n, now_ms() - t0);
  if (fflush(stdout) != 0) die("stdout");

  /* Hold until stdin closes or a signal comes. */
  struct pollfd pfd[2] = { { .fd = 0, .events = POLLIN }, { .fd = sfd, .events = POLLIN } };
  for (;;) {
    if (poll(pfd, 2, -1) < 0) {
      if (errno == EINTR) continue;
      die("poll");
    }
    if (pfd[1].revents) break;
    if (pfd[0].revents) {
      char b[256];
      ssize_t r = read(0, b, sizeof b);
      if (r == 0 || (r < 0 && errno != EINTR && errno != EAGAIN)) break; /* EOF or gone */
    }
  }
  for (unsigned i = 0; i < n; i++) close(fds[i]);
  return 0;
}
