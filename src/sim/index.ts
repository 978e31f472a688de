// The deterministic simulator (DESIGN §10.3): see docs/simulation.md.
export {Scheduler, type Timer} from './scheduler.js'
export {Trace} from './trace.js'
export {MemoryObjectStore, type MemoryObjectStoreOptions, type StoredEntry} from './memory-store.js'
export {SimNetwork, SimTimeoutError, SimUnknownPeerError, type NetworkFaults, type NetworkStats, type RequestHandler} from './network.js'
export {DotLedger, type DotRecord, type OperationRecord, type Outcome} from './ledger.js'
export {checkRun, type CheckInput, type Violation} from './checker.js'
export {
  configure,
  describeStats,
  operationsPerClientDefault,
  replayCommand,
  runSimulation,
  scenarioNames,
  SimulationFailure,
  simulationEventsMax,
  type ScenarioName,
  type SimulationConfig,
  type SimulationOptions,
  type SimulationResult,
  type SimulationStats,
} from './simulation.js'
