// `dyn node start`: runs one node in the foreground until SIGTERM or SIGINT (DESIGN §8).
// Thin on purpose: flags -> configuration (src/daemon validates it) -> daemon -> signal.
import {Flags} from '@oclif/core'
import {BaseCommand} from '../../cli/base-command.js'
import {closeOnSignal, loadConfig, startDaemon} from '../../daemon/index.js'

export default class NodeStart extends BaseCommand {
  static override summary = 'Run one storage node in the foreground'

  static override description =
    'Reads the node configuration from --config and/or flags (a flag overrides the field of the file), ' +
    'serves the wire protocol and the HTTP admin port (/health, /status, /metrics) and logs one line per event. ' +
    'SIGTERM or SIGINT stops it gracefully; a second signal stops it at once. With --json the log is JSON lines. ' +
    'See docs/node.md for every field.'

  static override examples = [
    '<%= config.bin %> node start --config .dyn/n1/node.json',
    '<%= config.bin %> node start --name n1 --port 7001 --http-port 8001 --data-dir ./data/n1 --peers n2@127.0.0.1:7002,n3@127.0.0.1:7003',
    '<%= config.bin %> node start --name solo --data-dir ./data --n 1 --r 1 --w 1',
    '<%= config.bin %> node start --config /etc/dyn/node.json --tls-cert /etc/dyn/n1.pem --tls-key /etc/dyn/n1-key.pem --tls-ca /etc/dyn/ca.pem --tls-require-client-cert',
  ]

  static override flags = {
    config: Flags.string({char: 'c', summary: 'Node configuration file (JSON).'}),
    name: Flags.string({summary: 'This node\'s name; one of the members.'}),
    host: Flags.string({summary: 'Wire-protocol listen address [default: 127.0.0.1].'}),
    port: Flags.integer({summary: 'Wire-protocol listen port [default: 7001].'}),
    'http-host': Flags.string({summary: 'HTTP admin listen address [default: 127.0.0.1].'}),
    'http-port': Flags.integer({summary: 'HTTP admin listen port [default: 8001].'}),
    'data-dir': Flags.string({summary: 'Store directory.'}),
    peers: Flags.string({summary: 'Members besides this node: NAME@HOST:PORT,... (replaces the file\'s members).'}),
    cluster: Flags.string({summary: 'Cluster name, checked in every hello [default: dyn].'}),
    n: Flags.integer({summary: 'Replicas per key [default: 3].'}),
    r: Flags.integer({summary: 'Default read quorum [default: 2].'}),
    w: Flags.integer({summary: 'Default write quorum [default: 2].'}),
    partitions: Flags.integer({summary: 'Partition count Q, a power of two from 8 to 4096 [default: 64].'}),
    sync: Flags.string({summary: 'Durability: always, interval:MS or none [default: always].'}),
    advertise: Flags.string({summary: 'HOST:PORT other nodes and clients reach this node at, when not the listen address [default: the listen address].'}),
    'tls-cert': Flags.string({summary: 'PEM certificate: serve TLS on the wire and HTTP ports with it, and present it to peers (with --tls-key).'}),
    'tls-key': Flags.string({summary: "PEM private key of --tls-cert, unencrypted (keep it mode 0600)."}),
    'tls-ca': Flags.string({summary: "PEM CA certificate(s) that peers' and, with --tls-require-client-cert, clients' certificates must chain to."}),
    'tls-require-client-cert': Flags.boolean({allowNo: true, summary: 'Mutual TLS: admit only connections with a certificate --tls-ca signed.'}),
    insecure: Flags.boolean({summary: 'Serve on a non-loopback address without a cluster secret and without TLS (refused otherwise).'}),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(NodeStart)
    const config = await loadConfig({
      configPath: flags.config,
      overrides: {
        name: flags.name,
        host: flags.host,
        port: flags.port,
        httpHost: flags['http-host'],
        httpPort: flags['http-port'],
        dataDir: flags['data-dir'],
        peers: flags.peers,
        cluster: flags.cluster,
        n: flags.n,
        r: flags.r,
        w: flags.w,
        partitions: flags.partitions,
        sync: flags.sync,
        advertise: flags.advertise,
        tlsCert: flags['tls-cert'],
        tlsKey: flags['tls-key'],
        tlsCa: flags['tls-ca'],
        tlsRequireClientCert: flags['tls-require-client-cert'],
        insecure: flags.insecure,
      },
    })
    const daemon = await startDaemon(config, {logFormat: this.jsonEnabled() ? 'json' : 'text'})
    await closeOnSignal(daemon)
  }
}
