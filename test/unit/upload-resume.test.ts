import assert from 'node:assert/strict'
import {createHash} from 'node:crypto'
import {Readable} from 'node:stream'
import {test} from 'node:test'

import {parseRange} from '../../src/registry/resumable-upload.js'
import {ResumableVerifier} from '../../src/registry/resumable-verifier.js'
import {parseEntry, type UploadKey} from '../../src/transfer/upload-journal.js'

test('parseRange: the bytes an upload session holds', () => {
  const cases: Array<[string | undefined, number | undefined]> = [
    [undefined, 0],
    ['', 0],
    ['0-0', 0],
    ['0-99', 100],
    ['bytes=0-1023', 1024],
    ['5-99', undefined],
    ['nonsense', undefined],
  ]
  for (const [header, held] of cases) assert.equal(parseRange(header), held, String(header))
})

const key: UploadKey = {registry: 'reg.io', repository: 'app', digest: 'sha256:abc', identity: 'id1'}
const entry = (fields: Record<string, unknown>) =>
  JSON.stringify({version: 1, ...key, location: 'https://reg.io/v2/app/blobs/uploads/u?_state=x', offset: 10, state: 'AAEC', ...fields})

test('parseEntry: only an entry of exactly this upload is taken', () => {
  const cases: Array<[string, string, boolean]> = [
    ['this upload', entry({}), true],
    ['other credentials', entry({identity: 'id2'}), false],
    ['other digest', entry({digest: 'sha256:def'}), false],
    ['other repository', entry({repository: 'other'}), false],
    ['offset beyond the blob', entry({offset: 101}), false],
    ['offset 0 (no hash state yet: the session alone)', entry({offset: 0, state: ''}), true],
    ['offset below 0', entry({offset: -1}), false],
    ['not a URL', entry({location: 'file:///etc/passwd'}), false],
    ['newer version', entry({version: 2}), false],
    ['not JSON', '{"version":1,', false],
    ['null', 'null', false],
  ]
  for (const [name, text, taken] of cases) assert.equal(parseEntry(text, key, 100) !== undefined, taken, name)
  assert.deepEqual([...parseEntry(entry({}), key, 100)!.state], [0, 1, 2])
})

const blob = Buffer.from(Array.from({length: 1000}, (_, i) => i % 251))
const expected = {digest: `sha256:${createHash('sha256').update(blob).digest('hex')}`, size: blob.length}

async function through(verifier: ResumableVerifier, from: number, emitFrom: number, bytes = blob): Promise<Buffer> {
  const parts: Buffer[] = []
  const source = Readable.from(
    (function* () {
      for (let at = from; at < bytes.length; at += 64) yield bytes.subarray(at, Math.min(at + 64, bytes.length))
    })(),
  )
  for await (const part of source.pipe(verifier.stream(emitFrom))) parts.push(part as Buffer)
  return Buffer.concat(parts)
}

test('ResumableVerifier: a reopening at an offset passes on the bytes from there, each hashed once more in that reading', async () => {
  for (const savable of [false, true]) {
    const verifier = await ResumableVerifier.create(expected, 'blob', {interval: 300, savable})
    // A first reading cut after 700 bytes: the destination holds 600 (two whole chunks).
    const cut = verifier.stream(0)
    cut.write(blob.subarray(0, 700))
    cut.destroy()
    const from = verifier.rewind(600)
    assert.equal(from, 600, 'back to the checkpoint at the offset')
    assert.deepEqual(await through(verifier, from, 600), blob.subarray(600))
    // Between checkpoints: read from the one below, pass on from the offset.
    const again = await ResumableVerifier.create(expected, 'blob', {interval: 300, savable})
    const first = again.stream(0)
    first.write(blob.subarray(0, 700))
    first.destroy()
    assert.equal(again.rewind(450), 300)
    assert.deepEqual(await through(again, 300, 450), blob.subarray(450))
  }
})

test('ResumableVerifier: a saved state resumes the hash in another run; a wrong byte after it still fails', async () => {
  const earlier = await ResumableVerifier.create(expected, 'blob', {interval: 300, savable: true})
  const stream = earlier.stream(0)
  stream.write(blob.subarray(0, 640))
  stream.destroy()
  await earlier.statesSettled()
  // Checked by node:crypto; the savable states come from hash-wasm in a worker, at every checkpoint.
  assert.equal(earlier.savedState(599)?.offset, 300, 'the newest state at or below the offset')
  const saved = earlier.savedState(600)
  assert.equal(saved?.offset, 600)
  const state = saved!.state
  earlier.close()
  const later = await ResumableVerifier.create(expected, 'blob', {interval: 300, savable: true, start: {offset: 600, state}})
  assert.equal(later.rewind(600), 600)
  assert.deepEqual(await through(later, 600, 600), blob.subarray(600))

  const wrong = Buffer.from(blob)
  wrong[900] = wrong[900]! ^ 0xff
  const corrupt = await ResumableVerifier.create(expected, 'blob', {interval: 300, savable: true, start: {offset: 600, state}})
  await assert.rejects(through(corrupt, corrupt.rewind(600), 600, wrong), (error: Error & {code?: string}) => error.code === 'DIGEST_MISMATCH')
  // A state that does not load is no state: the hash starts from the first byte.
  const garbage = await ResumableVerifier.create(expected, 'blob', {interval: 300, savable: true, start: {offset: 600, state: new Uint8Array([1, 2, 3])}})
  assert.equal(garbage.rewind(600), 0)
})
