// One event loop per JavaScript thread: a poller, its listeners and connections, driven by a
// single uv_poll_t on the poller's fd so that native code and JavaScript share one thread.
//
// Each wake-up drains what is ready (accepts, reads into a JavaScript-owned slab, finishes
// pending writes) and reports it to JavaScript in ONE call, as records in a Float64Array:
// [kind, slot, a, b]. JavaScript answers with one Flush call per turn that writev()s every
// connection's gathered output straight from where it lies: the slab, an arena small chunks are
// copied into, or its Buffers.
#ifndef RXLOOP_LOOP_H_
#define RXLOOP_LOOP_H_

#include <napi.h>
#include <sys/uio.h>
#include <uv.h>

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "handoff.h"
#include "poller.h"
#include "sockets.h"

namespace rxloop {

constexpr size_t kSlabSize = 1024 * 1024;
// An Accept record's block: [listener u32 LE][remote][local].
constexpr size_t kAcceptBlockSize = 4 + 2 * kMaxEncodedAddress;
// Datagrams read from one UDP socket per wake-up; the rest wait for the next round.
constexpr int kDatagramBudget = 256;

// An Error for JavaScript with Node's fields: code ('EADDRINUSE'), errno and syscall.
Napi::Error ErrnoError(Napi::Env env, const char* syscall, int err);

// Token of a listener-table socket in the poller (connections' tokens have the low bit clear).
inline uint64_t ListenerToken(uint32_t slot) { return (static_cast<uint64_t>(slot) << 1) | 1; }

// Record kinds, mirrored in lib/native/records.ts.
enum RecordKind : int {
  kRecordAccept = 1,  // slot, id, offset of [listener u32 LE][remote][local] in the slab
  kRecordData = 2,    // slot, offset, length
  kRecordEof = 3,     // slot: the peer shut its write side
  kRecordClosed = 4,  // slot, errno (0 for an orderly close): the fd is gone
  kRecordWrote = 5,   // slot, bytes still queued natively
  kRecordConnected = 6,  // slot, offset of [0xffffffff][remote][local] in the slab
  kRecordDatagram = 7,   // socket slot, offset of [sender][payload] in the slab, payload length
  kRecordSendable = 8,   // socket slot: a UDP socket that would block takes datagrams again
};

// Counters in the stats Float64Array, mirrored in lib/native/records.ts.
enum StatIndex : int {
  kStatBatches,
  kStatAccepted,
  kStatAcceptBackoffs,
  kStatReads,
  kStatBytesIn,
  kStatWritev,
  kStatBytesOut,
  kStatClosed,
  kStatHandedOff,        // accepted here, served by another loop
  kStatHandOffFailures,  // accepted here, closed because no loop would take it
  kStatDatagramsIn,
  kStatDatagramsOut,
  kStatDatagramsFailed,  // refused by the kernel for good (too big, unreachable)
  kStatCount,
};

// Output a connection could not send at once; only this remainder is ever copied.
class OutBuffer {
 public:
  OutBuffer() = default;
  OutBuffer(const OutBuffer&) = delete;
  OutBuffer& operator=(const OutBuffer&) = delete;
  ~OutBuffer() { Reset(); }
  size_t size() const { return end_ - start_; }
  const char* data() const { return data_ + start_; }
  void Append(const char* bytes, size_t len);
  void Consume(size_t len);
  void Reset();

 private:
  char* data_ = nullptr;
  size_t start_ = 0;
  size_t end_ = 0;
  size_t capacity_ = 0;
};

struct Conn {
  int fd = -1;
  uint32_t interest = 0;
  bool tcp = false;
  bool connecting = false;         // a dial in progress: writable means it has an outcome
  bool reading = false;            // JavaScript wants input
  bool read_eof = false;           // the peer sent FIN
  bool write_shut = false;         // we sent FIN
  bool shutdown_when_drained = false;
  uint32_t* closed_counter = nullptr;  // counts closes for an acceptor that balances by load
  OutBuffer out;
};

// A socket that is not a connection: a listener, an inbox (below) or a UDP socket.
struct Listener {
  int fd = -1;
  uint32_t interest = 0;
  bool tcp = false;
  bool udp = false;
  bool no_delay = true;
  bool wildcard = false;
  bool backed_off = false;
  int keep_alive_seconds = 0;
  std::string unix_path;  // unlinked on close, as node:net does
  uint8_t local[kMaxEncodedAddress];
  size_t local_len = 0;
  // An acceptor's listener sends what it accepts to other loops instead of serving it.
  std::unique_ptr<Balancer> balancer;
  Napi::Reference<Napi::Uint32Array> closed_counts;  // keeps the shared counters alive
  // An inbox is not listening: its fd receives sockets another loop accepted.
  bool inbox = false;
  uint32_t* closed_counter = nullptr;
};

struct UvHandles;

// Connection ids: unique for the life of the process, across every loop, thread and backend.
uint64_t NextConnectionId();

class Loop : public Napi::ObjectWrap<Loop> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit Loop(const Napi::CallbackInfo& info);
  ~Loop() override;

 private:
  friend struct UvHandles;

