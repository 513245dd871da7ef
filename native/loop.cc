#include "loop.h"


#include <errno.h>
#include <limits.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>
#ifdef __linux__
#include <linux/sockios.h>
#endif

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>

namespace rxloop {

namespace {

constexpr int kMaxEvents = 1024;
// A fire-hose peer gets this much per wake-up; the rest waits for the next round.
constexpr size_t kReadBudget = 64 * 1024;
constexpr size_t kMinSlabRoom = 4096;
constexpr uint64_t kBackoffMs = 100;
constexpr int kRecordWidth = 4;
constexpr int kIoWidth = 3;
// A flush span: [source, offset, length], where the source is one of these.
constexpr int kSpanWidth = 3;
enum SpanSource : int {
  kSpanSlab = 0,    // input forwarded as it was read: offset into the slab
  kSpanArena = 1,   // small output JavaScript copied into the arena: offset into it
  kSpanBuffer = 2,  // any other output: offset is its index in the buffers array
};

#ifdef IOV_MAX
constexpr int kMaxIov = IOV_MAX;
#else
constexpr int kMaxIov = 1024;
#endif

// Connection ids are unique for the life of the process, across every loop and thread; this
// counter is the addon's one piece of process-wide state, and it is atomic.
std::atomic<uint64_t> next_conn_id{1};

}  // namespace

uint64_t NextConnectionId() { return next_conn_id.fetch_add(1, std::memory_order_relaxed); }

namespace {

uint64_t ConnToken(uint32_t slot) { return static_cast<uint64_t>(slot) << 1; }

int SocketError(int fd) {
  int err = 0;
  socklen_t len = sizeof(err);
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) return errno;
  return err;
}

// sendmsg rather than writev for its MSG_NOSIGNAL: a peer that is gone must give EPIPE, never
// SIGPIPE, even in a host process that has not ignored the signal. Where there is no
// MSG_NOSIGNAL (macOS), every socket has SO_NOSIGPIPE set instead (sockets.cc). One buffer (what
// a proxy forwards, most of the time) goes through send(), which spares the kernel copying and
// checking a msghdr and an iovec.
ssize_t SendVector(int fd, iovec* iov, int count) {
  msghdr msg{};
  msg.msg_iov = iov;
  msg.msg_iovlen = count;
  ssize_t n;
  do {
    n = count == 1 ? send(fd, iov[0].iov_base, iov[0].iov_len, kSendNoSignal | MSG_DONTWAIT)
                   : sendmsg(fd, &msg, kSendNoSignal | MSG_DONTWAIT);
  } while (n < 0 && errno == EINTR);
  return n;
}

// A free slot of `table`, or a new one at its end.
template <typename T>
uint32_t TakeSlot(std::deque<T>& table, std::vector<uint32_t>& free) {
  if (free.empty()) {
    table.emplace_back();
    return static_cast<uint32_t>(table.size() - 1);
  }
  uint32_t slot = free.back();
  free.pop_back();
  return slot;
}

// Bytes the kernel still holds in the send queue: SIOCOUTQ on Linux, SO_NWRITE on macOS,
// FIONWRITE on FreeBSD and NetBSD; 0 where it cannot be known, or the socket kind has no count.
int UnsentBytes(int fd) {
  int unsent = 0;
#if defined(SIOCOUTQ)
  if (ioctl(fd, SIOCOUTQ, &unsent) != 0) unsent = 0;
#elif defined(SO_NWRITE)
  socklen_t len = sizeof(unsent);
  if (getsockopt(fd, SOL_SOCKET, SO_NWRITE, &unsent, &len) != 0) unsent = 0;
#elif defined(FIONWRITE)
  if (ioctl(fd, FIONWRITE, &unsent) != 0) unsent = 0;
#else
  (void)fd;
#endif
  return unsent;
}

// ENONET is Linux's own.
bool IsNoNet(int err) {
#ifdef ENONET
  return err == ENONET;
#else
  (void)err;
  return false;
#endif
}


}  // namespace

Napi::Error ErrnoError(Napi::Env env, const char* syscall, int err) {
  std::string message = std::string(syscall) + " " + uv_err_name(-err) + ": " + uv_strerror(-err);
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("code", Napi::String::New(env, uv_err_name(-err)));
  error.Set("errno", Napi::Number::New(env, err));
  error.Set("syscall", Napi::String::New(env, syscall));
  return error;
}

void OutBuffer::Append(const char* bytes, size_t len) {
  if (len == 0) return;
  if (end_ + len > capacity_) {
    size_t live = size();
    if (start_ > 0 && live + len <= capacity_) {
      memmove(data_, data_ + start_, live);
    } else {
      size_t capacity = std::max(capacity_ * 2, live + len);
      char* grown = static_cast<char*>(malloc(capacity));
      if (grown == nullptr) abort();  // out of memory: nothing sensible is left to do
      if (live > 0) memcpy(grown, data_ + start_, live);
      free(data_);
      data_ = grown;
      capacity_ = capacity;
    }
    start_ = 0;
    end_ = live;
  }
  memcpy(data_ + end_, bytes, len);
  end_ += len;
}

