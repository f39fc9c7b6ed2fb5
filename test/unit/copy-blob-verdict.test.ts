import assert from 'node:assert/strict'
import {createHash} from 'node:crypto'
import {Readable} from 'node:stream'
import {test} from 'node:test'

import {FerryError} from '../../src/errors.js'
import {BlobFlights, BlobHomes} from '../../src/transfer/blob-flight.js'
import {ensureBlob} from '../../src/transfer/copy-blob.js'
import type {BlobBody, BlobWriteOptions, ImageDestination, ImageSource} from '../../src/transfer/endpoints.js'

const good = Buffer.alloc(256 * 1024, 7)
const descriptor = {mediaType: 'application/octet-stream', digest: `sha256:${createHash('sha256').update(good).digest('hex')}`, size: good.length}
const flipped = Buffer.from(good)
flipped[flipped.length - 10] = 8

function source(): ImageSource & {opened: number} {
  return {
    name: 'src.io/app',
    repository: 'app',
    scope: 'src.io',
    opened: 0,
    headManifest: async () => undefined,
    getManifest: async () => assert.fail('no manifest is read'),
    async openBlob() {
      this.opened++
      const pieces = Array.from({length: 64}, (_, i) => flipped.subarray(i * 4096, (i + 1) * 4096))
      // A socket takes a while to close: the pipeline reports how it ended only after that.
      return new Readable({
        read() {
          this.push(pieces.shift() ?? null)
        },
        destroy(error, callback) {
          setTimeout(() => callback(error), 20)
        },
      })
    },
  }
}

/**
 * A destination whose write fails on its own, retryable error as soon as the stream it reads
 * breaks (a PATCH whose request body errored), which happens before the copier's pipeline says why.
 */
function quickDestination(chunked: boolean): ImageDestination & {writes: BlobWriteOptions[]} {
  return {
    name: 'dst.io/app',
    repository: 'app',
    scope: 'dst.io',
    flightKey: 'dst.io',
    ...(chunked ? {uploadIdentity: 'me'} : {}),
    writes: [],
    headManifest: async () => undefined,
    hasBlob: async () => false,
    putManifest: async () => assert.fail('no manifest is pushed'),
    async writeBlob(_descriptor, open: BlobBody, options) {
      this.writes.push(options)
      const body = await open()
      await new Promise<void>((resolve, reject) => {
        body.on('data', () => undefined)
        body.on('end', resolve)
        body.on('error', () => reject(new FerryError('NETWORK', 'upload blob: the request body failed', {retryable: true})))
      })
    },
  }
}

for (const chunked of [false, true]) {
  test(`a flipped byte fails the blob with DIGEST_MISMATCH even when the write notices the broken stream first (${chunked ? 'chunked' : 'streamed'})`, async () => {
    const src = source()
    const dst = quickDestination(chunked)
    const error = await ensureBlob(descriptor, src, dst, {flights: new BlobFlights(), homes: new BlobHomes(), ...(chunked ? {chunkSize: 64 * 1024} : {})}).then(
      () => assert.fail('the copy of a corrupt blob succeeded'),
      (e: unknown) => e,
    )
    assert.ok(FerryError.is(error), String(error))
    assert.equal(error.code, 'DIGEST_MISMATCH', error.message)
  })
}

test('after bytes that checked out wrong, the next try does not go on with the upload session that holds them', async () => {
  let opened = 0
  const src: ImageSource = {
    ...source(),
    async openBlob() {
      return Readable.from([opened++ === 0 ? flipped : good])
    },
  }
  const sessions: (string | undefined)[] = []
  const dst: ImageDestination = {
    ...quickDestination(true),
    async writeBlob(_descriptor, open: BlobBody, options) {
      sessions.push(options.session)
      // A registry behind a buffering front keeps the session and what it was sent before the failure.
      await options.onProgress?.({location: 'https://dst.io/v2/app/blobs/uploads/s1', offset: 64 * 1024})
      const body = await open(0)
      for await (const _ of body) void _
    },
  }
  await ensureBlob(descriptor, src, dst, {flights: new BlobFlights(), homes: new BlobHomes(), chunkSize: 64 * 1024})
  assert.deepEqual(sessions, [undefined, undefined])
  assert.equal(opened, 2)
})
