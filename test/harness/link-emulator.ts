// A long, narrow link on loopback: a TCP proxy on 127.0.0.1 in front of host:port that delays,
// paces and (once) cuts what crosses it. For tests and bench/run.ts --far; shares no code with src/.
//
//   const link = await startLinkEmulator(registry, {rttMs: 60, connectionRate: 12e6, linkRate: 60e6})
//   // point the client at link.host ('127.0.0.1:PORT') instead of registry.host
//   link.cutOnceAt(1_000_000) // arm one cut (also as the option cutOnceAt)
//   link.stats                // {connections, open, clientToServer, serverToClient, cuts}
//   link.connections          // per connection: {id, clientToServer, serverToClient, cut, closed}
//   link.resetCounters()      // zero the byte and connection counts (between two runs)
//   await link.stop()
//
// What it models, per direction (client→server and server→client, each on its own):
// - rttMs: every byte arrives rttMs/2 after it was sent, in order. A new connection's first bytes
//   also wait for the TCP handshake (one more round trip), so a request on a fresh connection costs
//   two round trips and one on a kept-alive connection one.
// - connectionRate: bytes per second of one connection (a token bucket per connection).
// - linkRate: bytes per second of all connections together (one token bucket the connections share,
//   served in the order they ask).
// Bytes are counted when they leave the emulator towards their receiver ("crossed the link").
// At most ~8 MiB per direction per connection is held in flight (a TCP window of sorts).
//
// cutOnceAt(bytes): the first connection whose server→client count would pass `bytes` gets exactly
// `bytes` bytes and then a TCP reset (RST), and its upstream connection is reset too. One cut per
// arming; call it again to re-arm. With {across: 'link'} the count is the whole link's server→client
// bytes since arming instead (a cut at 60% of a blob that is read over several connections).
import net from 'node:net'
import {performance} from 'node:perf_hooks'
import {setTimeout as sleep} from 'node:timers/promises'
import {onProcessExit} from './cleanup.js'

export interface LinkOptions {
  /** Round-trip time in ms; each direction delays by half. Default 0. */
  rttMs?: number
  /** Bytes/s of each connection, each direction; 0 or absent = no cap. */
  connectionRate?: number
  /** Bytes/s of the whole link (shared by all connections), each direction; 0 or absent = no cap. */
  linkRate?: number
  /** Arms one cut at start, like cutOnceAt(bytes). */
  cutOnceAt?: number
}

export interface CutOptions {
  /** 'connection' (default): one connection's server→client bytes; 'link': the link's since arming. */
  across?: 'connection' | 'link'
}

export interface LinkStats {
  /** Connections accepted (since resetCounters). */
  connections: number
  /** Connections still open. */
  open: number
  /** Bytes delivered to the upstream (requests, uploads). */
  clientToServer: number
  /** Bytes delivered to the clients (responses, downloads). */
  serverToClient: number
  /** Connections cut by cutOnceAt. */
  cuts: number
}

export interface LinkConnection {
  id: number
  clientToServer: number
  serverToClient: number
  /** Reset by cutOnceAt. */
  cut: boolean
  closed: boolean
}

export interface LinkEmulator {
  /** `127.0.0.1:PORT`: use it where the upstream's host:port would go. */
  host: string
  port: number
  /** `http://127.0.0.1:PORT` (the link is TCP: TLS passes through, use https:// for a TLS upstream). */
  url: string
  /** The upstream's host:port. */
  upstream: string
  readonly stats: LinkStats
  readonly connections: readonly LinkConnection[]
  cutOnceAt(bytes: number, options?: CutOptions): void
  resetCounters(): void
  stop(): Promise<void>
}

const PIECE = 16 * 1024
const WINDOW = 8 * 1024 * 1024
const RESET_AFTER_MS = 20

/** A token bucket that lends: take() always succeeds and says how long to wait to pay the debt. */
class Bucket {
  private tokens = 0
  private last = performance.now()
  private readonly burst: number
  constructor(private readonly rate: number) {
    // Enough to absorb timer lateness (ms granularity) without letting short transfers outrun the cap by much.
    this.burst = Math.max(4 * PIECE, rate / 100)
  }
  take(n: number): number {
    const now = performance.now()
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) * this.rate) / 1000)
    this.last = now
    this.tokens -= n
    return this.tokens >= 0 ? 0 : (-this.tokens * 1000) / this.rate
  }
}

