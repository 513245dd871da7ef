// The Loop's UDP sockets: bound like listeners, read in batches into the slab, and written with
// a turn's datagrams at once (native/datagrams.h has the batched system calls).
#include <algorithm>
#include <cstring>

#include "datagrams.h"
#include "loop.h"

namespace rxloop {

// bindUdp(host, port, reusePort) → [slot, encodedLocalAddress]: datagrams arrive as records.
Napi::Value Loop::BindUdp(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (closed_) throw Napi::Error::New(env, "bindUdp: loop is closed");
  std::string host = info[0].As<Napi::String>();
  int port = info[1].As<Napi::Number>().Int32Value();
  ListenResult r = rxloop::BindUdp(host, port, info[2].ToBoolean());
  ThrowIfFailed(env, r, "bind");
  uint32_t slot = NewListenerSlot();
  listeners_[slot].udp = true;
  return BoundResult(env, slot, r);
}

void Loop::ReadDatagrams(uint32_t socket_slot) {
  // Each datagram is received at its own stride of the slab, then moved down behind the one
  // before it with its sender in front: [sender][payload], as JavaScript reads it.
  constexpr size_t kStride = kMaxEncodedAddress + kMaxDatagram;
  int budget = kDatagramBudget;
  while (budget > 0) {
    if (!EnsureRoom(kStride)) return;
    Listener& socket = listeners_[socket_slot];
    if (socket.fd < 0) return;
    int count = static_cast<int>((kSlabSize - slab_used_) / kStride);
    count = std::min({count, budget, kDatagramBatch, static_cast<int>(record_capacity_ - record_count_)});
    uint8_t* buffers[kDatagramBatch];
    for (int i = 0; i < count; i++) buffers[i] = slab_ + slab_used_ + i * kStride + kMaxEncodedAddress;
    ReceivedDatagram received[kDatagramBatch];
    int n = ReceiveDatagrams(socket.fd, buffers, kMaxDatagram, received, count);
    stats_[kStatReads]++;
    // EAGAIN: drained. Errors queued on a UDP socket (ICMP for an earlier send) concern no one
    // reading now: the read consumed them, and the next round reads on.
    if (n < 0) return;
    size_t cursor = slab_used_;
    for (int i = 0; i < n; i++) {
      size_t sender_len = EncodeAddress(received[i].from, received[i].from_len, slab_ + cursor);
      memmove(slab_ + cursor + sender_len, buffers[i], received[i].length);
      Emit(kRecordDatagram, socket_slot, static_cast<double>(cursor), static_cast<double>(received[i].length));
      cursor += sender_len + received[i].length;
      stats_[kStatDatagramsIn]++;
      stats_[kStatBytesIn] += static_cast<double>(received[i].length);
    }
    slab_used_ = cursor;
    budget -= n;
    if (n < count) return;
  }
}

// sendDatagrams(slot, count, payloads: Buffer[], targets: Buffer[] (encoded addresses)) →
// [done, failed]: how many are done with (sent, or refused for good: failed); fewer than count
// when the socket would block, and then a Sendable record follows once it can take more.
Napi::Value Loop::SendDatagrams(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t slot = info[0].As<Napi::Number>().Uint32Value();
  uint32_t count = info[1].As<Napi::Number>().Uint32Value();
  Napi::Array payloads = info[2].As<Napi::Array>();
  Napi::Array targets = info[3].As<Napi::Array>();
  if (closed_ || slot >= listeners_.size() || listeners_[slot].fd < 0 || !listeners_[slot].udp) {
    throw Napi::Error::New(env, "sendDatagrams: no such socket");
  }
  Listener& socket = listeners_[slot];
  OutgoingDatagram batch[kDatagramBatch];
  uint32_t done = 0;
  int failed = 0;
  while (done < count) {
    int n = 0;
    for (; n < kDatagramBatch && done + n < count; n++) {
      Napi::Uint8Array payload = payloads.Get(done + n).As<Napi::Uint8Array>();
      Napi::Uint8Array target = targets.Get(done + n).As<Napi::Uint8Array>();
      batch[n].data = payload.Data();
      batch[n].length = payload.ByteLength();
      if (!DecodeAddress(target.Data(), target.ByteLength(), &batch[n].to, &batch[n].to_len)) {
        batch[n].to_len = 0;  // the kernel refuses it (EDESTADDRREQ), and it counts as failed
      }
    }
    int failed_now = 0;
    int sent = rxloop::SendDatagrams(socket.fd, batch, n, &failed_now);
    stats_[kStatWritev]++;
    failed += failed_now;
    stats_[kStatDatagramsFailed] += failed_now;
    stats_[kStatDatagramsOut] += sent - failed_now;
    for (int i = 0; i < sent; i++) stats_[kStatBytesOut] += static_cast<double>(batch[i].length);
    done += sent;
    if (sent < n) {
      SetListenerInterest(slot, kReadable | kWritable);
      break;
    }
  }
  Napi::Array result = Napi::Array::New(env, 2);
  result.Set(0u, Napi::Number::New(env, done));
  result.Set(1u, Napi::Number::New(env, failed));
  return result;
}

}  // namespace rxloop
