import assert from 'node:assert/strict'
import {Readable} from 'node:stream'
import {test} from 'node:test'

import type {EndpointResolver, ImageDestination, ImageSource} from '../../src/transfer/endpoints.js'
import {readOnlyEndpoints} from '../../src/transfer/read-only.js'

test('readOnlyEndpoints: reads pass through; every write is refused before it reaches the destination', async () => {
  const calls: string[] = []
  const destination: ImageDestination = {
    name: 'reg.io/a',
    repository: 'a',
    scope: 's',
    flightKey: 'reg.io',
    headManifest: async (reference) => (calls.push(`head ${reference}`), {digest: 'sha256:1', mediaType: 'm', size: 1}),
    hasBlob: async (digest) => (calls.push(`has ${digest}`), true),
    mountBlob: async (digest) => (calls.push(`mount ${digest}`), {mounted: true}),
    writeBlob: async (descriptor) => void calls.push(`write ${descriptor.digest}`),
    putManifest: async (reference) => (calls.push(`put ${reference}`), 'sha256:put'),
  }
  const inner: EndpointResolver = {source: () => ({}) as ImageSource, destination: () => destination}
  const wrapped = readOnlyEndpoints(inner, 'dry run').destination({registry: 'reg.io', repository: 'a', tag: 't'})
  assert.deepEqual(await wrapped.headManifest('t'), {digest: 'sha256:1', mediaType: 'm', size: 1})
  assert.equal(await wrapped.hasBlob('sha256:2'), true)
  const descriptor = {mediaType: 'x', digest: 'sha256:3', size: 1}
  const writes: [string, () => Promise<unknown>][] = [
    ['mount blob sha256:3', () => wrapped.mountBlob!('sha256:3', 'b')],
    ['upload blob sha256:3', () => wrapped.writeBlob(descriptor, async () => Readable.from([]), {signal: new AbortController().signal})],
    ['push manifest t', () => wrapped.putManifest('t', {bytes: Buffer.from('{}'), digest: 'sha256:4', mediaType: 'm', size: 2})],
  ]
  for (const [what, write] of writes) {
    await assert.rejects(write, (error: Error & {code?: string}) => error.code === 'READ_ONLY' && error.message === `dry run: refused to ${what} at reg.io/a`)
  }
  assert.deepEqual(calls, ['head t', 'has sha256:2'])
})