void OutBuffer::Consume(size_t len) {
  start_ += len;
  if (start_ == end_) Reset();  // an idle connection holds no output memory
}

void OutBuffer::Reset() {
  free(data_);
  data_ = nullptr;
  start_ = end_ = capacity_ = 0;
}

// The libuv handles live apart from the Loop: their close callbacks run after the Loop may have
// been finalized, and the environment's async cleanup hook must wait for them.
struct UvHandles {
  uv_poll_t poll;
  uv_timer_t backoff;
  Loop* owner = nullptr;
  int closing = 0;
  napi_async_cleanup_hook_handle hook = nullptr;

  static void OnPoll(uv_poll_t* handle, int status, int events) {
    auto* self = static_cast<UvHandles*>(handle->data);
    (void)status;  // an error on the poller's fd itself still means: look at what is ready
    (void)events;
    if (self->owner != nullptr) self->owner->RunRound();
  }

  static void OnBackoff(uv_timer_t* handle) {
    auto* self = static_cast<UvHandles*>(handle->data);
    if (self->owner != nullptr) self->owner->EndBackOff();
  }

  static void OnEnvCleanup(napi_async_cleanup_hook_handle, void* arg) {
    auto* self = static_cast<UvHandles*>(arg);
    if (self->owner != nullptr) {
      self->owner->Teardown();  // closes the handles, and so ends the hook
    } else if (self->closing == 0) {
      self->Finish();
    }
  }

  static void OnClosed(uv_handle_t* handle) {
    auto* self = static_cast<UvHandles*>(handle->data);
    if (--self->closing == 0) self->Finish();
  }

  void Close() {
    owner = nullptr;
    uv_poll_stop(&poll);
    uv_timer_stop(&backoff);
    closing = 2;
    uv_close(reinterpret_cast<uv_handle_t*>(&poll), OnClosed);
    uv_close(reinterpret_cast<uv_handle_t*>(&backoff), OnClosed);
  }

  void Finish() {
    if (hook != nullptr) napi_remove_async_cleanup_hook(hook);
    delete this;
  }
};

Napi::Function Loop::Define(Napi::Env env) {
  return DefineClass(env, "Loop",
                     {
                         InstanceMethod<&Loop::Listen>("listen"),
                         InstanceMethod<&Loop::Connect>("connect"),
                         InstanceMethod<&Loop::Unlisten>("unlisten"),
                         InstanceMethod<&Loop::Flush>("flush"),
                         InstanceMethod<&Loop::SetReading>("setReading"),
                         InstanceMethod<&Loop::Backlog>("backlog"),
                         InstanceMethod<&Loop::Destroy>("destroy"),
                         InstanceMethod<&Loop::Detach>("detach"),
                         InstanceMethod<&Loop::OpenInbox>("openInbox"),
                         InstanceMethod<&Loop::HandOff>("handOff"),
                         InstanceMethod<&Loop::BindUdp>("bindUdp"),
                         InstanceMethod<&Loop::SendDatagrams>("sendDatagrams"),
                         InstanceMethod<&Loop::Close>("close"),
                     });
}

