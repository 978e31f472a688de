// `dyn init` as a real process (DESIGN §9, issue 6): every template it writes is checked by
// what will read it. Node configurations: a node started from each (`dyn node start
// --config FILE`, on 127.0.0.1 and random ports) answers /health, a node joining through
// seeds is seen by the node it names, and SIGTERM stops them with exit code 0. The systemd
// unit: `systemd-analyze verify` accepts it without a single complaint. Refusals: an
// existing file, bad flags. A node with a cluster secret: commands, membership changes
// through --host included, are refused without it or with a wrong one.
import {mkdir, mkdtemp, readFile, rm, stat, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'
import {execa} from 'execa'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {probeHealth} from '../../src/cluster/index.js'
import {initTemplate} from '../../src/commands/init.js'
import {dyn, json, root, type Run} from '../commands/helpers.js'
import {freePorts} from '../daemon/helpers.js'
import {ensureProgram} from './debian.js'

/** How long a node from the sources may take to answer /health on a loaded 2-core machine. */
const healthyTimeoutMs = 30_000

let dir: string

/** A node process this file started; `exited` settles (never rejects) with its exit code and output. */
interface Spawned {
  kill(signal: NodeJS.Signals): void
  readonly exited: Promise<{exitCode: number | undefined; output: string}>
}

const nodes: Spawned[] = []


beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dyn-init-'))
  // systemd brings systemd-analyze; the CI image may lack it.
  await ensureProgram('systemd-analyze', '--version', 'systemd')
})

afterAll(async () => {
  for (const node of nodes) node.kill('SIGKILL')
  await Promise.allSettled(nodes.map((node) => node.exited))
  await rm(dir, {recursive: true, force: true})
})

function ok(run: Run): Record<string, unknown> {
  expect(run.exitCode, run.stderr + run.stdout).toBe(0)
  return json(run)
}

function startNode(configPath: string): Spawned {
  const child = execa(process.execPath, ['--import', 'tsx', join(root, 'bin', 'dev.js'), 'node', 'start', '--config', configPath], {cwd: root, reject: false, stdin: 'ignore', all: true})
  const spawned: Spawned = {kill: (signal) => void child.kill(signal), exited: child.then((result) => ({exitCode: result.exitCode, output: String(result.all)}))}
  nodes.push(spawned)
  return spawned
}

async function waitHealthy(httpAddress: string, name: string, node: Spawned): Promise<void> {
  const deadline = performance.now() + healthyTimeoutMs
  let exited = false
  void node.exited.then(() => (exited = true))
  while (performance.now() < deadline && !exited) {
    const health = await probeHealth(httpAddress)
    if (health.ok && health.name === name) return
    await sleep(100)
  }
  node.kill('SIGKILL')
  throw new Error(`${name} did not answer http://${httpAddress}/health:\n${(await node.exited).output}`)
}

/** `dyn ARGS` as installed (bin/run.js over the built dist), with no DYN_* variable but those given. */
async function dynBuilt(args: readonly string[], env: Record<string, string> = {}): Promise<Run> {
  const result = await execa(process.execPath, [join(root, 'bin', 'run.js'), ...args], {
    cwd: root,
    env: {PATH: process.env.PATH, HOME: process.env.HOME, ...env},
    extendEnv: false,
    reject: false,
    timeout: 30_000,
    stdin: 'ignore',
  })
  return {exitCode: result.exitCode ?? -1, stdout: String(result.stdout), stderr: String(result.stderr)}
}

async function stopGracefully(node: Spawned): Promise<number | undefined> {
  node.kill('SIGTERM')
  return (await node.exited).exitCode
}

