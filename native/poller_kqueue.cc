// The kqueue poller (macOS and the BSDs; on Linux against libkqueue with RXLOOP_POLLER=kqueue),
// behind the same interface as poller_epoll.cc and level-triggered like it: no EV_CLEAR, so an fd
// the loop left data on (its per-connection read budget) is reported again in the next round.
//
// How it wakes the JavaScript thread. libuv watches fd() with one uv_poll_t. For epoll that is the
// epoll fd itself, but libuv runs on kqueue on macOS and the BSDs, and a kqueue fd nested in
// another kqueue may never signal there (libuv's documentation of uv_backend_fd says so for
// macOS). So fd() is the read end of a pipe instead, and a helper thread blocks in kevent() on our
// kqueue: when something is ready it writes one byte to the pipe and parks. The byte stays there
// for as long as Poll() finds events, so a busy loop runs round after round on the JavaScript
// thread alone, with no hand-off between threads; the first Poll() that finds nothing empties the
// pipe and sends the helper back to kevent(). That costs one empty kevent() at the end of a burst
// and one thread hand-off at the start of the next, and nothing in loop.cc changes. Rejected: the
// helper calling uv_async_send and waiting for the round to end (loop.cc would have to report the
// end of every round, or the helper, seeing events the round has not consumed yet, would wake it
// again for nothing); a helper that polls with a timeout (idle loops would wake for nothing).
//
// The helper's kevent() takes one event off the queue. That is harmless: a knote without EV_CLEAR
// or EV_ONESHOT is queued again while its condition holds, so Poll() still sees it.
#include "poller.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
// In kqueue(2)'s order: older BSDs' sys/event.h needs sys/types.h first.
#include <sys/types.h>
#include <sys/event.h>
#include <sys/time.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <system_error>
#include <thread>

namespace rxloop {

namespace {

// Without EV_RECEIPT (older OpenBSD and NetBSD) a failed change still comes back as an EV_ERROR
// entry; the room a success leaves may then take a pending event instead, which is ignored here
// and, being level-triggered, reported again by the next Poll().
#ifdef EV_RECEIPT
constexpr unsigned kReceipt = EV_RECEIPT;
#else
constexpr unsigned kReceipt = 0;
#endif

// Never a loop token (those are a slot shifted left, plus one bit), and never reported by Poll():
// the knote it marks is enabled only to stop the helper.
constexpr uint64_t kStopToken = ~uint64_t{0};

// The field types differ (NetBSD: unsigned filter and flags, and before 10 an intptr_t udata),
// hence the casts to whatever this system declares.
void Change(struct kevent* ev, int fd, int filter, unsigned flags, uint64_t token) {
  *ev = {};
  ev->ident = static_cast<uintptr_t>(fd);
  ev->filter = static_cast<decltype(ev->filter)>(filter);
  ev->flags = static_cast<decltype(ev->flags)>(flags);
  ev->udata = (decltype(ev->udata))static_cast<uintptr_t>(token);
}

// Both ends of the wake pipe: close-on-exec, and non-blocking so neither thread ever waits on it.
int SetFdFlags(int fd) {
  int fl = fcntl(fd, F_GETFL);
  if (fcntl(fd, F_SETFD, FD_CLOEXEC) != 0 || fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0) {
    return errno;
  }
  return 0;
}

}  // namespace

struct Poller::State {
  int kq = -1;
  int wake_read = -1;   // fd(): readable while the round has events to fetch
  int wake_write = -1;  // the helper's end
  int max_events = 0;
  std::unique_ptr<struct kevent[]> events;
  std::mutex mutex;
  std::condition_variable cv;
  bool armed = true;  // the helper may look for events: the pipe is empty
  bool stop = false;
  std::thread helper;

  ~State() {
    if (kq >= 0) close(kq);
    if (wake_read >= 0) close(wake_read);
    if (wake_write >= 0) close(wake_write);
  }

  void Help() {
    std::unique_lock<std::mutex> lock(mutex);
    for (;;) {
      cv.wait(lock, [this] { return armed || stop; });
      if (stop) return;
      lock.unlock();
      struct kevent ev;
      int n = kevent(kq, nullptr, 0, &ev, 1, nullptr);  // blocks until something is ready
      int err = n < 0 ? errno : 0;
      lock.lock();
      if (stop) return;
      if (n > 0) {
        armed = false;
        // The pipe holds at most this one byte, so the write cannot find it full.
        ssize_t w;
        do {
          w = write(wake_write, "", 1);
        } while (w < 0 && errno == EINTR);
      } else if (n < 0 && err != EINTR) {
        // kevent() with no changes fails only on a broken kqueue or a shortage of memory: look
        // again after a pause rather than spin.
        cv.wait_for(lock, std::chrono::milliseconds(100), [this] { return stop; });
      }
    }
  }