// new Loop(onBatch(count, slab), records: Float64Array, io: Float64Array, stats: Float64Array,
//          spans: Float64Array, arena: Uint8Array)
Loop::Loop(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Loop>(info), env_(info.Env()) {
  Napi::Env env = info.Env();
  if (info.Length() < 6 || !info[0].IsFunction() || !info[1].IsTypedArray() ||
      !info[2].IsTypedArray() || !info[3].IsTypedArray() || !info[4].IsTypedArray() ||
      !info[5].IsTypedArray() || info[5].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    throw Napi::TypeError::New(env, "new Loop(onBatch, records, io, stats, spans, arena)");
  }
  on_batch_ = Napi::Persistent(info[0].As<Napi::Function>());
  async_context_ = std::make_unique<Napi::AsyncContext>(env, "rxloop.Loop");
  Napi::Float64Array records = info[1].As<Napi::Float64Array>();
  Napi::Float64Array io = info[2].As<Napi::Float64Array>();
  Napi::Float64Array stats = info[3].As<Napi::Float64Array>();
  Napi::Float64Array spans = info[4].As<Napi::Float64Array>();
  if (records.ElementLength() < kRecordWidth * 16 || io.ElementLength() < kIoWidth ||
      stats.ElementLength() < kStatCount || spans.ElementLength() < kSpanWidth) {
    throw Napi::RangeError::New(env, "Loop: records, io, stats or spans array too small");
  }
  records_ref_ = Napi::Persistent(records);
  io_ref_ = Napi::Persistent(io);
  stats_ref_ = Napi::Persistent(stats);
  records_ = records.Data();
  record_capacity_ = records.ElementLength() / kRecordWidth;
  io_ = io.Data();
  io_capacity_ = io.ElementLength() / kIoWidth;
  stats_ = stats.Data();
  spans_ref_ = Napi::Persistent(spans);
  spans_ = spans.Data();
  span_capacity_ = spans.ElementLength() / kSpanWidth;
  Napi::Uint8Array arena = info[5].As<Napi::Uint8Array>();
  arena_ref_ = Napi::Persistent(arena);
  arena_ = reinterpret_cast<const char*>(arena.Data());
  arena_size_ = arena.ByteLength();

  int err = 0;
  poller_.reset(Poller::Create(kMaxEvents, &err));
  if (!poller_) throw ErrnoError(env, kPollerCreateCall, err);
  events_.resize(kMaxEvents);

  uv_loop_t* uv_loop = nullptr;
  if (napi_get_uv_event_loop(env, &uv_loop) != napi_ok) {
    throw Napi::Error::New(env, "Loop: no libuv loop in this environment");
  }
  uv_ = new UvHandles();
  uv_->owner = this;
  uv_->poll.data = uv_;
  uv_->backoff.data = uv_;
  int rc = uv_poll_init(uv_loop, &uv_->poll, poller_->fd());
  if (rc != 0) {
    delete uv_;
    uv_ = nullptr;
    throw ErrnoError(env, "uv_poll_init", -rc);
  }
  uv_timer_init(uv_loop, &uv_->backoff);
  uv_poll_start(&uv_->poll, UV_READABLE, UvHandles::OnPoll);
  uv_unref(reinterpret_cast<uv_handle_t*>(&uv_->poll));
  uv_unref(reinterpret_cast<uv_handle_t*>(&uv_->backoff));
  napi_add_async_cleanup_hook(env, UvHandles::OnEnvCleanup, uv_, &uv_->hook);
  NewSlab();
}

Loop::~Loop() { Teardown(); }

void Loop::Teardown() {
  if (closed_) return;
  closed_ = true;
  for (uint32_t slot = 0; slot < conns_.size(); slot++) {
    if (conns_[slot].fd >= 0) CloseConn(slot, 0, false);
  }
  for (Listener& listener : listeners_) {
    if (listener.fd < 0) continue;
    CloseFd(listener.fd);
    listener.fd = -1;
    listener.balancer.reset();
    if (!listener.unix_path.empty()) unlink(listener.unix_path.c_str());
  }
  open_listeners_ = 0;
  if (uv_ != nullptr) {
    uv_->Close();
    uv_ = nullptr;
  }
  poller_.reset();
}

// listen(kind: 'tcp' | 'unix', hostOrPath, port, backlog, reusePort, noDelay, keepAliveSeconds)
//   → [slot, encodedLocalAddress: Buffer]
Napi::Value Loop::Listen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (closed_) throw Napi::Error::New(env, "listen: loop is closed");
  std::string kind = info[0].As<Napi::String>();
  std::string target = info[1].As<Napi::String>();
  int port = info[2].As<Napi::Number>().Int32Value();
  int backlog = info[3].As<Napi::Number>().Int32Value();
  bool reuse_port = info[4].ToBoolean();
  bool no_delay = info[5].ToBoolean();
  int keep_alive_seconds = info[6].As<Napi::Number>().Int32Value();

  bool tcp = kind == "tcp";
  ListenResult r = tcp ? ListenTcp(target, port, backlog, reuse_port) : ListenUnix(target, backlog);
  ThrowIfFailed(env, r, "listen");
  uint32_t slot = NewListenerSlot();
  Listener& listener = listeners_[slot];
  listener.tcp = tcp;
  listener.no_delay = no_delay;
  listener.keep_alive_seconds = keep_alive_seconds;
  listener.wildcard = r.wildcard;
  if (!tcp && !target.empty() && target[0] != '\0') listener.unix_path = target;
  return BoundResult(env, slot, r);
}

void Loop::ThrowIfFailed(Napi::Env env, const ListenResult& r, const char* syscall) {
  if (r.gai_error != 0) {
    Napi::Error error = Napi::Error::New(env, std::string("getaddrinfo: ") + gai_strerror(r.gai_error));
    error.Set("code", Napi::String::New(env, r.gai_error == EAI_NONAME ? "ENOTFOUND" : "EAI_FAIL"));
    error.Set("syscall", Napi::String::New(env, "getaddrinfo"));
    throw error;
  }
  if (r.fd < 0) throw ErrnoError(env, syscall, r.err);
}

Napi::Value Loop::BoundResult(Napi::Env env, uint32_t slot, const ListenResult& r) {
  Listener& listener = listeners_[slot];
  listener.local_len = EncodeAddress(r.bound, r.bound_len, listener.local);
  int err = WatchListener(slot, r.fd);
  if (err != 0) throw ErrnoError(env, kPollerSetCall, err);
  Napi::Array result = Napi::Array::New(env, 2);
  result.Set(0u, Napi::Number::New(env, slot));
  result.Set(1u, Napi::Buffer<uint8_t>::Copy(env, listener.local, listener.local_len));
  return result;
}

