import assert from 'node:assert/strict'
import {Readable} from 'node:stream'
import {test} from 'node:test'

import {
  MAX_RESUMES,
  parseContentRange,
  planParts,
  readBlob,
  readsInParts,
  strongEtag,
  type FetchRange,
  type RangeAnswer,
} from '../../src/registry/ranged-reader.js'

test('planParts cuts [start, size) into inclusive parts', () => {
  const cases: [number, number, number, [number, number][]][] = [
    [
      0,
      10,
      4,
      [
        [0, 3],
        [4, 7],
        [8, 9],
      ],
    ],
    [
      0,
      8,
      4,
      [
        [0, 3],
        [4, 7],
      ],
    ],
    [5, 8, 4, [[5, 7]]],
    [3, 3, 4, []],
    [0, 1, 4, [[0, 0]]],
  ]
  for (const [start, size, partSize, parts] of cases) {
    assert.deepEqual(
      planParts(start, size, partSize).map(({start, end}) => [start, end]),
      parts,
      `${start} ${size} ${partSize}`,
    )
  }
  assert.throws(() => planParts(0, 10, 0))
})

test('readsInParts: only with two connections or more, from the threshold on', () => {
  const cases: [number, number, Parameters<typeof readsInParts>[2], boolean][] = [
    [100, 0, undefined, false],
    [100, 0, {connections: 1, threshold: 10}, false],
    [100, 0, {connections: 2, threshold: 10}, true],
    [100, 95, {connections: 2, threshold: 10}, false],
    [100, 90, {connections: 4, threshold: 10}, true],
    [9, 0, {connections: 4, threshold: 10}, false],
  ]
  for (const [size, offset, settings, expected] of cases) assert.equal(readsInParts(size, offset, settings), expected, JSON.stringify([size, offset, settings]))
})

test('parseContentRange and strongEtag', () => {
  const ranges: [string | undefined, ReturnType<typeof parseContentRange>][] = [
    ['bytes 0-9/100', {start: 0, end: 9, total: 100}],
    ['bytes 10-99/*', {start: 10, end: 99}],
    [' bytes 5-5/6 ', {start: 5, end: 5, total: 6}],
    ['bytes 9-0/100', undefined],
    ['bytes */100', undefined],
    ['items 0-9/100', undefined],
    [undefined, undefined],
  ]
  for (const [header, expected] of ranges) assert.deepEqual(parseContentRange(header), expected, String(header))
  const tags: [string | undefined, string | undefined][] = [
    ['"sha256:abc"', '"sha256:abc"'],
    ['W/"abc"', undefined],
    [undefined, undefined],
    ['', undefined],
  ]
  for (const [header, expected] of tags) assert.equal(strongEtag(header), expected, String(header))
})

interface Source {
  fetch: FetchRange
  /** Each request: `start-end` (end empty when open), `+If-Range` when conditional. */
  log: string[]
  /** Most requests whose bodies were being read at once. */
  peak: () => number
}

/**
 * A blob served from memory as a registry would: 206 to a Range (200 when `ignoreRange`), in small
 * chunks across ticks. `cut(requestIndex)` gives the bytes after which that answer's body is reset.
 */
function source(
  blob: Buffer,
  options: {ignoreRange?: boolean; cut?: (index: number) => number | undefined; rangeOn?: (index: number) => boolean} = {},
): Source {
  const log: string[] = []
  let open = 0
  let peak = 0
  const fetch: FetchRange = async ({start, end, ifRange}) => {
    const index = log.length
    log.push(`${start}-${end ?? ''}${ifRange ? '+If-Range' : ''}`)
    const asked = start > 0 || end !== undefined
    const ranged = asked && !options.ignoreRange && (options.rangeOn?.(index) ?? true)
    const from = ranged ? start : 0
    const to = ranged ? (end ?? blob.length - 1) : blob.length - 1
    const cutAfter = options.cut?.(index)
    let sent = 0
    open++
    peak = Math.max(peak, open)
    const body = new Readable({
      read() {
        setImmediate(() => {
          if (cutAfter !== undefined && sent >= cutAfter) return this.destroy(Object.assign(new Error('aborted'), {code: 'ECONNRESET'}))
          const limit = cutAfter === undefined ? to + 1 - from : Math.min(cutAfter, to + 1 - from)
          const take = Math.min(7, limit - sent)
          if (take <= 0) return void this.push(null)
          this.push(blob.subarray(from + sent, from + sent + take))
          sent += take
        })
      },
    })
    body.once('close', () => open--)
    const answer: RangeAnswer = ranged
      ? {status: 206, headers: {'content-range': `bytes ${from}-${to}/${blob.length}`, etag: '"sha256:x"'}, body}
      : {status: 200, headers: {etag: '"sha256:x"'}, body}
    return answer
  }
  return {fetch, log, peak: () => peak}
}

