// Fault injection (DESIGN §2, §8 `dyn cluster partition`): a filter the transport consults
// for every frame to or from a node. A dropped frame is lost silently, as on a cut link, so
// requests across the cut time out just as they would in a real network partition.

/** Decides whether traffic with a peer node is dropped. Consulted per frame; clients are
 * never filtered, only peers that introduced themselves as nodes. */
export interface FaultFilter {
  dropsTrafficWith(nodeName: string): boolean
}

/** The filter behind `dyn cluster partition` / `heal`: drops all traffic with the nodes in
 * a set. Each node of a partitioned cluster holds the names on the other side of the cut. */
export class PartitionFilter implements FaultFilter {
  private readonly blocked = new Set<string>()

  dropsTrafficWith(nodeName: string): boolean {
    return this.blocked.has(nodeName)
  }

  /** Cuts the links to these nodes (in addition to any already cut). */
  cut(nodeNames: Iterable<string>): void {
    for (const name of nodeNames) this.blocked.add(name)
  }

  /** Restores every link. */
  heal(): void {
    this.blocked.clear()
  }

  /** The nodes currently cut off, sorted. */
  cutNodes(): string[] {
    return [...this.blocked].sort()
  }
}

/** A filter that never drops anything. */
export const noFaults: FaultFilter = {dropsTrafficWith: () => false}
