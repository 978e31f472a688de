// Whether a TCP port can be bound, checked before spawning a node so that a taken port is
// reported by name at once instead of as a node that died at start.
import {createServer} from 'node:net'

/** True when host:port can be listened on right now. */
export function isPortFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer()
    server.once('error', () => resolve(false))
    server.listen({host, port, exclusive: true}, () => server.close(() => resolve(true)))
  })
}
