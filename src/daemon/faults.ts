// The FaultControl port (src/node/ports.ts) on real sockets: one src/net PartitionFilter
// shared by the peer transport (connections this node opens) and the wire server
// (connections peers open to it). Every frame to or from a cut node is dropped on both
// kinds of connection, so the two sides stop hearing each other in both directions even
// when only one of them was told (a node restarted during a partition starts uncut, and its
// peers still drop its traffic). Client connections are never filtered, so `dyn cluster
// heal` can always reach the node.
import {PartitionFilter} from '../net/index.js'
import type {FaultControl} from '../node/ports.js'

export class FilterFaultControl implements FaultControl {
  /** Give this to NetTransport and NetServer as their `faults`. */
  readonly filter = new PartitionFilter()

  constructor(private readonly onChange: (cut: readonly string[]) => void = () => {}) {}

  /** Replaces the set of cut nodes; an empty list heals every link. */
  cut(nodes: readonly string[]): void {
    this.filter.heal()
    this.filter.cut(nodes)
    this.onChange(this.filter.cutNodes())
  }
}
