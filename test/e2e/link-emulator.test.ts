// Self-test of the link emulator (test/harness/link-emulator.ts): if it does not delay, pace, cut
// and count as it says, the far-link bench and the tests built on it measure nothing. Timing checks
// are lower bounds only (a busy machine can only make things slower).
import assert from 'node:assert/strict'
import http from 'node:http'
import net from 'node:net'
import {performance} from 'node:perf_hooks'
import {after, before, describe, test} from 'node:test'
import {pushImage, randomLayer, skopeoCopy, skopeoDigest, startRegistry, type TestRegistry} from '../harness/index.js'
import {startLinkEmulator, type LinkEmulator} from '../harness/link-emulator.js'

let upstream: http.Server
let upstreamHost: string
const links: LinkEmulator[] = []

before(async () => {
  // GET /bytes/N answers N bytes; POST answers how many it read.
  upstream = http.createServer((req, res) => {
    const m = /^\/bytes\/(\d+)$/.exec(req.url ?? '')
    if (req.method === 'GET' && m) {
      const body = Buffer.alloc(Number(m[1]), 0x61)
      res.writeHead(200, {'content-length': body.length}).end(body)
      return
    }
    let read = 0
    req.on('data', (c: Buffer) => (read += c.length))
    req.on('end', () => res.writeHead(200, {'content-length': String(read).length}).end(String(read)))
  })
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve))
  upstreamHost = `127.0.0.1:${(upstream.address() as net.AddressInfo).port}`
})
after(async () => {
  await Promise.all(links.map((l) => l.stop()))
  await new Promise((resolve) => upstream.close(resolve))
})

async function link(options: Parameters<typeof startLinkEmulator>[1]): Promise<LinkEmulator> {
  const l = await startLinkEmulator(upstreamHost, options)
  links.push(l)
  return l
}

interface Exchange {
  sent: number
  received: Buffer
  ms: number
  error?: string
}

/** One HTTP/1.1 request on a fresh raw TCP connection, read to the end: every byte counted. */
function exchange(host: string, request: string | Buffer): Promise<Exchange> {
  const [h, p] = host.split(':')
  const started = performance.now()
  return new Promise((resolve) => {
    const chunks: Buffer[] = []
    const socket = net.connect({host: h, port: Number(p)})
    const data = typeof request === 'string' ? Buffer.from(request) : request
    socket.on('connect', () => socket.write(data))
    socket.on('data', (c: Buffer) => chunks.push(c))
    let error: string | undefined
    socket.on('error', (e: NodeJS.ErrnoException) => (error = e.code ?? e.message))
    socket.on('close', () => resolve({sent: data.length, received: Buffer.concat(chunks), ms: performance.now() - started, error}))
  })
}

const get = (n: number) => `GET /bytes/${n} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`
const bodyOf = (b: Buffer) => b.subarray(b.indexOf('\r\n\r\n') + 4)

