import assert from 'node:assert/strict'
import {test} from 'node:test'

import {parseLock} from '../../src/config/lock-file.js'
import {buildLock, formatLockChange, lockChanges, lockKey, serializeLock, unusedLockEntries, type Lock, type LockedResult} from '../../src/lock.js'

const D = (n: number) => `sha256:${String(n).repeat(64).slice(0, 64)}`
const SRC = 'src.example.com/team/app'
const DST = 'dst.example.com/mirror/app'

const copied = (tag: string, digest: string, extra: Partial<LockedResult> = {}): LockedResult => ({
  source: `${SRC}:${tag}`,
  destination: `${DST}:${tag}`,
  status: 'copied',
  digest,
  destinationDigest: digest,
  ...extra,
})
const lockOf = (images: Lock['images']): Lock => ({version: 1, images})

test('lockKey: the tag without the digest a frozen job carries beside it; the digest when there is no tag', () => {
  const cases: [string, string][] = [
    [`${SRC}:1.0`, `${SRC}:1.0`],
    [`${SRC}:1.0@${D(1)}`, `${SRC}:1.0`],
    [`${SRC}@${D(1)}`, `${SRC}@${D(1)}`],
    ['nginx:1.25', 'docker.io/library/nginx:1.25'],
  ]
  for (const [source, key] of cases) assert.equal(lockKey(source), key, source)
})

test('buildLock: this run, the last good digest for what failed, unseen sources by completeness', () => {
  const previous = lockOf({
    [`${SRC}:1.0`]: {digest: D(1), destinations: {[`${DST}:1.0`]: D(1)}},
    [`${SRC}:old`]: {digest: D(9), destinations: {[`${DST}:old`]: D(9)}},
  })
  const cases: {name: string; results: LockedResult[]; previous?: Lock; keepUnseen?: boolean; want: Lock['images']}[] = [
    {name: 'a first run', results: [copied('1.0', D(1))], want: {[`${SRC}:1.0`]: {digest: D(1), destinations: {[`${DST}:1.0`]: D(1)}}}},
    {
      name: 'found equal counts; a tag that exists with another digest does not',
      results: [copied('1.0', D(1), {status: 'skipped', reason: 'same digest'}), copied('2.0', D(2), {status: 'skipped', reason: 'tag exists'})],
      want: {[`${SRC}:1.0`]: {digest: D(1), destinations: {[`${DST}:1.0`]: D(1)}}},
    },
    {
      name: 'a failed job keeps the last good digest',
      results: [{source: `${SRC}:1.0`, destination: `${DST}:1.0`, status: 'failed', digest: D(2)}],
      previous,
      want: {[`${SRC}:1.0`]: {digest: D(1), destinations: {[`${DST}:1.0`]: D(1)}}},
    },
    {
      name: 'a failed job without a previous entry is left out',
      results: [{source: `${SRC}:1.0`, destination: `${DST}:1.0`, status: 'failed'}],
      want: {},
    },
    {
      name: 'one destination failed: it keeps its digest, the others have the new one',
      results: [copied('1.0', D(2)), {source: `${SRC}:1.0`, destination: 'b.example.com/app:1.0', status: 'failed'}],
      previous: lockOf({[`${SRC}:1.0`]: {digest: D(1), destinations: {[`${DST}:1.0`]: D(1), 'b.example.com/app:1.0': D(1)}}}),
      want: {[`${SRC}:1.0`]: {digest: D(2), destinations: {[`${DST}:1.0`]: D(2), 'b.example.com/app:1.0': D(1)}}},
    },
    {
      name: 'a complete run drops sources it did not see',
      results: [copied('1.0', D(1))],
      previous,
      want: {[`${SRC}:1.0`]: {digest: D(1), destinations: {[`${DST}:1.0`]: D(1)}}},
    },
    {
      name: 'an incomplete run keeps them',
      results: [copied('1.0', D(3))],
      previous,
      keepUnseen: true,
      want: {[`${SRC}:1.0`]: {digest: D(3), destinations: {[`${DST}:1.0`]: D(3)}}, [`${SRC}:old`]: previous.images[`${SRC}:old`]!},
    },
    {
      name: 'a frozen source (tag@digest) and a platform subset: the subset digest at the destination',
      results: [copied('1.0', D(1), {source: `${SRC}:1.0@${D(1)}`, destinationDigest: D(5)})],
      want: {[`${SRC}:1.0`]: {digest: D(1), destinations: {[`${DST}:1.0`]: D(5)}}},
    },
    {
      name: 'the referrers each destination holds, once each; a cosign tag as tag@digest; a bad item left out',
      results: [
        copied('1.0', D(1), {referrers: {digests: [D(7), `sha256-${'1'.repeat(64)}.sig@${D(6)}`, 'sha256:bad']}}),
        copied('1.0', D(1), {destination: `${DST}:other`, referrers: {digests: [D(7)]}}),
      ],
      want: {
        [`${SRC}:1.0`]: {
          digest: D(1),
          destinations: {[`${DST}:1.0`]: D(1), [`${DST}:other`]: D(1)},
          referrers: [D(7), `sha256-${'1'.repeat(64)}.sig@${D(6)}`],
        },
      },
    },
    {
      name: 'a failed job keeps the last good referrers with its digest',
      results: [{source: `${SRC}:1.0`, destination: `${DST}:1.0`, status: 'failed'}],
      previous: lockOf({[`${SRC}:1.0`]: {digest: D(1), destinations: {[`${DST}:1.0`]: D(1)}, referrers: [D(7)]}}),
      want: {[`${SRC}:1.0`]: {digest: D(1), destinations: {[`${DST}:1.0`]: D(1)}, referrers: [D(7)]}},
    },
  ]
  for (const c of cases) {
    assert.deepEqual(buildLock(c.results, c.previous, {keepUnseen: c.keepUnseen ?? false}).images, c.want, c.name)
  }
  // The previous lock is not changed.
  assert.deepEqual(Object.keys(previous.images), [`${SRC}:1.0`, `${SRC}:old`])
})

