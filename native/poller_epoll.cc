// The epoll poller, level-triggered: an fd stays reported until the loop has drained it, so a
// per-connection read budget can leave data behind without losing the wake-up.
#include "poller.h"

#include <errno.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <new>

namespace rxloop {

struct Poller::State {
  int epfd;
  int max_events;
  epoll_event* events;
};

Poller* Poller::Create(int max_events, int* err) {
  int epfd = epoll_create1(EPOLL_CLOEXEC);
  if (epfd < 0) {
    *err = errno;
    return nullptr;
  }
  Poller* poller = new Poller();
  poller->state_ = new State{epfd, max_events, new epoll_event[max_events]};
  return poller;
}

Poller::~Poller() {
  close(state_->epfd);
  delete[] state_->events;
  delete state_;
}

int Poller::fd() const { return state_->epfd; }

static uint32_t ToEpoll(uint32_t interest) {
  uint32_t bits = 0;
  // EPOLLRDHUP makes a peer's FIN visible even when it arrives with no data.
  if (interest & kReadable) bits |= EPOLLIN | EPOLLRDHUP;
  if (interest & kWritable) bits |= EPOLLOUT;
  return bits;
}

int Poller::Set(int fd, uint64_t token, uint32_t from, uint32_t to) {
  if (from == to) return 0;
  epoll_event ev{};
  ev.events = ToEpoll(to);
  ev.data.u64 = token;
  int op = from == 0 ? EPOLL_CTL_ADD : to == 0 ? EPOLL_CTL_DEL : EPOLL_CTL_MOD;
  return epoll_ctl(state_->epfd, op, fd, &ev) == 0 ? 0 : errno;
}

int Poller::Poll(PollEvent* out, int max) {
  if (max > state_->max_events) max = state_->max_events;
  int n;
  do {
    n = epoll_wait(state_->epfd, state_->events, max, 0);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return -errno;
  for (int i = 0; i < n; i++) {
    uint32_t e = state_->events[i].events;
    uint32_t bits = 0;
    if (e & (EPOLLIN | EPOLLRDHUP)) bits |= kReadable;
    if (e & EPOLLOUT) bits |= kWritable;
    if (e & EPOLLHUP) bits |= kHangup;
    if (e & EPOLLERR) bits |= kError;
    out[i].token = state_->events[i].data.u64;
    out[i].events = bits;
  }
  return n;
}

}  // namespace rxloop
