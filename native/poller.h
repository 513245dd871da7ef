// A readiness poller behind a few calls, in the manner of Redis's ae_epoll.c / ae_kqueue.c:
// everything above it (loop.cc, sockets.cc) is shared between the epoll and kqueue builds.
#ifndef RXLOOP_POLLER_H_
#define RXLOOP_POLLER_H_

#include <cstdint>

namespace rxloop {

// Interest and readiness bits. kHangup and kError are only ever reported, never requested.
enum PollBits : uint32_t {
  kReadable = 1u << 0,
  kWritable = 1u << 1,
  kHangup = 1u << 2,
  kError = 1u << 3,
};

// The system calls behind Create and Set, for error messages.
#ifdef RXLOOP_POLLER_KQUEUE
constexpr const char* kPollerCreateCall = "kqueue";
constexpr const char* kPollerSetCall = "kevent";
#else
constexpr const char* kPollerCreateCall = "epoll_create1";
constexpr const char* kPollerSetCall = "epoll_ctl";
#endif

struct PollEvent {
  uint64_t token;
  uint32_t events;
};

class Poller {
 public:
  // Returns nullptr and sets *err (an errno) on failure.
  static Poller* Create(int max_events, int* err);
  ~Poller();
  Poller(const Poller&) = delete;
  Poller& operator=(const Poller&) = delete;

  // The descriptor that becomes readable when any registered fd is ready (what libuv watches):
  // the epoll fd itself, or for kqueue a pipe that a helper thread signals (poller_kqueue.cc).
  int fd() const;

  // Moves fd from interest `from` to interest `to`: 0 → x registers, x → 0 unregisters.
  // Returns 0 or an errno.
  int Set(int fd, uint64_t token, uint32_t from, uint32_t to);

  // Fetches what is ready now, without blocking. Returns the number of events, or -errno.
  int Poll(PollEvent* out, int max);

 private:
  Poller() = default;
  struct State;
  State* state_ = nullptr;
};

}  // namespace rxloop

#endif  // RXLOOP_POLLER_H_
