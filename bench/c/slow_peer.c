/*
 * slow_peer — a peer that writes without end and never reads (bench/idle.js).
 *
 *   slow_peer -h HOST -p PORT [-s CHUNK_BYTES]
 *
 * Connects, prints {"connected":true}, then sends CHUNK-byte blocks as fast as the server takes
 * them and never reads a byte. On SIGINT/SIGTERM prints {"bytes_written":N} and exits 0; if the
 * server closes or resets the connection, prints {"bytes_written":N,"error":"..."} and exits 1.
 * A server that applies backpressure stops reading from this peer, and the sends then block:
 * bytes_written stays near the socket buffers plus what the server holds.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static volatile sig_atomic_t stop;
static void on_signal(int sig) { (void)sig; stop = 1; }

int main(int argc, char **argv) {
  const char *host = "127.0.0.1", *port = NULL;
  size_t chunk = 64 * 1024;
  int opt;
  while ((opt = getopt(argc, argv, "h:p:s:")) != -1) {
    switch (opt) {
    case 'h': host = optarg; break;
    case 'p': port = optarg; break;
    case 's': chunk = strtoul(optarg, NULL, 10); break;
    default: goto usage;
    }
  }
  if (!port || !chunk || optind != argc) {
  usage:
    fprintf(stderr, "usage: slow_peer -h HOST -p PORT [-s CHUNK_BYTES]\n");
    return 2;
  }

  /* SIGINT/SIGTERM stay blocked except inside ppoll, so none is lost between check and wait. */
  sigset_t mask, waitmask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGTERM);
  if (sigprocmask(SIG_BLOCK, &mask, &waitmask) < 0) { perror("sigprocmask"); return 1; }
  struct sigaction sa = { .sa_handler = on_signal };
  sigemptyset(&sa.sa_mask);
  if (sigaction(SIGINT, &sa, NULL) < 0 || sigaction(SIGTERM, &sa, NULL) < 0) {
    perror("sigaction");
    return 1;
  }

  struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                            .ai_flags = AI_NUMERICSERV }, *ai;
  int rc = getaddrinfo(host, port, &hints, &ai);
  if (rc != 0) {
    fprintf(stderr, "slow_peer: %s:%s: %s\n", host, port, gai_strerror(rc));
    return 1;
  }
  int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) { perror("socket"); return 1; }
  if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) { perror("slow_peer: connect"); return 1; }
  freeaddrinfo(ai);
  if (fcntl(fd, F_SETFL, O_NONBLOCK) < 0) { perror("fcntl"); return 1; }
  printf("{\"connected\":true}\n");
  fflush(stdout);

  char *buf = malloc(chunk);
  if (!buf) { perror("malloc"); return 1; }
  memset(buf, 'z', chunk);
  unsigned long long total = 0;
  const char *error = NULL;
  size_t off = 0;
  while (!stop && !error) {
    ssize_t n = send(fd, buf + off, chunk - off, MSG_NOSIGNAL);
    if (n >= 0) {
      total += (unsigned long long)n;
      off = (off + (size_t)n) % chunk;
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      struct pollfd p = { .fd = fd, .events = POLLOUT };
      /* A signal interrupts this wait; an error or hang-up is reported by the next send. */
      if (ppoll(&p, 1, NULL, &waitmask) < 0 && errno != EINTR) error = strerror(errno);
    } else if (errno != EINTR) {
      error = strerror(errno);
    }
  }
  if (error) printf("{\"bytes_written\":%llu,\"error\":\"%s\"}\n", total, error);
  else printf("{\"bytes_written\":%llu}\n", total);
  fflush(stdout);
  return error ? 1 : 0;
}
