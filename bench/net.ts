// Wire protocol throughput on loopback, in one process: small requests pipelined on one
// connection, with write batching (cork/uncork per tick, DESIGN §7) and without. Not a
// test; run with `npx tsx bench/net.ts`. Reports the median of several runs and the ratio.
import {connect} from '../src/net/client.js'
import {NetServer} from '../src/net/server.js'

const host = '127.0.0.1'
const cluster = 'bench'
const requestsPerRun = 200_000
/** Requests kept in flight: enough to fill a tick with frames, under inFlightRequestsMax. */
const window = 512
const runs = 5

async function run(batchWrites: boolean): Promise<number> {
  const server = new NetServer({identity: {cluster, role: 'node', name: 'n1'}, batchWrites})
  server.handle('get', (payload) => payload)
  const {port} = await server.listen({host, port: 0})
  const client = await connect({host, port, identity: {cluster, role: 'client', name: 'bench'}, batchWrites})
  const payload = {key: new Uint8Array(16), value: new Uint8Array(32)}
  let sent = 0
  const started = performance.now()
  async function lane(): Promise<void> {
    while (sent < requestsPerRun) {
      sent++
      await client.request('get', payload)
    }
  }
  await Promise.all(Array.from({length: window}, lane))
  const elapsedMs = performance.now() - started
  client.destroy()
  await server.destroy()
  return (requestsPerRun / elapsedMs) * 1000
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)] ?? 0
}

const batched: number[] = []
const unbatched: number[] = []
for (let i = 0; i < runs; i++) {
  batched.push(await run(true))
  unbatched.push(await run(false))
}
const format = (n: number): string => `${Math.round(n).toLocaleString('en')} requests/s`
console.log(`${requestsPerRun} requests of 48 payload bytes, ${window} in flight, median of ${runs} runs, node ${process.version}`)
console.log(`batched writes:   ${format(median(batched))}`)
console.log(`unbatched writes: ${format(median(unbatched))}`)
console.log(`ratio: ${(median(batched) / median(unbatched)).toFixed(2)}x`)
