// The client library's timeouts and limits in one place (DESIGN §1.4).

/** Default time one client request waits for its answer. The coordinator itself waits up
 * to its requestTimeoutMs (2 s by default) for each replica and may forward once, so the
 * client waits longer than that: 5 s lets a coordinator report a failed quorum with its
 * details instead of the client giving up first. */
export const clientRequestTimeoutMsDefault = 5_000

/** Default cluster name, the same as a node's (DESIGN §8, `dyn node start`). */
export const clusterNameDefault = 'dyn'

/** Most nodes a request is offered to before the client gives up: every primary and
 * fallback of a key in a large cluster would turn one unreachable key into a long scan. */
export const routeCandidatesMax = 8
