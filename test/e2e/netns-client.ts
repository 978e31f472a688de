// The client side of test/e2e/netns.test.ts, run inside the client's network namespace
// (the test process itself cannot enter one). It reads one JSON request per line on stdin
// and answers one JSON line on stdout: {id, ok: true, result} or {id, ok: false, code, message}.
//
//   {op: 'put', address, key, value, w?}      kv.put coordinated by the node at address
//   {op: 'get', address, key, r?}             kv.get; result: {found, values}
//   {op: 'admin', address, type, payload}     admin.faults / admin.status; result: its JSON
//   {op: 'primaries', address, keys}          the primaries of each key, from the ring
import {createInterface} from 'node:readline'
import {DynClient} from '../../src/client/index.js'
import {adminRequest} from '../../src/cluster/index.js'
import {DynError} from '../../src/core/errors.js'
import {preferenceList} from '../../src/core/ring.js'

const cluster = 'dyn'
const clients = new Map<string, DynClient>()

function clientFor(address: string): DynClient {
  let client = clients.get(address)
  if (client === undefined) {
    client = new DynClient({seeds: [address], cluster, routing: 'direct', timeoutMs: 8_000})
    clients.set(address, client)
  }
  return client
}

type Request = {id: number; address: string} & (
  | {op: 'put'; key: string; value: string; w?: number}
  | {op: 'get'; key: string; r?: number}
  | {op: 'admin'; type: 'admin.faults' | 'admin.status'; payload: unknown}
  | {op: 'primaries'; keys: string[]}
)

async function serve(request: Request): Promise<unknown> {
  switch (request.op) {
    case 'put': {
      const put = await clientFor(request.address).put(request.key, request.value, request.w === undefined ? {} : {w: request.w})
      return {quorum: put.quorum}
    }
    case 'get': {
      const got = await clientFor(request.address).get(request.key, request.r === undefined ? {} : {r: request.r})
      return {found: got.found, values: got.siblings.map((sibling) => Buffer.from(sibling.value).toString('utf8'))}
    }
    case 'admin':
      return adminRequest({address: request.address, cluster, type: request.type, payload: request.payload})
    case 'primaries': {
      const info = await clientFor(request.address).ring()
      const encoder = new TextEncoder()
      return Object.fromEntries(request.keys.map((key) => [key, preferenceList(info.ring, {key: encoder.encode(key)}, {n: info.n}).primaries]))
    }
  }
}

const lines = createInterface({input: process.stdin})
lines.on('line', (line) => {
  const request = JSON.parse(line) as Request
  serve(request).then(
    (result) => process.stdout.write(`${JSON.stringify({id: request.id, ok: true, result})}\n`),
    (error: unknown) => {
      const code = error instanceof DynError ? error.code : 'ERROR'
      process.stdout.write(`${JSON.stringify({id: request.id, ok: false, code, message: error instanceof Error ? error.message : String(error)})}\n`)
    },
  )
})
lines.on('close', () => {
  void Promise.all([...clients.values()].map((client) => client.close())).then(() => process.exit(0))
})
process.stdout.write(`${JSON.stringify({ready: true})}\n`)
