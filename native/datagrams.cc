#include "datagrams.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cstring>

namespace rxloop {

ListenResult BindUdp(const std::string& host, int port, bool reuse_port) {
  ListenResult r;
  addrinfo* found = ResolvePassive(host, port, SOCK_DGRAM, &r);
  if (found == nullptr) return r;
  int fd = NewSocket(found->ai_family, SOCK_DGRAM);
  if (fd < 0) {
    r.err = -fd;
    freeaddrinfo(found);
    return r;
  }
  int on = 1;
  if ((reuse_port && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) != 0) ||
      bind(fd, found->ai_addr, found->ai_addrlen) != 0) {
    r.err = errno;
    CloseFd(fd);
    freeaddrinfo(found);
    return r;
  }
  freeaddrinfo(found);
  r.bound_len = sizeof(r.bound);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&r.bound), &r.bound_len) != 0) {
    r.err = errno;
    CloseFd(fd);
    return r;
  }
  r.fd = fd;
  return r;
}

bool DecodeAddress(const uint8_t* in, size_t len, sockaddr_storage* out, socklen_t* out_len) {
  *out = sockaddr_storage{};
  if (len >= 7 && in[0] == 4) {
    auto& v4 = reinterpret_cast<sockaddr_in&>(*out);
    v4.sin_family = AF_INET;
    memcpy(&v4.sin_port, in + 1, 2);
    memcpy(&v4.sin_addr, in + 3, 4);
    *out_len = sizeof(sockaddr_in);
    return true;
  }
  if (len >= 19 && in[0] == 6) {
    auto& v6 = reinterpret_cast<sockaddr_in6&>(*out);
    v6.sin6_family = AF_INET6;
    memcpy(&v6.sin6_port, in + 1, 2);
    memcpy(&v6.sin6_addr, in + 3, 16);
    *out_len = sizeof(sockaddr_in6);
    return true;
  }
  return false;
}

#ifdef __linux__

int ReceiveDatagrams(int fd, uint8_t* const* buffers, size_t capacity, ReceivedDatagram* out, int count) {
  mmsghdr messages[kDatagramBatch];
  iovec iov[kDatagramBatch];
  if (count > kDatagramBatch) count = kDatagramBatch;
  for (int i = 0; i < count; i++) {
    iov[i] = {buffers[i], capacity};
    messages[i] = mmsghdr{};
    messages[i].msg_hdr.msg_name = &out[i].from;
    messages[i].msg_hdr.msg_namelen = sizeof(out[i].from);
    messages[i].msg_hdr.msg_iov = &iov[i];
    messages[i].msg_hdr.msg_iovlen = 1;
  }
  int n;
  do {
    n = recvmmsg(fd, messages, count, MSG_DONTWAIT, nullptr);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return -errno;
  for (int i = 0; i < n; i++) {
    out[i].length = messages[i].msg_len;
    out[i].truncated = (messages[i].msg_hdr.msg_flags & MSG_TRUNC) != 0;
    out[i].from_len = messages[i].msg_hdr.msg_namelen;
  }
  return n;
}

int SendDatagrams(int fd, const OutgoingDatagram* datagrams, int count, int* failed) {
  mmsghdr messages[kDatagramBatch];
  iovec iov[kDatagramBatch];
  int done = 0;
  while (done < count) {
    int batch = count - done < kDatagramBatch ? count - done : kDatagramBatch;
    for (int i = 0; i < batch; i++) {
      const OutgoingDatagram& d = datagrams[done + i];
      iov[i] = {const_cast<void*>(d.data), d.length};
      messages[i] = mmsghdr{};
      messages[i].msg_hdr.msg_name = const_cast<sockaddr_storage*>(&d.to);
      messages[i].msg_hdr.msg_namelen = d.to_len;
      messages[i].msg_hdr.msg_iov = &iov[i];
      messages[i].msg_hdr.msg_iovlen = 1;
    }
    int n;
    do {
      n = sendmmsg(fd, messages, batch, MSG_DONTWAIT | MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) return done;
      // sendmmsg reports an error only for the first datagram of a batch: that one is lost.
      (*failed)++;
      n = 1;
    }
    done += n;
  }
  return done;
}

#else  // no recvmmsg/sendmmsg: the same contract, one datagram per call

int ReceiveDatagrams(int fd, uint8_t* const* buffers, size_t capacity, ReceivedDatagram* out, int count) {
  int n = 0;
  while (n < count) {
    iovec iov{buffers[n], capacity};
    msghdr msg{};
    msg.msg_name = &out[n].from;
    msg.msg_namelen = sizeof(out[n].from);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    ssize_t got = recvmsg(fd, &msg, MSG_DONTWAIT);
    if (got < 0) {
      if (errno == EINTR) continue;
      return n > 0 ? n : -errno;
    }
    out[n].length = static_cast<size_t>(got);
    out[n].truncated = (msg.msg_flags & MSG_TRUNC) != 0;
    out[n].from_len = msg.msg_namelen;
    n++;
  }
  return n;
}

int SendDatagrams(int fd, const OutgoingDatagram* datagrams, int count, int* failed) {
  for (int i = 0; i < count; i++) {
    const OutgoingDatagram& d = datagrams[i];
    ssize_t sent;
    do {
      sent = sendto(fd, d.data, d.length, MSG_DONTWAIT, reinterpret_cast<const sockaddr*>(&d.to), d.to_len);
    } while (sent < 0 && errno == EINTR);
    if (sent < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) return i;
      (*failed)++;
    }
  }
  return count;
}

#endif

}  // namespace rxloop