describe('dyn init', () => {
  it('lists the templates, each with its file in the package', async () => {
    const listed = ok(await dyn(['init', '--json'])) as {templates: {name: string; path: string; output: string; flags: string[]}[]}
    expect(listed.templates.map((template) => [template.name, template.output])).toEqual([
      ['local-cluster', 'node.json'],
      ['node', 'node.json'],
      ['systemd', 'dyn.service'],
      ['kubernetes', 'kubernetes.yaml'],
    ])
    for (const template of listed.templates) expect((await readFile(template.path, 'utf8')).length).toBeGreaterThan(0)
    expect(listed.templates[1]?.flags).toContain('--seeds')
  })

  it('writes node configurations a node starts from: a first member, a node joining through it as seed, a local node', async () => {
    const [wire1, http1, wire2, http2, wire3, http3] = await freePorts(6)
    const runs = await Promise.all([
      dyn([
        'init', '--template', 'node', '--name', 'h1', '--listen', `127.0.0.1:${wire1}`, '--http', `127.0.0.1:${http1}`,
        '--members', `h1@127.0.0.1:${wire1}`, '--n', '1', '--r', '1', '--w', '1', '--partitions', '8', '--sync', 'none',
        '--cluster', 'init-test', '--data-dir', join(dir, 'h1', 'data'), '--out', join(dir, 'h1'), '--json',
      ]),
      dyn([
        'init', '--template', 'node', '--name', 'h2', '--listen', `127.0.0.1:${wire2}`, '--http', `127.0.0.1:${http2}`,
        '--seeds', `127.0.0.1:${wire1}`, '--n', '1', '--r', '1', '--w', '1', '--partitions', '8', '--sync', 'none',
        '--cluster', 'init-test', '--data-dir', join(dir, 'h2', 'data'), '--out', join(dir, 'h2'), '--json',
      ]),
      dyn([
        'init', '--template', 'local-cluster', '--name', 'l1', '--listen', `127.0.0.1:${wire3}`, '--http', `127.0.0.1:${http3}`,
        '--n', '1', '--r', '1', '--w', '1', '--partitions', '8', '--out', join(dir, 'l1'), '--json',
      ]),
    ])
    const [first, joining, local] = runs.map(ok) as [Record<string, unknown>, Record<string, unknown>, Record<string, unknown>]
    expect(first).toMatchObject({version: 1, template: 'node', path: join(dir, 'h1', 'node.json'), overwritten: false, warnings: []})
    expect(first.next).toEqual(expect.arrayContaining([expect.stringContaining(`dyn node start --config ${join(dir, 'h1', 'node.json')}`)]))
    expect(JSON.parse(await readFile(join(dir, 'h2', 'node.json'), 'utf8'))).toMatchObject({name: 'h2', seeds: [`127.0.0.1:${wire1}`]})
    expect(JSON.parse(await readFile(join(dir, 'l1', 'node.json'), 'utf8'))).toMatchObject({dataDir: join(dir, 'l1', 'data'), members: [{name: 'l1', address: `127.0.0.1:${wire3}`, weight: 1}]})

    const children = [startNode(String(first.path)), startNode(String(joining.path)), startNode(String(local.path))]
    await Promise.all([
      waitHealthy(`127.0.0.1:${http1}`, 'h1', children[0]!),
      waitHealthy(`127.0.0.1:${http2}`, 'h2', children[1]!),
      waitHealthy(`127.0.0.1:${http3}`, 'l1', children[2]!),
    ])
    expect(await joinedMembers(`127.0.0.1:${http1}`)).toContainEqual({name: 'h2', status: 'joining'})
    // The operator stages the remote node's join and commits it, all through --host.
    const remote = ['--host', `127.0.0.1:${wire1}`, '--cluster', 'init-test', '--dir', join(dir, 'no-local-cluster'), '--json']
    const staged = await dyn(['cluster', 'join', '--name', 'h2', ...remote])
    expect(ok(staged)).toMatchObject({name: 'h2', staged: [expect.objectContaining({name: 'h2', action: 'join'})]})
    expect((await dyn(['cluster', 'join', ...remote])).exitCode).toBe(2)
    ok(await dyn(['cluster', 'commit', ...remote]))
    expect(await joinedMembers(`127.0.0.1:${http1}`)).toContainEqual({name: 'h2', status: 'valid'})
    const status = ok(await dyn(['cluster', 'status', ...remote])) as {membership: {members: {name: string; status: string}[]; nodes: {name: string; ringVersion: number | null}[]}}
    expect(status.membership.members.map((member) => [member.name, member.status])).toEqual([['h1', 'valid'], ['h2', 'valid']])
    expect(status.membership.nodes.map((node) => node.name)).toEqual(['h1', 'h2'])
    // A node the cluster has not heard of needs its address; a bad name or host is said so.
    const unknown = await dyn(['cluster', 'join', '--name', 'h9', ...remote])
    expect(unknown.exitCode).toBe(2)
    expect(json(unknown)).toMatchObject({error: {code: 'STAGE_ADDRESS_MISSING', suggestion: expect.stringContaining('--address')}})
    expect(ok(await dyn(['cluster', 'join', '--name', 'h9', '--address', '127.0.0.1:1', ...remote]))).toMatchObject({staged: [{name: 'h9', action: 'join'}]})
    ok(await dyn(['cluster', 'clear', ...remote]))
    expect((await dyn(['cluster', 'join', '--name', 'bad name', ...remote])).exitCode).toBe(2)
    const away = await dyn(['cluster', 'plan', '--host', '127.0.0.1:1', '--cluster', 'init-test', '--dir', join(dir, 'no-local-cluster')])
    expect(away.stderr).toMatch(/no node answered: 127\.0\.0\.1:1[\s\S]*check the address given with --host/)
    expect(await Promise.all(children.map(stopGracefully))).toEqual([0, 0, 0])
  })

  it('writes a systemd unit that systemd-analyze verify accepts without a warning', async () => {
    const out = join(dir, 'unit')
    const written = ok(
      await dyn(['init', '--template', 'systemd', '--bin', join(root, 'bin', 'run.js'), '--config-path', join(dir, 'h1', 'node.json'), '--data-dir', join(dir, 'h1', 'data'), '--out', out, '--json']),
    )
    expect(written).toMatchObject({template: 'systemd', path: join(out, 'dyn.service'), next: expect.arrayContaining(['systemctl daemon-reload', 'systemctl enable --now dyn'])})
    const verified = await execa('systemd-analyze', ['verify', '--man=no', join(out, 'dyn.service')], {reject: false})
    expect({exitCode: verified.exitCode, stderr: verified.stderr, stdout: verified.stdout}).toEqual({exitCode: 0, stderr: '', stdout: ''})

    // The check can fail: the same unit with a program that does not exist is refused.
    const broken = join(out, 'broken.service')
    await writeFile(broken, (await readFile(join(out, 'dyn.service'), 'utf8')).replace(join(root, 'bin', 'run.js'), join(dir, 'no-such-dyn')))
    const refused = await execa('systemd-analyze', ['verify', '--man=no', broken], {reject: false})
    expect(refused.exitCode).not.toBe(0)
    expect(refused.stderr).toContain('no-such-dyn')
  })

  it('keeps an existing file unless --force (exit code 1) and refuses bad flags with exit code 2', async () => {
    const out = join(dir, 'refusals')
    await mkdir(out)
    await writeFile(join(out, 'dyn.service'), 'edited by hand\n')
    const [again, bad] = await Promise.all([
      dyn(['init', '--template', 'systemd', '--bin', '/usr/bin/env', '--out', out, '--json']),
      dyn(['init', '--template', 'node', '--name', 'n1', '--listen', 'nowhere', '--members', 'n1@127.0.0.1:7001', '--out', out, '--json']),
    ])
    expect(again.exitCode).toBe(1)
    expect(json(again)).toMatchObject({error: {code: 'FILE_EXISTS', message: `${join(out, 'dyn.service')} exists already`}})
    expect(await readFile(join(out, 'dyn.service'), 'utf8')).toBe('edited by hand\n')
    expect(bad.exitCode).toBe(2)
    expect(json(bad)).toMatchObject({error: {code: 'INIT_FLAG_INVALID', message: '--listen: "nowhere" is not HOST:PORT', exitCode: 2}})
  })
})

