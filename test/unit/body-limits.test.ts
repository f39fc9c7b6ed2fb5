import assert from 'node:assert/strict'
import http from 'node:http'
import type {AddressInfo} from 'node:net'
import type {Readable} from 'node:stream'
import {after, before, describe, it, test} from 'node:test'

import {bodyTooLarge, describeSize} from '../../src/registry/body-limits.js'
import {HttpTransport, type TransportRequest} from '../../src/registry/http-transport.js'

const MiB = 1024 * 1024

class TooLarge extends Error {
  constructor(readonly announced?: number) {
    super('too large')
  }
}

/** Bytes each answer managed to write before the client went away. */
const written = new Map<string, number>()

/** `size` bytes in 64 KiB chunks, written only as fast as the client reads; counts what was written. */
function writeBody(res: http.ServerResponse, key: string, size: number): void {
  const chunk = Buffer.alloc(64 * 1024, 0x61)
  let sent = 0
  written.set(key, 0)
  const more = () => {
    while (sent < size) {
      const part = chunk.subarray(0, Math.min(chunk.length, size - sent))
      sent += part.length
      written.set(key, sent)
      if (!res.write(part)) return void res.once('drain', more)
    }
    res.end()
  }
  res.on('close', () => res.removeAllListeners('drain'))
  more()
}

describe('HttpTransport body limits: enforced while reading, never read whole and cut', () => {
  let server: http.Server
  let base: string
  const transport = new HttpTransport({rejectUnauthorized: true}, 'ferry-test')

  before(async () => {
    server = http.createServer((req, res) => {
      const url = req.url ?? ''
      if (url === '/announced') {
        // Says 512 MiB up front; sends a little and then waits, as a body that big would.
        res.writeHead(200, {'Content-Length': String(512 * MiB)})
        res.write('{')
        return
      }
      if (url === '/chunked-64m') {
        res.writeHead(200, {'Content-Type': 'application/json'})
        return writeBody(res, url, 64 * MiB)
      }
      if (url === '/error-64m') {
        res.writeHead(500, {'Content-Type': 'text/html'})
        return writeBody(res, url, 64 * MiB)
      }
      if (url === '/small') return void res.end('{"ok":true}')
      if (url === '/head') return void res.writeHead(200, {'Content-Length': String(512 * MiB)}).end()
      res.writeHead(404).end()
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  })
  after(async () => {
    server.closeAllConnections()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  })

  const request = (path: string, overrides: Partial<TransportRequest> = {}): TransportRequest => ({
    url: `${base}${path}`,
    method: 'GET',
    headers: {},
    stream: false,
    maxRedirects: 0,
    checkRedirect: () => undefined,
    idleTimeoutMs: 5000,
    timeoutError: () => new Error('idle'),
    bodyLimit: {bytes: 4 * MiB, error: (announced) => new TooLarge(announced)},
    ...overrides,
  })

  it('refuses a Content-Length above the limit before reading the body', async () => {
    const started = Date.now()
    await assert.rejects(transport.request(request('/announced')), (error: unknown) => {
      assert.ok(error instanceof TooLarge)
      assert.equal(error.announced, 512 * MiB)
      return true
    })
    assert.ok(Date.now() - started < 2000, 'no wait for a body that is not read')
  })

  it('stops a chunked body as soon as it passes the limit and drops the connection', async () => {
    await assert.rejects(transport.request(request('/chunked-64m')), (error: unknown) => {
      assert.ok(error instanceof TooLarge)
      assert.equal(error.announced, undefined)
      return true
    })
    await new Promise((resolve) => setTimeout(resolve, 100))
    // Socket buffers on both sides hold a few MiB at most; the rest of 64 MiB is never sent.
    assert.ok((written.get('/chunked-64m') ?? 0) < 24 * MiB, `server wrote ${written.get('/chunked-64m')} bytes`)
  })

  it('keeps only the start of an error body and reads no further', async () => {
    const response = await transport.request(request('/error-64m', {errorBodyBytes: 1000}))
    assert.equal(response.status, 500)
    assert.equal((response.body as Buffer).length, 1000)
    const byDefault = await transport.request(request('/error-64m', {bodyLimit: undefined}))
    assert.equal((byDefault.body as Buffer).length, 64 * 1024)
    await new Promise((resolve) => setTimeout(resolve, 100))
    assert.ok((written.get('/error-64m') ?? 0) < 24 * MiB, `server wrote ${written.get('/error-64m')} bytes`)
  })

  it('passes what fits, a HEAD whatever its Content-Length, and a streamed body untouched', async () => {
    const small = await transport.request(request('/small', {bodyLimit: {bytes: 11, error: () => new TooLarge()}}))
    assert.equal((small.body as Buffer).toString(), '{"ok":true}')
    const head = await transport.request(request('/head', {method: 'HEAD'}))
    assert.equal(head.status, 200)
    const streamed = await transport.request(request('/chunked-64m', {stream: true, bodyLimit: {bytes: 1, error: () => new TooLarge()}}))
    let bytes = 0
    for await (const chunk of streamed.body as Readable) bytes += (chunk as Buffer).length
    assert.equal(bytes, 64 * MiB)
  })
})

test('describeSize and bodyTooLarge: one line naming what was read and the limit', () => {
  const cases: [number, string][] = [
    [4 * MiB, '4 MiB'],
    [64 * 1024, '64 KiB'],
    [1000, '1000 bytes'],
    [16 * MiB, '16 MiB'],
    [MiB + 1, `${MiB + 1} bytes`],
  ]
  for (const [bytes, expected] of cases) assert.equal(describeSize(bytes), expected)
  const limit = {bytes: 4 * MiB, name: 'the manifest limit'}
  const read = bodyTooLarge('GET manifest 127.0.0.1:5000/team/app:v1', 'registry 127.0.0.1:5000', limit)
  assert.equal(read.code, 'BODY_TOO_LARGE')
  assert.equal(read.retryable, false)
  assert.equal(read.message, 'GET manifest 127.0.0.1:5000/team/app:v1: registry 127.0.0.1:5000 sent more than 4 MiB (the manifest limit); refused')
  const announced = bodyTooLarge('GET manifest 127.0.0.1:5000/team/app:v1', 'registry 127.0.0.1:5000', limit, 512 * MiB)
  assert.equal(
    announced.message,
    'GET manifest 127.0.0.1:5000/team/app:v1: registry 127.0.0.1:5000 announced 512 MiB, more than 4 MiB (the manifest limit); refused',
  )
})
