import assert from 'node:assert/strict'
import {test} from 'node:test'

import {MemoryChannel} from '../../src/pipeline/channel.js'

test('push waits while the channel is full and resumes when a reader takes an item', async () => {
  const channel = new MemoryChannel<number>(2)
  await channel.push(1)
  await channel.push(2)
  let third = false
  const pushing = channel.push(3).then(() => (third = true))
  await new Promise((resolve) => setImmediate(resolve))
  assert.equal(third, false, 'third push must wait for room')
  const iterator = channel[Symbol.asyncIterator]()
  assert.deepEqual(await iterator.next(), {value: 1, done: false})
  await pushing
  assert.equal(third, true)
  channel.close()
  assert.deepEqual(await iterator.next(), {value: 2, done: false})
  assert.deepEqual(await iterator.next(), {value: 3, done: false})
  assert.equal((await iterator.next()).done, true)
})

test('several readers share the items, each item goes to one reader', async () => {
  const channel = new MemoryChannel<number>(3)
  const seen: number[][] = [[], [], []]
  const readers = seen.map(async (mine) => {
    for await (const item of channel) {
      mine.push(item)
      await new Promise((resolve) => setTimeout(resolve, 1))
    }
  })
  for (let i = 0; i < 50; i++) await channel.push(i)
  channel.close()
  await Promise.all(readers)
  const all = seen.flat().sort((a, b) => a - b)
  assert.deepEqual(
    all,
    Array.from({length: 50}, (_, i) => i),
  )
  assert.ok(seen.filter((mine) => mine.length > 0).length > 1, 'work is spread over readers')
})

test('an aborted push is withdrawn and rejects', async () => {
  const channel = new MemoryChannel<string>(1)
  await channel.push('a')
  const controller = new AbortController()
  const pending = channel.push('b', {signal: controller.signal})
  controller.abort(new Error('stop'))
  await assert.rejects(pending, /stop/)
  channel.close()
  const items: string[] = []
  for await (const item of channel) items.push(item)
  assert.deepEqual(items, ['a'])
})

test('capacity below one is refused', () => {
  assert.throws(() => new MemoryChannel(0), RangeError)
})
