import assert from 'node:assert/strict'
import {test} from 'node:test'

import {
  pinnedElsewhere,
  planFromHeads,
  planFromManifest,
  type DestinationHead,
  type PlanOptions,
  type PlannedDestination,
  type PlatformSubset,
} from '../../src/transfer/copy-plan.js'

const S = 'sha256:source'
const U = 'sha256:subset'
const X = 'sha256:other'
const refused = new Error('HEAD refused')

const absent: DestinationHead = {kind: 'absent'}
const at = (digest: string): DestinationHead => ({kind: 'present', digest})
const tag = (head: DestinationHead): PlannedDestination => ({head, tagged: true})
const pin = (head: DestinationHead, pinned?: string): PlannedDestination => ({head, tagged: false, ...(pinned ? {pinned} : {})})
const plain: PlanOptions = {subsetting: false}
const keepTags: PlanOptions = {subsetting: false, overwriteTags: false}

test('planFromHeads: what the HEADs alone settle, and what needs the manifest', () => {
  const cases: [string, string | undefined, PlannedDestination, PlanOptions, unknown][] = [
    ['a HEAD that failed fails this destination alone', S, tag({kind: 'unreachable', error: refused}), plain, {kind: 'failed', error: refused}],
    ['absent: needs the manifest', S, tag(absent), plain, {kind: 'fetch'}],
    ['same digest: skipped without a GET', S, tag(at(S)), plain, {kind: 'skip', reason: 'same digest', digest: S, destinationDigest: S}],
    [
      'same digest under --dryRun: skipped the same',
      S,
      tag(at(S)),
      {...plain, dryRun: true},
      {kind: 'skip', reason: 'same digest', digest: S, destinationDigest: S},
    ],
    ['same digest under --deep: the references are checked', S, tag(at(S)), {...plain, deep: true}, {kind: 'fetch'}],
    ['another digest: copied over', S, tag(at(X)), plain, {kind: 'fetch'}],
    ['another digest, overwriteTags true: copied over', S, tag(at(X)), {...plain, overwriteTags: true}, {kind: 'fetch'}],
    ['another digest, tag kept: tag exists', S, tag(at(X)), keepTags, {kind: 'skip', reason: 'tag exists', digest: S, destinationDigest: X}],
    [
      'another digest, tag kept, --deep: tag exists all the same',
      S,
      tag(at(X)),
      {...keepTags, deep: true},
      {kind: 'skip', reason: 'tag exists', digest: S, destinationDigest: X},
    ],
    ['another digest, tag kept, a digest destination: no tag to keep', S, pin(at(X)), keepTags, {kind: 'fetch'}],
    [
      'the source HEAD found nothing, tag kept: tag exists with no source digest',
      undefined,
      tag(at(X)),
      keepTags,
      {kind: 'skip', reason: 'tag exists', digest: '', destinationDigest: X},
    ],
    ['the source HEAD found nothing: needs the manifest', undefined, tag(at(X)), plain, {kind: 'fetch'}],
    ['--platform, same digest: the subset decides', S, tag(at(S)), {subsetting: true}, {kind: 'fetch'}],
    ['--platform, another digest, tag kept: the subset decides', S, tag(at(X)), {subsetting: true, overwriteTags: false}, {kind: 'fetch'}],
    ['--platform, a HEAD that failed: failed', S, tag({kind: 'unreachable', error: refused}), {subsetting: true}, {kind: 'failed', error: refused}],
  ]
  for (const [name, source, destination, options, expected] of cases) {
    assert.deepEqual(planFromHeads(source, [destination], options), [expected], name)
  }
})

test('planFromHeads decides each destination on its own', () => {
  const destinations = [tag(at(S)), tag({kind: 'unreachable', error: refused}), tag(absent), tag(at(X))]
  assert.deepEqual(
    planFromHeads(S, destinations, keepTags).map((decision) => decision.kind),
    ['skip', 'failed', 'fetch', 'skip'],
  )
})

test('pinnedElsewhere: the first digest a rule names that the source does not have', () => {
  const cases: [PlannedDestination[], string | undefined][] = [
    [[pin(absent)], undefined],
    [[pin(absent, S)], undefined],
    [[pin(absent, X)], X],
    [[pin(absent, S), pin(absent, X), pin(absent, U)], X],
  ]
  for (const [destinations, expected] of cases) assert.equal(pinnedElsewhere(destinations, S), expected, JSON.stringify(destinations))
})

