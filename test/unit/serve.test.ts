import assert from 'node:assert/strict'
import {test} from 'node:test'

import {formatInterval, parseInterval} from '../../src/config/interval.js'
import type {Rule} from '../../src/config/rules.js'
import {cronTrigger} from '../../src/config/trigger-spec.js'
import type {JobResult} from '../../src/report/summary.js'
import {rulesForPush} from '../../src/serve/event-rules.js'
import {parseListenAddress, tokenMatches} from '../../src/serve/listener.js'
import {normalizeHost, parseDistributionEnvelope, parseHarborPayload, SeenIds, type PushEvent} from '../../src/serve/push-events.js'
import {describeChanges, sourceChanges, syncedAfter} from '../../src/serve/source-changes.js'
import {TagQueue} from '../../src/serve/tag-queue.js'
import {describeTrigger} from '../../src/serve/trigger.js'

test('parseInterval: units, sums, and one-line refusals', () => {
  const good: [string, number][] = [
    ['1s', 1000],
    ['15m', 900_000],
    ['1h30m', 5_400_000],
    ['500ms', 500],
    ['1d', 86_400_000],
    [' 90s ', 90_000],
    ['1.5s', 1500],
    ['2h0m5s', 7_205_000],
  ]
  for (const [text, ms] of good) assert.equal(parseInterval(text), ms, text)
  const bad: [string, RegExp][] = [
    ['15', /not a duration/],
    ['', /not a duration/],
    ['1x', /not a duration/],
    ['m', /not a duration/],
    ['-1s', /not a duration/],
    ['1s 2m', /not a duration/],
    ['0s', /longer than zero/],
    ['30d', /longer than 24 days/],
  ]
  for (const [text, message] of bad)
    assert.throws(
      () => parseInterval(text),
      (error: Error & {code?: string}) => error.code === 'INVALID_CONFIG' && message.test(error.message) && error.message.startsWith('--interval'),
      text,
    )
  assert.deepEqual([500, 1000, 90_000, 5_400_000, 90_061_000].map(formatInterval), ['500ms', '1s', '1m30s', '1h30m', '1d1h1m1s'])
})

test('cronTrigger: five or six fields, nicknames, IANA time zones', () => {
  assert.deepEqual(cronTrigger('*/15 * * * *', undefined), {kind: 'cron', pattern: '*/15 * * * *'})
  assert.deepEqual(cronTrigger('*/5 * * * * *', 'Europe/Berlin'), {kind: 'cron', pattern: '*/5 * * * * *', timezone: 'Europe/Berlin'})
  assert.equal(cronTrigger('@hourly', 'UTC').kind, 'cron')
  const bad: [string, string | undefined, RegExp][] = [
    ['* * * *', undefined, /--schedule "\* \* \* \*" has 4 fields; a cron expression has 5 \(minute hour day month weekday\) or 6 \(seconds first\)/],
    ['0 0 0 * * * 2030', undefined, /has 7 fields/],
    ['61 * * * *', undefined, /not a cron expression/],
    ['* * * * *', 'Mars/Olympus', /--timezone "Mars\/Olympus" is not an IANA time zone/],
  ]
  for (const [pattern, timezone, message] of bad) assert.throws(() => cronTrigger(pattern, timezone), message, pattern)
  assert.equal(describeTrigger({kind: 'interval', ms: 900_000}), 'every 15m')
  assert.equal(describeTrigger({kind: 'cron', pattern: '0 3 * * *', timezone: 'UTC'}), 'on "0 3 * * *" (UTC)')
})

const result = (source: string, status: JobResult['status'], digest?: string): JobResult => ({
  source,
  destination: `dst/${source}`,
  rule: 'r',
  status,
  ...(digest ? {digest} : {}),
  bytes: 0,
  blobs: {uploaded: 0, mounted: 0, existing: 0},
  attempts: 1,
  durationMs: 0,
})

