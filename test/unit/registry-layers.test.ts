import assert from 'node:assert/strict'
import {Readable} from 'node:stream'
import {test} from 'node:test'

import {FerryError, RegistryError} from '../../src/errors.js'
import {expectedAnswers} from '../../src/registry/layers/answer.js'
import {attemptOutcome} from '../../src/registry/layers/attempt.js'
import {authorize, authStep, refusedWhat, type AuthState} from '../../src/registry/layers/auth.js'
import {compose, type Answer, type Layer, type Outgoing, type Send} from '../../src/registry/layers/exchange.js'
import {pauseAfter} from '../../src/registry/layers/rate-limit.js'
import {stoppedBeforeAttempt} from '../../src/registry/layers/registry-state.js'
import {attemptFailure, retryableFailure, retryRequests} from '../../src/registry/layers/retry.js'
import {PullQuotas} from '../../src/registry/pull-quota.js'
import {RegistryStops} from '../../src/registry/registry-stops.js'
import type {RegistryRequest} from '../../src/registry/request.js'

test('pauseAfter: only a 429 the request did not expect holds the registry, for Retry-After or a second', () => {
  const now = Date.parse('2026-01-01T00:00:00Z')
  const cases: [string, number, Record<string, string>, number[], number | undefined][] = [
    ['429 with seconds', 429, {'retry-after': '7'}, [200], 7000],
    ['429 with an HTTP date', 429, {'retry-after': 'Thu, 01 Jan 2026 00:00:30 GMT'}, [200], 30_000],
    ['429 without Retry-After', 429, {}, [200], 1000],
    ['429 with nonsense', 429, {'retry-after': 'soon'}, [200], 1000],
    ['429 expected is an answer', 429, {'retry-after': '7'}, [200, 429], undefined],
    ['503 never pauses', 503, {'retry-after': '7'}, [200], undefined],
    ['200', 200, {}, [200], undefined],
  ]
  for (const [name, status, headers, expect, expected] of cases) assert.equal(pauseAfter({status, headers}, expect, now), expected, name)
})

test('authStep: a 401 from the registry is challenged until the renewals are spent', () => {
  const at: Parameters<typeof authStep>[1] = {sameOrigin: true, renewals: 0, expected: false, withheld: false}
  const cases: [string, number, typeof at, ReturnType<typeof authStep>][] = [
    ['200 passes', 200, at, 'pass'],
    ['403 passes (the answer layer types it)', 403, at, 'pass'],
    ['first 401', 401, at, 'challenge'],
    ['second 401', 401, {...at, renewals: 1}, 'challenge'],
    ['a 401 is challenged even when expected', 401, {...at, expected: true}, 'challenge'],
    ['renewals spent: the 401 goes up', 401, {...at, renewals: 2}, 'pass'],
    ['renewals spent, credentials withheld', 401, {...at, renewals: 2, withheld: true}, 'refuse'],
    ["renewals spent, a provider's login", 401, {...at, renewals: 2, renewable: true}, 'refuse'],
    ["renewals spent, a provider's login, 401 expected", 401, {...at, renewals: 2, renewable: true, expected: true}, 'pass'],
    ['renewals spent, withheld, but expected', 401, {...at, renewals: 2, withheld: true, expected: true}, 'pass'],
    ['another host: never challenged', 401, {...at, sameOrigin: false}, 'pass'],
    ['another host, withheld', 401, {...at, sameOrigin: false, renewals: 2, withheld: true}, 'pass'],
  ]
  for (const [name, status, state, expected] of cases) assert.equal(authStep(status, state), expected, name)
})