test('planFromManifest: skip, tag exists, planned, repair, copy', () => {
  const all: PlatformSubset = {kind: 'all'}
  const reduced = "index reduced to 1 of 2 manifests (linux/amd64): the destination digest differs from the source's"
  const subset: PlatformSubset = {kind: 'keep', digest: U, note: reduced}
  const whole: PlatformSubset = {kind: 'keep', digest: S}
  const leave: PlatformSubset = {kind: 'leave', note: 'platform not selected: the image is linux/arm64, not linux/amd64'}
  const sub: PlanOptions = {subsetting: true}
  const cases: [string, PlatformSubset, PlannedDestination, PlanOptions, unknown][] = [
    ['absent: copied', all, tag(absent), plain, {kind: 'copy'}],
    ['another digest: copied over', all, tag(at(X)), plain, {kind: 'copy'}],
    // Reached only when the HEADs said otherwise than the manifest: the tag guard is the HEADs' step.
    ['another digest, tag kept, whole image: copied', all, tag(at(X)), keepTags, {kind: 'copy'}],
    ['same digest under --deep: repaired', all, tag(at(S)), {...plain, deep: true}, {kind: 'repair'}],
    [
      'same digest under --deep --dryRun: skipped',
      all,
      tag(at(S)),
      {...plain, deep: true, dryRun: true},
      {kind: 'skip', reason: 'same digest', digest: S, destinationDigest: S},
    ],
    ['same digest: skipped', all, tag(at(S)), plain, {kind: 'skip', reason: 'same digest', digest: S, destinationDigest: S}],
    ['--dryRun, absent: planned as new', all, tag(absent), {...plain, dryRun: true}, {kind: 'planned', digest: S, note: 'new at the destination'}],
    ['--dryRun, another digest: planned as a move', all, tag(at(X)), {...plain, dryRun: true}, {kind: 'planned', digest: S, note: `moves the tag from ${X}`}],
    ['--platform leaves the image out', leave, tag(absent), sub, {kind: 'skip', reason: 'platform not selected', digest: S, note: leave.note}],
    [
      '--platform leaves it out, whatever the destination holds',
      leave,
      tag(at(S)),
      {...sub, dryRun: true},
      {kind: 'skip', reason: 'platform not selected', digest: S, note: leave.note},
    ],
    ['subset, absent: copied, noted', subset, tag(absent), sub, {kind: 'copy', note: reduced}],
    ['subset already there: skipped, noted', subset, tag(at(U)), sub, {kind: 'skip', reason: 'same digest', digest: S, destinationDigest: U, note: reduced}],
    ['subset already there, --deep: repaired, noted', subset, tag(at(U)), {...sub, deep: true}, {kind: 'repair', note: reduced}],
    ['subset, the whole index there: copied over, noted', subset, tag(at(S)), sub, {kind: 'copy', note: reduced}],
    [
      'subset, the whole index there, tag kept: tag exists, noted',
      subset,
      tag(at(S)),
      {...sub, overwriteTags: false},
      {kind: 'skip', reason: 'tag exists', digest: S, destinationDigest: S, note: reduced},
    ],
    ['subset, a digest destination, tag kept: copied', subset, pin(at(X)), {...sub, overwriteTags: false}, {kind: 'copy', note: reduced}],
    [
      'subset, --dryRun, absent: planned with the note',
      subset,
      tag(absent),
      {...sub, dryRun: true},
      {kind: 'planned', digest: S, note: `new at the destination; ${reduced}`},
    ],
    [
      'subset, --dryRun, another digest: planned as a move with the note',
      subset,
      tag(at(X)),
      {...sub, dryRun: true},
      {kind: 'planned', digest: S, note: `moves the tag from ${X}; ${reduced}`},
    ],
    ['every platform wanted: the index unchanged, no note', whole, tag(at(S)), sub, {kind: 'skip', reason: 'same digest', digest: S, destinationDigest: S}],
    [
      'every platform wanted, tag kept: tag exists, no note',
      whole,
      tag(at(X)),
      {...sub, overwriteTags: false},
      {kind: 'skip', reason: 'tag exists', digest: S, destinationDigest: X},
    ],
    ['a note for an unchanged digest is not shown', {kind: 'keep', digest: S, note: 'unused'}, tag(absent), sub, {kind: 'copy'}],
  ]
  for (const [name, selection, destination, options, expected] of cases) {
    assert.deepEqual(planFromManifest(S, selection, [destination], options), [expected], name)
  }
})

test('planFromManifest decides each destination on its own', () => {
  const destinations = [tag(absent), tag(at(S)), tag(at(X))]
  assert.deepEqual(
    planFromManifest(S, {kind: 'all'}, destinations, {subsetting: false, deep: true}).map((decision) => decision.kind),
    ['copy', 'repair', 'copy'],
  )
})