test('sourceChanges: new, updated, deleted only after a complete listing; state keeps failures', () => {
  const previous = {
    'r/a:1': {digest: 'sha256:a1', syncedAt: 't0'},
    'r/a:2': {digest: 'sha256:a2', syncedAt: 't0'},
    'r/a:3': {digest: 'sha256:a3', syncedAt: 't0'},
    'r/a:4': {digest: 'sha256:a4', syncedAt: 't0'},
  }
  const results = [
    result('r/a:1', 'skipped', 'sha256:a1'), // unchanged
    result('r/a:2', 'copied', 'sha256:b2'), // moved at the source
    result('r/a:4', 'failed'), // failed: no digest, not deleted either
    result('r/a:5', 'copied', 'sha256:a5'), // new
  ]
  const complete = sourceChanges(previous, results, true)
  assert.deepEqual(complete, {new: ['r/a:5'], updated: ['r/a:2'], deletedAtSource: ['r/a:3']})
  assert.deepEqual(sourceChanges(previous, results, false).deletedAtSource, [], 'an incomplete run says nothing about deletions')
  assert.deepEqual(sourceChanges({}, [], true), {new: [], updated: [], deletedAtSource: []})

  const now = new Date('2026-01-01T00:00:00Z')
  const next = syncedAfter(previous, results, complete, now)
  assert.deepEqual(Object.keys(next).sort(), ['r/a:1', 'r/a:2', 'r/a:4', 'r/a:5'])
  assert.deepEqual(next['r/a:2'], {digest: 'sha256:b2', syncedAt: now.toISOString()})
  assert.deepEqual(next['r/a:4'], previous['r/a:4'], 'a failed copy keeps the last good entry')
  assert.equal(describeChanges({new: [], updated: [], deletedAtSource: []}), undefined)
  assert.equal(
    describeChanges(complete),
    'changes at the source since the last run: 1 new (r/a:5); 1 updated (r/a:2); 1 deleted at the source, kept at the destination (r/a:3)',
  )
  assert.match(describeChanges({new: ['1', '2', '3', '4', '5', '6', '7'], updated: [], deletedAtSource: []})!, /7 new \(1, 2, 3, 4, 5 and 2 more\)/)
})

const M = `sha256:${'1'.repeat(64)}`
const D1 = `sha256:${'d'.repeat(64)}`
const distribution = (events: unknown[]) => ({events})
const manifestPush = (over: Record<string, unknown> = {}) => ({
  id: 'e1',
  timestamp: '2026-01-01T00:00:00Z',
  action: 'push',
  target: {
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    digest: M,
    repository: 'team/app',
    url: `http://Reg.Example:5000/v2/team/app/manifests/${M}`,
    tag: '1.0',
  },
  request: {id: 'r', addr: '10.0.0.1:1', host: 'reg.example:5000', method: 'PUT', useragent: 'docker'},
  ...over,
})

test('parseDistributionEnvelope: manifest pushes with a tag only', () => {
  const parsed = parseDistributionEnvelope(
    distribution([
      manifestPush(),
      {
        ...manifestPush({id: 'blob'}),
        target: {mediaType: 'application/octet-stream', digest: 'sha256:b', repository: 'team/app', url: 'http://reg.example:5000/v2/team/app/blobs/sha256:b'},
      },
      manifestPush({id: 'pull', action: 'pull'}),
      {...manifestPush({id: 'bydigest'}), target: {mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: 'sha256:c', repository: 'team/app'}},
      manifestPush({id: 'delete', action: 'delete'}),
      'junk',
    ]),
  )
  assert.deepEqual(parsed, {pushes: [{id: 'e1', hosts: ['reg.example:5000'], repository: 'team/app', tag: '1.0', digest: M}], ignored: 5, refused: []})
  const hosts = parseDistributionEnvelope(distribution([manifestPush({request: {host: 'mirror.internal:443'}})])).pushes[0]!.hosts
  assert.deepEqual(hosts, ['mirror.internal', 'reg.example:5000'])
  for (const body of [null, [], {}, {events: 'x'}, 42]) assert.deepEqual(parseDistributionEnvelope(body), {pushes: [], ignored: 0, refused: []})
  assert.equal(normalizeHost('Registry.Example.com:443'), 'registry.example.com')
})

