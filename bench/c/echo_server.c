/*
 * echo_server — a plain single-threaded epoll echo server: the C baseline for bench/echo.js.
 *
 *   echo_server PORT [HOST]        (HOST defaults to 127.0.0.1; PORT 0 binds any free port)
 *
 * Prints exactly "listening tcp://HOST:PORT" once bound, serves until SIGINT/SIGTERM, exits 0.
 * Level-triggered epoll, non-blocking sockets, TCP_NODELAY. A readable socket is read once per
 * wake (so no peer starves the others) and the bytes are written straight back. An unsent
 * remainder is kept per connection: reading from that peer stops and EPOLLOUT is armed until it
 * drains, so a peer that never reads costs at most one read buffer. Accept errors EMFILE/ENFILE
 * pause accepting for 100 ms instead of spinning.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct conn {
  int fd;
  char *pending;      /* unsent bytes, NULL when there are none */
  size_t off, len;    /* pending[off..len) is still to be sent */
};

static int ep;
static struct conn listener = { .fd = -1 }, signals = { .fd = -1 };
static char buf[64 * 1024];
static long long accept_resume_at; /* ms on CLOCK_MONOTONIC; 0 while accepting */

static void die(const char *what) {
  perror(what);
  exit(1);
}

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static int watch(int op, struct conn *c, unsigned events) {
  struct epoll_event ev = { .events = events, .data.ptr = c };
  return epoll_ctl(ep, op, c->fd, &ev);
}

/* Changing the interest of a registered fd cannot fail short of a bug: stop if it does. */
static void rewatch(struct conn *c, unsigned events) {
  if (watch(EPOLL_CTL_MOD, c, events) < 0) die("epoll_ctl");
}

static void close_conn(struct conn *c) {
  close(c->fd); /* also leaves the epoll set: nothing else refers to this socket */
  free(c->pending);
  free(c);
}

/* Sends from p; returns bytes sent (possibly fewer on EAGAIN), or -1 on a socket error. */
static ssize_t send_some(int fd, const char *p, size_t len) {
  size_t done = 0;
  while (done < len) {
    ssize_t n = send(fd, p + done, len - done, MSG_NOSIGNAL);
    if (n >= 0) done += (size_t)n;
    else if (errno == EINTR) continue;
    else if (errno == EAGAIN || errno == EWOULDBLOCK) break;
    else return -1;
  }
  return (ssize_t)done;
}

static void on_writable(struct conn *c) {
  ssize_t n = send_some(c->fd, c->pending + c->off, c->len - c->off);
  if (n < 0) {
    close_conn(c);
    return;
  }
  c->off += (size_t)n;
  if (c->off < c->len) return; /* still blocked: stay on EPOLLOUT */
  free(c->pending);
  c->pending = NULL;
  c->off = c->len = 0;
  rewatch(c, EPOLLIN); /* drained: read again */
}

static void on_readable(struct conn *c) {
  ssize_t n;
  do n = recv(c->fd, buf, sizeof buf, 0); while (n < 0 && errno == EINTR);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
  if (n <= 0) { /* EOF (every reply was sent already: we read only then) or a socket error */
    close_conn(c);
    return;
  }

  ssize_t sent = send_some(c->fd, buf, (size_t)n);
  if (sent < 0) {
    close_conn(c);
    return;
  }
  if (sent == n) return;
  c->len = (size_t)(n - sent);
  c->off = 0;
  if (!(c->pending = malloc(c->len))) die("malloc");
  memcpy(c->pending, buf + sent, c->len);
  rewatch(c, EPOLLOUT); /* stop reading until the remainder is out */
}

