import assert from 'node:assert/strict'
import http from 'node:http'
import type {AddressInfo} from 'node:net'
import {test} from 'node:test'

import {FerryError} from '../../src/errors.js'
import {paged} from '../../src/providers/acr-edition.js'
import {HarborApi} from '../../src/providers/harbor-api.js'
import {offsetPages, pageNumberPages, type Page} from '../../src/providers/tcr-pages.js'
import {createLimiter} from '../../src/registry/limiter.js'
import {PageGuard} from '../../src/registry/page-guard.js'

/** Reads a listing to its end, or to the first error; stops a loop that main would never end. */
async function drain<T>(pages: AsyncIterable<T[]>, cap = 200): Promise<{pages: number; error?: unknown}> {
  let count = 0
  try {
    for await (const _page of pages) {
      if (++count > cap) return {pages: count, error: new Error(`still paging after ${cap} pages`)}
    }
    return {pages: count}
  } catch (error) {
    return {pages: count, error}
  }
}

function assertLoop(outcome: {error?: unknown}, pattern: RegExp): void {
  assert.ok(FerryError.is(outcome.error), `expected a PAGINATION_LOOP error, got ${String(outcome.error)}`)
  assert.equal(outcome.error.code, 'PAGINATION_LOOP')
  assert.equal(outcome.error.retryable, false)
  assert.match(outcome.error.message, pattern)
  assert.doesNotMatch(outcome.error.message, /\n/)
}

test('PageGuard: a key asked for twice, a page repeating the one before, or too many pages ends the listing', () => {
  const cases: {name: string; run: (guard: PageGuard) => void; error?: RegExp}[] = [
    {name: 'new keys', run: (g) => ['a', 'b', 'c'].forEach((key) => g.ask(key))},
    {name: 'a key again', run: (g) => ['a', 'b', 'a'].forEach((key) => g.ask(key, key)), error: /^list tags of r\/x: the next page \(a\) is one already read/},
    {name: 'a token again, not quoted', run: (g) => ['t1', 't1'].forEach((key) => g.ask(key)), error: /^list tags of r\/x: the next page is one already read/},
    {name: 'no keys, within the bound', run: (g) => Array.from({length: 5}, () => g.ask())},
    {name: 'past the bound', run: (g) => Array.from({length: 6}, () => g.ask()), error: /more than 5 pages/},
    {name: 'different pages', run: (g) => [[1], [2], [1]].forEach((items) => g.received(items))},
    {name: 'empty pages repeat harmlessly', run: (g) => [[], []].forEach((items) => g.received(items))},
    {
      name: 'a page repeating the one before',
      run: (g) =>
        [
          [1, 2],
          [1, 2],
        ].forEach((items) => g.received(items)),
      error: /a page repeats the one before/,
    },
  ]
  for (const {name, run, error} of cases) {
    const guard = new PageGuard('list tags of r/x', 5)
    if (!error) {
      assert.doesNotThrow(() => run(guard), name)
      continue
    }
    assert.throws(
      () => run(guard),
      (thrown: unknown) => FerryError.is(thrown) && thrown.code === 'PAGINATION_LOOP' && error.test(thrown.message),
      name,
    )
  }
})

test('tcr offsetPages: a server that ignores Offset and promises an endless total ends with one line', async () => {
  let calls = 0
  const ignoresOffset = async (): Promise<Page<string>> => {
    calls++
    return {items: ['a', 'b'], total: 1_000_000_000}
  }
  assertLoop(await drain(offsetPages(ignoresOffset, 2, 'ccr: DescribeImagePersonal of team/app')), /^ccr: DescribeImagePersonal of team\/app: a page repeats/)
  assert.equal(calls, 2)
})

test('tcr pageNumberPages: more pages than the bound is an error, not a silent stop', async () => {
  // Each page brings something new, so only the bound can end it; 100,000 pages of fresh items.
  let page = 0
  const endless = async (): Promise<Page<string>> => ({items: [`item-${page++}`], total: Number.MAX_SAFE_INTEGER})
  const outcome = await drain(
    pageNumberPages(endless, 1, (x) => x, 'tcr: DescribeNamespaces of instance tcr-x'),
    200_000,
  )
  assertLoop(outcome, /^tcr: DescribeNamespaces of instance tcr-x: more than 100,000 pages/)
})

test('acr paged: a page number ignored by the server ends with one line, not a loop', async () => {
  const outcome = await drain(paged(async () => ({items: ['x', 'y'], total: Number.NaN, pageSize: 2}), 2, undefined, 'acr: ListRepoTag of team/app'))
  assertLoop(outcome, /^acr: ListRepoTag of team\/app: a page repeats/)
  assert.equal(outcome.pages, 1)
})

test('harbor pages: full pages forever (no total, no Link) end at the first repeat', async () => {
  let requests = 0
  const server = http.createServer((req, res) => {
    requests++
    // Far past where a loop should have ended: a refusal main would report instead.
    if (requests > 100) return void res.writeHead(400, {'Content-Type': 'application/json'}).end('{"errors":[{"code":"BAD_REQUEST","message":"enough"}]}')
    res.writeHead(200, {'Content-Type': 'application/json'}).end(JSON.stringify([{name: 'p1'}, {name: 'p2'}]))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const limiter = createLimiter({})
  try {
    const api = new HarborApi({
      host: `127.0.0.1:${(server.address() as AddressInfo).port}`,
      access: {insecure: true, skipTlsVerify: false},
      limiter,
      retries: 0,
    })
    const outcome = await drain(api.pages({path: '/projects', pageSize: 2, what: 'list projects'}))
    assertLoop(outcome, /^harbor: list projects on 127\.0\.0\.1:\d+: a page repeats/)
    assert.equal(requests, 2)
  } finally {
    await limiter.stop()
    server.closeAllConnections()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  }
})
