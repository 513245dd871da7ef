// Layouts shared with native/loop.h: batch records, flush entries and loop counters.

export const RECORD_WIDTH = 4; // [kind, slot, a, b]
export const RECORD_ACCEPT = 1; // a: connection id, b: slab offset of [listener u32 LE][remote][local]
export const RECORD_DATA = 2; // a: slab offset, b: length
export const RECORD_EOF = 3;
export const RECORD_CLOSED = 4; // a: errno, 0 for an orderly close
export const RECORD_WROTE = 5; // a: bytes still queued natively
export const RECORD_CONNECTED = 6; // a: slab offset of [0xffffffff][remote][local]
export const RECORD_DATAGRAM = 7; // slot: a UDP socket; a: slab offset of [sender][payload], b: payload length
export const RECORD_SENDABLE = 8; // slot: a UDP socket that would block takes datagrams again

export const IO_WIDTH = 3; // in: [slot, flags, chunkCount]; out: [slot, closed ? 1 : 0, queued bytes | errno]
export const FLUSH_SHUTDOWN = 1;
export const SPAN_WIDTH = 3; // a flushed chunk: [source, offset, length]
export const SPAN_SLAB = 0; // offset into the slab (input forwarded as it was read)
export const SPAN_ARENA = 1; // offset into the arena (small output copied there)
export const SPAN_BUFFER = 2; // offset is the index of the chunk in the buffers array

export const STAT_NAMES = [
  'batches',
  'accepted',
  'acceptBackoffs',
  'reads',
  'bytesIn',
  'writev',
  'bytesOut',
  'closed',
  'handedOff',
  'handOffFailures',
  'datagramsIn',
  'datagramsOut',
  'datagramsFailed',
] as const;
export type LoopStats = Record<(typeof STAT_NAMES)[number], number>;
