// The log store's public surface (DESIGN §6).
export type {CompactionReport} from './compaction.js'
export {CompactionIncompleteError, CorruptRecordError, DiskFullError, InvalidStoreOptionError, StoreClosedError, StoreLockedError, StoreWriteError, writeErrorFor} from './errors.js'
export type {OpenMode, StoreFile, StoreFiles} from './files.js'
export {nodeFiles} from './files.js'
export {
  compactionDeadRatioDefault,
  formatSyncMode,
  parseSyncMode,
  segmentBytesMaxCeiling,
  segmentBytesMaxDefault,
  type StoreEvent,
  type StoreOptions,
  type SyncMode,
} from './options.js'
export type {DescribedKeys, Entry, Partition, PartitionStats} from './partition.js'
export type {RecordDescriber} from './hint.js'
export {LogStore, partitionIndexMax} from './store.js'
export type {JournalStats} from './journal.js'
