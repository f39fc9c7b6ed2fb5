// Repository globs and tag filters, for a rule that lists tags and for a provider migration.
import assert from 'node:assert/strict'
import {after, before, test} from 'node:test'

import {pushImage, randomLayer, skopeoTags, startRegistry, type TestRegistry} from '../harness/index.js'
import {plainEntries, runCli, workDir} from './support.js'

let source: TestRegistry
let destination: TestRegistry
let work: Awaited<ReturnType<typeof workDir>>
const TAGS = ['v1.2.0', 'v1.3.0-rc.1', 'latest', 'v2.0.0']

before(async () => {
  ;[source, destination] = await Promise.all([startRegistry(), startRegistry()])
  work = await workDir()
  for (const repository of ['team/app', 'team/sub/tool', 'other/app']) {
    for (const tag of TAGS) await pushImage(source, repository, tag, {layers: [randomLayer(512, `${repository}:${tag}`)]})
  }
})

after(async () => {
  await Promise.all([source?.stop(), destination?.stop(), work?.cleanup()])
})

test('transfer: --includeTags/--excludeTags choose among listed tags; named tags are copied as named', async () => {
  const rules = await work.file(
    'rules.yaml',
    `${source.host}/team/app: ${destination.host}/t/app\n${source.host}/other/app:latest: ${destination.host}/t/named\n`,
  )
  const security = await work.file('security.yaml', plainEntries(source, destination))
  const run = await runCli([
    'transfer',
    '--ruleFile',
    rules,
    '--securityFile',
    security,
    '--includeTags',
    '^v',
    '--excludeTags',
    '-rc',
    '--includeTags',
    'nothing-matches-this',
  ])
  assert.equal(run.code, 0, run.stderr)
  assert.deepEqual((await skopeoTags(destination, 't/app')).sort(), ['v1.2.0', 'v2.0.0'])
  assert.deepEqual(await skopeoTags(destination, 't/named'), ['latest'])
})

test('migrate: --repositories globs and tag filters select what a provider enumerates', async () => {
  const security = await work.file('security-m.yaml', plainEntries(source, destination))
  const run = await runCli([
    'migrate',
    '--from',
    'registry',
    '--fromRegistry',
    source.host,
    '--to',
    'registry',
    '--toRegistry',
    destination.host,
    '--toNamespace',
    'm',
    '--securityFile',
    security,
    '--repositories',
    'team/**',
    '--excludeTags',
    'rc|latest',
    '--json',
  ])
  assert.equal(run.code, 0, run.stderr)
  const report = JSON.parse(run.stdout)
  assert.deepEqual(report.jobs.map((r: {destination: string}) => r.destination.replace(`${destination.host}/`, '')).sort(), [
    'm/app:v1.2.0',
    'm/app:v2.0.0',
    'm/sub/tool:v1.2.0',
    'm/sub/tool:v2.0.0',
  ])
  assert.deepEqual((await skopeoTags(destination, 'm/sub/tool')).sort(), ['v1.2.0', 'v2.0.0'])
})

test('a bad regular expression is a one-line error, exit 2', async () => {
  const rules = await work.file('rules-bad.yaml', `${source.host}/team/app: ${destination.host}/t/app\n`)
  const run = await runCli(['transfer', '--ruleFile', rules, '--includeTags', '(unclosed'])
  assert.equal(run.code, 2)
  assert.match(run.stderr, /^Error: --includeTags "\(unclosed" is not a regular expression/)
  assert.equal(run.stderr.trim().split('\n').length, 1)
})
