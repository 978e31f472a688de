// HOST:PORT addresses as nodes announce them (ring.get) and people type them (--host).
import {AddressError} from './errors.js'

export interface HostPort {
  readonly host: string
  readonly port: number
}

const portMax = 65_535

/** Parses `host:port` or `[ipv6]:port`; throws AddressError. */
export function parseAddress(address: string): HostPort {
  const bracketed = /^\[([^\]]+)\]:(\d+)$/.exec(address)
  const plain = /^([^:\s]+):(\d+)$/.exec(address)
  const match = bracketed ?? plain
  if (match === null) throw new AddressError(address)
  const port = Number(match[2])
  if (!Number.isInteger(port) || port < 1 || port > portMax) throw new AddressError(address)
  return {host: match[1]!, port}
}

export function formatAddress(address: HostPort): string {
  return address.host.includes(':') ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`
}
