#include "handoff.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cstring>
#include <utility>

#include "sockets.h"

namespace rxloop {

int OpenInbox(int fds[2]) {
#ifdef RXLOOP_HAVE_SOCK_FLAGS
  if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) != 0) return errno;
#else
  if (socketpair(AF_UNIX, SOCK_DGRAM, 0, fds) != 0) return errno;
  int first = PrepareSocket(fds[0]);  // each closes its fd when it fails
  int second = first < 0 ? -1 : PrepareSocket(fds[1]);
  if (first < 0 || second < 0) {
    CloseFd(first < 0 ? fds[1] : fds[0]);
    return first < 0 ? -first : -second;
  }
#endif
  return 0;
}

namespace {

// One datagram with room for one fd in its ancillary data.
struct SocketMessage {
  iovec iov;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr msg{};

  SocketMessage(void* payload, size_t len) : iov{payload, len} {
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
  }
  SocketMessage(const SocketMessage&) = delete;  // msg points into this very object
  SocketMessage& operator=(const SocketMessage&) = delete;
};

}  // namespace

int SendSocket(int inbox, int fd, const uint8_t* payload, size_t len) {
  SocketMessage message(const_cast<uint8_t*>(payload), len);
  msghdr& msg = message.msg;
  cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
  cmsg->cmsg_level = SOL_SOCKET;
  cmsg->cmsg_type = SCM_RIGHTS;
  cmsg->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
  for (;;) {
    if (sendmsg(inbox, &msg, MSG_DONTWAIT | kSendNoSignal) >= 0) return 0;
    if (errno != EINTR) return errno;
  }
}

int ReceiveSocket(int inbox, uint8_t* payload, size_t cap, size_t* len) {
  SocketMessage message(payload, cap);
  msghdr& msg = message.msg;
  ssize_t n;
  do {
#ifdef RXLOOP_HAVE_MSG_CMSG_CLOEXEC
    n = recvmsg(inbox, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
#else
    n = recvmsg(inbox, &msg, MSG_DONTWAIT);
#endif
  } while (n < 0 && errno == EINTR);
  if (n < 0) return -errno;
  *len = static_cast<size_t>(n);
  // MSG_CTRUNC: this thread was out of fds, and the kernel closed the socket for us.
  cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
  if ((msg.msg_flags & (MSG_CTRUNC | MSG_TRUNC)) || cmsg == nullptr || cmsg->cmsg_level != SOL_SOCKET ||
      cmsg->cmsg_type != SCM_RIGHTS) {
    return -1;
  }
  int fd;
  memcpy(&fd, CMSG_DATA(cmsg), sizeof(int));
#ifndef RXLOOP_HAVE_MSG_CMSG_CLOEXEC
  // Not atomic (a fork and exec on another thread in between inherits it), but the best there is
  // without MSG_CMSG_CLOEXEC (macOS); it cannot fail on the fd just received.
  fcntl(fd, F_SETFD, FD_CLOEXEC);
#endif
  return fd;
}

Balancer::Balancer(Balance balance, std::vector<int> inboxes, const uint32_t* closed, uint64_t seed)
    : balance_(balance),
      inboxes_(std::move(inboxes)),
      sent_(inboxes_.size(), 0),
      gone_(inboxes_.size(), false),
      closed_(closed),
      random_(seed | 1) {}

Balancer::~Balancer() {
  for (int inbox : inboxes_) close(inbox);
}

size_t Balancer::Choose(const uint8_t* encoded_remote) {
  size_t n = inboxes_.size();
  switch (balance_) {
    case Balance::kRoundRobin:
      return next_++ % n;
    case Balance::kRandom:
      random_ ^= random_ << 13;  // xorshift64: plenty for spreading load
      random_ ^= random_ >> 7;
      random_ ^= random_ << 17;
      return random_ % n;
    case Balance::kSourceHash: {
      // FNV-1a over the peer's IP (not its port), so one client always lands on one loop.
      size_t ip_len = encoded_remote[0] == 4 ? 4 : encoded_remote[0] == 6 ? 16 : 0;
      uint32_t hash = 2166136261u;
      for (size_t i = 0; i < ip_len; i++) hash = (hash ^ encoded_remote[3 + i]) * 16777619u;
      return hash % n;
    }
    case Balance::kLeastConnections: {
      size_t best = 0;
      uint32_t best_load = UINT32_MAX;
      for (size_t i = 0; i < n; i++) {
        size_t loop = (next_ + i) % n;  // rotate the tie-break so equal loads still alternate
        uint32_t load = sent_[loop] - __atomic_load_n(&closed_[loop], __ATOMIC_RELAXED);
        if (load < best_load) {
          best_load = load;
          best = loop;
        }
      }
      next_++;
      return best;
    }
  }
  return 0;
}

}  // namespace rxloop
