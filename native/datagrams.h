// UDP sockets: binding, and datagrams received and sent in batches (recvmmsg/sendmmsg where the
// platform has them, a recvmsg/sendmsg loop elsewhere).
#ifndef RXLOOP_DATAGRAMS_H_
#define RXLOOP_DATAGRAMS_H_

#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "sockets.h"

namespace rxloop {

// Room for any UDP payload (at most 65,507 bytes over IPv4, 65,527 over IPv6).
constexpr size_t kMaxDatagram = 65536;
constexpr int kDatagramBatch = 32;

// Binds a non-blocking UDP socket (SO_REUSEPORT on request, so that several loops can each
// read their own socket on one port).
ListenResult BindUdp(const std::string& host, int port, bool reuse_port);

// The inverse of EncodeAddress, for IP addresses only. False for anything else.
bool DecodeAddress(const uint8_t* in, size_t len, sockaddr_storage* out, socklen_t* out_len);

struct ReceivedDatagram {
  size_t length;
  bool truncated;
  sockaddr_storage from;
  socklen_t from_len;
};

// Receives up to `count` datagrams, the i-th into buffers[i] (`capacity` bytes each). Returns how
// many arrived, or -errno (EAGAIN when none is waiting).
int ReceiveDatagrams(int fd, uint8_t* const* buffers, size_t capacity, ReceivedDatagram* out, int count);

struct OutgoingDatagram {
  const void* data;
  size_t length;
  sockaddr_storage to;
  socklen_t to_len;
};

// Sends datagrams in order. Returns how many are done with — sent, or failed for good (counted in
// *failed: EMSGSIZE, an unreachable network...) — which is fewer than `count` only when the socket
// would block.
int SendDatagrams(int fd, const OutgoingDatagram* datagrams, int count, int* failed);

}  // namespace rxloop

#endif  // RXLOOP_DATAGRAMS_H_