test('parseHarborPayload: PUSH_ARTIFACT resources with tags', () => {
  const payload = {
    type: 'PUSH_ARTIFACT',
    occur_at: 1737446601,
    operator: 'admin',
    event_data: {
      resources: [
        {digest: D1, tag: 'v1', resource_url: 'harbor.example.com/library/app:v1'},
        {digest: 'sha256:d2', tag: '', resource_url: 'harbor.example.com/library/app@sha256:d2'},
      ],
      repository: {date_created: 1, name: 'app', namespace: 'library', repo_full_name: 'library/app', repo_type: 'public'},
    },
  }
  const parsed = parseHarborPayload(payload)
  assert.deepEqual(parsed.pushes, [
    {id: `harbor:harbor.example.com/library/app:v1@${D1}:1737446601`, hosts: ['harbor.example.com'], repository: 'library/app', tag: 'v1', digest: D1},
  ])
  assert.equal(parsed.ignored, 1)
  assert.deepEqual(parseHarborPayload({...payload, type: 'PULL_ARTIFACT'}), {pushes: [], ignored: 1, refused: []})
  const withoutFullName = {...payload, event_data: {...payload.event_data, repository: {name: 'app', namespace: 'library'}}}
  assert.equal(parseHarborPayload(withoutFullName).pushes[0]!.repository, 'library/app')
})

test('parseHarborPayload: the CloudEvents format carries the same event in data; digests named as tags are not tags', () => {
  const data = {
    resources: [
      {digest: D1, tag: 'v1', resource_url: 'harbor.example.com/library/app:v1'},
      {digest: `sha256:${'a'.repeat(64)}`, tag: `sha256:${'a'.repeat(64)}`, resource_url: `harbor.example.com/library/app@sha256:${'a'.repeat(64)}`},
    ],
    repository: {date_created: 1, name: 'app', namespace: 'library', repo_full_name: 'library/app', repo_type: 'public'},
  }
  const cloudEvent = {
    specversion: '1.0',
    requestid: 'r',
    id: 'e1',
    source: '/projects/1/webhook/policies/3',
    type: 'harbor.artifact.pushed',
    datacontenttype: 'application/json',
    time: '2026-11-25T10:00:00Z',
    data,
    operator: 'admin',
  }
  const table: [string, unknown, number, number][] = [
    ['CloudEvents push', cloudEvent, 1, 1],
    ['CloudEvents pull', {...cloudEvent, type: 'harbor.artifact.pulled'}, 0, 1],
    ['CloudEvents without data', {...cloudEvent, data: undefined}, 0, 1],
    ['a type without specversion', {...cloudEvent, specversion: undefined}, 0, 1],
    ['Default push by digest', {type: 'PUSH_ARTIFACT', occur_at: 1, event_data: {...data, resources: [data.resources[1]]}}, 0, 1],
  ]
  for (const [name, body, pushes, ignored] of table) {
    const parsed = parseHarborPayload(body)
    assert.equal(parsed.pushes.length, pushes, name)
    assert.equal(parsed.ignored, ignored, name)
  }
  assert.deepEqual(parseHarborPayload(cloudEvent).pushes[0], {
    id: `harbor:harbor.example.com/library/app:v1@${D1}:2026-11-25T10:00:00Z`,
    hosts: ['harbor.example.com'],
    repository: 'library/app',
    tag: 'v1',
    digest: D1,
  })
})

const rule = (text: string, source: Rule['source'], destination: Rule['destination']): Rule => ({text, source, destination})