int Loop::WatchListener(uint32_t slot, int fd) {
  Listener& listener = listeners_[slot];
  int err = poller_->Set(fd, ListenerToken(slot), 0, kReadable);
  if (err != 0) {
    CloseFd(fd);
    free_listeners_.push_back(slot);
    return err;
  }
  listener.fd = fd;
  listener.interest = kReadable;
  open_listeners_++;
  UpdateRef();
  return 0;
}

void Loop::SetListenerInterest(uint32_t slot, uint32_t interest) {
  Listener& listener = listeners_[slot];
  if (listener.interest == interest) return;
  int err = poller_->Set(listener.fd, ListenerToken(slot), listener.interest, interest);
  // Only ENOMEM is possible here; the socket then stays as it was, and says so next round.
  if (err == 0) listener.interest = interest;
}

uint32_t Loop::NewListenerSlot() {
  uint32_t slot = TakeSlot(listeners_, free_listeners_);
  listeners_[slot] = Listener();
  return slot;
}

void Loop::Unlisten(const Napi::CallbackInfo& info) {
  uint32_t slot = info[0].As<Napi::Number>().Uint32Value();
  if (slot >= listeners_.size() || listeners_[slot].fd < 0) return;
  Listener& listener = listeners_[slot];
  if (poller_) poller_->Set(listener.fd, ListenerToken(slot), listener.interest, 0);
  listener.interest = 0;
  CloseFd(listener.fd);
  listener.fd = -1;
  listener.balancer.reset();
  if (!listener.unix_path.empty()) unlink(listener.unix_path.c_str());
  free_listeners_.push_back(slot);
  open_listeners_--;
  UpdateRef();
}

// flush(count, slab, buffers): io holds `count` entries [slot, flags, chunkCount]; the chunks of
// each entry follow one another in spans as [source, offset, length]. Output that is
// already in memory the loop knows (input forwarded from the slab, small output JavaScript copied
// into the arena) is named by its offset there, so that it costs no N-API call; any other chunk
// is Buffer `offset` of `buffers`. Each entry is answered in place:
// [slot, open ? 0 : 1, open ? bytes still queued natively : errno].
void Loop::Flush(const Napi::CallbackInfo& info) {
  constexpr double kFlagShutdown = 1;
  Napi::Env env = info.Env();
  uint32_t count = info[0].As<Napi::Number>().Uint32Value();
  if (count > io_capacity_) throw Napi::RangeError::New(env, "flush: too many entries");
  // The slab is null before the first batch, and then no span may name it: one call tells both.
  void* slab = nullptr;
  size_t slab_length = 0;
  if (napi_get_arraybuffer_info(env, info[1], &slab, &slab_length) != napi_ok) slab_length = 0;
  OutputChunks chunks{spans_, span_capacity_, static_cast<const char*>(slab), slab_length,
                      arena_, arena_size_, info[2].As<Napi::Array>()};
  size_t next_span = 0;
  for (uint32_t i = 0; i < count; i++) {
    double* entry = io_ + i * kIoWidth;
    uint32_t slot = static_cast<uint32_t>(entry[0]);
    bool shutdown = entry[1] == kFlagShutdown;
    uint32_t chunk_count = static_cast<uint32_t>(entry[2]);
    size_t first = next_span;
    next_span += chunk_count;
    if (next_span > chunks.span_count) throw Napi::RangeError::New(env, "flush: more chunks than spans");
    if (closed_ || slot >= conns_.size() || conns_[slot].fd < 0) {
      entry[1] = 1;
      entry[2] = EBADF;
      continue;
    }
    Conn& conn = conns_[slot];
    int err = conn.write_shut && chunk_count > 0 ? EPIPE : WriteChunks(conn, chunks, first, chunk_count);
    if (err != 0) {
      CloseConn(slot, err, false);
      entry[1] = 1;
      entry[2] = err;
      continue;
    }
    if (shutdown) {
      if (conn.out.size() == 0) {
        ShutdownWrite(slot, false);
      } else {
        conn.shutdown_when_drained = true;
      }
    }
    if (conn.fd < 0) {  // the FIN completed a close: the peer had already sent its own
      entry[1] = 1;
      entry[2] = 0;
      continue;
    }
    UpdateInterest(conn, slot);
    if (conn.fd < 0) {
      entry[1] = 1;
      entry[2] = EIO;
      continue;
    }
    entry[1] = 0;
    entry[2] = static_cast<double>(conn.out.size());
  }
}