interface Direction {
  buckets: Bucket[]
  /** Handed over to `deliver` no earlier than this (ms, performance clock). */
  notBefore: number
  /** Returns false when the connection is gone or was cut (stop pumping). */
  deliver(data: Buffer): boolean
  end(): void
}

/**
 * Reads `from`, paces it through the buckets, then delays each piece by `delay` ms, in order. Stops
 * (without touching the sockets) when `deliver` says the connection is gone.
 */
function pump(from: net.Socket, delay: number, dir: Direction): void {
  const queue: Array<{at: number; data: Buffer}> = []
  let queued = 0
  let ended = false
  let stopped = false
  let timer: NodeJS.Timeout | undefined
  let roomWaiter: (() => void) | undefined

  const flush = (): void => {
    timer = undefined
    const now = performance.now()
    while (queue.length > 0 && queue[0]!.at <= now) {
      const {data} = queue.shift()!
      queued -= data.length
      if (!dir.deliver(data)) {
        stopped = true
        queue.length = 0
        return
      }
    }
    if (queued < WINDOW && roomWaiter) {
      const wake = roomWaiter
      roomWaiter = undefined
      wake()
    }
    if (queue.length > 0) timer = setTimeout(flush, Math.max(0, queue[0]!.at - now))
    else if (ended) dir.end()
  }
  const enqueue = (data: Buffer): void => {
    const at = Math.max(performance.now(), dir.notBefore) + delay
    queue.push({at, data})
    queued += data.length
    if (!timer) timer = setTimeout(flush, Math.max(0, at - performance.now()))
  }
  const take = async (chunk: Buffer): Promise<void> => {
    for (let offset = 0; offset < chunk.length && !stopped; offset += PIECE) {
      const piece = chunk.subarray(offset, offset + PIECE)
      let wait = 0
      for (const b of dir.buckets) wait = Math.max(wait, b.take(piece.length))
      // Below a timer's resolution the debt is paid by the next piece's wait instead.
      if (wait >= 1) await sleep(wait)
      if (stopped) return
      enqueue(piece)
      if (queued >= WINDOW) await new Promise<void>((resolve) => (roomWaiter = resolve))
    }
  }

  // One chunk at a time: pause while it is paced, so the sender feels the link's speed (TCP backpressure).
  let chain = Promise.resolve()
  from.on('data', (chunk: Buffer) => {
    from.pause()
    chain = chain
      .then(() => take(chunk))
      .then(() => {
        if (!stopped && !from.destroyed) from.resume()
      })
  })
  let finished = false
  const finish = (): void => {
    if (finished) return
    finished = true
    chain = chain.then(() => {
      ended = true
      if (!timer && !stopped) flush()
    })
  }
  from.on('end', finish)
  from.on('close', finish)
}

function hostOf(upstream: string | {host: string}): string {
  return typeof upstream === 'string' ? upstream : upstream.host
}

