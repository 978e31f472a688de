// A folder of its own for a `dyn check` test on real processes: made before the tests of the
// file, removed after them, and before that every node process named by the cluster file
// `dyn check` wrote there is killed, however the run ended (SIGCONT first: a paused node
// would sit out a SIGTERM; SIGKILL ends it either way).
import {existsSync} from 'node:fs'
import {mkdtemp, readFile, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll} from 'vitest'
import {isAlive} from '../../src/cluster/index.js'

/** Registers the folder's hooks; the returned function gives its path once the tests run. */
export function checkWorkspace(prefix: string): () => string {
  let root: string | undefined
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), prefix))
  })
  afterAll(async () => {
    if (root === undefined) return
    const clusterFile = join(root, 'cluster', 'cluster.json')
    if (existsSync(clusterFile)) {
      const file = JSON.parse(await readFile(clusterFile, 'utf8')) as {nodes: {pid: number | null}[]}
      for (const node of file.nodes) {
        if (node.pid === null || !isAlive(node.pid)) continue
        process.kill(node.pid, 'SIGCONT')
        process.kill(node.pid, 'SIGKILL')
      }
    }
    await rm(root, {recursive: true, force: true})
  })
  return () => {
    if (root === undefined) throw new Error('the workspace is made in beforeAll')
    return root
  }
}
