import assert from 'node:assert/strict'
import {test} from 'node:test'

import {refreshAt, TemporaryLoginCache, type LoginLifetime} from '../../src/providers/temporary-login.js'

const minute = 60_000
const hour = 60 * minute

test('refreshAt: a quarter of the lifetime before expiry, at most five minutes', () => {
  const cases: [string, LoginLifetime, number][] = [
    ['ECR 12-hour token', {issuedAt: 0, expiresAt: 12 * hour}, 12 * hour - 5 * minute],
    ['TCR/ACR 1-hour login', {issuedAt: 0, expiresAt: hour}, hour - 5 * minute],
    ['1-hour login issued later', {issuedAt: 1_000_000, expiresAt: 1_000_000 + hour}, 1_000_000 + hour - 5 * minute],
    ['20 minutes: both rules agree', {issuedAt: 0, expiresAt: 20 * minute}, 15 * minute],
    ['8 minutes: a quarter', {issuedAt: 0, expiresAt: 8 * minute}, 6 * minute],
    ['ACR login without expiry (10 minutes)', {issuedAt: 0, expiresAt: 10 * minute}, 7.5 * minute],
    ['1 minute: a quarter', {issuedAt: 0, expiresAt: minute}, 45_000],
    ['1 second: a quarter', {issuedAt: 0, expiresAt: 1000}, 750],
    ['no lifetime', {issuedAt: 0, expiresAt: 0}, 0],
    ['expired before issued', {issuedAt: 500, expiresAt: 100}, 100],
    ['expired just before issued', {issuedAt: 0, expiresAt: -1}, -1],
  ]
  for (const [name, lifetime, expected] of cases) assert.equal(refreshAt(lifetime), expected, name)
})

interface Step {
  /** Clock reading for this step. */
  at: number
  /** Callers arriving together. */
  callers?: number
  /** The fetches this step starts fail. */
  fail?: boolean
  /** Password every caller gets, or the error they see. */
  expect: string | RegExp
  /** Fetches made so far, after this step. */
  fetches: number
}

test('TemporaryLoginCache: fetch on first use, reuse while fresh, one fetch for concurrent callers, failures not kept', async () => {
  const cases: {name: string; lifetime: number; initial?: boolean; steps: Step[]}[] = [
    {
      name: 'handed a first login (ECR)',
      lifetime: 1000,
      initial: true,
      steps: [
        {at: 0, expect: 'pw0', fetches: 0},
        {at: 749, expect: 'pw0', fetches: 0},
        {at: 750, callers: 3, expect: 'pw1', fetches: 1},
        {at: 2000, fail: true, expect: /boom/, fetches: 2},
        {at: 2000, expect: 'pw3', fetches: 3},
      ],
    },
    {
      name: 'one-hour login fetched on first use (TCR)',
      lifetime: hour,
      steps: [
        {at: 1_000_000, callers: 3, expect: 'pw1', fetches: 1},
        {at: 1_000_000 + hour - 5 * minute - 1, expect: 'pw1', fetches: 1},
        {at: 1_000_000 + hour - 5 * minute + 1, expect: 'pw2', fetches: 2},
        {at: 1_000_000 + 2 * hour, fail: true, callers: 2, expect: /boom/, fetches: 3},
        {at: 1_000_000 + 2 * hour, expect: 'pw4', fetches: 4},
      ],
    },
    {
      name: 'one-minute login, refreshed a quarter early (ACR)',
      lifetime: minute,
      steps: [
        {at: 0, callers: 3, expect: 'pw1', fetches: 1},
        {at: 44_999, expect: 'pw1', fetches: 1},
        {at: 45_000, fail: true, expect: /boom/, fetches: 2},
        {at: 45_000, expect: 'pw3', fetches: 3},
        {at: 45_001, expect: 'pw3', fetches: 3},
      ],
    },
  ]
  for (const {name, lifetime, initial, steps} of cases) {
    let now = steps[0]!.at
    let fetches = 0
    let fail = false
    const login = (password: string) => ({username: 'u', password, issuedAt: now, expiresAt: now + lifetime})
    const cache = new TemporaryLoginCache(
      async () => {
        fetches++
        const password = `pw${fetches}`
        await new Promise((resolve) => setTimeout(resolve, 5))
        if (fail) throw new Error('boom')
        return login(password)
      },
      {initial: initial ? login('pw0') : undefined, now: () => now},
    )
    for (const [index, step] of steps.entries()) {
      const what = `${name}, step ${index} at ${step.at}`
      now = step.at
      fail = step.fail ?? false
      const calls = Array.from({length: step.callers ?? 1}, () => cache.current())
      if (typeof step.expect === 'string') {
        const got = await Promise.all(calls)
        assert.deepEqual(
          got.map((l) => l.password),
          Array(calls.length).fill(step.expect),
          what,
        )
      } else {
        const error = step.expect
        await Promise.all(calls.map((call) => assert.rejects(call, error, what)))
      }
      assert.equal(fetches, step.fetches, what)
    }
  }
})