iovec Loop::OutputChunks::Take(Napi::Env env, size_t span) const {
  const double* at = spans + kSpanWidth * span;
  double source = at[0];
  double offset = at[1];
  double length = at[2];
  if (source == kSpanSlab || source == kSpanArena) {
    const char* base = source == kSpanSlab ? slab : arena;
    size_t size = source == kSpanSlab ? slab_length : arena_length;
    // Compared as doubles, so that NaN or a negative offset or length fails too.
    if (!(offset >= 0 && length >= 0 && offset + length <= static_cast<double>(size))) {
      throw Napi::RangeError::New(env, "flush: a span outside the slab or the arena");
    }
    return iovec{const_cast<char*>(base + static_cast<size_t>(offset)), static_cast<size_t>(length)};
  }
  // Two N-API calls a buffer, not five: this runs for every chunk not in the slab or the arena.
  napi_value value;
  napi_typedarray_type type;
  size_t byte_length;
  void* data;
  if (source != kSpanBuffer || !(offset >= 0 && offset <= UINT32_MAX) ||
      napi_get_element(env, buffers, static_cast<uint32_t>(offset), &value) != napi_ok ||
      napi_get_typedarray_info(env, value, &type, &byte_length, &data, nullptr, nullptr) != napi_ok ||
      type != napi_uint8_array) {
    throw Napi::TypeError::New(env, "flush: not a Buffer");
  }
  return iovec{data, byte_length};
}

int Loop::WriteChunks(Conn& conn, const OutputChunks& chunks, size_t first, size_t count) {
  iovec iov[kMaxIov];
  size_t index = first;
  size_t end = first + count;
  // Once a remainder is queued, new output goes behind it: order matters more than a syscall.
  bool blocked = conn.out.size() > 0;
  while (index < end) {
    int n = 0;
    size_t total = 0;
    for (; index + n < end && n < kMaxIov; n++) {
      iov[n] = chunks.Take(env_, index + n);
      total += iov[n].iov_len;
    }
    size_t sent = 0;
    if (!blocked && total > 0) {
      ssize_t written = SendVector(conn.fd, iov, n);
      stats_[kStatWritev]++;
      if (written < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK) return errno;
        blocked = true;
      } else {
        sent = static_cast<size_t>(written);
        stats_[kStatBytesOut] += static_cast<double>(written);
        if (sent < total) blocked = true;
      }
    }
    for (int i = 0; i < n; i++) {
      if (sent >= iov[i].iov_len) {
        sent -= iov[i].iov_len;
        continue;
      }
      conn.out.Append(static_cast<const char*>(iov[i].iov_base) + sent, iov[i].iov_len - sent);
      sent = 0;
    }
    index += n;
  }
  return 0;
}

void Loop::SetReading(const Napi::CallbackInfo& info) {
  uint32_t slot = info[0].As<Napi::Number>().Uint32Value();
  if (closed_ || slot >= conns_.size() || conns_[slot].fd < 0) return;
  conns_[slot].reading = info[1].ToBoolean();
  UpdateInterest(conns_[slot], slot);
}

// backlog(slot): output not yet taken by the peer — our remainder plus the kernel's unsent send
// queue — so that a close can tell a slow reader from one that stopped reading.
Napi::Value Loop::Backlog(const Napi::CallbackInfo& info) {
  uint32_t slot = info[0].As<Napi::Number>().Uint32Value();
  if (closed_ || slot >= conns_.size() || conns_[slot].fd < 0) return Napi::Number::New(info.Env(), 0);
  const Conn& conn = conns_[slot];
  int unsent = UnsentBytes(conn.fd);
  return Napi::Number::New(info.Env(), static_cast<double>(conn.out.size()) + unsent);
}

void Loop::Destroy(const Napi::CallbackInfo& info) {
  uint32_t slot = info[0].As<Napi::Number>().Uint32Value();
  if (closed_ || slot >= conns_.size() || conns_[slot].fd < 0) return;
  CloseConn(slot, 0, false);
}

// detach(slot) → fd, still open and ours no more; -1 if the connection is already gone. Output
// the loop still held is lost, so JavaScript detaches only once its remainder has drained.
Napi::Value Loop::Detach(const Napi::CallbackInfo& info) {
  uint32_t slot = info[0].As<Napi::Number>().Uint32Value();
  if (closed_ || slot >= conns_.size() || conns_[slot].fd < 0) return Napi::Number::New(info.Env(), -1);
  int fd = conns_[slot].fd;
  ReleaseConn(slot);
  return Napi::Number::New(info.Env(), fd);
}

void Loop::Close(const Napi::CallbackInfo&) { Teardown(); }

void Loop::RunRound() {
  if (closed_ || delivering_) return;
  Napi::HandleScope scope(env_);
  int n = poller_->Poll(events_.data(), kMaxEvents);
  // A failed poll (only EBADF/EFAULT/EINVAL remain after EINTR) cannot be retried usefully;
  // the round simply ends, and nothing is lost that a later wake-up will not report again.
  for (int i = 0; i < n && !closed_; i++) {
    uint64_t token = events_[i].token;
    uint32_t slot = static_cast<uint32_t>(token >> 1);
    if (token & 1) {
      if (slot >= listeners_.size() || listeners_[slot].fd < 0) continue;
      Listener& listener = listeners_[slot];
      if (listener.udp) {
        if (events_[i].events & kWritable) {
          SetListenerInterest(slot, kReadable);
          if (EnsureRoom(0)) Emit(kRecordSendable, slot, 0, 0);
        }
        if (events_[i].events & (kReadable | kError)) ReadDatagrams(slot);
      } else if (listener.inbox) {
        AdoptAll(slot);
      } else {
        AcceptAll(slot);
      }
    } else if (slot < conns_.size() && conns_[slot].fd >= 0) {
      HandleConnEvents(slot, events_[i].events);
    }
  }
  Deliver();
  free_conns_.insert(free_conns_.end(), closed_this_round_.begin(), closed_this_round_.end());
  closed_this_round_.clear();
  if (slab_used_ + kMinSlabRoom > kSlabSize && !closed_) NewSlab();
}