test('rulesForPush: host and repository match, narrowed to the pushed tag, mapping kept', () => {
  const rules = [
    rule('all', {registry: 'reg.example:5000', repository: 'team/app'}, {registry: 'dst.example', repository: 'mirror/app'}),
    rule('listed', {registry: 'reg.example:5000', repository: 'team/app', tags: ['1.0', '2.0']}, {registry: 'dst.example', repository: 'listed/app'}),
    rule('renamed', {registry: 'reg.example:5000', repository: 'team/app', tags: ['1.0']}, {registry: 'dst.example', repository: 'pinned/app', tag: 'stable'}),
    rule('digest', {registry: 'reg.example:5000', repository: 'team/app', digest: 'sha256:x'}, {registry: 'dst.example', repository: 'd/app', tag: 'x'}),
    rule('other host', {registry: 'other.example', repository: 'team/app'}, {registry: 'dst.example', repository: 'o/app'}),
    rule('other repository', {registry: 'reg.example:5000', repository: 'team/api'}, {registry: 'dst.example', repository: 'api'}),
  ]
  const push = (tag: string, hosts = ['reg.example:5000']): PushEvent => ({id: tag, hosts, repository: 'team/app', tag})
  const summary = (matched: Rule[]) =>
    matched.map((r) => `${r.text} ${r.source.tags?.join(',')} → ${r.destination.repository}${r.destination.tag ? `:${r.destination.tag}` : ''}`)
  assert.deepEqual(summary(rulesForPush(rules, push('1.0'))), ['all 1.0 → mirror/app', 'listed 1.0 → listed/app', 'renamed 1.0 → pinned/app:stable'])
  assert.deepEqual(summary(rulesForPush(rules, push('3.0'))), ['all 3.0 → mirror/app'])
  assert.deepEqual(summary(rulesForPush(rules, push('3.0', ['REG.example:5000']))), ['all 3.0 → mirror/app'], 'host case does not matter')
  assert.deepEqual(rulesForPush(rules, push('1.0', ['elsewhere:5000'])), [])
  assert.deepEqual(summary(rulesForPush(rules, push('3.0-rc'), (tag) => !tag.includes('rc'))), [], 'the tag filter applies to all-tags rules')
  assert.equal(rules[0]!.source.tags, undefined, 'the rules themselves are not changed')
})

test('tokenMatches: Bearer or bare token, exact and non-empty; listen addresses', () => {
  const cases: [string | undefined, boolean][] = [
    ['Bearer s3cret', true],
    ['bearer s3cret', true],
    ['s3cret', true],
    ['Bearer s3cre', false],
    ['Bearer s3cretx', false],
    ['', false],
    [undefined, false],
    ['Bearer ', false],
    ['Basic s3cret', false],
  ]
  for (const [header, expected] of cases) assert.equal(tokenMatches(header, 's3cret'), expected, String(header))
  assert.deepEqual(parseListenAddress('127.0.0.1:9090'), {host: '127.0.0.1', port: 9090})
  assert.deepEqual(parseListenAddress(':9090'), {host: '0.0.0.0', port: 9090})
  assert.deepEqual(parseListenAddress('[::1]:0'), {host: '::1', port: 0})
  for (const bad of ['9090', 'host', 'host:99999', 'a:b:1']) assert.throws(() => parseListenAddress(bad), /--listen .* is not HOST:PORT/, bad)
})

test('SeenIds: first sight only, bounded memory', () => {
  const seen = new SeenIds(2)
  assert.deepEqual(
    ['a', 'a', 'b', 'c', 'a', 'c'].map((id) => seen.first(id)),
    [true, false, true, true, true, false],
  )
})

