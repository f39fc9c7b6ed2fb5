import net from 'node:net'

/**
 * Asks the kernel for a free TCP port on 127.0.0.1.
 *
 * The port is released before the caller binds it, so another process can
 * grab it in between; callers that spawn a server must retry on EADDRINUSE.
 * Distribution cannot be told to listen on port 0 and report the port back,
 * hence this dance.
 */
// Ports this process has handed out: two servers started at once (Promise.all) must not both get
// the one the kernel happens to offer twice, or the second one's readiness check is answered by
// the first and two "registries" share an address.
const issued = new Set<number>()

export async function freePort(): Promise<number> {
  for (;;) {
    const port = await askKernel()
    if (issued.has(port)) continue
    issued.add(port)
    return port
  }
}

function askKernel(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.unref()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      if (address === null || typeof address === 'string') {
        server.close()
        reject(new Error('could not read the port of a listening socket'))
        return
      }
      server.close(() => resolve(address.port))
    })
  })
}