async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of stream) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}

const blob = Buffer.from(Array.from({length: 100}, (_, i) => i))
const ranged = {connections: 3, threshold: 20, partSize: 16}
const what = 'GET blob reg.io/app@sha256:x'

test('readBlob: parts are read over at most `connections` requests at once and handed on in order', async () => {
  const served = source(blob)
  const bytes = await collect(await readBlob(served.fetch, {size: 100, what, ranged}))
  assert.deepEqual(bytes, blob)
  assert.deepEqual(served.log, ['0-15', '16-31+If-Range', '32-47+If-Range', '48-63+If-Range', '64-79+If-Range', '80-95+If-Range', '96-99+If-Range'])
  assert.ok(served.peak() <= 3, `peak ${served.peak()}`)
})

test('readBlob: from an offset, in parts or as one stream', async () => {
  for (const settings of [ranged, {connections: 1}]) {
    const served = source(blob)
    assert.deepEqual(await collect(await readBlob(served.fetch, {size: 100, offset: 30, what, ranged: settings})), blob.subarray(30))
    assert.equal(served.log[0], settings.connections > 1 ? '30-45' : '30-')
  }
})

test('readBlob: a source that ignores Range is read as the one stream its first answer is', async () => {
  const served = source(blob, {ignoreRange: true})
  assert.deepEqual(await collect(await readBlob(served.fetch, {size: 100, what, ranged})), blob)
  assert.deepEqual(served.log, ['0-15'])
})

test('readBlob: from an offset, a source that ignores Range fails with RANGE_UNSUPPORTED', async () => {
  for (const settings of [ranged, {connections: 1}]) {
    const served = source(blob, {ignoreRange: true})
    await assert.rejects(readBlob(served.fetch, {size: 100, offset: 30, what, ranged: settings}), {code: 'RANGE_UNSUPPORTED'})
  }
})

test('readBlob: a cut is continued from the last byte received, in a part and in one stream', async () => {
  const parts = source(blob, {cut: (index) => (index === 1 ? 10 : undefined)})
  assert.deepEqual(await collect(await readBlob(parts.fetch, {size: 100, what, ranged})), blob)
  assert.ok(parts.log.includes('26-31+If-Range'), parts.log.join(' '))
  const one = source(blob, {cut: (index) => (index === 0 ? 45 : undefined)})
  assert.deepEqual(await collect(await readBlob(one.fetch, {size: 100, what, ranged: {connections: 1}})), blob)
  assert.deepEqual(one.log, ['0-', '45-+If-Range'])
})

test('readBlob: a 200 to a resume is never glued on; before any byte was handed on it is a fresh start', async () => {
  // One stream cut after 45 bytes, the resume answered with the whole blob.
  const glued = source(blob, {cut: (index) => (index === 0 ? 45 : undefined), rangeOn: () => false})
  const stream = await readBlob(glued.fetch, {size: 100, what, ranged: {connections: 1}})
  await assert.rejects(collect(stream), {code: 'RANGE_UNSUPPORTED'})
  // A part's resume answered 200: the part fails, nothing of the 200 is used.
  const part = source(blob, {cut: (index) => (index === 1 ? 10 : undefined), rangeOn: (index) => index < 3})
  await assert.rejects(collect(await readBlob(part.fetch, {size: 100, what, ranged})), {code: 'RANGE_UNSUPPORTED'})
  // Cut before its first byte: the 200 is the whole blob from 0, read as it is.
  const fresh = source(blob, {cut: (index) => (index === 0 ? 0 : undefined)})
  assert.deepEqual(await collect(await readBlob(fresh.fetch, {size: 100, what, ranged: {connections: 1}})), blob)
  assert.deepEqual(fresh.log, ['0-', '0-+If-Range'])
})

test('readBlob: resumes are bounded per blob', async () => {
  const served = source(blob, {cut: () => 3})
  await assert.rejects(collect(await readBlob(served.fetch, {size: 100, what, ranged})), (error: Error & {code?: string; retryable?: boolean}) => {
    return error.code === 'NETWORK' && error.retryable === true
  })
  assert.ok(served.log.length <= 3 + MAX_RESUMES, served.log.join(' '))
})

test('readBlob: a 206 for other bytes than asked is refused', async () => {
  const fetch: FetchRange = async () => ({status: 206, headers: {'content-range': 'bytes 0-15/200'}, body: Readable.from([Buffer.alloc(16)])})
  await assert.rejects(readBlob(fetch, {size: 100, what, ranged}), {code: 'RANGE_UNSUPPORTED'})
})