test('serializeLock: sorted keys, the same bytes for the same lock whatever the order it was built in; parseLock reads it back', () => {
  const entries: Lock['images'] = {
    [`${SRC}:b`]: {digest: D(2), destinations: {'z.example.com/app:b': D(2), 'a.example.com/app:b': D(2)}, referrers: [D(8), D(7)]},
    [`${SRC}:a`]: {digest: D(1), destinations: {[`${DST}:a`]: D(1)}},
  }
  const reversed = Object.fromEntries(Object.entries(entries).reverse())
  const yamlText = serializeLock(lockOf(entries), 'yaml')
  assert.equal(serializeLock(lockOf(reversed), 'yaml'), yamlText)
  assert.ok(yamlText.indexOf(`${SRC}:a`) < yamlText.indexOf(`${SRC}:b`))
  assert.ok(yamlText.indexOf('a.example.com') < yamlText.indexOf('z.example.com'))
  assert.ok(yamlText.indexOf(D(7)) < yamlText.indexOf(D(8)))
  assert.match(yamlText, /^version: 1$/m)
  for (const format of ['yaml', 'json'] as const) {
    const text = serializeLock(lockOf(entries), format)
    const read = parseLock(text, `lock.${format}`)
    assert.equal(serializeLock(read, format), text, format)
  }
})

test('parseLock: one line naming the file (and line) for what a lock cannot say', () => {
  const good = `version: 1\nimages:\n  ${SRC}:1.0:\n    digest: ${D(1)}\n    destinations:\n      ${DST}:1.0: ${D(1)}\n`
  assert.equal(parseLock(good, 'l.yaml').images[`${SRC}:1.0`]!.digest, D(1))
  const cases: [string, RegExp][] = [
    ['- a\n', /^l\.yaml: a lock file is a map with version: and images:, found a list$/],
    ['version: 2\nimages: {}\n', /^l\.yaml:1: lock file has version 2; this ferry reads version 1/],
    ['images: {}\n', /^l\.yaml: lock file has no version/],
    [good.replace(D(1), 'sha256:abc'), /^l\.yaml:3: ".*:1\.0" digest: sha256 digest has 3 hex digits/],
    [good.replace(`${DST}:1.0`, 'dst.example.com/../x:1.0'), /^l\.yaml:3: invalid image reference/],
    [good.replace(`${SRC}:1.0:`, 'UPPER/Case:1.0:'), /^l\.yaml:3: invalid image reference/],
    ['version: 1\nimages: [a]\n', /^l\.yaml:2: images: is a list/],
    [`version: 1\nimages:\n  ${SRC}:1.0: ${D(1)}\n`, /^l\.yaml:3: ".*" is a string; it needs digest: and destinations:$/],
    [`${good}    referrers: [sha256:abc]\n`, /^l\.yaml:3: ".*:1\.0" referrer: sha256 digest has 3 hex digits/],
    [`${good}    referrers: ["-bad.sig@${D(2)}"]\n`, /^l\.yaml:3: ".*:1\.0" referrer "-bad\.sig@sha256:2+": its tag must start with/],
  ]
  const tagged = `${good}    referrers: ["sha256-${'1'.repeat(64)}.sig@${D(2)}", ${D(3)}]\n`
  assert.deepEqual(parseLock(tagged, 'l.yaml').images[`${SRC}:1.0`]!.referrers, [`sha256-${'1'.repeat(64)}.sig@${D(2)}`, D(3)])
  for (const [text, message] of cases) assert.throws(() => parseLock(text, 'l.yaml'), {message}, text)
})