// The same command in this process: what it refuses, and --force.
describe('initTemplate', () => {
  const node = {name: 'n1', listen: '127.0.0.1:7001', members: 'n1@127.0.0.1:7001'}

  it('replaces an existing file only with --force', async () => {
    const out = join(dir, 'force')
    const flags = {out, bin: '/usr/bin/env'}
    expect(await initTemplate({template: 'systemd', flags, force: false})).toMatchObject({overwritten: false})
    await writeFile(join(out, 'dyn.service'), 'edited by hand\n')
    await expect(initTemplate({template: 'systemd', flags, force: false})).rejects.toMatchObject({code: 'FILE_EXISTS', exitCode: 1})
    expect(await readFile(join(out, 'dyn.service'), 'utf8')).toBe('edited by hand\n')
    expect(await initTemplate({template: 'systemd', flags, force: true})).toMatchObject({overwritten: true})
    expect(await readFile(join(out, 'dyn.service'), 'utf8')).toContain('\nExecStart=/usr/bin/env node start --config /etc/dyn/node.json\n')
    // Without --bin: this installation's entry script, which exists wherever the package is.
    await initTemplate({template: 'systemd', flags: {out}, force: true})
    expect(await readFile(join(out, 'dyn.service'), 'utf8')).toContain(`\nExecStart=${join(root, 'bin', 'run.js')} node start --config /etc/dyn/node.json\n`)
  })

  it.each<[string, string, Record<string, string | number>, RegExp]>([
    ['an address that is not HOST:PORT', 'node', {...node, listen: 'nowhere'}, /^--listen: "nowhere" is not HOST:PORT/],
    ['a member that is not NAME@HOST:PORT', 'node', {...node, members: 'n1@127.0.0.1:7001,n2'}, /^--members: "n2" is not NAME@HOST:PORT/],
    ['R above N, naming the flag', 'node', {...node, members: 'n1@127.0.0.1:7001,n2@127.0.0.1:7002,n3@127.0.0.1:7003', r: 4}, /^the configuration would be invalid: r: 4 must be between 1 and n=3 \(set by --r\)/],
    ['a node not among the members', 'node', {...node, name: 'n9', n: 1}, /^the configuration would be invalid: name: "n9" is not one of members \(n1\) \(set by --name\)/],
    ['a joining node on a wildcard address', 'node', {name: 'n4', listen: '0.0.0.0:7001', seeds: '10.0.0.1:7001'}, /^--listen: 0\.0\.0\.0:7001: a node joining through --seeds announces its listen address/],
    ['neither members nor seeds', 'node', {name: 'n1', listen: '127.0.0.1:7001'}, /^--members: is missing, and so is --seeds/],
    ['a CA folder without --tls', 'node', {...node, 'tls-dir': '/tmp/ca'}, /^--tls-dir: is given without --tls/],
    ['a missing name', 'node', {listen: '127.0.0.1:7001', seeds: '10.0.0.1:7001'}, /^--name: is missing/],
    ['a flag of another template', 'node', {...node, bin: '/usr/bin/dyn'}, /^--bin: does not apply to --template node/],
    ['a relative program path', 'systemd', {bin: 'dyn'}, /^--bin: dyn is not an absolute path/],
    ['a path systemd would split', 'systemd', {'config-path': '/etc/my dyn/node.json'}, /^--config-path: "\/etc\/my dyn\/node.json" contains whitespace/],
    ['a user name useradd refuses', 'systemd', {user: 'Dyn User'}, /^--user: "Dyn User" is not a user name/],
    ['an unknown template', 'compose', {}, /^there is no template "compose"/],
  ])('refuses %s with a usage error', async (_what, template, flags, message) => {
    const attempt = initTemplate({template, flags: {out: join(dir, 'refused'), ...flags}, force: false})
    await expect(attempt).rejects.toMatchObject({exitCode: 2, message: expect.stringMatching(message)})
  })

  it('fits the default N, R and W to the first members; a joining node keeps the cluster defaults', async () => {
    const alone = await initTemplate({template: 'local-cluster', flags: {name: 'n1', out: join(dir, 'alone')}, force: false})
    expect(JSON.parse(await readFile(alone.path, 'utf8'))).toMatchObject({n: 1, r: 1, w: 1})
    const pair = await initTemplate({template: 'node', flags: {name: 'n1', listen: '10.0.0.1:7001', members: 'n1@10.0.0.1:7001,n2@10.0.0.2:7001', out: join(dir, 'pair')}, force: false, insecure: true})
    expect(JSON.parse(await readFile(pair.path, 'utf8'))).toMatchObject({n: 2, r: 2, w: 2})
    const joining = await initTemplate({template: 'node', flags: {name: 'n4', listen: '10.0.0.4:7001', seeds: '10.0.0.1:7001', out: join(dir, 'joining')}, force: false, insecure: true})
    expect(JSON.parse(await readFile(joining.path, 'utf8'))).toMatchObject({n: 3, r: 2, w: 2})
  })

  it('starts a node with a secret that refuses clients and membership changes without it; DYN_SECRET_FILE lets every command in', async () => {
    const [wire, http] = await freePorts(2)
    const out = join(dir, 'secured')
    await mkdir(out)
    const secretFile = join(out, 'secret.txt')
    await writeFile(secretFile, 'Jq2Xk9Vb4Nw7Lp3Zr8Ts5Yd1\n')
    const address = `127.0.0.1:${wire}`
    const init = await dyn([
      'init', '--template', 'node', '--name', 's1', '--listen', address, '--http', `127.0.0.1:${http}`, '--members', `s1@${address}`,
      '--n', '1', '--r', '1', '--w', '1', '--partitions', '8', '--sync', 'none', '--secret-file', secretFile,
      '--data-dir', join(out, 'data'), '--out', out, '--json',
    ])
    const child = startNode(String(ok(init).path))
    await waitHealthy(`127.0.0.1:${http}`, 's1', child)
    const remote = ['--host', address, '--dir', join(dir, 'no-local-cluster')]
    const refused = await dyn(['put', 'guarded', 'v', ...remote])
    expect(refused.exitCode).toBe(1)
    expect(refused.stderr).toMatch(/has a cluster secret, and this end has none[\s\S]*DYN_SECRET_FILE/)
    const env = {DYN_SECRET_FILE: secretFile}
    expect((await dyn(['put', 'guarded', 'v', ...remote], {env})).exitCode).toBe(0)
    expect(json(await dyn(['get', 'guarded', ...remote, '--json'], {env}))).toMatchObject({found: true, siblings: [{value: 'v'}]})
    expect(ok(await dyn(['cluster', 'status', ...remote, '--json'], {env}))).toMatchObject({membership: {members: [{name: 's1', status: 'valid'}]}})
    await writeFile(join(out, 'wrong.txt'), 'a-different-secret-of-24\n')
    const wrong = await dyn(['get', 'guarded', ...remote], {env: {DYN_SECRET_FILE: join(out, 'wrong.txt')}})
    expect(wrong.exitCode).toBe(1)
    expect(wrong.stderr).toMatch(/has another cluster secret than this end/)
    const missing = await dyn(['get', 'guarded', ...remote], {env: {DYN_SECRET_FILE: join(out, 'nope.txt')}})
    expect(missing.exitCode).toBe(2)
    expect(missing.stderr).toMatch(/the cluster secret file .*nope\.txt \(DYN_SECRET_FILE\) cannot be read \(ENOENT\)/)

    // The membership commands that reach a node through --host (fault injection, `cluster
    // partition` and `heal`, only reaches the nodes of a local cluster), run as installed:
    // with a join staged, every one of them is refused without the secret and with a wrong
    // one, and changes nothing; with the secret they work.
    const [joinPort, otherPort] = await freePorts(2)
    const staged = await dynBuilt(['cluster', 'join', '--name', 's2', '--address', `127.0.0.1:${joinPort}`, ...remote, '--json'], env)
    expect(ok(staged)).toMatchObject({name: 's2', staged: [{name: 's2', action: 'join'}]})
    const changes = [
      ['cluster', 'join', '--name', 's3', '--address', `127.0.0.1:${otherPort}`],
      ['cluster', 'leave', 's1'],
      ['cluster', 'clear'],
      ['cluster', 'commit'],
      ['cluster', 'plan'],
    ]
    const refusals = [
      {env: {}, message: /^Error: .*127\.0\.0\.1:\d+ has a cluster secret, and this end has none\nTry: .*DYN_SECRET_FILE/m},
      {env: {DYN_SECRET_FILE: join(out, 'wrong.txt')}, message: /^Error: .* has another cluster secret than this end \(its proof does not match\)\nTry: .*DYN_SECRET_FILE/m},
    ]
    // The secret is checked in the hello, before any command's own work: each command once,
    // the two refusals in turn, keeps the runs few.
    const attempts = changes.map((args, i) => ({args, refusal: refusals[i % refusals.length]!}))
    const runs = await Promise.all(attempts.map(({args, refusal}) => dynBuilt([...args, ...remote], refusal.env)))
    for (const [i, run] of runs.entries()) {
      expect(run.exitCode, `${attempts[i]!.args.join(' ')}: ${run.stderr}`).toBe(1)
      expect(run.stderr, attempts[i]!.args.join(' ')).toMatch(attempts[i]!.refusal.message)
    }
    const membership = ok(await dynBuilt(['cluster', 'status', ...remote, '--json'], env)).membership as {members: {name: string; status: string}[]; ringVersion: number; staged: unknown}
    expect({members: membership.members.map(({name, status}) => ({name, status})), ringVersion: membership.ringVersion, staged: membership.staged}).toEqual({
      members: [{name: 's1', status: 'valid'}, {name: 's2', status: 'joining'}],
      ringVersion: 1,
      staged: [{name: 's2', action: 'join'}],
    })
    expect(ok(await dynBuilt(['cluster', 'plan', ...remote, '--json'], env))).toMatchObject({ringVersion: 2, transfers: expect.arrayContaining([expect.objectContaining({from: 's1', to: 's2'})])})
    expect(ok(await dynBuilt(['cluster', 'clear', ...remote, '--json'], env))).toMatchObject({staged: []})
    const nothing = await dynBuilt(['cluster', 'commit', ...remote, '--json'], env)
    expect(nothing.exitCode).toBe(2)
    expect(json(nothing)).toMatchObject({error: {code: 'NOTHING_STAGED'}})
    expect(await stopGracefully(child)).toBe(0)
  })

  it('reads the secret from a file, and writes a configuration holding it readable by owner and group only', async () => {
    const out = join(dir, 'secret')
    await mkdir(out)
    await writeFile(join(out, 'secret.txt'), 'k7Qd0Zr3pW9xY2vL8mN4bT6c\n')
    const result = await initTemplate({template: 'node', flags: {...node, out, n: 1, r: 1, w: 1, 'secret-file': join(out, 'secret.txt')}, force: false})
    expect(JSON.parse(await readFile(result.path, 'utf8'))).toMatchObject({secret: 'k7Qd0Zr3pW9xY2vL8mN4bT6c'})
    expect((await stat(result.path)).mode & 0o777).toBe(0o640 & ~process.umask())
    await writeFile(join(out, 'short.txt'), 'short\n')
    await expect(initTemplate({template: 'node', flags: {...node, out: join(out, 'b'), n: 1, r: 1, w: 1, 'secret-file': join(out, 'short.txt')}, force: false})).rejects.toMatchObject({
      exitCode: 2,
      message: expect.stringMatching(/^the configuration would be invalid: secret: a string of 5 characters is not allowed.*\(set by --secret-file\)$/),
    })
  })

  it('refuses a wire port off loopback without a secret or TLS, as the node will, and warns when --insecure allows it', async () => {
    const flags = {name: 'n1', listen: '10.0.0.1:7001', members: 'n1@10.0.0.1:7001', n: 1, r: 1, w: 1, out: join(dir, 'open')}
    await expect(initTemplate({template: 'node', flags, force: false})).rejects.toMatchObject({
      exitCode: 2,
      message: expect.stringMatching(/^--listen: 10\.0\.0\.1 is not a loopback address, and the node has neither a cluster secret nor TLS/),
      suggestion: expect.stringContaining('--secret-file FILE and/or --tls'),
    })
    const result = await initTemplate({template: 'node', flags, force: false, insecure: true})
    expect(JSON.parse(await readFile(result.path, 'utf8'))).toMatchObject({insecure: true})
    expect(result.warnings).toEqual([expect.stringMatching(/^WARNING: insecure: listening on 10\.0\.0\.1:7001, which is not a loopback address, without a cluster secret or TLS/)])
  })
})

/** The members (name and status) the node at `httpAddress` reports in /status, once it
 * lists more than itself (gossip brings a joining node within a round or two). */
async function joinedMembers(httpAddress: string): Promise<{name: string; status: string}[]> {
  const deadline = performance.now() + healthyTimeoutMs
  for (;;) {
    const status = (await (await fetch(`http://${httpAddress}/status`)).json()) as {members: {name: string; status: string}[]}
    const members = status.members.map(({name, status: state}) => ({name, status: state}))
    if (members.length > 1 || performance.now() > deadline) return members
    await sleep(200)
  }
}
