#include "sockets.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

namespace rxloop {

size_t EncodeAddress(const sockaddr_storage& addr, socklen_t len, uint8_t* out) {
  if (addr.ss_family == AF_INET) {
    const auto& in = reinterpret_cast<const sockaddr_in&>(addr);
    out[0] = 4;
    memcpy(out + 1, &in.sin_port, 2);
    memcpy(out + 3, &in.sin_addr, 4);
    return 7;
  }
  if (addr.ss_family == AF_INET6) {
    const auto& in6 = reinterpret_cast<const sockaddr_in6&>(addr);
    out[0] = 6;
    memcpy(out + 1, &in6.sin6_port, 2);
    memcpy(out + 3, &in6.sin6_addr, 16);
    return 19;
  }
  if (addr.ss_family == AF_UNIX) {
    const auto& un = reinterpret_cast<const sockaddr_un&>(addr);
    size_t offset = offsetof(sockaddr_un, sun_path);
    size_t path_len = len > offset ? len - offset : 0;
    // A filesystem path may carry its terminating NUL; an abstract name starts with one.
    if (path_len > 0 && un.sun_path[0] != '\0') path_len = strnlen(un.sun_path, path_len);
    out[0] = 1;
    out[1] = static_cast<uint8_t>(path_len);
    memcpy(out + 2, un.sun_path, path_len);
    return 2 + path_len;
  }
  out[0] = 0;
  return 1;
}

// On Linux it has nothing left to do.
int PrepareSocket(int fd) {
#ifndef RXLOOP_HAVE_SOCK_FLAGS
  int flags = fcntl(fd, F_GETFL);
  if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0 ||
      fcntl(fd, F_SETFD, FD_CLOEXEC) != 0) {
    int err = errno;
    CloseFd(fd);
    return -err;
  }
#endif
#if !defined(RXLOOP_HAVE_MSG_NOSIGNAL) && defined(SO_NOSIGPIPE)
  // A send to a peer that is gone must give EPIPE, never SIGPIPE (loop.cc sends without flags).
  int on = 1;
  if (setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &on, sizeof(on)) != 0) {
    int err = errno;
    CloseFd(fd);
    return -err;
  }
#endif
  return fd;
}

int NewSocket(int family, int type) {
#ifdef RXLOOP_HAVE_SOCK_FLAGS
  int fd = socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
#else
  int fd = socket(family, type, 0);
#endif
  if (fd < 0) return -errno;
  return PrepareSocket(fd);
}

static ListenResult Fail(ListenResult r, int fd, int err) {
  if (fd >= 0) CloseFd(fd);
  r.fd = -1;
  r.err = err;
  return r;
}

static ListenResult BindAndListen(int fd, const sockaddr* addr, socklen_t len, int backlog) {
  ListenResult r;
  if (bind(fd, addr, len) != 0) return Fail(r, fd, errno);
  if (listen(fd, backlog) != 0) return Fail(r, fd, errno);
  r.bound_len = sizeof(r.bound);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&r.bound), &r.bound_len) != 0) {
    return Fail(r, fd, errno);
  }
  r.fd = fd;
  return r;
}

addrinfo* ResolvePassive(const std::string& host, int port, int socktype, ListenResult* r) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = socktype;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  int gai = getaddrinfo(host.empty() ? nullptr : host.c_str(), std::to_string(port).c_str(), &hints, &found);
  if (gai != 0) {
    r->gai_error = gai;
    if (gai == EAI_SYSTEM) r->err = errno;
    return nullptr;
  }
  return found;
}

ListenResult ListenTcp(const std::string& host, int port, int backlog, bool reuse_port) {
  ListenResult r;
  addrinfo* found = ResolvePassive(host, port, SOCK_STREAM, &r);
  if (found == nullptr) return r;
  int fd = NewSocket(found->ai_family, SOCK_STREAM);
  if (fd < 0) {
    freeaddrinfo(found);
    return Fail(r, -1, -fd);
  }
  int on = 1;
  // SO_REUSEADDR lets a restarted server bind while old connections sit in TIME_WAIT.
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) != 0 ||
      (reuse_port && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) != 0)) {
    int err = errno;
    freeaddrinfo(found);
    return Fail(r, fd, err);
  }
  r = BindAndListen(fd, found->ai_addr, found->ai_addrlen, backlog);
  freeaddrinfo(found);
  if (r.fd < 0) return r;
  if (r.bound.ss_family == AF_INET) {
    r.wildcard = reinterpret_cast<sockaddr_in&>(r.bound).sin_addr.s_addr == htonl(INADDR_ANY);
  } else if (r.bound.ss_family == AF_INET6) {
    r.wildcard = IN6_IS_ADDR_UNSPECIFIED(&reinterpret_cast<sockaddr_in6&>(r.bound).sin6_addr);
  }
  return r;
}

