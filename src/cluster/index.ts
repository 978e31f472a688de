// Local clusters (DESIGN §2, §8): the cluster directory, starting, inspecting and stopping
// the node processes, and which node a command talks to.
export * from './errors.js'
export * from './layout.js'
export {probeHealth, healthProbeTimeoutMs, type Health} from './health.js'
export {isPortFree} from './ports.js'
export {isAlive, isNodeProcess, stopProcess, stopGraceMsDefault, type StopOutcome} from './processes.js'
export {packageRoot, programCommand, type ProgramCommand} from './program.js'
export {readLogTail} from './logs.js'
export {basePortMin, httpPortOffset, localNodesMax, nodeConfig, planCluster, up, upDefaults, upTimeoutMsDefault, type UpEvent, type UpOptions, type UpResult} from './up.js'
export {clusterStatus, describeOutcome, down, type ClusterStatus, type DownResult, type NodeState, type NodeStatus, type StoppedNode} from './status.js'
export {resolveTarget, type Target, type TargetOptions} from './target.js'
export {killProcess} from './processes.js'
export {findNode, killNode, startNode, stopNode, type KillResult, type NodeCommandOptions, type StartResult, type StopResult} from './lifecycle.js'
export {
  FaultsNotAppliedError,
  heal,
  parseGroups,
  partition,
  PartitionGroupsError,
  planPartition,
  type FaultsNodeResult,
  type FaultsResult,
  type PartitionPlan,
} from './faults.js'
export {
  allocateNode,
  clear,
  clusterMembership,
  commit,
  join,
  leave,
  stageJoin,
  remoteMembership,
  claimantRequestTimeoutMs,
  membershipText,
  NoRunningNodeError,
  NodesUnreachableError,
  plan,
  planText,
  warningText,
  type ClusterMembership,
  type HandoffRow,
  type JoinOptions,
  type JoinResult,
  type MemberRow,
  type MembershipTarget,
  type NodeMembership,
  type PlanDocument,
  type StageResult,
} from './membership.js'
export {adminRequest, adminRequestTimeoutMs, BadAdminResponseError, type AdminType} from './admin-request.js'
export {
  fillJson,
  fillText,
  kubernetesNodeJson,
  kubernetesPodAddress,
  kubernetesPodName,
  kubernetesWirePort,
  loadTemplate,
  placeholdersOf,
  readTemplate,
  renderJsonTemplate,
  renderTemplate,
  templateInfo,
  templateNames,
  templates,
  templatesDir,
  templateValues,
  TemplateFileError,
  TemplateValuesError,
  UnknownTemplateError,
  type KubernetesSettings,
  type MemberSetting,
  type NodeSettings,
  type Placeholder,
  type PlaceholderInfo,
  type TemplateFormat,
  type TemplateInfo,
  type TemplateName,
  type TemplateSettings,
  type TemplateValue,
  type TemplateValues,
  type UnitSettings,
} from './templates.js'