/** Starts the emulator on 127.0.0.1 (random port) in front of `upstream` (a TestRegistry will do). */
export async function startLinkEmulator(upstream: string | {host: string}, options: LinkOptions = {}): Promise<LinkEmulator> {
  const upstreamHost = hostOf(upstream)
  const colon = upstreamHost.lastIndexOf(':')
  const upHost = upstreamHost.slice(0, colon).replace(/^\[|\]$/g, '')
  const upPort = Number(upstreamHost.slice(colon + 1))
  const rtt = Math.max(0, options.rttMs ?? 0)
  const shared = {
    up: options.linkRate ? new Bucket(options.linkRate) : undefined,
    down: options.linkRate ? new Bucket(options.linkRate) : undefined,
  }
  const stats: LinkStats = {connections: 0, open: 0, clientToServer: 0, serverToClient: 0, cuts: 0}
  let connections: LinkConnection[] = []
  let cut: {at: number; across: 'connection' | 'link'; linkBase: number} | undefined
  const sockets = new Set<net.Socket>()
  let lastId = 0

  const arm = (bytes: number, cutOptions: CutOptions = {}): void => {
    if (!Number.isFinite(bytes) || bytes < 0) throw new Error(`cutOnceAt: not a byte count: ${bytes}`)
    cut = {at: bytes, across: cutOptions.across ?? 'connection', linkBase: stats.serverToClient}
  }
  if (options.cutOnceAt !== undefined) arm(options.cutOnceAt)

  const server = net.createServer({allowHalfOpen: true, noDelay: true}, (client) => {
    const accepted = performance.now()
    const conn: LinkConnection = {id: ++lastId, clientToServer: 0, serverToClient: 0, cut: false, closed: false}
    stats.connections++
    stats.open++
    connections.push(conn)
    const target = net.connect({host: upHost, port: upPort, allowHalfOpen: true, noDelay: true})
    sockets.add(client)
    sockets.add(target)

    let gone = false
    // One side failed or was cut: the other learns it the way a real peer would, by a reset.
    const resetBoth = (): void => {
      if (gone) return
      gone = true
      for (const s of [client, target]) if (!s.destroyed) s.resetAndDestroy()
    }
    let closedSides = 0
    const onClose = (s: net.Socket) => (hadError: boolean) => {
      sockets.delete(s)
      if (hadError) resetBoth()
      if (++closedSides === 2) {
        conn.closed = true
        stats.open--
      }
    }
    client.on('close', onClose(client))
    target.on('close', onClose(target))
    client.on('error', resetBoth)
    target.on('error', resetBoth)

    const write = (to: net.Socket, data: Buffer): boolean => {
      if (gone || to.destroyed || to.writableEnded) return false
      to.write(data)
      return true
    }

    pump(client, rtt / 2, {
      buckets: [options.connectionRate ? new Bucket(options.connectionRate) : undefined, shared.up].filter((b): b is Bucket => b !== undefined),
      // The client's first bytes leave once the handshake (SYN, SYN-ACK) took its round trip.
      notBefore: accepted + rtt,
      deliver: (data) => {
        if (!write(target, data)) return false
        conn.clientToServer += data.length
        stats.clientToServer += data.length
        return true
      },
      end: () => {
        if (!gone && !target.destroyed) target.end()
      },
    })
    pump(target, rtt / 2, {
      buckets: [options.connectionRate ? new Bucket(options.connectionRate) : undefined, shared.down].filter((b): b is Bucket => b !== undefined),
      notBefore: 0,
      deliver: (data) => {
        let room = Infinity
        if (cut) room = cut.across === 'link' ? cut.at - (stats.serverToClient - cut.linkBase) : cut.at - conn.serverToClient
        const part = data.length > room ? data.subarray(0, Math.max(0, room)) : data
        if (part.length > 0) {
          if (!write(client, part)) return false
          conn.serverToClient += part.length
          stats.serverToClient += part.length
        }
        if (part.length === data.length) return true
        cut = undefined
        conn.cut = true
        stats.cuts++
        gone = true
        if (!target.destroyed) target.resetAndDestroy()
        // Once the bytes just written are in the kernel and, give or take, read by the client: a
        // reset that arrives while they are still unread reads as a clean end on Linux.
        client.write(Buffer.alloc(0), () => {
          setTimeout(() => {
            if (!client.destroyed) client.resetAndDestroy()
          }, RESET_AFTER_MS)
        })
        return false
      },
      end: () => {
        if (!gone && !client.destroyed) client.end()
      },
    })
  })

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  const port = (server.address() as net.AddressInfo).port
  const forget = onProcessExit(() => server.close())

  return {
    host: `127.0.0.1:${port}`,
    port,
    url: `http://127.0.0.1:${port}`,
    upstream: upstreamHost,
    get stats() {
      return {...stats}
    },
    get connections() {
      return connections.map((c) => ({...c}))
    },
    cutOnceAt: arm,
    resetCounters() {
      stats.connections = 0
      stats.clientToServer = 0
      stats.serverToClient = 0
      stats.cuts = 0
      connections = connections.filter((c) => !c.closed)
      for (const c of connections) {
        c.clientToServer = 0
        c.serverToClient = 0
      }
      if (cut) cut.linkBase = 0
    },
    async stop() {
      forget()
      for (const s of sockets) s.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
