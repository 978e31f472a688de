// redis under test: one Debian `redis-server`, started here with its own config file and
// directory (never the system service), made durable with `appendonly yes` and
// `appendfsync always` (every write is in the AOF and fsynced before its reply; writes of
// one event-loop turn share the fsync). A single node with no replication: the reference
// point for what one fsynced log on this machine can do, not a like-for-like cluster.
// Driven by the `redis` npm client (node-redis) over one connection, which pipelines the
// requests of all workers.
import {execFile} from 'node:child_process'
import {writeFile} from 'node:fs/promises'
import {join} from 'node:path'
import {createClient, RESP_TYPES} from 'redis'
import type {Target} from './load.js'
import {loopback, type ProcessGroup} from './processes.js'

export const redisPeer = {binary: 'redis-server', packages: ['redis-server']} as const

/** Ports the server uses: the client port. */
export const redisPorts = 1

/** `redis-server --version`, e.g. "Redis server v=7.0.15 ...", shortened to "7.0.15". */
export function redisVersion(binary: string): Promise<string> {
  return new Promise((resolve) => {
    execFile(binary, ['--version'], (error, stdout) => resolve(error === null ? (/v=(\S+)/.exec(stdout)?.[1] ?? stdout.trim()) : 'unknown'))
  })
}

/** The config file: durable AOF, loopback only, no RDB snapshots (a background save in the
 * middle of a measurement would fork and copy the dataset, which is not what is measured). */
export function redisConfig(options: {port: number; dir: string}): string {
  return [
    `bind ${loopback}`,
    'protected-mode yes',
    `port ${options.port}`,
    'daemonize no',
    `dir ${options.dir}`,
    'logfile ""',
    'save ""',
    'appendonly yes',
    'appendfsync always',
    '',
  ].join('\n')
}

export async function startRedis(options: {binary: string; dir: string; ports: readonly number[]; processes: ProcessGroup}): Promise<Target> {
  const {binary, dir, processes} = options
  const port = options.ports[0]
  if (port === undefined) throw new Error('startRedis needs a port')
  const configPath = join(dir, 'redis.conf')
  await writeFile(configPath, redisConfig({port, dir}))
  const child = processes.spawn(binary, [configPath], join(dir, 'redis.log'))
  await processes.waitReady(child, () => answersPing(port), 'redis-server')
  // Values come back as Buffers, as dyn's and etcd's clients return bytes, not decoded text.
  const client = createClient({socket: {host: loopback, port, reconnectStrategy: false}}).withTypeMapping({[RESP_TYPES.BLOB_STRING]: Buffer})
  // A lost connection also rejects each pending command, and the load counts those.
  client.on('error', () => undefined)
  await client.connect()
  // Read the setting back: a config line the server ignored would make the durable row a lie.
  const appendFsync = String((await client.configGet('appendfsync')).appendfsync)
  if (appendFsync !== 'always') throw new Error(`redis-server runs with appendfsync ${appendFsync}, not always`)
  return {
    system: 'redis',
    put: async (_worker, key, value) => {
      await client.set(key, Buffer.from(value.buffer, value.byteOffset, value.byteLength))
    },
    get: async (_worker, key) => (await client.get(key)) !== null,
    close: async () => {
      if (client.isOpen) await client.close()
    },
  }
}

/** Whether a server answers PING on `port`, through a client used once. */
async function answersPing(port: number): Promise<boolean> {
  const probe = createClient({socket: {host: loopback, port, reconnectStrategy: false}})
  probe.on('error', () => undefined)
  try {
    await probe.connect()
    return (await probe.ping()) === 'PONG'
  } finally {
    probe.destroy()
  }
}
