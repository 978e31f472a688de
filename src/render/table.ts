// The one place cli-table3 is loaded, on the first table drawn: a command that prints JSON,
// or draws no table, then never pays for loading it (start-up time of every command).
// cli-table3 is a CommonJS module, so a synchronous require keeps the renderers
// synchronous; only its type is imported statically, which costs nothing at run time.
import {createRequire} from 'node:module'
import type TableModule from 'cli-table3'

export type Table = TableModule.Table
export type TableOptions = TableModule.TableConstructorOptions

let tableClass: typeof TableModule | undefined

/** Loads cli-table3 now, if not loaded yet: a caller with time to spare (waiting on the
 * network) saves the time of loading it later. */
export function loadTable(): typeof TableModule {
  tableClass ??= createRequire(import.meta.url)('cli-table3') as typeof TableModule
  return tableClass
}

/** A new cli-table3 table; loads cli-table3 on the first call. */
export function newTable(options: TableOptions): Table {
  const TableClass = loadTable()
  return new TableClass(options)
}
