// The client library (DESIGN §2, §3): DynClient with partition-aware routing.
export {DynClient, toBytes, type CallOptions, type ConflictsResult, type DynClientOptions, type GetResult, type Key, type PutResult, type RingInfo, type Routing} from './client.js'
export {AddressError, BadResponseError, NoNodeReachableError} from './errors.js'
export {formatAddress, parseAddress, type HostPort} from './address.js'
export {clientRequestTimeoutMsDefault, clusterNameDefault, routeCandidatesMax} from './constants.js'
export {ConnectionPool, type PoolOptions} from './pool.js'
export {clientTls, readClientTls, TlsFileError, tlsFromEnvironment} from './tls.js'
export {clientIdentity, readSecretFile, secretFromEnvironment, secretFileBytesMax, secretFileVariable, SecretFileError} from './identity.js'
