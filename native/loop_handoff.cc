// The Loop's side of handing sockets between loops (native/handoff.h has the mechanism): an
// acceptor's listener sends what it accepts to other loops' inboxes; an inbox adopts them.
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include "handoff.h"
#include "loop.h"

namespace rxloop {

// openInbox(closedCounts: Uint32Array, index, tcp) → [slot, writeFd]: sockets sent to writeFd are
// served here, announced like accepted ones (as coming from listener `slot`); each one's close
// is counted in closedCounts[index]. The write end belongs to whoever handOff() gives it to.
Napi::Value Loop::OpenInbox(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (closed_) throw Napi::Error::New(env, "openInbox: loop is closed");
  Napi::Uint32Array counts = info[0].As<Napi::Uint32Array>();
  uint32_t index = info[1].As<Napi::Number>().Uint32Value();
  if (index >= counts.ElementLength()) throw Napi::RangeError::New(env, "openInbox: index out of range");
  int fds[2];
  int err = rxloop::OpenInbox(fds);
  if (err != 0) throw ErrnoError(env, "socketpair", err);
  uint32_t slot = NewListenerSlot();
  Listener& inbox = listeners_[slot];
  inbox.inbox = true;
  inbox.tcp = info[2].ToBoolean();
  inbox.closed_counts = Napi::Persistent(counts);
  inbox.closed_counter = counts.Data() + index;
  err = WatchListener(slot, fds[0]);
  if (err != 0) {
    CloseFd(fds[1]);
    throw ErrnoError(env, kPollerSetCall, err);
  }
  Napi::Array result = Napi::Array::New(env, 2);
  result.Set(0u, Napi::Number::New(env, slot));
  result.Set(1u, Napi::Number::New(env, fds[1]));
  return result;
}

// handOff(slot, inboxWriteFds: number[], closedCounts: Uint32Array, balance): from now on the
// listener sends what it accepts to those inboxes, one loop per connection by `balance`.
void Loop::HandOff(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t slot = info[0].As<Napi::Number>().Uint32Value();
  Napi::Array fds = info[1].As<Napi::Array>();
  Napi::Uint32Array counts = info[2].As<Napi::Uint32Array>();
  int balance = info[3].As<Napi::Number>().Int32Value();
  std::vector<int> inboxes;
  for (uint32_t i = 0; i < fds.Length(); i++) inboxes.push_back(fds.Get(i).As<Napi::Number>().Int32Value());
  // Taken over before any check can fail, so that the write ends are closed on every path.
  auto balancer = std::make_unique<Balancer>(static_cast<Balance>(balance), std::move(inboxes), counts.Data(),
                                             reinterpret_cast<uintptr_t>(this) ^ uv_hrtime());
  if (slot >= listeners_.size() || listeners_[slot].fd < 0 || listeners_[slot].inbox) {
    throw Napi::Error::New(env, "handOff: no such listener");
  }
  if (balance < 0 || balance > static_cast<int>(Balance::kSourceHash) || balancer->size() == 0 ||
      counts.ElementLength() < balancer->size()) {
    throw Napi::RangeError::New(env, "handOff: bad balance, inboxes or counters");
  }
  listeners_[slot].balancer = std::move(balancer);
  listeners_[slot].closed_counts = Napi::Persistent(counts);
}

void Loop::SendToLoop(Listener& listener, int fd, const sockaddr_storage& remote, socklen_t remote_len) {
  uint8_t payload[2 * kMaxEncodedAddress];
  size_t len = EncodeAddress(remote, remote_len, payload);
  sockaddr_storage local;
  socklen_t local_len = sizeof(local);
  if (listener.wildcard && getsockname(fd, reinterpret_cast<sockaddr*>(&local), &local_len) == 0) {
    len += EncodeAddress(local, local_len, payload + len);
  } else {
    memcpy(payload + len, listener.local, listener.local_len);
    len += listener.local_len;
  }
  Balancer& balancer = *listener.balancer;
  size_t first = balancer.Choose(payload);
  // A full inbox (EAGAIN) or a loop that is gone (ECONNREFUSED): the next loop takes it.
  for (size_t i = 0; i < balancer.size(); i++) {
    size_t loop = (first + i) % balancer.size();
    if (balancer.IsGone(loop)) continue;
    int err = SendSocket(balancer.inbox(loop), fd, payload, len);
    if (err == 0) {
      balancer.Sent(loop);
      stats_[kStatHandedOff]++;
      CloseFd(fd);  // the serving loop holds its own copy now
      return;
    }
    if (err == ECONNREFUSED) balancer.Gone(loop);
  }
  stats_[kStatHandOffFailures]++;
  CloseFd(fd);
}

void Loop::AdoptAll(uint32_t inbox_slot) {
  for (;;) {
    if (!EnsureRoom(kAcceptBlockSize)) return;
    Listener& inbox = listeners_[inbox_slot];
    if (inbox.fd < 0) return;
    uint8_t* block = slab_ + slab_used_;
    size_t len = 0;
    int fd = ReceiveSocket(inbox.fd, block + 4, kAcceptBlockSize - 4, &len);
    if (fd == -1) continue;  // a datagram without a socket: nothing to serve
    // EAGAIN: empty. Anything else on a socketpair we own is not worth more than ending the round.
    if (fd < 0) return;
    uint32_t slot = NewConnSlot(fd, inbox.tcp);
    if (!Serve(slot, inbox.closed_counter)) continue;
    stats_[kStatAccepted]++;
    block[0] = inbox_slot & 0xff;
    block[1] = (inbox_slot >> 8) & 0xff;
    block[2] = (inbox_slot >> 16) & 0xff;
    block[3] = (inbox_slot >> 24) & 0xff;
    size_t offset = slab_used_;
    slab_used_ += 4 + len;
    Emit(kRecordAccept, slot, static_cast<double>(NextConnectionId()), static_cast<double>(offset));
  }
}

}  // namespace rxloop