describe('link emulator', () => {
  test('passes bytes through unchanged and counts both directions exactly', async () => {
    const l = await link({})
    const upload = Buffer.concat([Buffer.from('POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 70000\r\nConnection: close\r\n\r\n'), Buffer.alloc(70_000, 1)])
    const up = await exchange(l.host, upload)
    assert.equal(up.error, undefined)
    assert.equal(bodyOf(up.received).toString(), '70000')
    const down = await exchange(l.host, get(50_000))
    assert.equal(bodyOf(down.received).length, 50_000)
    assert.ok(bodyOf(down.received).every((b) => b === 0x61))
    const stats = l.stats
    assert.equal(stats.connections, 2)
    assert.equal(stats.clientToServer, up.sent + down.sent)
    assert.equal(stats.serverToClient, up.received.length + down.received.length)
    assert.deepEqual(
      l.connections.map((c) => [c.clientToServer, c.serverToClient, c.cut]),
      [
        [up.sent, up.received.length, false],
        [down.sent, down.received.length, false],
      ],
    )
    l.resetCounters()
    const {open: _open, ...zeroed} = l.stats
    assert.deepEqual(zeroed, {connections: 0, clientToServer: 0, serverToClient: 0, cuts: 0})
  })

  test('a 60 ms round trip adds at least 60 ms to a request', async () => {
    const l = await link({rttMs: 60})
    const r = await exchange(l.host, get(10))
    assert.equal(bodyOf(r.received).length, 10)
    // A fresh connection pays the handshake too (two round trips); assert only the one.
    assert.ok(r.ms >= 60, `took ${r.ms.toFixed(1)} ms`)
  })

  test('a per-connection cap of X B/s makes N bytes take about N/X seconds or more', async () => {
    const l = await link({connectionRate: 1_000_000})
    const r = await exchange(l.host, get(400_000))
    assert.equal(bodyOf(r.received).length, 400_000)
    assert.ok(r.ms >= 0.8 * 400, `took ${r.ms.toFixed(1)} ms`)
  })

  test('the link cap is shared: two connections at once take as long as their sum', async () => {
    const l = await link({linkRate: 1_000_000, connectionRate: 10_000_000})
    const started = performance.now()
    const rs = await Promise.all([exchange(l.host, get(200_000)), exchange(l.host, get(200_000))])
    const ms = performance.now() - started
    for (const r of rs) assert.equal(bodyOf(r.received).length, 200_000)
    assert.ok(ms >= 0.8 * 400, `took ${ms.toFixed(1)} ms`)
  })

  test('a cut at byte K gives the client at most K bytes and a reset, once per arming', async () => {
    const K = 100_000
    const l = await link({cutOnceAt: K, connectionRate: 5_000_000})
    const cut = await exchange(l.host, get(300_000))
    assert.ok(cut.received.length <= K, `received ${cut.received.length}`)
    assert.equal(cut.error, 'ECONNRESET')
    assert.equal(l.stats.cuts, 1)
    assert.equal(l.connections[0]!.cut, true)
    assert.equal(l.connections[0]!.serverToClient, K)

    const whole = await exchange(l.host, get(300_000))
    assert.equal(whole.error, undefined)
    assert.equal(bodyOf(whole.received).length, 300_000)

    l.cutOnceAt(2 * K)
    const again = await exchange(l.host, get(300_000))
    assert.ok(again.received.length <= 2 * K)
    assert.equal(again.error, 'ECONNRESET')
    assert.equal(l.stats.cuts, 2)
  })

  test('a cut across the link counts every connection since arming', async () => {
    const l = await link({})
    l.cutOnceAt(150_000, {across: 'link'})
    const first = await exchange(l.host, get(100_000))
    assert.equal(first.error, undefined)
    const second = await exchange(l.host, get(100_000))
    assert.equal(second.error, 'ECONNRESET')
    assert.equal(first.received.length + second.received.length, 150_000)
  })

  describe('in front of a real registry', () => {
    let far: TestRegistry
    let near: TestRegistry
    before(async () => {
      ;[far, near] = await Promise.all([startRegistry(), startRegistry()])
    })
    after(async () => {
      await Promise.all([far?.stop(), near?.stop()])
    })

    test('skopeo copies an image through it, and the layer crossed the link once', async () => {
      const layer = randomLayer(200_000, 'link-emulator')
      const image = await pushImage(far, 'link/app', 'v1', {flavour: 'docker', layers: [layer]})
      const l = await startLinkEmulator(far, {rttMs: 10, connectionRate: 20_000_000})
      links.push(l)
      await skopeoCopy({...far, url: l.url}, 'link/app:v1', near, 'link/app:v1')
      assert.equal(await skopeoDigest(near, 'link/app:v1'), image.digest)
      assert.ok(l.stats.serverToClient >= layer.length, `${l.stats.serverToClient} bytes crossed`)
      assert.ok(l.stats.serverToClient < 2 * layer.length, `${l.stats.serverToClient} bytes crossed`)
    })
  })
})
