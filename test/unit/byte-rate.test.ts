import assert from 'node:assert/strict'
import {Readable} from 'node:stream'
import {pipeline} from 'node:stream/promises'
import {test} from 'node:test'
import {ByteRate} from '../../src/transfer/byte-rate.js'

test('ByteRate.delayFor: each chunk is paid for after the bytes before it, across callers', () => {
  const rate = new ByteRate(1000) // 1000 B/s: 1 ms a byte
  const cases: Array<[bytes: number, now: number, delay: number]> = [
    [100, 1000, 50], // 50 ms of burst allowed, then 100 ms of bytes: 1000-50+100 = 1050
    [100, 1000, 150], // a second stream at the same moment queues behind the first
    [10, 1300, 0], // later than everything paid for, within the burst
    [500, 1300, 460], // (1260+10 = 1270) + 500 = 1770
  ]
  for (const [bytes, now, delay] of cases) assert.equal(Math.round(rate.delayFor(bytes, now)), delay, `${bytes} B at ${now} ms`)
})

test('ByteRate.throttle: 1 MiB through a 4 MiB/s cap takes at least ~a quarter second, bytes unchanged', async () => {
  const rate = new ByteRate(4 * 1024 * 1024)
  const data = Buffer.alloc(1024 * 1024, 7)
  const chunks = Array.from({length: 16}, (_, i) => data.subarray(i * 65536, (i + 1) * 65536))
  const received: Buffer[] = []
  const started = performance.now()
  await pipeline(Readable.from(chunks), rate.throttle(), async function* (source) {
    for await (const chunk of source) received.push(chunk as Buffer)
  })
  const elapsed = performance.now() - started
  assert.ok(elapsed >= 180, `1 MiB at 4 MiB/s took only ${elapsed.toFixed(0)} ms`)
  assert.ok(Buffer.concat(received).equals(data))
})