  // The round found nothing: empty the pipe and let the helper wait for the next event.
  void Rearm() {
    std::lock_guard<std::mutex> lock(mutex);
    if (armed) return;
    char byte;
    ssize_t r;
    do {
      r = read(wake_read, &byte, 1);
    } while (r < 0 && errno == EINTR);
    armed = true;
    cv.notify_one();
  }
};

Poller* Poller::Create(int max_events, int* err) {
  auto state = std::make_unique<State>();
  state->max_events = max_events;
  state->events.reset(new struct kevent[max_events]);
  int fds[2];
  state->kq = kqueue();
  if (state->kq < 0 || fcntl(state->kq, F_SETFD, FD_CLOEXEC) != 0 || pipe(fds) != 0) {
    *err = errno;
    return nullptr;
  }
  state->wake_read = fds[0];
  state->wake_write = fds[1];
  if ((*err = SetFdFlags(fds[0])) != 0 || (*err = SetFdFlags(fds[1])) != 0) return nullptr;
  // The stop signal, registered now but disabled: enabling it later allocates nothing, so the
  // destructor's wake-up cannot fail. A pipe with room in it is writable.
  struct kevent ev;
  Change(&ev, state->wake_write, EVFILT_WRITE, EV_ADD | EV_DISABLE, kStopToken);
  if (kevent(state->kq, &ev, 1, nullptr, 0, nullptr) != 0) {
    *err = errno;
    return nullptr;
  }
  try {
    state->helper = std::thread(&State::Help, state.get());
  } catch (const std::system_error& e) {
    *err = e.code().value();
    return nullptr;
  }
  Poller* poller = new Poller();
  poller->state_ = state.release();
  return poller;
}

Poller::~Poller() {
  {
    std::lock_guard<std::mutex> lock(state_->mutex);
    state_->stop = true;
  }
  state_->cv.notify_one();  // a parked helper
  struct kevent ev;         // a helper blocked in kevent()
  Change(&ev, state_->wake_write, EVFILT_WRITE, EV_ENABLE, kStopToken);
  while (kevent(state_->kq, &ev, 1, nullptr, 0, nullptr) != 0 && errno == EINTR) {
  }
  state_->helper.join();
  delete state_;
}

int Poller::fd() const { return state_->wake_read; }

int Poller::Set(int fd, uint64_t token, uint32_t from, uint32_t to) {
  struct kevent changes[2];
  int n = 0;
  uint32_t flip = from ^ to;
  if (flip & kReadable) {
    Change(&changes[n++], fd, EVFILT_READ, ((to & kReadable) ? EV_ADD : EV_DELETE) | kReceipt, token);
  }
  if (flip & kWritable) {
    Change(&changes[n++], fd, EVFILT_WRITE, ((to & kWritable) ? EV_ADD : EV_DELETE) | kReceipt, token);
  }
  if (n == 0) return 0;
  // With EV_RECEIPT every change comes back as an EV_ERROR entry whose data is its errno or 0,
  // and the list has no room left to take a pending event off the queue.
  struct kevent receipts[2];
  timespec zero{0, 0};
  int got = kevent(state_->kq, changes, n, receipts, n, &zero);
  // EINTR: FreeBSD's and NetBSD's kqueue(2) say every change was applied before it (and with no
  // wait, as here, there is no time for a signal to interrupt).
  if (got < 0) return errno == EINTR ? 0 : errno;
  // A change that failed leaves the other applied; the loop then closes the fd, which drops both.
  for (int i = 0; i < got; i++) {
    if ((receipts[i].flags & EV_ERROR) && receipts[i].data != 0) {
      return static_cast<int>(receipts[i].data);
    }
  }
  return 0;
}

int Poller::Poll(PollEvent* out, int max) {
  State* s = state_;
  if (max > s->max_events) max = s->max_events;
  timespec zero{0, 0};
  int n;
  do {
    n = kevent(s->kq, nullptr, 0, s->events.get(), max, &zero);
  } while (n < 0 && errno == EINTR);
  if (n <= 0) {
    // Also after an error, so that a kqueue that keeps failing does not keep fd() readable and
    // the loop spinning: the helper pauses between its own failures.
    int err = n < 0 ? errno : 0;
    s->Rearm();
    return -err;
  }
  for (int i = 0; i < n; i++) {
    const struct kevent& ev = s->events[i];
    uint32_t bits;
    if (ev.flags & EV_ERROR) {
      bits = kError;  // changes report through their receipts, so this is not expected
    } else if (ev.filter == EVFILT_READ) {
      // EV_EOF here is epoll's RDHUP: the peer shut its write side, and data may still be
      // buffered. The read that drains it reports the end, or the error, in order.
      bits = kReadable;
    } else {
      // EV_EOF on the write filter: nothing more can be sent (the peer reset, or both sides
      // shut): epoll's HUP, which loop.cc answers by closing once input is drained.
      bits = kWritable;
      if (ev.flags & EV_EOF) bits |= kHangup;
    }
    if ((ev.flags & EV_EOF) && ev.fflags != 0) bits |= kError;  // fflags: the socket error
    out[i].token = static_cast<uint64_t>((uintptr_t)ev.udata);
    out[i].events = bits;
  }
  // kqueue reports each filter of an fd as its own event; epoll, and so loop.cc, give one event
  // per fd per round (two would let one connection read twice its budget).
  if (n == 1) return 1;
  std::sort(out, out + n, [](const PollEvent& a, const PollEvent& b) { return a.token < b.token; });
  int m = 0;
  for (int i = 0; i < n; i++) {
    if (m > 0 && out[m - 1].token == out[i].token) {
      out[m - 1].events |= out[i].events;
    } else {
      out[m++] = out[i];
    }
  }
  return m;
}

}  // namespace rxloop
