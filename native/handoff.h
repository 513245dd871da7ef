// Handing accepted sockets from an acceptor loop to the loops that serve them, across threads.
//
// Each serving loop owns an inbox: a non-blocking AF_UNIX datagram socketpair. The acceptor sends
// every accepted fd with SCM_RIGHTS, together with its encoded addresses, and closes its own copy.
// The kernel is the locked queue and the wake-up at once: the inbox's read end sits in the
// serving loop's poller like a listener, so no JavaScript runs on the acceptor's side, nothing is
// shared but the socket, and a loop that dies takes the fds still in flight with it (the kernel
// closes them) instead of leaking them.
#ifndef RXLOOP_HANDOFF_H_
#define RXLOOP_HANDOFF_H_

#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace rxloop {

enum class Balance : int { kRoundRobin = 0, kLeastConnections = 1, kRandom = 2, kSourceHash = 3 };

// Creates an inbox: fds[0] is read by the serving loop, fds[1] written by the acceptor.
// Returns 0 or an errno.
int OpenInbox(int fds[2]);

// Sends `fd` and `len` bytes of payload as one datagram. Returns 0 or an errno (EAGAIN: the
// inbox is full; ECONNREFUSED: its loop is gone).
int SendSocket(int inbox, int fd, const uint8_t* payload, size_t len);

// Receives one datagram into `payload` (at most `cap` bytes, *len set). Returns the fd it carried,
// -1 for a datagram that carried none (nothing to adopt), or -errno (EAGAIN when empty).
int ReceiveSocket(int inbox, uint8_t* payload, size_t cap, size_t* len);

// Which loop gets the next connection, by the acceptor's chosen balance.
class Balancer {
 public:
  // `closed` points at one counter per loop, each counting that loop's adopted connections that
  // have since closed; it lives in memory the loops share (a SharedArrayBuffer). The balancer
  // owns the inboxes' write ends and closes them.
  Balancer(Balance balance, std::vector<int> inboxes, const uint32_t* closed, uint64_t seed);
  ~Balancer();
  Balancer(const Balancer&) = delete;
  Balancer& operator=(const Balancer&) = delete;

  size_t size() const { return inboxes_.size(); }
  int inbox(size_t loop) const { return inboxes_[loop]; }
  // The first loop to try; on failure the acceptor tries the ones after it in turn.
  size_t Choose(const uint8_t* encoded_remote);
  void Sent(size_t loop) { sent_[loop]++; }
  // A loop whose inbox refused (its thread is gone) is not tried again.
  void Gone(size_t loop) { gone_[loop] = true; }
  bool IsGone(size_t loop) const { return gone_[loop]; }

 private:
  Balance balance_;
  std::vector<int> inboxes_;
  // Counters wrap; their difference (the loop's open connections) does not.
  std::vector<uint32_t> sent_;
  std::vector<bool> gone_;
  const uint32_t* closed_;
  size_t next_ = 0;
  uint64_t random_;
};

}  // namespace rxloop

#endif  // RXLOOP_HANDOFF_H_
