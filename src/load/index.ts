// The load generator of `dyn bench` (YCSB-style workloads, closed and open loop).
export {realClock, type LoadClock} from './clock.js'
export * from './options.js'
export {
  BenchRun,
  latencyUsMax,
  openLoopDrainMsMax,
  type BenchDependencies,
  type BenchMode,
  type BenchPhase,
  type BenchProgress,
  type BenchResult,
  type BenchTarget,
  type LoadPhaseResult,
  type OperationStats,
  type StopReason,
} from './runner.js'
export {Timeline, timelineIntervalMsMin, timelineIntervalsMax, type ThroughputTimeline} from './timeline.js'
export {clientTarget, type ClientTargetOptions} from './target.js'
export {ProgressBar, progressLine, progressRedrawMsMin, type ProgressStream} from './progress.js'
