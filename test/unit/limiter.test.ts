import assert from 'node:assert/strict'
import {test} from 'node:test'

import {createLimiter} from '../../src/registry/limiter.js'

/** Most starts that fall in any window [t, t + windowMs). */
function busiest(starts: number[], windowMs = 1000): number {
  const sorted = [...starts].sort((a, b) => a - b)
  let best = 0
  let low = 0
  for (let high = 0; high < sorted.length; high++) {
    while (sorted[high] - sorted[low] >= windowMs) low++
    best = Math.max(best, high - low + 1)
  }
  return best
}

test('qps limits starts in every sliding second and paces them evenly', async () => {
  const qps = 20
  const limiter = createLimiter({qps})
  const starts: number[] = []
  // Tasks of uneven length, all queued at once: a burst is what a refilled reservoir would allow.
  await Promise.all(
    Array.from({length: 45}, (_, i) =>
      limiter.schedule(async () => {
        starts.push(performance.now())
        await new Promise((resolve) => setTimeout(resolve, (i % 3) * 20))
      }),
    ),
  )
  await limiter.stop()
  assert.equal(limiter.started, 45)
  assert.ok(busiest(starts) <= qps, `busiest second had ${busiest(starts)} starts`)
  // Evenly paced: a quarter second never holds a burst of the budget (a refilled reservoir would put
  // all 20 there). Not qps / 4 exactly: on a loaded machine a stalled event loop lets the starts it
  // held back go together (8 seen at load 14).
  assert.ok(busiest(starts, 250) <= qps / 2, `busiest quarter second had ${busiest(starts, 250)} starts`)
})

test('no qps means no pacing', async () => {
  const limiter = createLimiter({})
  const begun = performance.now()
  await Promise.all(Array.from({length: 200}, () => limiter.schedule(async () => undefined)))
  assert.equal(limiter.started, 200)
  assert.ok(performance.now() - begun < 1000)
})