void Loop::AcceptAll(uint32_t listener_slot) {
  for (;;) {
    if (!EnsureRoom(kAcceptBlockSize)) return;
    Listener& listener = listeners_[listener_slot];
    if (listener.fd < 0 || listener.backed_off) return;
    sockaddr_storage remote;
    socklen_t remote_len;
    int fd = AcceptOne(listener.fd, &remote, &remote_len);
    if (fd < 0) {
      int err = -fd;
      if (err == EAGAIN || err == EWOULDBLOCK) return;
      // Network errors on the pending connection are its own; accept(2) says to retry.
      if (err == ECONNABORTED || err == EPROTO || err == ENETDOWN || err == ENOPROTOOPT ||
          err == EHOSTDOWN || IsNoNet(err) || err == EHOSTUNREACH || err == EOPNOTSUPP ||
          err == ENETUNREACH || err == EPERM) {
        continue;
      }
      // EMFILE, ENFILE, ENOBUFS, ENOMEM: out of resources. Stop accepting for a moment rather
      // than spin on a listener that stays readable; connected peers keep being served.
      BackOff(listener_slot);
      return;
    }
    SetStreamOptions(fd, listener.tcp, listener.no_delay, listener.keep_alive_seconds);
    stats_[kStatAccepted]++;
    if (listener.balancer) {
      SendToLoop(listener, fd, remote, remote_len);
      continue;
    }
    uint32_t slot = NewConnSlot(fd, listener.tcp);
    if (!Serve(slot, nullptr)) continue;

    const uint8_t* local = listener.local;
    size_t local_len = listener.local_len;
    uint8_t own_local[kMaxEncodedAddress];
    if (listener.wildcard) {
      sockaddr_storage bound;
      socklen_t bound_len = sizeof(bound);
      if (getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &bound_len) == 0) {
        local_len = EncodeAddress(bound, bound_len, own_local);
        local = own_local;
      }
    }
    size_t block = slab_used_;
    slab_used_ += WriteAddressBlock(listener_slot, remote, remote_len, local, local_len);
    Emit(kRecordAccept, slot, static_cast<double>(NextConnectionId()), static_cast<double>(block));
  }
}

bool Loop::Serve(uint32_t slot, uint32_t* closed_counter) {
  Conn& conn = conns_[slot];
  conn.reading = true;
  if (poller_->Set(conn.fd, ConnToken(slot), 0, kReadable) != 0) {
    CloseFd(conn.fd);
    conn.fd = -1;
    free_conns_.push_back(slot);
    if (closed_counter != nullptr) __atomic_fetch_add(closed_counter, 1, __ATOMIC_RELAXED);
    return false;
  }
  conn.interest = kReadable;
  conn.closed_counter = closed_counter;
  open_conns_++;
  return true;
}

uint32_t Loop::NewConnSlot(int fd, bool tcp) {
  uint32_t slot = TakeSlot(conns_, free_conns_);
  Conn& conn = conns_[slot];
  conn.fd = fd;
  conn.interest = 0;
  conn.tcp = tcp;
  conn.connecting = conn.reading = conn.read_eof = false;
  conn.write_shut = conn.shutdown_when_drained = false;
  conn.closed_counter = nullptr;
  return slot;
}

size_t Loop::WriteAddressBlock(uint32_t listener_slot, const sockaddr_storage& remote,
                               socklen_t remote_len, const uint8_t* local, size_t local_len) {
  uint8_t* block = slab_ + slab_used_;
  block[0] = listener_slot & 0xff;
  block[1] = (listener_slot >> 8) & 0xff;
  block[2] = (listener_slot >> 16) & 0xff;
  block[3] = (listener_slot >> 24) & 0xff;
  size_t len = 4 + EncodeAddress(remote, remote_len, block + 4);
  memcpy(block + len, local, local_len);
  return len + local_len;
}

