import assert from 'node:assert/strict'
import {test} from 'node:test'

import {backoffDelay, parseRetryAfter} from '../../src/retry.js'

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
