// The node daemon (DESIGN §2): src/node's Node on real ports, the HTTP admin port and the
// node configuration. Used by `dyn node start` and by tests and tools that run a node
// in-process.
export {
  ConfigError,
  ConfigFileError,
  configDefaults,
  configWarnings,
  loadConfig,
  membersMax,
  parseConfig,
  InsecureListenError,
  readSecretFile,
  readTlsFiles,
  splitAddress,
  type TlsConfig,
  type ConfigOverrides,
  type DaemonConfig,
  type HostPort,
  type LoadConfigOptions,
  type MemberConfig,
} from './config.js'
export {startDaemon, statusShapeVersion, type Daemon, type DaemonAddresses, type DaemonOptions} from './daemon.js'
export {AdminListenError, AdminPortInUseError} from './http.js'
export {type LogFormat} from './log.js'
export {latencyBucketsSeconds} from './metrics.js'
export {LogObjectStore, type StoreTotals} from './object-store.js'
export {BadResponseError, NetTransport, UnknownPeerError} from './transport.js'
export {closeOnSignal, exitCodeInterrupted, stopSignals, type StopSignal} from './signals.js'
