#!/usr/bin/env node
// Checks the import graph of src/: no cycles, and no layer imports upward (DESIGN §2):
//   core <- store, net, node <- daemon, client, sim <- cluster, load <- check <- commands, shell
// Each folder lists the folders it may import from; a folder not listed here is an error,
// so a new folder has to be placed in the layering on purpose.
import {readdirSync, readFileSync, statSync} from 'node:fs'
import {dirname, join, relative, resolve, sep} from 'node:path'
import ts from 'typescript'

const mayImport = {
  core: [],
  store: ['core'],
  net: ['core'],
  node: ['core'],
  render: ['core'],
  cli: ['core', 'render'],
  daemon: ['core', 'store', 'net', 'node'],
  client: ['core', 'net'],
  sim: ['core', 'net', 'node', 'store'],
  cluster: ['core', 'client', 'net'],
  load: ['core', 'client'],
  shell: ['core', 'client', 'cluster', 'render'],
  check: ['core', 'net', 'client', 'sim', 'cluster'],
  commands: ['cli', 'core', 'store', 'net', 'node', 'daemon', 'client', 'sim', 'cluster', 'render', 'shell', 'load', 'check'],
}

// The project root; a test passes another root holding a small src/ tree.
const root = resolve(process.argv[2] ?? resolve(dirname(new URL(import.meta.url).pathname), '..'))
const srcDir = join(root, 'src')

function walk(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) return walk(path)
    return path.endsWith('.ts') ? [path] : []
  })
}

function folderOf(file) {
  const parts = relative(srcDir, file).split(sep)
  return parts.length > 1 ? parts[0] : '.'
}

function resolveImport(from, specifier) {
  if (!specifier.startsWith('.')) return undefined
  const target = resolve(dirname(from), specifier)
  const candidates = [target.replace(/\.js$/, '.ts'), `${target}.ts`, join(target, 'index.ts')]
  return candidates.find((path) => {
    try {
      return statSync(path).isFile()
    } catch {
      return false
    }
  })
}

const files = walk(srcDir)
const graph = new Map()
const problems = []
for (const file of files) {
  const info = ts.preProcessFile(readFileSync(file, 'utf8'), true, true)
  const edges = []
  for (const ref of info.importedFiles) {
    const target = resolveImport(file, ref.fileName)
    if (ref.fileName.startsWith('.') && !target) {
      problems.push(`${relative(root, file)}: cannot resolve import '${ref.fileName}'`)
      continue
    }
    if (!target) continue
    edges.push(target)
    const from = folderOf(file)
    const to = folderOf(target)
    if (from === to || from === '.') continue
    const allowed = mayImport[from]
    if (!allowed) problems.push(`${relative(root, file)}: folder src/${from} has no place in the layering (scripts/check-imports.mjs)`)
    else if (!allowed.includes(to)) {
      problems.push(`${relative(root, file)}: src/${from} may not import src/${to} (allowed: ${allowed.join(', ') || 'nothing'})`)
    }
  }
  graph.set(file, edges)
}

// Tarjan's strongly connected components; any component larger than one file is a cycle.
let index = 0
const indexOf = new Map()
const low = new Map()
const stack = []
const onStack = new Set()
function connect(node) {
  indexOf.set(node, index)
  low.set(node, index)
  index++
  stack.push(node)
  onStack.add(node)
  for (const next of graph.get(node) ?? []) {
    if (!indexOf.has(next)) {
      connect(next)
      low.set(node, Math.min(low.get(node), low.get(next)))
    } else if (onStack.has(next)) low.set(node, Math.min(low.get(node), indexOf.get(next)))
  }
  if (low.get(node) !== indexOf.get(node)) return
  const component = []
  let member
  do {
    member = stack.pop()
    onStack.delete(member)
    component.push(member)
  } while (member !== node)
  const selfLoop = (graph.get(node) ?? []).includes(node)
  if (component.length > 1 || selfLoop) {
    problems.push(`import cycle: ${component.map((f) => relative(root, f)).join(' -> ')}`)
  }
}
for (const file of files) if (!indexOf.has(file)) connect(file)

if (problems.length > 0) {
  for (const problem of problems) console.error(problem)
  process.exit(1)
}
console.log(`imports ok: ${files.length} files, no cycles, layering respected`)
