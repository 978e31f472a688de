// The daemon's log: one line per event on stdout (or wherever the caller sends it), each
// with an ISO timestamp and the node's name, as plain text or JSON lines. Operators read
// it in node.log; scripts and tests can match its lines.

export type LogLevel = 'info' | 'warn' | 'error'

export type LogFormat = 'text' | 'json'

/** Extra facts of an event; printed as key=value in text, as fields in JSON. */
export type LogFields = Readonly<Record<string, string | number | boolean | undefined>>

export interface DaemonLog {
  info(message: string, fields?: LogFields): void
  warn(message: string, fields?: LogFields): void
  error(message: string, fields?: LogFields): void
}

export interface LogOptions {
  name: string
  format?: LogFormat
  /** Receives each formatted line without its newline; default: process.stdout. */
  write?: (line: string) => void
}

export function createLog(options: LogOptions): DaemonLog {
  const write = options.write ?? ((line: string) => void process.stdout.write(`${line}\n`))
  const format = options.format ?? 'text'
  const emit = (level: LogLevel, message: string, fields: LogFields = {}): void => {
    write(formatLine({time: new Date().toISOString(), name: options.name, level, message, fields, format}))
  }
  return {
    info: (message, fields) => emit('info', message, fields),
    warn: (message, fields) => emit('warn', message, fields),
    error: (message, fields) => emit('error', message, fields),
  }
}

export function formatLine(entry: {time: string; name: string; level: LogLevel; message: string; fields: LogFields; format: LogFormat}): string {
  const defined = Object.entries(entry.fields).filter((field): field is [string, string | number | boolean] => field[1] !== undefined)
  if (entry.format === 'json') {
    return JSON.stringify({time: entry.time, node: entry.name, level: entry.level, message: entry.message, ...Object.fromEntries(defined)})
  }
  const level = entry.level === 'info' ? '' : `${entry.level.toUpperCase()} `
  const suffix = defined.map(([key, value]) => ` ${key}=${quoteIfNeeded(String(value))}`).join('')
  return `${entry.time} ${entry.name} ${level}${entry.message}${suffix}`
}

function quoteIfNeeded(value: string): string {
  return /[\s"=]/.test(value) || value === '' ? JSON.stringify(value) : value
}