// connect(kind: 'tcp' | 'unix', ipOrPath, port, noDelay, keepAliveSeconds) → [slot, id]
// The outcome arrives later: a Connected record, or a Closed record with the errno.
Napi::Value Loop::Connect(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (closed_) throw Napi::Error::New(env, "connect: loop is closed");
  std::string kind = info[0].As<Napi::String>();
  std::string target = info[1].As<Napi::String>();
  int port = info[2].As<Napi::Number>().Int32Value();
  bool no_delay = info[3].ToBoolean();
  int keep_alive_seconds = info[4].As<Napi::Number>().Int32Value();
  bool tcp = kind == "tcp";
  int fd = tcp ? ConnectTcp(target, port, no_delay, keep_alive_seconds) : ConnectUnix(target);
  if (fd < 0) throw ErrnoError(env, "connect", -fd);
  uint32_t slot = NewConnSlot(fd, tcp);
  Conn& conn = conns_[slot];
  conn.connecting = true;
  int err = poller_->Set(fd, ConnToken(slot), 0, kWritable);
  if (err != 0) {
    CloseFd(fd);
    conn.fd = -1;
    free_conns_.push_back(slot);
    throw ErrnoError(env, kPollerSetCall, err);
  }
  conn.interest = kWritable;
  open_conns_++;
  UpdateRef();
  Napi::Array result = Napi::Array::New(env, 2);
  result.Set(0u, Napi::Number::New(env, slot));
  result.Set(1u, Napi::Number::New(env, static_cast<double>(NextConnectionId())));
  return result;
}

void Loop::FinishConnecting(uint32_t slot) {
  Conn& conn = conns_[slot];
  int err = SocketError(conn.fd);
  if (err != 0) {
    CloseConn(slot, err, true);
    return;
  }
  sockaddr_storage remote, local;
  socklen_t remote_len = sizeof(remote), local_len = sizeof(local);
  if (getpeername(conn.fd, reinterpret_cast<sockaddr*>(&remote), &remote_len) != 0 ||
      getsockname(conn.fd, reinterpret_cast<sockaddr*>(&local), &local_len) != 0) {
    CloseConn(slot, errno, true);  // ENOTCONN: the connection failed after all
    return;
  }
  if (!EnsureRoom(kAcceptBlockSize) || conn.fd < 0) return;
  uint8_t encoded_local[kMaxEncodedAddress];
  size_t encoded_len = EncodeAddress(local, local_len, encoded_local);
  conn.connecting = false;
  conn.reading = true;
  size_t block = slab_used_;
  slab_used_ += WriteAddressBlock(UINT32_MAX, remote, remote_len, encoded_local, encoded_len);
  Emit(kRecordConnected, slot, static_cast<double>(block), 0);
  UpdateInterest(conn, slot);
}

void Loop::BackOff(uint32_t listener_slot) {
  Listener& listener = listeners_[listener_slot];
  SetListenerInterest(listener_slot, 0);
  listener.backed_off = true;
  stats_[kStatAcceptBackoffs]++;
  if (!uv_is_active(reinterpret_cast<uv_handle_t*>(&uv_->backoff))) {
    uv_timer_start(&uv_->backoff, UvHandles::OnBackoff, kBackoffMs, 0);
  }
}

void Loop::EndBackOff() {
  for (uint32_t slot = 0; slot < listeners_.size(); slot++) {
    Listener& listener = listeners_[slot];
    if (listener.fd < 0 || !listener.backed_off) continue;
    listener.backed_off = false;
    SetListenerInterest(slot, kReadable);
    if (listener.interest == 0) BackOff(slot);  // still short of resources: try again later
  }
}

void Loop::HandleConnEvents(uint32_t slot, uint32_t events) {
  Conn& conn = conns_[slot];
  if (conn.connecting) {
    FinishConnecting(slot);
    return;
  }
  if ((events & (kReadable | kHangup | kError)) && conn.reading && !conn.read_eof) ReadConn(slot);
  if (conn.fd >= 0 && (events & kWritable) && conn.out.size() > 0) WriteRemainder(slot);
  if (conn.fd < 0 || !(events & (kHangup | kError))) return;
  // A hangup without an error is the peer's FIN after our own: the input before it is still to
  // be read, even when JavaScript paused the connection during this very read (closing now would
  // drop that input and pass on a clean end). Input left after this round's budget comes back
  // next round (level-triggered); a paused connection is out of the poller until it reads again.
  if (!(events & kError) && !conn.read_eof) return;
  int err = SocketError(conn.fd);
  if (err == 0 && !(conn.read_eof && conn.out.size() == 0)) err = EPIPE;
  CloseConn(slot, err, true);
}

void Loop::ReadConn(uint32_t slot) {
  Conn& conn = conns_[slot];
  size_t budget = kReadBudget;
  while (budget > 0) {
    if (!EnsureRoom(kMinSlabRoom)) return;
    // Delivering a full batch ran JavaScript, which may have paused or closed this connection.
    if (conn.fd < 0 || !conn.reading) return;
    size_t want = std::min(budget, kSlabSize - slab_used_);
    // recv rather than read: a socket's read() goes through the VFS layer first.
    ssize_t n = recv(conn.fd, slab_ + slab_used_, want, 0);
    if (n > 0) {
      stats_[kStatReads]++;
      stats_[kStatBytesIn] += static_cast<double>(n);
      Emit(kRecordData, slot, static_cast<double>(slab_used_), static_cast<double>(n));
      slab_used_ += static_cast<size_t>(n);
      budget -= static_cast<size_t>(n);
      if (static_cast<size_t>(n) < want) return;  // drained for now; level-triggered if not
      continue;
    }
    if (n == 0) {
      conn.read_eof = true;
      Emit(kRecordEof, slot, 0, 0);
      if (conn.write_shut) {
        CloseConn(slot, 0, true);
      } else {
        UpdateInterest(conn, slot);
      }
      return;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return;
    CloseConn(slot, errno, true);
    return;
  }
}

void Loop::WriteRemainder(uint32_t slot) {
  Conn& conn = conns_[slot];
  iovec iov{const_cast<char*>(conn.out.data()), conn.out.size()};
  ssize_t n = SendVector(conn.fd, &iov, 1);
  stats_[kStatWritev]++;
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) return;
    CloseConn(slot, errno, true);
    return;
  }
  stats_[kStatBytesOut] += static_cast<double>(n);
  conn.out.Consume(static_cast<size_t>(n));
  if (!EnsureRoom(0)) return;
  Emit(kRecordWrote, slot, static_cast<double>(conn.out.size()), 0);
  if (conn.fd < 0) return;
  if (conn.out.size() == 0 && conn.shutdown_when_drained) {
    ShutdownWrite(slot, true);
    if (conn.fd < 0) return;
  }
  UpdateInterest(conn, slot);
}