  // Methods called from JavaScript.
  Napi::Value Listen(const Napi::CallbackInfo& info);
  Napi::Value Connect(const Napi::CallbackInfo& info);
  void Unlisten(const Napi::CallbackInfo& info);
  void Flush(const Napi::CallbackInfo& info);
  void SetReading(const Napi::CallbackInfo& info);
  Napi::Value Backlog(const Napi::CallbackInfo& info);
  void Destroy(const Napi::CallbackInfo& info);
  Napi::Value Detach(const Napi::CallbackInfo& info);
  Napi::Value OpenInbox(const Napi::CallbackInfo& info);
  Napi::Value BindUdp(const Napi::CallbackInfo& info);
  Napi::Value SendDatagrams(const Napi::CallbackInfo& info);
  void HandOff(const Napi::CallbackInfo& info);
  void Close(const Napi::CallbackInfo& info);

  // One wake-up.
  void RunRound();
  void AcceptAll(uint32_t listener_slot);
  void AdoptAll(uint32_t inbox_slot);
  void ReadDatagrams(uint32_t socket_slot);
  // Registers a new socket of the listener table for reading. Returns 0, or an errno after
  // closing fd and freeing the slot.
  int WatchListener(uint32_t slot, int fd);
  void SetListenerInterest(uint32_t slot, uint32_t interest);
  void SendToLoop(Listener& listener, int fd, const sockaddr_storage& remote, socklen_t remote_len);
  uint32_t NewListenerSlot();
  void ThrowIfFailed(Napi::Env env, const ListenResult& r, const char* syscall);
  // Watches a newly bound socket in `slot` and answers [slot, encoded local address].
  Napi::Value BoundResult(Napi::Env env, uint32_t slot, const ListenResult& r);
  // Starts serving a new connection; false (and the fd closed) if the poller refuses it.
  bool Serve(uint32_t slot, uint32_t* closed_counter);
  void BackOff(uint32_t listener_slot);
  void EndBackOff();
  void HandleConnEvents(uint32_t slot, uint32_t events);
  void FinishConnecting(uint32_t slot);
  uint32_t NewConnSlot(int fd, bool tcp);
  // Writes [listener u32 LE][remote][local] at the slab cursor and returns its length.
  size_t WriteAddressBlock(uint32_t listener_slot, const sockaddr_storage& remote, socklen_t remote_len,
                           const uint8_t* local, size_t local_len);
  void ReadConn(uint32_t slot);
  void WriteRemainder(uint32_t slot);
  // One flush call's output: [source, offset, length] spans into `slab`, the arena or `buffers`
  // (see Flush).
  struct OutputChunks {
    const double* spans;
    size_t span_count;
    const char* slab;
    size_t slab_length;
    const char* arena;
    size_t arena_length;
    Napi::Array buffers;
    iovec Take(Napi::Env env, size_t span) const;
  };
  // Writes spans [first, first + count) of `chunks`; returns 0 or an errno.
  int WriteChunks(Conn& conn, const OutputChunks& chunks, size_t first, size_t count);
  void ShutdownWrite(uint32_t slot, bool report);

  // `report` adds a Closed record; closes asked for by JavaScript are not reported back.
  void CloseConn(uint32_t slot, int err, bool report);
  // Takes the connection out of the poller and the table; its fd stays open.
  void ReleaseConn(uint32_t slot);
  void UpdateInterest(Conn& conn, uint32_t slot);
  void UpdateRef();
  void Teardown();

  // Records and slab space, delivering the batch early when either runs out.
  bool EnsureRoom(size_t slab_bytes);
  void Emit(int kind, uint32_t slot, double a, double b);
  void Deliver();
  void NewSlab();

  Napi::Env env_;
  Napi::FunctionReference on_batch_;
  std::unique_ptr<Napi::AsyncContext> async_context_;
  Napi::Reference<Napi::Float64Array> records_ref_;
  Napi::Reference<Napi::Float64Array> io_ref_;
  Napi::Reference<Napi::Float64Array> stats_ref_;
  double* records_ = nullptr;
  size_t record_capacity_ = 0;
  size_t record_count_ = 0;
  double* io_ = nullptr;
  size_t io_capacity_ = 0;
  double* stats_ = nullptr;
  // A flush's chunks, described by JavaScript.
  Napi::Reference<Napi::Float64Array> spans_ref_;
  const double* spans_ = nullptr;
  size_t span_capacity_ = 0;
  // Where JavaScript copies small output for a flush; its bytes are free again once flush returns.
  Napi::Reference<Napi::Uint8Array> arena_ref_;
  const char* arena_ = nullptr;
  size_t arena_size_ = 0;

  Napi::Reference<Napi::ArrayBuffer> slab_ref_;
  uint8_t* slab_ = nullptr;
  size_t slab_used_ = 0;

  std::unique_ptr<Poller> poller_;
  std::vector<PollEvent> events_;
  UvHandles* uv_ = nullptr;
  bool closed_ = false;
  bool delivering_ = false;

  // deques keep element addresses stable while JavaScript, called mid-round, adds to them.
  std::deque<Conn> conns_;
  std::vector<uint32_t> free_conns_;
  // Slots closed during a round are reused only after it, so that a stale event still in this
  // round's list can never reach a new connection.
  std::vector<uint32_t> closed_this_round_;
  size_t open_conns_ = 0;
  std::deque<Listener> listeners_;
  std::vector<uint32_t> free_listeners_;
  size_t open_listeners_ = 0;
};

}  // namespace rxloop

#endif  // RXLOOP_LOOP_H_
