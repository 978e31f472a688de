// The wire protocol library (DESIGN §7): framing, codec, hello, connections, server,
// client connect and fault injection. Used by the node daemon and the client.
export {encodeBody, encodeFrame, decodeBody, FrameDecoder, frameHeaderBytes, type Envelope} from './codec.js'
export * from './constants.js'
export * from './errors.js'
export {noFaults, PartitionFilter, type FaultFilter} from './faults.js'
export {type Hello, type Role, type Side} from './hello.js'
export {
  Connection,
  reservedTypes,
  type ConnectionOptions,
  type ConnectionSettings,
  type ConnectionStats,
  type Handler,
  type HandlerContext,
  type HandlerTable,
  type Identity,
  type LogEntry,
  type Logger,
  type PeerInfo,
  type RequestOptions,
} from './connection.js'
export {writerTotals, type WriterStats} from './writer.js'
export {NetServer, type ListenAddress, type ServerOptions} from './server.js'
export {connect, type ConnectOptions} from './client.js'
export {pemProblem, tlsFileBytesMax, TlsError, tlsVersionMin, type TlsClientSettings, type TlsServerSettings} from './tls.js'
