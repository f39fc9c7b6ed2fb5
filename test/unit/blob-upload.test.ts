import assert from 'node:assert/strict'
import {Readable} from 'node:stream'
import {test} from 'node:test'

import {RegistryError} from '../../src/errors.js'
import {FALLBACK_CHUNK_SIZE, openBlob, uploadBlob} from '../../src/registry/blobs.js'
import type {RegistryClient, RegistryRequest} from '../../src/registry/client.js'

const blob = {digest: 'sha256:abc', size: 5}

/** A registry client that records requests and answers each from `answer`. */
function fakeClient(answer: (request: RegistryRequest) => Promise<void> | void) {
  const requests: string[] = []
  let sessions = 0
  const client = {
    registry: 'reg.io',
    resolve: (location: string) => new URL(location, 'https://reg.io').toString(),
    async send(request: RegistryRequest) {
      if (request.body instanceof Readable) for await (const _ of request.body) void _
      requests.push(`${request.method} ${new URL(request.path, 'https://reg.io').pathname}`)
      await answer(request)
      const location = request.method === 'POST' ? `/v2/app/blobs/uploads/s${++sessions}` : request.path
      return {status: 202, headers: {location}, data: undefined, url: request.path}
    },
  } as unknown as RegistryClient
  return {client, requests}
}

function opener() {
  const bodies: Readable[] = []
  const open = async () => {
    const body = Readable.from([Buffer.from('hello')])
    bodies.push(body)
    return body
  }
  return {open, bodies}
}

const tooLarge = () => new RegistryError('TOO_LARGE', 'upload blob: 413 TOO_LARGE', {status: 413})

test('a PUT refused as too large (413): the blob goes again, from a fresh body, in PATCH chunks in a new session', async () => {
  let refused = 0
  const {client, requests} = fakeClient((request) => {
    if (request.method === 'PUT' && request.body && refused++ === 0) throw tooLarge()
  })
  const {open, bodies} = opener()
  await uploadBlob(client, 'app', blob, open, {})
  assert.equal(bodies.length, 2, 'the body was opened again')
  assert.ok(bodies[0]!.destroyed, 'the refused body was discarded')
  assert.deepEqual(requests, [
    'POST /v2/app/blobs/uploads/',
    'PUT /v2/app/blobs/uploads/s1',
    'DELETE /v2/app/blobs/uploads/s1',
    'POST /v2/app/blobs/uploads/',
    'PATCH /v2/app/blobs/uploads/s2',
    'PUT /v2/app/blobs/uploads/s2',
  ])
  assert.ok(FALLBACK_CHUNK_SIZE > blob.size)
})

test('no fallback where it cannot help: a 413 to chunks, or another refusal of the PUT', async () => {
  const cases: [string, {chunkSize?: number}, () => RegistryError][] = [
    ['413 to a chunk', {chunkSize: 2}, tooLarge],
    ['500 to the PUT', {}, () => new RegistryError('SERVER_ERROR', 'upload blob: 500', {status: 500, retryable: true})],
  ]
  for (const [name, options, error] of cases) {
    const {client, requests} = fakeClient((request) => {
      if (request.method === 'PUT' || request.method === 'PATCH') throw error()
    })
    const {open, bodies} = opener()
    await assert.rejects(uploadBlob(client, 'app', blob, open, options), (thrown: RegistryError) => thrown.status === error().status, name)
    assert.equal(bodies.length, 1, name)
    assert.equal(requests.filter((request) => request.startsWith('POST')).length, 1, name)
    assert.equal(requests.at(-1), 'DELETE /v2/app/blobs/uploads/s1', `${name}: the session is cancelled`)
  }
})

test('a session a declined mount left open is used, and no other is started', async () => {
  const {client, requests} = fakeClient(() => undefined)
  const {open} = opener()
  await uploadBlob(client, 'app', blob, open, {session: 'https://reg.io/v2/app/blobs/uploads/mounted'})
  assert.deepEqual(requests, ['PUT /v2/app/blobs/uploads/mounted'])
})

test('openBlob: a body cut every time is resumed a few times, then fails as a retryable NETWORK error', async () => {
  const ranges: (string | undefined)[] = []
  const client = {
    registry: 'reg.io',
    send: async (request: {headers?: Record<string, string>}) => {
      const range = request.headers?.Range
      ranges.push(range)
      const start = range ? Number(/bytes=(\d+)-/.exec(range)![1]) : 0
      const source = new Readable({read() {}})
      source.push(Buffer.from('part'))
      setImmediate(() => source.destroy(Object.assign(new Error('aborted'), {code: 'ECONNRESET'})))
      const headers: Record<string, string> = range ? {'content-range': `bytes ${start}-99/100`} : {}
      return {status: range ? 206 : 200, headers, data: source, url: ''}
    },
  } as unknown as RegistryClient
  const body = await openBlob(client, 'app', {digest: 'sha256:abc', size: 100})
  await assert.rejects(
    (async () => {
      for await (const _ of body) void _
    })(),
    (error: Error & {code?: string; retryable?: boolean}) =>
      error.code === 'NETWORK' && error.retryable === true && error.message.includes('GET blob reg.io/app@sha256:abc'),
  )
  assert.deepEqual(ranges, [undefined, 'bytes=4-', 'bytes=8-', 'bytes=12-', 'bytes=16-', 'bytes=20-'])
})
