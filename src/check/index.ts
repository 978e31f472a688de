// `dyn check` (docs/check.md): a workload with a nemesis against a local cluster, a history
// of every operation and fault, the checker of the outcome, and its timeline.
export {checkHistory, checkNames, describeObject, formatDot, violationsPerCheckMax, type Availability, type CheckInput, type CheckName, type CheckResult, type Convergence, type Violation} from './checker.js'
export {faultKinds, historyLine, historyVersion, parseHistory, type Fault, type FaultKind, type HistoryEvent, type Operation, type OperationKind, type Outcome, type Phases} from './history.js'
export {checkPartitionsDefault, CheckSetupError, convergeTimeoutMsDefault, describeFault, runCheck, type CheckOptions, type CheckReport} from './run.js'
export {checkJson, checkShapeVersion, checkText, type CheckFiles} from './report.js'
export {clientSeed, planFaults, type PlannedFault, type ScheduleOptions} from './schedule.js'
export {renderTimeline, type TimelineInput} from './timeline.js'
