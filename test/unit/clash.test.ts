// Clashing destinations: which rules and tags are refused. Rules come from parseRules; listings from
// tables, not registries (the e2e test checks the same against real ones).
import assert from 'node:assert/strict'
import {test} from 'node:test'

import {parseRules, type Rule, type RuleDefaults} from '../../src/config/rules.js'
import {parseImageList} from '../../src/config/formats/image-list.js'
import {syncerEntry} from '../../src/config/formats/syncer-rules.js'
import {DestinationClaims, repositoryClashes} from '../../src/pipeline/clash.js'
import {generateJobs, jobsForRule, type Generated} from '../../src/pipeline/generate.js'
import {providerRules} from '../../src/providers/migrate.js'
import type {DestinationProvider, SourceProvider} from '../../src/providers/provider.js'
import {rulesForPush, withClaimants} from '../../src/serve/event-rules.js'

async function* list<T>(items: readonly T[]): AsyncGenerator<T> {
  for (const item of items) yield item
}

function rulesOf(text: string, defaults: RuleDefaults = {}): Rule[] {
  const {rules, errors} = parseRules(text, 'r.yaml', defaults, {entry: syncerEntry})
  assert.deepEqual(errors, [])
  return rules
}

/** Refused rule texts, and the first message (for its wording). */
function refusedBy(rules: Rule[]): {refused: string[]; first?: string} {
  const {refused} = repositoryClashes(rules)
  return {refused: refused.map((refusal) => refusal.rule).sort(), first: refused[0]?.error.message}
}

test('repositoryClashes: implicit mappings may not merge two source repositories; explicit rules may', () => {
  const ns = {registry: 'd.io', namespace: 'k8s'}
  const cases: [string, string, RuleDefaults, string[]][] = [
    [
      '--ns merges two controllers',
      "q.io/metallb/controller:v1: ''\nr.io/ingress-nginx/controller:v2: ''\n",
      ns,
      ['q.io/metallb/controller:v1', 'r.io/ingress-nginx/controller:v2'],
    ],
    ['--ns, different last components', "q.io/metallb/controller:v1: ''\nr.io/ingress-nginx/speaker:v2: ''\n", ns, []],
    ['--ns, one source repository with two tags', "q.io/a/app:v1: ''\nq.io/a/app:v2: ''\n", ns, []],
    ['--ns, the same repository by two spellings', "nginx:1: ''\ndocker.io/library/nginx:2: ''\n", ns, []],
    ['--flatten keeps whole paths apart', "q.io/metallb/controller:v1: ''\nr.io/ingress-nginx/controller:v2: ''\n", {...ns, flatten: '-'}, []],
    ['--flatten joins a-b and a/b', "s.io/team/a-b:v1: ''\ns.io/team/a/b:v1: ''\n", {...ns, flatten: '-'}, ['s.io/team/a-b:v1', 's.io/team/a/b:v1']],
    ['--flatten on explicit destinations', 's.io/x/a-b: d.io/m/a-b\ns.io/y/a/b: d.io/m/a/b\n', {flatten: '-'}, ['s.io/x/a-b', 's.io/y/a/b']],
    ['explicit destinations merging two repositories', 's.io/team/app: d.io/m/app\ns.io/tools/app: d.io/m/app\n', {}, []],
    ['an explicit rule meeting an implicit one', "s.io/team/app: d.io/k8s/app\ns.io/tools/app: ''\n", ns, ['s.io/team/app', 's.io/tools/app']],
    ['one source to two destinations', "s.io/team/app: ['d.io/a/app', '']\n", ns, []],
  ]
  for (const [name, text, defaults, expected] of cases) assert.deepEqual(refusedBy(rulesOf(text, defaults)).refused, expected.sort(), name)
  const {first} = refusedBy(rulesOf(cases[0]![1], ns))
  assert.equal(
    first,
    'destination clash: q.io/metallb/controller and r.io/ingress-nginx/controller would both go to d.io/k8s/controller (mapped there by --registry/--ns); ' +
      'neither is copied there: give one of them an explicit destination, or keep their whole paths with --flatten',
  )
})

