// Socket set-up shared by every poller: listening, accepting, options, and the compact address
// encoding the loop hands to JavaScript.
#ifndef RXLOOP_SOCKETS_H_
#define RXLOOP_SOCKETS_H_

#include <netdb.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cstddef>
#include <cstdint>
#include <string>

// Feature checks. Linux and the BSDs make a socket non-blocking and close-on-exec as they create
// or accept it (SOCK_NONBLOCK, accept4), and suppress SIGPIPE per send (MSG_NOSIGNAL); macOS has
// neither, so there fcntl and SO_NOSIGPIPE do it once per socket. Defining
// RXLOOP_PORTABLE_SOCKETS takes the fallbacks anywhere, to exercise them on Linux.
#if defined(SOCK_NONBLOCK) && defined(SOCK_CLOEXEC) && !defined(RXLOOP_PORTABLE_SOCKETS)
#define RXLOOP_HAVE_SOCK_FLAGS 1
#endif
#if defined(MSG_NOSIGNAL) && !defined(RXLOOP_PORTABLE_SOCKETS)
#define RXLOOP_HAVE_MSG_NOSIGNAL 1
#endif
#if defined(MSG_CMSG_CLOEXEC) && !defined(RXLOOP_PORTABLE_SOCKETS)
#define RXLOOP_HAVE_MSG_CMSG_CLOEXEC 1
#endif

namespace rxloop {

// Encoded address: [family: 4 | 6 | 1 (unix)] then, for IP, [port: u16 BE][4 or 16 address bytes];
// for unix, [length: u8][path bytes] (an abstract name keeps its leading NUL).
constexpr size_t kMaxEncodedAddress = 2 + sizeof(sockaddr_un::sun_path);

size_t EncodeAddress(const sockaddr_storage& addr, socklen_t len, uint8_t* out);

// What a send adds to its flags so that a peer that is gone gives EPIPE, never SIGPIPE: the
// socket itself says so where there is no MSG_NOSIGNAL (SO_NOSIGPIPE, set by PrepareSocket).
#ifdef RXLOOP_HAVE_MSG_NOSIGNAL
constexpr int kSendNoSignal = MSG_NOSIGNAL;
#else
constexpr int kSendNoSignal = 0;
#endif

// A socket of `type` (SOCK_STREAM, SOCK_DGRAM), non-blocking and close-on-exec, or -errno.
int NewSocket(int family, int type);
// Gives fd, made where socket() could not take SOCK_NONBLOCK/SOCK_CLOEXEC, what NewSocket's have
// (and SO_NOSIGPIPE where needed). Returns fd, or -errno after closing it.
int PrepareSocket(int fd);

struct ListenResult {
  int fd = -1;
  int err = 0;              // an errno, when gai_error is 0
  int gai_error = 0;        // a getaddrinfo error
  sockaddr_storage bound{};  // the address actually bound (port 0 resolved)
  socklen_t bound_len = 0;
  bool wildcard = false;    // bound to 0.0.0.0 or ::, so each connection's local address differs
};

// The addresses to bind `host` (empty: every interface) and `port` with, or nullptr with the
// getaddrinfo failure in *r. The caller frees the list with freeaddrinfo.
addrinfo* ResolvePassive(const std::string& host, int port, int socktype, ListenResult* r);

ListenResult ListenTcp(const std::string& host, int port, int backlog, bool reuse_port);
// `path` may start with a NUL byte for a Linux abstract socket (EOPNOTSUPP elsewhere).
ListenResult ListenUnix(const std::string& path, int backlog);

// Starts a non-blocking connect to a numeric IP address or a unix path (a leading NUL for an
// abstract name). Returns the fd (connected, or with the connect in progress), or -errno.
int ConnectTcp(const std::string& ip, int port, bool no_delay, int keep_alive_seconds);
int ConnectUnix(const std::string& path);

// Accepts one connection, non-blocking and close-on-exec. Returns the fd, or -errno.
int AcceptOne(int listen_fd, sockaddr_storage* addr, socklen_t* len);

void SetStreamOptions(int fd, bool tcp, bool no_delay, int keep_alive_seconds);

// Closes fd, ignoring EINTR: on Linux the descriptor is released even then, and retrying could
// close a descriptor another thread has just been given (POSIX leaves it unspecified elsewhere,
// where not retrying is the safe side too).
void CloseFd(int fd);

}  // namespace rxloop

#endif  // RXLOOP_SOCKETS_H_
