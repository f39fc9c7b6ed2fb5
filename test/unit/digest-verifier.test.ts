import assert from 'node:assert/strict'
import {createHash} from 'node:crypto'
import {Readable, Writable} from 'node:stream'
import {pipeline} from 'node:stream/promises'
import {test} from 'node:test'

import {DigestVerifier} from '../../src/registry/digest-verifier.js'

const digestOf = (data: Buffer) => `sha256:${createHash('sha256').update(data).digest('hex')}`

async function run(chunks: Buffer[], expected: {digest: string; size: number}) {
  const received: Buffer[] = []
  const sink = new Writable({
    write(chunk, _encoding, callback) {
      received.push(chunk)
      callback()
    },
  })
  try {
    await pipeline(Readable.from(chunks), new DigestVerifier(expected, 'blob'), sink)
    return {error: undefined, received: Buffer.concat(received)}
  } catch (error) {
    return {error: error as {code: string}, received: Buffer.concat(received)}
  }
}

test('DigestVerifier passes good blobs and withholds the end of bad ones', async () => {
  const good = Buffer.from('hello world, this is a layer')
  const cases: {name: string; chunks: Buffer[]; expected: {digest: string; size: number}; code?: string}[] = [
    {name: 'one chunk', chunks: [good], expected: {digest: digestOf(good), size: good.length}},
    {name: 'many chunks', chunks: [good.subarray(0, 5), good.subarray(5, 6), good.subarray(6)], expected: {digest: digestOf(good), size: good.length}},
    {name: 'empty blob', chunks: [], expected: {digest: digestOf(Buffer.alloc(0)), size: 0}},
    {
      name: 'wrong bytes',
      chunks: [good.subarray(0, 10), Buffer.from('X'), good.subarray(11)],
      expected: {digest: digestOf(good), size: good.length},
      code: 'DIGEST_MISMATCH',
    },
    {name: 'truncated', chunks: [good.subarray(0, 10)], expected: {digest: digestOf(good), size: good.length}, code: 'SIZE_MISMATCH'},
    {name: 'too long', chunks: [good, Buffer.from('!')], expected: {digest: digestOf(good), size: good.length}, code: 'SIZE_MISMATCH'},
  ]
  for (const item of cases) {
    const {error, received} = await run(item.chunks, item.expected)
    if (!item.code) {
      assert.equal(error, undefined, item.name)
      assert.equal(digestOf(received), item.expected.digest, item.name)
    } else {
      assert.equal(error?.code, item.code, item.name)
      assert.ok(received.length < item.expected.size || digestOf(received) !== item.expected.digest, `${item.name}: never the full declared body`)
      assert.ok(received.length < Buffer.concat(item.chunks).length, `${item.name}: the last chunk is held back`)
    }
  }
})
