// --prune's decisions for one repository, from tables: which gone tags are deleted (by digest) and
// which stay, and why. The e2e test (test/e2e/prune.test.ts) runs the same against Distribution.
import assert from 'node:assert/strict'
import {test} from 'node:test'

import {attachedSubject, goneTags, planRepository, selectedAtSource, type ListingScope} from '../../src/engine/prune-plan.js'

const A = `sha256:${'a'.repeat(64)}`
const B = `sha256:${'b'.repeat(64)}`
const C = `sha256:${'c'.repeat(64)}`
const S = `sha256:${'5'.repeat(64)}`
const sig = (digest: string, suffix = '.sig') => `${digest.replace(':', '-')}${suffix}`

const listing = (tags: string[], inScope: (tag: string) => boolean = () => true): ListingScope => ({tags: new Set(tags), inScope})

test('attachedSubject reads cosign and referrers-tag-schema tags, nothing else', () => {
  const cases: [string, string | undefined][] = [
    [sig(A), A],
    [sig(A, '.att'), A],
    [sig(A, '.sbom'), A],
    [sig(A, ''), A],
    [`sha512-${'f'.repeat(128)}.sig`, `sha512:${'f'.repeat(128)}`],
    [`sha256-${'a'.repeat(63)}.sig`, undefined],
    [`${sig(A)}.old`, undefined],
    ['v1', undefined],
    [`sha256-${'A'.repeat(64)}.sig`, undefined],
  ]
  for (const [tag, want] of cases) assert.equal(attachedSubject(tag), want, tag)
})

test('goneTags: in some listing scope, listed by none', () => {
  const cases: {destination: string[]; listings: ListingScope[]; want: string[]}[] = [
    {destination: ['v1', 'v0', 'dev'], listings: [listing(['v1'])], want: ['v0', 'dev']},
    {destination: ['v1', 'v0', 'dev'], listings: [listing(['v1'], (tag) => tag.startsWith('v'))], want: ['v0']},
    // Two rules write one repository: a tag the other source still lists is not gone.
    {destination: ['v1', 'x1'], listings: [listing(['v2'], (tag) => tag.startsWith('v')), listing(['v1', 'x1'], (tag) => tag.startsWith('x'))], want: []},
    {destination: [], listings: [listing([])], want: []},
  ]
  for (const {destination, listings, want} of cases) assert.deepEqual(goneTags(destination, listings), want)
})

test('selectedAtSource counts only tags the filters select', () => {
  assert.equal(selectedAtSource([listing(['v1', 'dev'], (tag) => tag.startsWith('v'))]), 1)
  assert.equal(selectedAtSource([listing(['dev'], (tag) => tag.startsWith('v'))]), 0)
  assert.equal(selectedAtSource([]), 0)
})

test('planRepository: deletes by digest only what no kept tag holds; signatures stay with kept images', () => {
  const cases: {
    name: string
    tags: [string, string][]
    gone: string[]
    children?: [string, string][]
    byTag?: boolean
    deletes: {digest: string; tags: string[]}[]
    kept: [string, RegExp][]
  }[] = [
    {
      name: 'a gone tag alone on its digest',
      tags: [
        ['v1', A],
        ['v0', B],
      ],
      gone: ['v0'],
      deletes: [{digest: B, tags: ['v0']}],
      kept: [],
    },
    {
      name: 'two gone tags on one digest: one delete',
      tags: [
        ['v1', A],
        ['v0', B],
        ['old', B],
      ],
      gone: ['v0', 'old'],
      deletes: [{digest: B, tags: ['v0', 'old']}],
      kept: [],
    },
    {
      name: 'a digest a kept tag shares',
      tags: [
        ['v1', A],
        ['v1-old', A],
      ],
      gone: ['v1-old'],
      deletes: [],
      kept: [['v1-old', /also tag v1/]],
    },
    {
      name: 'a child of a kept index',
      tags: [
        ['multi', C],
        ['amd64', A],
      ],
      gone: ['amd64'],
      children: [[A, 'multi']],
      deletes: [],
      kept: [['amd64', /child of tag multi/]],
    },
    {
      name: "a kept image's signature",
      tags: [
        ['v1', A],
        [sig(A), S],
      ],
      gone: [sig(A)],
      deletes: [],
      kept: [[sig(A), /attaches to/]],
    },
    {
      name: 'a gone image goes with its signature',
      tags: [
        ['v1', A],
        ['v0', B],
        [sig(B), S],
      ],
      gone: ['v0', sig(B)],
      deletes: [
        {digest: B, tags: ['v0']},
        {digest: S, tags: [sig(B)]},
      ],
      kept: [],
    },
    {
      name: 'a kept signature holds its own digest (the referrers index of the signature too)',
      tags: [
        ['v1', A],
        [sig(A), S],
        [sig(S, ''), C],
      ],
      gone: [sig(A), sig(S, '')],
      deletes: [],
      kept: [
        [sig(A), /attaches/],
        [sig(S, ''), /attaches/],
      ],
    },
    {
      name: "Harbor's tag API: a shared digest does not hold a tag",
      tags: [
        ['v1', A],
        ['v1-old', A],
      ],
      gone: ['v1-old'],
      byTag: true,
      deletes: [{digest: A, tags: ['v1-old']}],
      kept: [],
    },
  ]
  for (const each of cases) {
    const plan = planRepository({
      tags: each.tags.map(([tag, digest]) => ({tag, digest})),
      gone: new Set(each.gone),
      children: new Map(each.children ?? []),
      byTag: each.byTag,
    })
    assert.deepEqual(plan.deletes, each.deletes, each.name)
    assert.deepEqual(
      plan.kept.map((kept) => kept.tag),
      each.kept.map(([tag]) => tag),
      each.name,
    )
    each.kept.forEach(([, reason], index) => assert.match(plan.kept[index]!.reason, reason, each.name))
  }
})