test('TagQueue: a burst is one run; a request during a run is one more run after it, never alongside', async () => {
  const queue = new TagQueue(20)
  const log: string[] = []
  let concurrent = 0
  let peak = 0
  const run = (label: string, ms: number) => async () => {
    concurrent++
    peak = Math.max(peak, concurrent)
    log.push(`start ${label}`)
    await new Promise((resolve) => setTimeout(resolve, ms))
    log.push(`end ${label}`)
    concurrent--
  }
  for (let k = 0; k < 5; k++) queue.request('t', run(`burst${k}`, 60))
  queue.request('other', run('other', 10))
  await new Promise((resolve) => setTimeout(resolve, 40))
  queue.request('t', run('during1', 10))
  queue.request('t', run('during2', 10))
  await new Promise((resolve) => setTimeout(resolve, 200))
  await queue.close()
  const forT = log.filter((line) => !line.includes('other'))
  assert.deepEqual(forT, ['start burst4', 'end burst4', 'start during2', 'end during2'])
  assert.ok(log.includes('end other'))
  assert.equal(peak, 2, 'two keys may run at once, one key never twice')
  queue.request('t', run('after close', 1))
  await new Promise((resolve) => setTimeout(resolve, 40))
  assert.ok(!log.includes('start after close'))
})

test('state file: missing is empty, damaged is a one-line error (never silently reset), writes round-trip', async () => {
  const {mkdtemp, writeFile, rm, readdir} = await import('node:fs/promises')
  const os = await import('node:os')
  const path = await import('node:path')
  const {readState, writeStateAtomically, StateStore} = await import('../../src/serve/state-file.js')
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-state-'))
  try {
    const file = path.join(dir, 'state.json')
    assert.deepEqual(await readState(file), {version: 1, jobs: {}})
    await writeFile(file, '{"version": 1, "jobs": {')
    await assert.rejects(
      readState(file),
      (error: Error & {code?: string}) => error.code === 'INVALID_CONFIG' && error.message.startsWith(`${file}: the state file is not JSON; move it away`),
    )
    await writeFile(file, '{"version": 2, "jobs": {}}')
    await assert.rejects(readState(file), /not a ferry state file \(version 1\)/)
    const store = await StateStore.open(path.join(dir, 'fresh.json'))
    store.job('a').tags['r/x:1'] = {digest: 'sha256:1', syncedAt: 't'}
    void store.save()
    store.job('a').tags['r/x:2'] = {digest: 'sha256:2', syncedAt: 't'}
    void store.save()
    await store.flush()
    assert.deepEqual(Object.keys((await readState(path.join(dir, 'fresh.json'))).jobs.a!.tags), ['r/x:1', 'r/x:2'], 'the last save wins')
    await writeStateAtomically(path.join(dir, 'other.json'), {version: 1, jobs: {}})
    assert.deepEqual((await readdir(dir)).sort(), ['fresh.json', 'other.json', 'state.json'], 'no temporary file left behind')
  } finally {
    await rm(dir, {recursive: true, force: true})
  }
})

test('KeyedLock: one holder per key at a time, in order; other keys do not wait', async () => {
  const {KeyedLock} = await import('../../src/keyed-lock.js')
  const locks = new KeyedLock()
  const log: string[] = []
  const hold = async (key: string, label: string, ms: number) => {
    const release = await locks.acquire(key)
    log.push(`in ${label}`)
    await new Promise((resolve) => setTimeout(resolve, ms))
    log.push(`out ${label}`)
    release()
  }
  await Promise.all([hold('a', 'a1', 30), hold('a', 'a2', 5), hold('b', 'b1', 5), hold('a', 'a3', 5)])
  const a = log.filter((line) => line.endsWith('a1') || line.endsWith('a2') || line.endsWith('a3'))
  assert.deepEqual(a, ['in a1', 'out a1', 'in a2', 'out a2', 'in a3', 'out a3'])
  assert.ok(log.indexOf('out b1') < log.indexOf('out a1'), 'b did not wait for a')
  const again = await locks.acquire('a')
  again()
})
