import assert from 'node:assert/strict'
import {test} from 'node:test'

import {parseRules} from '../../src/config/rules.js'
import {syncerEntry} from '../../src/config/formats/syncer-rules.js'
import {rulesForPush, subjectOfReferrerTag} from '../../src/serve/event-rules.js'

const hex = 'a'.repeat(64)
const rules = parseRules(
  's.io/team/app: d.io/m/app\ns.io/team/app:v1: d.io/pinned/app:v1\ns.io/team/app:/^v/: d.io/pattern/app\ns.io/other/x: d.io/m/x\n',
  'r.yaml',
  {},
  {entry: syncerEntry},
).rules
const push = (tag: string) => ({id: '1', hosts: ['s.io'], repository: 'team/app', tag})
const shown = (matched: ReturnType<typeof rulesForPush>) =>
  matched.map(
    (rule) =>
      `${rule.source.repository}${rule.source.digest ? `@${rule.source.digest}` : `:${rule.source.tags?.join(',') ?? '*'}`} → ${rule.destination.repository}${rule.destination.tag ? `:${rule.destination.tag}` : ''}`,
  )

test('a push of a referrer tag starts the job of its subject by digest, for the rules that copy every tag', () => {
  const cases: {name: string; tag: string; referrers?: boolean; expected: string[]}[] = [
    {name: 'a plain tag, as before', tag: 'v1', expected: ['team/app:v1 → m/app', 'team/app:v1 → pinned/app:v1', 'team/app:v1 → pattern/app']},
    {name: "cosign's signature tag", tag: `sha256-${hex}.sig`, expected: [`team/app@sha256:${hex} → m/app`]},
    {name: 'the fallback index', tag: `sha256-${hex}`, expected: [`team/app@sha256:${hex} → m/app`]},
    {
      name: 'referrers off: the tag as any other',
      tag: `sha256-${hex}.att`,
      referrers: false,
      expected: [`team/app:sha256-${hex}.att → m/app`, `team/app:sha256-${hex}.att → pattern/app`],
    },
  ]
  for (const item of cases) {
    assert.deepEqual(shown(rulesForPush(rules, push(item.tag), undefined, {referrers: item.referrers})), item.expected, item.name)
  }
  assert.equal(subjectOfReferrerTag(`sha256-${hex}.sbom`), `sha256:${hex}`)
  assert.equal(subjectOfReferrerTag('sha256-abc.sig'), undefined)
})