void Loop::ShutdownWrite(uint32_t slot, bool report) {
  Conn& conn = conns_[slot];
  conn.shutdown_when_drained = false;
  if (conn.write_shut) return;
  conn.write_shut = true;
  // ENOTCONN means the peer is already gone: nothing is left to say, so close.
  if (shutdown(conn.fd, SHUT_WR) != 0 || conn.read_eof) {
    CloseConn(slot, 0, report);
  }
}

void Loop::CloseConn(uint32_t slot, int err, bool report) {
  int fd = conns_[slot].fd;
  ReleaseConn(slot);
  CloseFd(fd);
  stats_[kStatClosed]++;
  if (report) Emit(kRecordClosed, slot, err, 0);
}

void Loop::ReleaseConn(uint32_t slot) {
  Conn& conn = conns_[slot];
  if (poller_) poller_->Set(conn.fd, ConnToken(slot), conn.interest, 0);
  conn.fd = -1;
  conn.interest = 0;
  conn.out.Reset();
  if (conn.closed_counter != nullptr) {
    __atomic_fetch_add(conn.closed_counter, 1, __ATOMIC_RELAXED);
    conn.closed_counter = nullptr;
  }
  closed_this_round_.push_back(slot);
  open_conns_--;
  if (!closed_) UpdateRef();
}

void Loop::UpdateInterest(Conn& conn, uint32_t slot) {
  uint32_t want = 0;
  if (conn.reading && !conn.read_eof) want |= kReadable;
  if (conn.out.size() > 0 || conn.connecting) want |= kWritable;
  if (want == conn.interest) return;
  int err = poller_->Set(conn.fd, ConnToken(slot), conn.interest, want);
  if (err != 0) {
    CloseConn(slot, err, !delivering_);
    return;
  }
  conn.interest = want;
}

void Loop::UpdateRef() {
  if (uv_ == nullptr) return;
  auto* handle = reinterpret_cast<uv_handle_t*>(&uv_->poll);
  if (open_conns_ + open_listeners_ > 0) {
    uv_ref(handle);
  } else {
    uv_unref(handle);
  }
}

bool Loop::EnsureRoom(size_t slab_bytes) {
  if (closed_) return false;
  if (record_count_ + 2 > record_capacity_ || slab_used_ + slab_bytes > kSlabSize) {
    Deliver();
    if (closed_) return false;
    if (slab_used_ + slab_bytes > kSlabSize) NewSlab();
  }
  return true;
}

void Loop::Emit(int kind, uint32_t slot, double a, double b) {
  double* record = records_ + record_count_ * kRecordWidth;
  record[0] = kind;
  record[1] = slot;
  record[2] = a;
  record[3] = b;
  record_count_++;
}

void Loop::Deliver() {
  if (record_count_ == 0) return;
  size_t count = record_count_;
  record_count_ = 0;
  stats_[kStatBatches]++;
  delivering_ = true;
  napi_value args[2] = {Napi::Number::New(env_, static_cast<double>(count)), slab_ref_.Value()};
  napi_value result;
  napi_status status = napi_make_callback(env_, *async_context_, Value(), on_batch_.Value(), 2,
                                          args, &result);
  delivering_ = false;
  if (status == napi_pending_exception) {
    napi_value exception;
    napi_get_and_clear_last_exception(env_, &exception);
    napi_fatal_exception(env_, exception);
  }
}

void Loop::NewSlab() {
  // An ordinary ArrayBuffer, never an external one: Electron and the V8 sandbox refuse those.
  // Reads only ever go to the part of a slab past what was handed out: a byte JavaScript was
  // given is never written again, so every Buffer stays valid for as long as it is held.
  Napi::ArrayBuffer slab = Napi::ArrayBuffer::New(env_, kSlabSize);
  slab_ref_ = Napi::Persistent(slab);
  slab_ = static_cast<uint8_t*>(slab.Data());
  slab_used_ = 0;
}

}  // namespace rxloop