test('refusedWhat names what was refused, and where the credentials were written when known', () => {
  const cases: [Pick<AuthState, 'withheld' | 'anonymous'> & Partial<Pick<AuthState, 'renewable'>>, string | undefined, RegExp][] = [
    [{anonymous: false, renewable: true}, undefined, /^the temporary login from the provider's API/],
    [{anonymous: true}, undefined, /^anonymous access \(add credentials for reg\.io\)$/],
    [{anonymous: true}, 'security.yaml', /^anonymous access \(add credentials for reg\.io at security\.yaml\)$/],
    [{anonymous: false}, undefined, /^the credentials given for reg\.io$/],
    [{anonymous: false}, 'security.yaml:4', /^the credentials given for reg\.io \(security\.yaml:4\)$/],
    [
      {anonymous: false, withheld: 'the realm is plain HTTP'},
      undefined,
      /^anonymous access: the credentials given for reg\.io were not sent, as the realm is plain HTTP$/,
    ],
    [
      {anonymous: false, withheld: 'the realm is plain HTTP'},
      'security.yaml:4',
      /^anonymous access: the credentials given for reg\.io \(security\.yaml:4\) were not sent, as the realm is plain HTTP$/,
    ],
  ]
  for (const [auth, writtenIn, expected] of cases) assert.match(refusedWhat(auth, 'reg.io', writtenIn), expected)
})

test('retryableFailure: only an attempt failure that says so, of an idempotent request with a replayable body', () => {
  const reset = attemptFailure(new FerryError('NETWORK', 'reset', {retryable: true}))
  const unavailable = attemptFailure(new RegistryError('SERVER_ERROR', '503', {status: 503, retryable: true}))
  const denied = attemptFailure(new RegistryError('DENIED', '403', {status: 403}))
  const tokenServerDown = new FerryError('NETWORK', 'token for registry r: reset', {retryable: true})
  const get = {idempotent: true}
  const cases: [string, Pick<RegistryRequest, 'idempotent' | 'body'>, unknown, boolean][] = [
    ['reset of a GET', get, reset, true],
    ['503 of a GET', get, unavailable, true],
    ['403 is final', get, denied, false],
    ['the token fetch retried itself: not again', get, tokenServerDown, false],
    ['an unclassified error is not an attempt failure', get, new Error('bug'), false],
    ['not idempotent', {idempotent: false}, reset, false],
    ['idempotent with a buffer body', {idempotent: true, body: Buffer.from('{}')}, reset, true],
    ['a stream is never sent twice', {idempotent: true, body: Readable.from([])}, reset, false],
  ]
  for (const [name, request, error, expected] of cases) assert.equal(retryableFailure(request, error), expected, name)
})

function request(overrides: Partial<RegistryRequest> = {}): RegistryRequest {
  return {method: 'GET', path: '/v2/a/manifests/1', scopes: ['repository:a:pull'], expect: [200], idempotent: true, what: 'GET manifest a:1', ...overrides}
}

/** A registry that answers from a script, one status per attempt, and notes each attempt's header. */
function scripted(statuses: number[]) {
  const seen: (string | undefined)[] = []
  const send: Send = async (outgoing: Outgoing): Promise<Answer> => {
    seen.push(outgoing.authorization)
    const status = statuses.shift() ?? 200
    return {
      status,
      headers: status === 401 ? {'www-authenticate': 'Bearer realm="https://r/token"'} : {'retry-after': '0'},
      body: Buffer.alloc(0),
      url: outgoing.url,
    }
  }
  return {send, seen}
}

function fakeAuth(overrides: Partial<AuthState> = {}): AuthState & {renewed: number} {
  let token = 0
  return {
    renewed: 0,
    anonymous: false,
    authorization: async () => `Bearer t${token}`,
    renewable: false,
    unauthorized(this: {renewed: number}) {
      token++
      this.renewed++
      return true
    },
    expired(this: {renewed: number}) {
      token++
      this.renewed++
      return true
    },
    ...overrides,
  }
}

function layered(base: Send, auth: AuthState, retries = 3): Send {
  return compose(base, attemptOutcome('r'), authorize(auth, 'r'), expectedAnswers(), retryRequests(retries))
}

test('compose: innermost first, so the last layer sees the request first', async () => {
  const order: string[] = []
  const named =
    (name: string): Layer =>
    (next) =>
    async (outgoing) => {
      order.push(name)
      return next(outgoing)
    }
  const {send} = scripted([200])
  await compose(send, named('rate limit'), named('auth'), named('retry'))({request: request(), url: 'https://r/v2/', sameOrigin: true})
  assert.deepEqual(order, ['retry', 'auth', 'rate limit'])
})

test('layers: a 503 is retried with a fresh header; a 401 renews the token before the answer', async () => {
  const registry = scripted([503, 401, 200])
  const auth = fakeAuth()
  const answer = await layered(registry.send, auth)({request: request(), url: 'https://r/v2/', sameOrigin: true})
  assert.equal(answer.status, 200)
  assert.deepEqual(registry.seen, ['Bearer t0', 'Bearer t0', 'Bearer t1'])
  assert.equal(auth.renewed, 1)
})

test('layers: two renewals per request, counted across its retries', async () => {
  const registry = scripted([401, 401, 503, 401, 200])
  const auth = fakeAuth()
  await assert.rejects(layered(registry.send, auth)({request: request(), url: 'https://r/v2/', sameOrigin: true}), (error: unknown) => {
    assert.ok(error instanceof RegistryError)
    assert.equal(error.status, 401)
    return true
  })
  assert.equal(registry.seen.length, 4)
  assert.equal(auth.renewed, 2)
})

test('layers composed once: each request has its own renewals', async () => {
  const registry = scripted([401, 401, 401, 401, 200])
  const auth = fakeAuth()
  const send = layered(registry.send, auth)
  await assert.rejects(
    send({request: request(), url: 'https://r/v2/', sameOrigin: true}),
    (error: unknown) => error instanceof RegistryError && error.status === 401,
  )
  assert.equal(auth.renewed, 2)
  const answer = await send({request: request(), url: 'https://r/v2/', sameOrigin: true})
  assert.equal(answer.status, 200)
  assert.equal(auth.renewed, 3)
  assert.equal(registry.seen.length, 5)
})

test('layers: a token that cannot be had is not retried by the request; another host gets no header', async () => {
  const registry = scripted([200, 200])
  let asked = 0
  const auth = fakeAuth({
    authorization: async () => {
      asked++
      throw new FerryError('NETWORK', 'token for registry r: reset', {retryable: true})
    },
  })
  await assert.rejects(layered(registry.send, auth)({request: request(), url: 'https://r/v2/', sameOrigin: true}), /token for registry r: reset/)
  assert.equal(asked, 1)
  assert.equal(registry.seen.length, 0)
  const answer = await layered(registry.send, auth)({request: request(), url: 'https://storage/blob', sameOrigin: false})
  assert.equal(answer.status, 200)
  assert.deepEqual(registry.seen, [undefined])
})

test('layers: a failure below HTTP is typed and retried; attempts are 1 + retries', async () => {
  let sent = 0
  const reset: Send = async () => {
    sent++
    throw Object.assign(new Error('socket hang up'), {code: 'ECONNRESET'})
  }
  await assert.rejects(layered(reset, fakeAuth(), 1)({request: request(), url: 'https://r/v2/', sameOrigin: true}), /GET manifest a:1: ECONNRESET/)
  assert.equal(sent, 2)
  sent = 0
  await assert.rejects(layered(reset, fakeAuth(), 3)({request: request({idempotent: false}), url: 'https://r/v2/', sameOrigin: true}), /ECONNRESET/)
  assert.equal(sent, 1, 'a request that is not idempotent is sent once')
})

test('layers: a stream body whose token expired is not replayed', async () => {
  const registry = scripted([401])
  await assert.rejects(
    layered(registry.send, fakeAuth())({request: request({method: 'PUT', body: Readable.from([]), idempotent: false}), url: 'https://r/v2/', sameOrigin: true}),
    /token expired during the request/,
  )
  assert.equal(registry.seen.length, 1)
})

/** A registry that answers 403s with an OCI error body, and sends the header as of the moment it sends. */
function refusing(answers: {status: number; message?: string}[]) {
  const seen: (string | undefined)[] = []
  const send: Send = async (outgoing: Outgoing): Promise<Answer> => {
    seen.push(outgoing.currentAuthorization ? await outgoing.currentAuthorization() : outgoing.authorization)
    const {status, message} = answers.shift() ?? {status: 200}
    const body = message ? Buffer.from(JSON.stringify({errors: [{code: 'DENIED', message}]})) : Buffer.alloc(0)
    return {status, headers: {}, body, url: outgoing.url}
  }
  return {send, seen}
}

const EXPIRED = 'Your authorization token has expired. Reauthenticate and try again.'

test('layers: a 403 that says the login expired renews it and sends the request again, twice at most, never for the same header', async () => {
  const cases: {name: string; answers: {status: number; message?: string}[]; put?: boolean; seen: number; outcome: number | RegExp}[] = [
    {name: 'expired, then accepted', answers: [{status: 403, message: EXPIRED}, {status: 200}], seen: 2, outcome: 200},
    {name: 'the renewed one expired too', answers: [{status: 403, message: EXPIRED}, {status: 403, message: EXPIRED}, {status: 200}], seen: 3, outcome: 200},
    {
      name: 'expired three times: two renewals per request',
      answers: [
        {status: 403, message: EXPIRED},
        {status: 403, message: EXPIRED},
        {status: 403, message: EXPIRED},
      ],
      seen: 3,
      outcome: /403 DENIED \(Your authorization token has expired/,
    },
    {
      name: 'a 403 that does not say expired stands',
      answers: [{status: 403, message: 'requested access to the resource is denied'}],
      seen: 1,
      outcome: /403 DENIED \(requested access/,
    },
    {
      name: 'a stream body is not sent twice: the caller tries again',
      answers: [{status: 403, message: EXPIRED}],
      put: true,
      seen: 1,
      outcome: /login expired during the request/,
    },
  ]
  for (const {name, answers, put, seen, outcome} of cases) {
    const registry = refusing(answers)
    const auth = fakeAuth()
    const sending = layered(
      registry.send,
      auth,
    )({
      request: put ? request({method: 'PUT', body: Readable.from([]), idempotent: false, expect: [201]}) : request(),
      url: 'https://r/v2/',
      sameOrigin: true,
    })
    if (typeof outcome === 'number') assert.equal((await sending).status, outcome, name)
    else {
      await assert.rejects(sending, (error: unknown) => {
        assert.ok(error instanceof RegistryError, name)
        assert.match(error.message, outcome, name)
        assert.equal(error.retryable, Boolean(put), name)
        return true
      })
    }
    assert.equal(registry.seen.length, seen, name)
    assert.deepEqual(registry.seen, ['Bearer t0', 'Bearer t1', 'Bearer t2'].slice(0, seen), name)
  }
  // A credential that was not renewed (the same header again) is not sent a third time.
  const registry = refusing([{status: 403, message: EXPIRED}, {status: 403, message: EXPIRED}, {status: 200}])
  const stuck = fakeAuth({authorization: async () => 'Bearer same'})
  await assert.rejects(layered(registry.send, stuck)({request: request(), url: 'https://r/v2/', sameOrigin: true}), /403 DENIED/)
  assert.equal(registry.seen.length, 2)
})

test('layers: the header is the one current when the attempt leaves, not when it queued', async () => {
  let token = 0
  const registry = refusing([])
  const auth = fakeAuth({authorization: async () => `Bearer t${token++}`})
  await layered(registry.send, auth)({request: request(), url: 'https://r/v2/', sameOrigin: true})
  assert.deepEqual(registry.seen, ['Bearer t1'])
})

test('layers: a stop made while a request is in flight ends it before its next attempt (a renewal sends no password again)', async () => {
  const stops = new RegistryStops()
  const state = {stops, quotas: new PullQuotas({whenSpent: 'stop'}), reserve: 0}
  const refusal = new RegistryError('UNAUTHORIZED', 'registry r refused the credentials given for r', {status: 401})
  const sent: (string | undefined)[] = []
  // The first attempt is answered 401 after another request has had its password refused.
  const registry: Send = async (outgoing) => {
    sent.push(outgoing.authorization)
    stops.stop('r with the login of r', refusal, 'requests')
    return {status: 401, headers: {'www-authenticate': 'Basic realm="r"'}, body: Buffer.alloc(0), url: outgoing.url}
  }
  const send = compose(registry, stoppedBeforeAttempt(state, 'r', 'r'), authorize(fakeAuth(), 'r'), expectedAnswers(), retryRequests(3))
  await assert.rejects(send({request: request(), url: 'https://r/v2/', sameOrigin: true}), (error: unknown) => error === refusal)
  assert.deepEqual(sent, ['Bearer t0'])
  // Another login of the same registry, and the registry itself, are not stopped by it.
  const other = compose(scripted([200]).send, stoppedBeforeAttempt(state, 'r', 'other'))
  assert.equal((await other({request: request(), url: 'https://r/v2/', sameOrigin: true})).status, 200)
})