test('lockChanges: moved, gone, new, sorted; unseen locked sources gone only after a complete listing', () => {
  const lock = lockOf({
    [`${SRC}:a`]: {digest: D(1), destinations: {}},
    [`${SRC}:b`]: {digest: D(2), destinations: {}},
    [`${SRC}:c`]: {digest: D(3), destinations: {}},
  })
  const current = new Map<string, string | undefined>([
    [`${SRC}:d`, D(4)],
    [`${SRC}:b`, undefined],
    [`${SRC}:a`, D(9)],
  ])
  assert.deepEqual(lockChanges(lock, current, {complete: true}).map(formatLockChange), [
    `moved ${SRC}:a ${D(1)} → ${D(9)}`,
    `gone  ${SRC}:b ${D(2)}`,
    `gone  ${SRC}:c ${D(3)}`,
    `new   ${SRC}:d ${D(4)}`,
  ])
  assert.deepEqual(
    lockChanges(lock, current, {complete: false}).map((change) => change.source),
    [`${SRC}:a`, `${SRC}:b`, `${SRC}:d`],
  )
  assert.deepEqual(lockChanges(lock, new Map([[`${SRC}:a`, D(1)]]), {complete: false}), [])
})

test('lockChanges: referrers added and removed at an image still at its locked digest, one line; a moved image says only moved', () => {
  const sig = `sha256-${'1'.repeat(64)}.sig`
  const lock = lockOf({
    [`${SRC}:a`]: {digest: D(1), destinations: {}, referrers: [D(7), `${sig}@${D(6)}`]},
    [`${SRC}:b`]: {digest: D(2), destinations: {}},
    [`${SRC}:c`]: {digest: D(3), destinations: {}, referrers: [D(7)]},
  })
  const current = new Map([
    [`${SRC}:a`, D(1)],
    [`${SRC}:b`, D(2)],
    [`${SRC}:c`, D(9)],
  ])
  const referrers = new Map([
    [`${SRC}:a`, [D(7), `${sig}@${D(5)}`, D(8)]],
    [`${SRC}:b`, []],
    [`${SRC}:c`, [D(8)]],
  ])
  assert.deepEqual(lockChanges(lock, current, {complete: true, referrers}).map(formatLockChange), [
    `referrers ${SRC}:a +${sig}@${D(5)} +${D(8)} -${sig}@${D(6)}`,
    `moved ${SRC}:c ${D(3)} → ${D(9)}`,
  ])
  // Referrers not asked (--referrers=false, a source without them): nothing said of them.
  assert.deepEqual(lockChanges(lock, new Map([[`${SRC}:a`, D(1)]]), {complete: false}), [])
})

test('unusedLockEntries: locked references no job copied, a frozen job (tag@digest) counting as its tag', () => {
  const lock = lockOf({
    [`${SRC}:b`]: {digest: D(2), destinations: {}},
    [`${SRC}:a`]: {digest: D(1), destinations: {}},
    [`${SRC}:c`]: {digest: D(3), destinations: {}},
  })
  assert.deepEqual(unusedLockEntries(lock, [{source: `${SRC}:c@${D(3)}`}, {source: `${SRC}:new`}]), [`${SRC}:a`, `${SRC}:b`])
  assert.deepEqual(unusedLockEntries(lock, [{source: `${SRC}:a`}, {source: `${SRC}:b`}, {source: `${SRC}:c`}]), [])
})