test('repositoryClashes: an image list with --ns; a provider with --toNamespace; three sources', async () => {
  const listed = parseImageList('q.io/metallb/controller:v0.13\nregistry.k8s.io/ingress-nginx/controller:v1.9\nq.io/metallb/speaker:v0.13\n', 'images.list', {
    registry: 'd.io',
    namespace: 'k8s',
  })
  assert.deepEqual(refusedBy(listed.rules).refused, ['q.io/metallb/controller:v0.13', 'registry.k8s.io/ingress-nginx/controller:v1.9'])

  const from: SourceProvider = {
    name: 'registry',
    registry: 's.io',
    repositories: () => list([{repository: 'team/app'}, {repository: 'tools/app'}, {repository: 'app'}, {repository: 'team/lib'}]),
  }
  const to: DestinationProvider = {name: 'registry', registry: 'd.io', prepare: async () => undefined}
  const collect = async (toNamespace?: string) => {
    const rules: Rule[] = []
    for await (const rule of providerRules(from, to, {toNamespace})) if (!('refused' in rule)) rules.push(rule)
    return repositoryClashes(rules)
  }
  const merged = await collect('whole')
  assert.deepEqual(
    merged.refused.map((refusal) => refusal.rule),
    ['registry:s.io/team/app', 'registry:s.io/tools/app', 'registry:s.io/app'],
  )
  assert.deepEqual(
    merged.allowed.map((rule) => rule.destination.repository),
    ['whole/lib'],
  )
  assert.match(
    merged.refused[2]!.error.message,
    /^destination clash: s\.io\/app, s\.io\/team\/app and s\.io\/tools\/app would all go to d\.io\/whole\/app .*none of them is copied there/,
  )
  assert.deepEqual((await collect()).refused, [], 'without --toNamespace each repository keeps its path')
})

test('DestinationClaims: a tag claimed by two sources is refused for both once every claimant has finished', () => {
  const rules = rulesOf('s.io/team/app: d.io/m/app\ns.io/tools/app: d.io/m/app\ns.io/other/x: d.io/m/x\n')
  const [team, tools, other] = rules as [Rule, Rule, Rule]
  const claims = new DestinationClaims(rules)
  // A destination only one rule writes passes straight through.
  for (const job of jobsForRule(other, ['v1'])) assert.equal(claims.hold(job), false)
  for (const job of jobsForRule(team, ['v1', 'v2'])) assert.equal(claims.hold(job), true)
  // Nothing leaves while tools/app may still list v1.
  assert.deepEqual(claims.finished([team]), [])
  for (const job of jobsForRule(tools, ['v1', 'v3'])) assert.equal(claims.hold(job), true)
  const released = claims
    .finished([tools])
    .map((item) => (item.kind === 'job' ? `job ${item.job.source.repository}:${item.job.source.tag}` : `error ${item.error.code} ${item.error.message}`))
  assert.deepEqual(released.sort(), [
    'error DESTINATION_CLASH destination clash: d.io/m/app:v1 is the destination of both s.io/team/app:v1 and s.io/tools/app:v1; neither is copied there: give one of the rules another destination tag or repository',
    'error DESTINATION_CLASH destination clash: d.io/m/app:v1 is the destination of both s.io/tools/app:v1 and s.io/team/app:v1; neither is copied there: give one of the rules another destination tag or repository',
    'job team/app:v2',
    'job tools/app:v3',
  ])
})

test('DestinationClaims: the same source twice is no clash; a tag and a digest of one repository are (references, not digests)', () => {
  const same = rulesOf('s.io/team/app:v1: d.io/m/app:v1\ns.io/team/app: d.io/m/app\n')
  const claims = new DestinationClaims(same)
  for (const job of [...named(same[0]!), ...jobsForRule(same[1]!, ['v1'])]) claims.hold(job)
  assert.deepEqual(
    claims.finished(same).map((item) => item.kind),
    ['job', 'job'],
  )

  const pinned = rulesOf('"s.io/team/app@sha256:' + 'a'.repeat(64) + '": d.io/m/app:v1\ns.io/team/app:v1: d.io/m/app:v1\n')
  const byReference = new DestinationClaims(pinned)
  for (const rule of pinned) for (const job of named(rule)) byReference.hold(job)
  assert.deepEqual(
    byReference.finished(pinned).map((item) => item.kind),
    ['error', 'error'],
  )
})

/** The jobs of a rule that names its tags (or digest). */
function named(rule: Rule) {
  return jobsForRule(rule, rule.source.tags ?? [])
}

async function generated(rules: Rule[], catalog: Record<string, string[]>): Promise<string[]> {
  const out: string[] = []
  for await (const item of generateJobs(rules, {
    listTags: async function* (_registry, repository) {
      // Listings finish in a different order each time: the outcome must not depend on it.
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 5))
      yield* catalog[repository] ?? []
    },
    listRepositories: () => list(Object.keys(catalog)),
    listers: 3,
  }) as AsyncIterable<Generated>) {
    if (item.kind === 'job')
      for (const destination of [item.job.destination, ...(item.job.extraDestinations ?? [])])
        out.push(`${item.job.source.repository}:${item.job.source.tag} → ${destination.repository}:${destination.tag}`)
    else out.push(`${item.error.code} ${item.rule}`)
  }
  return out.sort()
}

