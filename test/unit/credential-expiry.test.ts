import assert from 'node:assert/strict'
import {test} from 'node:test'

import {TemporaryLoginCache} from '../../src/providers/temporary-login.js'
import {needsRenewal, refusedAsExpired, type Refusal, type RenewalMargin} from '../../src/registry/credential-expiry.js'

const minute = 60_000
const hour = 60 * minute
const LOGIN: RenewalMargin = {maxMs: 5 * minute, fraction: 1 / 4}
const TOKEN: RenewalMargin = {maxMs: 30_000, fraction: 1 / 2}

test('needsRenewal: expiry, margin and now decide whether a request may still carry the credential', () => {
  const cases: [string, {issuedAt: number; expiresAt: number}, number, RenewalMargin, boolean][] = [
    ['12-hour ECR login, one hour in', {issuedAt: 0, expiresAt: 12 * hour}, hour, LOGIN, false],
    ['12-hour ECR login, just inside the 5-minute margin', {issuedAt: 0, expiresAt: 12 * hour}, 12 * hour - 5 * minute, LOGIN, true],
    ['12-hour ECR login, a millisecond before the margin', {issuedAt: 0, expiresAt: 12 * hour}, 12 * hour - 5 * minute - 1, LOGIN, false],
    ['4-second login: a quarter is the margin', {issuedAt: 0, expiresAt: 4000}, 2999, LOGIN, false],
    ['4-second login at three seconds', {issuedAt: 0, expiresAt: 4000}, 3000, LOGIN, true],
    ['expired login', {issuedAt: 0, expiresAt: 4000}, 5000, LOGIN, true],
    ['login without a lifetime', {issuedAt: 1000, expiresAt: 1000}, 1000, LOGIN, true],
    ['login with its expiry before its issue', {issuedAt: 1000, expiresAt: 500}, 400, LOGIN, false],
    ['5-minute bearer token, first minute', {issuedAt: 0, expiresAt: 5 * minute}, minute, TOKEN, false],
    ['5-minute bearer token, 30 s left', {issuedAt: 0, expiresAt: 5 * minute}, 4.5 * minute, TOKEN, true],
    ['60-second bearer token (the spec default), 31 s in', {issuedAt: 0, expiresAt: 60_000}, 31_000, TOKEN, true],
    ['60-second bearer token, 29 s in', {issuedAt: 0, expiresAt: 60_000}, 29_000, TOKEN, false],
    ['1-second bearer token, half gone', {issuedAt: 0, expiresAt: 1000}, 500, TOKEN, true],
  ]
  for (const [name, lifetime, now, margin, expected] of cases) assert.equal(needsRenewal(lifetime, now, margin), expected, name)
})

test('refusedAsExpired: which refusals mean the credential ran out', () => {
  const expired = {code: 'DENIED', message: 'Your authorization token has expired. Reauthenticate and try again.'}
  const base: Refusal = {status: 403, method: 'PUT', providerLogin: false}
  const cases: [string, Refusal, boolean][] = [
    ['ECR: 403 DENIED, token expired', {...base, error: expired}, true],
    ['ECR: the same with a provider login', {...base, error: expired, providerLogin: true}, true],
    ['401 UNAUTHORIZED saying expired', {...base, status: 401, error: {code: 'UNAUTHORIZED', message: 'token has expired'}}, true],
    ['lower-case code', {...base, error: {code: 'denied', message: 'Token Expired'}}, true],
    ['403 DENIED without expiry (a missing permission)', {...base, error: {code: 'DENIED', message: 'requested access to the resource is denied'}}, false],
    ['403 without a body, static credentials', {...base, method: 'HEAD'}, false],
    ['403 to a HEAD with a provider login: the body cannot say', {...base, method: 'HEAD', providerLogin: true}, true],
    ['403 to a PUT with a provider login, not saying expired', {...base, providerLogin: true, error: {code: 'DENIED', message: 'denied'}}, false],
    ['401 to a provider login: temporary by nature', {...base, status: 401, providerLogin: true}, true],
    ['401 to static credentials', {...base, status: 401}, false],
    ['"expired" under another code', {...base, error: {code: 'MANIFEST_UNKNOWN', message: 'expired'}}, false],
    ['404 saying expired', {...base, status: 404, error: expired}, false],
    ['500 with a provider login', {...base, status: 500, providerLogin: true}, false],
  ]
  for (const [name, refusal, expected] of cases) assert.equal(refusedAsExpired(refusal), expected, name)
})

test('TemporaryLoginCache: a refused login is fetched again once; a renewal that is refused too is not', async () => {
  let now = 0
  let fetches = 0
  const fetch = async () => {
    fetches++
    return {username: 'AWS', password: `pw${fetches}`, issuedAt: now, expiresAt: now + hour}
  }
  const cache = new TemporaryLoginCache(fetch, {now: () => now})
  const refused = (password: string) => (login: {password: string}) => login.password === password
  const steps: [string, () => Promise<{password: string}[]>, string, number][] = [
    ['first use', async () => [await cache.current()], 'pw1', 1],
    ['fresh: kept', async () => [await cache.current()], 'pw1', 1],
    ['refused by three requests together: one fetch', () => Promise.all([1, 2, 3].map(() => cache.current(refused('pw1')))), 'pw2', 2],
    ['a late refusal of the old login: the new one, no fetch', async () => [await cache.current(refused('pw1'))], 'pw2', 2],
    [
      'the renewal refused too, while young: kept, no fetch in a loop',
      async () => [await cache.current(refused('pw2')), await cache.current(refused('pw2'))],
      'pw2',
      2,
    ],
    ['still young: kept', async () => ((now = 5 * minute - 1), [await cache.current(refused('pw2'))]), 'pw2', 2],
    ['the renewal refused once older than its margin: fetched', async () => ((now = 5 * minute), [await cache.current(refused('pw2'))]), 'pw3', 3],
    ['its time is up: fetched', async () => ((now = 2 * hour), [await cache.current()]), 'pw4', 4],
    ['a login fetched on time is renewed on refusal at once', async () => [await cache.current(refused('pw4'))], 'pw5', 5],
  ]
  for (const [name, run, password, expectedFetches] of steps) {
    const logins = await run()
    for (const login of logins) assert.equal(login.password, password, name)
    assert.equal(fetches, expectedFetches, name)
  }
})
