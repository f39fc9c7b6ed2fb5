import assert from 'node:assert/strict'
import http from 'node:http'
import type {AddressInfo} from 'node:net'
import {Readable} from 'node:stream'
import {after, before, describe, it} from 'node:test'

import {HttpTransport, type TransportRequest} from '../../src/registry/http-transport.js'
import {proxyFromEnvironment, proxySecrets} from '../../src/registry/proxy-agents.js'

interface Seen {
  method: string
  url: string
  authorization?: string
  body: string
}

/** A server whose answer per path is written by the test; records what each request carried. */
async function startServer(handle: (req: http.IncomingMessage, res: http.ServerResponse, body: string) => void) {
  const seen: Seen[] = []
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString()
      seen.push({method: req.method ?? '', url: req.url ?? '', authorization: req.headers.authorization, body})
      handle(req, res, body)
    })
    req.on('error', () => undefined)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return {
    base,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

class Timeout extends Error {}

function request(overrides: Partial<TransportRequest> & {url: string}): TransportRequest {
  return {
    method: 'GET',
    headers: {},
    stream: false,
    maxRedirects: 5,
    checkRedirect: () => undefined,
    idleTimeoutMs: 5000,
    timeoutError: () => new Timeout('idle'),
    ...overrides,
  }
}

describe('HttpTransport', () => {
  let main: Awaited<ReturnType<typeof startServer>>
  let other: Awaited<ReturnType<typeof startServer>>
  const transport = new HttpTransport({rejectUnauthorized: true}, 'ferry-test')

  before(async () => {
    other = await startServer((_req, res) => res.end('from other'))
    main = await startServer((req, res) => {
      const url = req.url ?? ''
      if (url === '/same') return void res.writeHead(307, {Location: '/target'}).end()
      if (url === '/target') return void res.end('target')
      if (url === '/cross') return void res.writeHead(302, {Location: `${other.base}/blob`}).end()
      if (url === '/see-other') return void res.writeHead(303, {Location: '/target'}).end()
      if (url === '/loop') return void res.writeHead(302, {Location: '/loop'}).end()
      if (url === '/stall-headers') return
      if (url === '/cut-body') {
        res.writeHead(200, {'Content-Length': '100'})
        res.write('partial', () => res.socket?.destroy())
        return
      }
      if (url === '/stall-body') {
        res.writeHead(200, {'Content-Length': '100'})
        res.write('partial')
        return
      }
      res.end(`echo ${req.method} ${url}`)
    })
  })
  after(async () => {
    await main.close()
    await other.close()
  })

  it('follows a same-host redirect with the credentials and reports where the answer came from', async () => {
    const response = await transport.request(request({url: `${main.base}/same`, headers: {Authorization: 'Bearer t'}}))
    assert.equal(response.status, 200)
    assert.equal((response.body as Buffer).toString(), 'target')
    assert.equal(response.url, `${main.base}/target`)
    assert.equal(main.seen.at(-1)?.authorization, 'Bearer t')
  })

  it('drops the Authorization header on a redirect to another host, after asking checkRedirect', async () => {
    const checked: string[] = []
    const response = await transport.request(
      request({url: `${main.base}/cross`, headers: {Authorization: 'Bearer t'}, checkRedirect: (url) => void checked.push(url)}),
    )
    assert.equal((response.body as Buffer).toString(), 'from other')
    assert.deepEqual(checked, [`${other.base}/blob`])
    assert.equal(other.seen.at(-1)?.authorization, undefined)
  })

  it('contacts nothing that checkRedirect refuses', async () => {
    const before = other.seen.length
    await assert.rejects(
      transport.request(
        request({
          url: `${main.base}/cross`,
          checkRedirect: () => {
            throw new Error('refused hop')
          },
        }),
      ),
      /refused hop/,
    )
    assert.equal(other.seen.length, before)
  })

  it('turns a 303 after a POST into a GET without the body', async () => {
    const response = await transport.request(request({url: `${main.base}/see-other`, method: 'POST', body: Buffer.from('payload')}))
    assert.equal((response.body as Buffer).toString(), 'target')
    assert.deepEqual(
      main.seen.slice(-2).map((s) => [s.method, s.body]),
      [
        ['POST', 'payload'],
        ['GET', ''],
      ],
    )
  })

  it('returns a redirect as it is when no more hops are allowed', async () => {
    const table: [string, number][] = [
      ['/same', 0],
      ['/loop', 3],
    ]
    for (const [path, maxRedirects] of table) {
      const response = await transport.request(request({url: `${main.base}${path}`, maxRedirects}))
      assert.ok(response.status >= 300 && response.status < 400, `${path} with ${maxRedirects} hops`)
    }
  })

  it('fails with the caller’s timeout error when no headers come, or the body stalls (buffered and streamed)', async () => {
    await assert.rejects(transport.request(request({url: `${main.base}/stall-headers`, idleTimeoutMs: 200})), Timeout)
    await assert.rejects(transport.request(request({url: `${main.base}/stall-body`, idleTimeoutMs: 200})), Timeout)
    const streamed = await transport.request(request({url: `${main.base}/stall-body`, idleTimeoutMs: 200, stream: true}))
    assert.equal(streamed.status, 200)
    await assert.rejects(async () => {
      for await (const _chunk of streamed.body as Readable) {
        // read until the stall
      }
    }, Timeout)
  })

  it('rejects, never hangs, when the connection closes in the middle of a body (buffered and streamed)', async () => {
    await assert.rejects(transport.request(request({url: `${main.base}/cut-body`})))
    const streamed = await transport.request(request({url: `${main.base}/cut-body`, stream: true}))
    await assert.rejects(async () => {
      for await (const _chunk of streamed.body as Readable) {
        // read until the cut
      }
    })
  })

  it('reports an upload body’s own error, not the connection’s', async () => {
    const body = new Readable({
      read() {
        this.push(Buffer.from('some bytes'))
        this.destroy(new Error('digest mismatch'))
      },
    })
    await assert.rejects(transport.request(request({url: `${main.base}/upload`, method: 'PUT', body, headers: {'Content-Length': '1000'}})), /digest mismatch/)
  })

  it('sends a streamed body whole and sets Content-Length for a buffer', async () => {
    await transport.request(
      request({url: `${main.base}/put`, method: 'PUT', body: Readable.from([Buffer.from('ab'), Buffer.from('cd')]), headers: {'Content-Length': '4'}}),
    )
    assert.equal(main.seen.at(-1)?.body, 'abcd')
    await transport.request(request({url: `${main.base}/put`, method: 'PUT', body: Buffer.from('xyz')}))
    assert.equal(main.seen.at(-1)?.body, 'xyz')
  })

  it('stops every request sharing a signal on abort, a streamed body too, with one listener on the signal', async () => {
    const warnings: string[] = []
    const onWarning = (warning: Error) => warnings.push(warning.name)
    process.on('warning', onWarning)
    try {
      const controller = new AbortController()
      const streamed = await transport.request(request({url: `${main.base}/stall-body`, stream: true, signal: controller.signal}))
      const waiting = Array.from({length: 20}, () => transport.request(request({url: `${main.base}/stall-headers`, signal: controller.signal})))
      const reading = (async () => {
        for await (const _chunk of streamed.body as Readable) {
          // read until the abort
        }
      })()
      setTimeout(() => controller.abort(), 50)
      const settled = await Promise.allSettled([...waiting, reading])
      assert.deepEqual(
        settled.map((s) => s.status),
        settled.map(() => 'rejected'),
      )
      for (const outcome of settled.slice(0, 20)) assert.equal((outcome as PromiseRejectedResult).reason.name, 'AbortError')
      await assert.rejects(transport.request(request({url: `${main.base}/target`, signal: controller.signal})), {name: 'AbortError'})
      await new Promise((resolve) => setImmediate(resolve))
      assert.deepEqual(warnings, [])
    } finally {
      process.off('warning', onWarning)
    }
  })
})

describe("proxyFromEnvironment: curl's rules, loopback direct unless FERRY_PROXY_LOOPBACK=1", () => {
  it('picks the proxy per URL', () => {
    const saved = {...process.env}
    try {
      Object.assign(process.env, {HTTPS_PROXY: 'http://p.example:3128', HTTP_PROXY: 'http://q.example:8080', NO_PROXY: 'internal.example,.corp.example'})
      const table: [string, string, string][] = [
        ['https://registry.example.com/v2/', '', 'http://p.example:3128'],
        ['http://registry.example.com/v2/', '', 'http://q.example:8080'],
        ['https://internal.example/v2/', '', ''],
        ['https://reg.corp.example/v2/', '', ''],
        ['http://127.0.0.1:5000/v2/', '', ''],
        ['http://localhost:5000/v2/', '', ''],
        ['https://[::1]:5000/v2/', '', ''],
        ['http://127.0.0.1:5000/v2/', '1', 'http://q.example:8080'],
      ]
      for (const [url, loopback, want] of table) assert.equal(proxyFromEnvironment(url, {FERRY_PROXY_LOOPBACK: loopback}), want, `${url} loopback=${loopback}`)
    } finally {
      for (const key of ['HTTPS_PROXY', 'HTTP_PROXY', 'NO_PROXY']) delete process.env[key]
      Object.assign(process.env, saved)
    }
  })
})

describe('proxySecrets: the passwords in the proxy variables, for the redactor', () => {
  it('finds each, decoded; ignores unset and malformed values', () => {
    assert.deepEqual(proxySecrets({HTTPS_PROXY: 'http://u:p%40ss@p.example:3128', http_proxy: 'http://only-user@q.example', ALL_PROXY: 'http://[bad'}), [
      'p@ss',
    ])
    assert.deepEqual(proxySecrets({}), [])
  })
})
