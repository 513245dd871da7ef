export { type AddressOptions, type ListenAddress, type Scheme, SocketAddress, parseAddress } from './address';
export { type Chunk, type CloseReason, Connection, type Detached } from './connection';
export {
  type Datagram,
  type DatagramHandler,
  type DatagramOptions,
  type DatagramServeOptions,
  type DatagramServer,
  type DatagramServerStats,
  type DatagramStats,
  DatagramsObservable,
  datagrams$,
  serveDatagrams,
} from './datagrams';
export { type CurrentLoop, currentLoop } from './current-loop';
export { type DialOptions, dial } from './dial';
export { AddressError, ConnectError, ConnectionError, LimitError, ListenError, LoopError, RxloopError } from './errors';
export { type Balance, type HandlerModule, type LoopData, type LoopDataOption } from './loops';
export { type BackendName } from './select-backend';
export {
  ConnectionsObservable,
  type Handler,
  type LoopStats,
  type Server,
  type ServerOptions,
  type ServerStats,
  connections$,
  serve,
} from './server';
