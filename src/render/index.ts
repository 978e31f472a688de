// Rendering shared by the commands and the shell: value display, tables, JSON shapes.
export {jsonShapeVersion} from './json.js'
export * from './value.js'
export * from './context.js'
export * from './shapes.js'
export * from './tables.js'
export * from './conflicts.js'
export * from './resolve.js'
export * from './bench.js'