static void on_accept(void) {
  for (;;) {
    int fd = accept4(listener.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      switch (errno) {
      case EAGAIN:
#if EWOULDBLOCK != EAGAIN
      case EWOULDBLOCK:
#endif
        return;
      case EINTR: case ECONNABORTED: case EPROTO: case EPERM:
      case ENETDOWN: case ENOPROTOOPT: case EHOSTDOWN: case ENONET:
      case EHOSTUNREACH: case EOPNOTSUPP: case ENETUNREACH:
        continue; /* this connection failed, not the listener (see accept(2)) */
      case EMFILE: case ENFILE: case ENOBUFS: case ENOMEM:
        perror("accept4 (pausing 100 ms)");
        rewatch(&listener, 0);
        accept_resume_at = now_ms() + 100;
        return;
      default:
        die("accept4");
      }
    }
    int one = 1; /* best effort: a socket reset before this still gets its EOF on read */
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct conn *c = calloc(1, sizeof *c);
    if (!c) die("calloc");
    c->fd = fd;
    if (watch(EPOLL_CTL_ADD, c, EPOLLIN) < 0) { /* ENOMEM, or max_user_watches reached */
      perror("epoll_ctl (dropping a connection)");
      close_conn(c);
    }
  }
}

static void listen_on(const char *host, const char *port) {
  struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                            .ai_flags = AI_PASSIVE | AI_NUMERICSERV }, *res, *ai;
  int rc = getaddrinfo(host, port, &hints, &res);
  if (rc != 0) {
    fprintf(stderr, "echo_server: %s:%s: %s\n", host, port, gai_strerror(rc));
    exit(1);
  }
  for (ai = res; ai; ai = ai->ai_next) {
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) continue;
    int one = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == 0 &&
        bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 4096) == 0) {
      listener.fd = fd;
      break;
    }
    int saved = errno;
    close(fd);
    errno = saved;
  }
  if (listener.fd < 0) die("bind/listen");
  freeaddrinfo(res);

  struct sockaddr_storage ss;
  socklen_t sl = sizeof ss;
  char h[NI_MAXHOST], p[NI_MAXSERV];
  if (getsockname(listener.fd, (struct sockaddr *)&ss, &sl) < 0) die("getsockname");
  rc = getnameinfo((struct sockaddr *)&ss, sl, h, sizeof h, p, sizeof p, NI_NUMERICHOST | NI_NUMERICSERV);
  if (rc != 0) {
    fprintf(stderr, "echo_server: getnameinfo: %s\n", gai_strerror(rc));
    exit(1);
  }
  const char *fmt = ss.ss_family == AF_INET6 ? "listening tcp://[%s]:%s\n" : "listening tcp://%s:%s\n";
  printf(fmt, h, p);
  if (fflush(stdout) != 0) die("stdout");
}

int main(int argc, char **argv) {
  if (argc < 2 || argc > 3) {
    fprintf(stderr, "usage: echo_server PORT [HOST]\n");
    return 2;
  }
  /* SIGINT/SIGTERM arrive through a signalfd in the epoll set: no race with epoll_wait. */
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGTERM);
  if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0) die("sigprocmask");
  if ((signals.fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC)) < 0) die("signalfd");

  if ((ep = epoll_create1(EPOLL_CLOEXEC)) < 0) die("epoll_create1");
  listen_on(argc > 2 ? argv[2] : "127.0.0.1", argv[1]);
  if (watch(EPOLL_CTL_ADD, &listener, EPOLLIN) < 0 || watch(EPOLL_CTL_ADD, &signals, EPOLLIN) < 0)
    die("epoll_ctl");

  struct epoll_event events[256];
  for (;;) {
    int timeout = -1;
    if (accept_resume_at) {
      long long left = accept_resume_at - now_ms();
      if (left <= 0) {
        accept_resume_at = 0;
        rewatch(&listener, EPOLLIN);
      } else {
        timeout = (int)left;
      }
    }
    int n = epoll_wait(ep, events, 256, timeout);
    if (n < 0) {
      if (errno == EINTR) continue;
      die("epoll_wait");
    }
    for (int i = 0; i < n; i++) {
      struct conn *c = events[i].data.ptr;
      unsigned ev = events[i].events;
      if (c == &signals) return 0; /* SIGINT or SIGTERM */
      if (c == &listener) on_accept();
      else if (ev & EPOLLERR) close_conn(c);
      else if (c->pending) on_writable(c);  /* EPOLLOUT, or EPOLLHUP: send then fails */
      else on_readable(c);                  /* EPOLLIN, or EPOLLHUP: recv sees EOF/error */
    }
  }
}
