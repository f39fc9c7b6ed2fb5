import assert from 'node:assert/strict'
import {test} from 'node:test'

import {backoffDelay, parseRetryAfter, retryDelay, withRetry} from '../../src/retry.js'

test('backoffDelay grows, caps, honours and refuses Retry-After', () => {
  const cases: [number, Parameters<typeof backoffDelay>[1], number][] = [
    [1, {baseMs: 1000, random: 0}, 500],
    [1, {baseMs: 1000, random: 1}, 1000],
    [2, {baseMs: 1000, random: 1}, 2000],
    [3, {baseMs: 1000, random: 0.5}, 3000],
    [20, {baseMs: 1000, maxMs: 8000, random: 1}, 8000],
    [1, {baseMs: 1000, random: 0, retryAfterMs: 5000}, 5000],
    [4, {baseMs: 1000, random: 1, retryAfterMs: 10}, 8000],
    [1, {retryAfterMs: 10 * 60_000, retryAfterCapMs: 60_000}, -1],
  ]
  for (const [attempt, options, expected] of cases) assert.equal(backoffDelay(attempt, options), expected, JSON.stringify({attempt, options}))
})

test('parseRetryAfter reads seconds and HTTP dates', () => {
  const now = Date.parse('2026-01-01T00:00:00Z')
  const cases: [string | undefined, number | undefined][] = [
    [undefined, undefined],
    ['', undefined],
    ['7', 7000],
    [' 0 ', 0],
    ['Thu, 01 Jan 2026 00:00:30 GMT', 30_000],
    ['Wed, 31 Dec 2025 23:00:00 GMT', 0],
    ['soon', undefined],
  ]
  for (const [value, expected] of cases) assert.equal(parseRetryAfter(value, now), expected, String(value))
})

test('retryDelay: one meaning of give up for every loop', () => {
  const retryable = Object.assign(new Error('reset'), {retryable: true})
  const permanent = Object.assign(new Error('denied'), {retryable: false})
  const slowDown = Object.assign(new Error('429'), {retryable: true, retryAfterMs: 4000})
  const tooSlow = Object.assign(new Error('429'), {retryable: true, retryAfterMs: 10 * 60_000})
  const aborted = AbortSignal.abort()
  const base = {retries: 2, backoff: {baseMs: 100}, random: () => 1}
  const cases: [string, unknown, number, Parameters<typeof retryDelay>[2], number | undefined][] = [
    ['first failure, retryable', retryable, 1, base, 100],
    ['second failure doubles', retryable, 2, base, 200],
    ['attempts spent', retryable, 3, base, undefined],
    ['no retries at all', retryable, 1, {...base, retries: 0}, undefined],
    ['not retryable', permanent, 1, base, undefined],
    ['unclassified errors get another chance', new Error('bug?'), 1, base, 100],
    ['Retry-After wins when longer', slowDown, 1, base, 4000],
    ['Retry-After above the cap gives up', tooSlow, 1, base, undefined],
    ['aborted gives up', retryable, 1, {...base, signal: aborted}, undefined],
    ['the caller decides what is retryable', permanent, 1, {...base, retryable: () => true}, 100],
    ['the caller reads Retry-After', retryable, 1, {...base, retryAfterMs: () => 900}, 900],
  ]
  for (const [name, error, attempt, policy, expected] of cases) assert.equal(retryDelay(error, attempt, policy), expected, name)
})

test('withRetry tries again until success, reports each retry, and throws the last failure', async () => {
  const seen: [number, number][] = []
  let calls = 0
  const value = await withRetry(
    async (attempt) => {
      calls++
      if (attempt < 3) throw Object.assign(new Error(`fail ${attempt}`), {retryable: true})
      return 'done'
    },
    {retries: 5, backoff: {baseMs: 1}, random: () => 0, onRetry: (_error, attempt, delay) => seen.push([attempt, delay])},
  )
  assert.equal(value, 'done')
  assert.equal(calls, 3)
  assert.deepEqual(seen, [
    [1, 1],
    [2, 1],
  ])

  let tries = 0
  await assert.rejects(
    withRetry(
      async () => {
        tries++
        throw Object.assign(new Error(`try ${tries}`), {retryable: true})
      },
      {retries: 2, backoff: {baseMs: 1}},
    ),
    /try 3/,
  )
  assert.equal(tries, 3)

  const controller = new AbortController()
  const started = Date.now()
  const pending = withRetry(
    async () => {
      throw Object.assign(new Error('still down'), {retryable: true})
    },
    {retries: 5, backoff: {baseMs: 60_000}, signal: controller.signal},
  )
  setTimeout(() => controller.abort(), 20)
  await assert.rejects(pending, /still down/)
  assert.ok(Date.now() - started < 5000, 'an abort ends the wait')
})