// Fills a unix address; `path` may start with a NUL byte for an abstract name. Returns 0, or
// ENAMETOOLONG (or EOPNOTSUPP for an abstract name where there are none).
static int UnixAddress(const std::string& path, sockaddr_un* addr, socklen_t* len) {
  *addr = sockaddr_un{};
  addr->sun_family = AF_UNIX;
  bool abstract = !path.empty() && path[0] == '\0';
#ifndef __linux__
  if (abstract) return EOPNOTSUPP;  // abstract names are Linux's own
#endif
  // A filesystem path needs room for its terminating NUL; an abstract name does not, and is
  // bound at its exact length.
  size_t size = path.size() + (abstract ? 0 : 1);
  if (path.empty() || size > sizeof(addr->sun_path)) return ENAMETOOLONG;
  memcpy(addr->sun_path, path.data(), path.size());
  *len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + size);
  return 0;
}

ListenResult ListenUnix(const std::string& path, int backlog) {
  ListenResult r;
  sockaddr_un addr;
  socklen_t len;
  int err = UnixAddress(path, &addr, &len);
  if (err != 0) return Fail(r, -1, err);
  int fd = NewSocket(AF_UNIX, SOCK_STREAM);
  if (fd < 0) return Fail(r, -1, -fd);
  return BindAndListen(fd, reinterpret_cast<sockaddr*>(&addr), len, backlog);
}

static int FinishConnect(int fd, const sockaddr* addr, socklen_t len) {
  // An interrupted connect goes on in the background, like one in progress: the poller reports
  // its outcome either way, and retrying it would only give EALREADY.
  if (connect(fd, addr, len) == 0 || errno == EINPROGRESS || errno == EINTR) return fd;
  int err = errno;
  CloseFd(fd);
  return -err;
}

int ConnectTcp(const std::string& ip, int port, bool no_delay, int keep_alive_seconds) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;  // names are resolved off the loop, in JS
  addrinfo* found = nullptr;
  if (getaddrinfo(ip.c_str(), std::to_string(port).c_str(), &hints, &found) != 0) return -EINVAL;
  int fd = NewSocket(found->ai_family, SOCK_STREAM);
  if (fd < 0) {
    freeaddrinfo(found);
    return fd;
  }
  SetStreamOptions(fd, true, no_delay, keep_alive_seconds);
  fd = FinishConnect(fd, found->ai_addr, found->ai_addrlen);
  freeaddrinfo(found);
  return fd;
}

int ConnectUnix(const std::string& path) {
  sockaddr_un addr;
  socklen_t len;
  int err = UnixAddress(path, &addr, &len);
  if (err != 0) return -err;
  int fd = NewSocket(AF_UNIX, SOCK_STREAM);
  if (fd < 0) return fd;
  return FinishConnect(fd, reinterpret_cast<sockaddr*>(&addr), len);
}

int AcceptOne(int listen_fd, sockaddr_storage* addr, socklen_t* len) {
  for (;;) {
    *len = sizeof(*addr);
#ifdef RXLOOP_HAVE_SOCK_FLAGS
    int fd = accept4(listen_fd, reinterpret_cast<sockaddr*>(addr), len,
                     SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) return fd;
#else
    int fd = accept(listen_fd, reinterpret_cast<sockaddr*>(addr), len);
    // A connection that cannot be set up (macOS refuses SO_NOSIGPIPE on one already reset) is
    // the peer's own failure, like one aborted before accept: the caller moves on to the next.
    if (fd >= 0) return PrepareSocket(fd) >= 0 ? fd : -ECONNABORTED;
#endif
    if (errno != EINTR) return -errno;
  }
}

void SetStreamOptions(int fd, bool tcp, bool no_delay, int keep_alive_seconds) {
  // Failures here leave a working, if less tuned, connection: they are not worth closing it for.
  if (!tcp) return;
  int on = 1;
  if (no_delay) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
  if (keep_alive_seconds > 0) {
    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on));
#if defined(TCP_KEEPIDLE)
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &keep_alive_seconds, sizeof(keep_alive_seconds));
#elif defined(TCP_KEEPALIVE)
    // macOS's name for the idle time (OpenBSD has neither: its idle time is system-wide).
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPALIVE, &keep_alive_seconds, sizeof(keep_alive_seconds));
#endif
  }
}

void CloseFd(int fd) { close(fd); }

}  // namespace rxloop