test('generateJobs: the same outcome every run, whatever order listings finish in', async () => {
  const catalog = {'team/app': ['v1', 'v2'], 'tools/app': ['v1'], 'team/a-b': ['v1'], 'team/a/b': ['v1'], 'other/x': ['v1']}
  const cases: [string, string, RuleDefaults, string[]][] = [
    [
      'explicit, listed tags',
      's.io/team/app: d.io/m/app\ns.io/tools/app: d.io/m/app\ns.io/other/x: d.io/m/x\n',
      {},
      ['DESTINATION_CLASH s.io/team/app', 'DESTINATION_CLASH s.io/tools/app', 'other/x:v1 → m/x:v1', 'team/app:v2 → m/app:v2'],
    ],
    [
      'a pattern with --flatten',
      's.io/team/**: d.io/m\n',
      {flatten: '-'},
      ['DESTINATION_CLASH s.io/team/a-b', 'DESTINATION_CLASH s.io/team/a/b', 'team/app:v1 → m/app:v1', 'team/app:v2 → m/app:v2'],
    ],
    [
      'two patterns into one prefix',
      's.io/team/*: d.io/m\ns.io/tools/*: d.io/m\n',
      {},
      ['DESTINATION_CLASH s.io/team/app', 'DESTINATION_CLASH s.io/tools/app', 'team/a-b:v1 → m/a-b:v1'],
    ],
    [
      'one source to two destinations, one of them clashing',
      "s.io/team/app: ['d.io/m/app', 'd.io/n/app']\ns.io/tools/app: d.io/m/app\n",
      {},
      ['DESTINATION_CLASH s.io/team/app', 'DESTINATION_CLASH s.io/tools/app', 'team/app:v1 → n/app:v1', 'team/app:v2 → m/app:v2', 'team/app:v2 → n/app:v2'],
    ],
  ]
  for (const [name, text, defaults, expected] of cases) {
    const rules = rulesOf(text, defaults)
    for (let run = 0; run < 5; run++) assert.deepEqual(await generated(rules, catalog), expected.sort(), `${name}, run ${run + 1}`)
  }
})

test('the standing mirror: a push is checked against every rule writing its destination, as a full run is', async () => {
  const catalog = {'team/app': ['v1', 'v2'], 'tools/app': ['v1'], 'metallb/controller': ['v1'], 'ingress-nginx/controller': ['v1']}
  const push = (repository: string, tag: string) => ({id: '1', hosts: ['s.io'], repository, tag})
  const explicit = rulesOf('s.io/team/app: d.io/m/app\ns.io/tools/app: d.io/m/app\ns.io/other/x: d.io/m/x\n')
  const pushed = withClaimants(rulesForPush(explicit, push('team/app', 'v1')), explicit)
  assert.deepEqual(
    pushed.map((rule) => `${rule.source.repository}:${rule.source.tags?.join(',') ?? '*'}`),
    ['team/app:*', 'tools/app:*'],
  )
  // Whatever tag is pushed, the shared destination comes out as a full run leaves it: v1 refused for both.
  for (const tag of ['v1', 'v2']) {
    const rules = withClaimants(rulesForPush(explicit, push('team/app', tag)), explicit)
    assert.deepEqual(await generated(rules, catalog), ['DESTINATION_CLASH s.io/team/app', 'DESTINATION_CLASH s.io/tools/app', 'team/app:v2 → m/app:v2'], tag)
  }
  // A destination only one rule writes stays narrowed to the pushed tag.
  assert.deepEqual(
    withClaimants(rulesForPush(explicit, push('other/x', 'v7')), explicit).map((rule) => rule.source.tags),
    [['v7']],
  )

  const implicit = rulesOf("s.io/metallb/controller: ''\ns.io/ingress-nginx/controller: ''\n", {registry: 'd.io', namespace: 'k8s'})
  const merged = withClaimants(rulesForPush(implicit, push('metallb/controller', 'v1')), implicit)
  assert.deepEqual(await generated(merged, catalog), ['DESTINATION_CLASH s.io/ingress-nginx/controller', 'DESTINATION_CLASH s.io/metallb/controller'])
  assert.deepEqual(withClaimants(rulesForPush(implicit, push('unrelated/app', 'v1')), implicit), [], 'a push no rule matches starts nothing')
})
