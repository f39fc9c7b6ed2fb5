// Tag selection (flags and rule maps), flattening and namespace patterns, against real registries.
import assert from 'node:assert/strict'
import {after, before, test} from 'node:test'

import {pushImage, randomLayer, skopeoDigest, skopeoTags, startRegistry, type TestRegistry} from '../harness/index.js'
import {plainEntries, runCli, workDir} from './support.js'

let source: TestRegistry
let destination: TestRegistry
let work: Awaited<ReturnType<typeof workDir>>
let security: string
const TAGS = ['v1.2.0', '1.3.0', 'v2.0.0-rc.1', 'latest', 'stable', '1.10.1']

before(async () => {
  ;[source, destination] = await Promise.all([startRegistry(), startRegistry()])
  work = await workDir()
  security = await work.file('security.yaml', plainEntries(source, destination))
  for (const tag of TAGS) await pushImage(source, 'team/app', tag, {layers: [randomLayer(256, `team/app:${tag}`)]})
  for (const tag of ['1.0.0', '2.0.0']) await pushImage(source, 'team/sub/tool', tag, {layers: [randomLayer(256, `team/sub/tool:${tag}`)]})
  await pushImage(source, 'other/app', '1.0.0', {layers: [randomLayer(256, 'other/app')]})
})

after(async () => {
  await Promise.all([source?.stop(), destination?.stop(), work?.cleanup()])
})

const sorted = async (repository: string) => (await skopeoTags(destination, repository)).sort()

async function transfer(rules: string, ...flags: string[]) {
  const file = await work.file(`rules-${Math.random().toString(36).slice(2)}.yaml`, rules)
  const run = await runCli(['transfer', '--ruleFile', file, '--securityFile', security, ...flags])
  assert.equal(run.code, 0, run.stderr + run.stdout)
  return run
}

test('--semver keeps the versions in the range (leading v allowed, prereleases by semver rules, non-versions out)', async () => {
  await transfer(`${source.host}/team/app: ${destination.host}/semver/app\n`, '--semver', '>=1.2 <2')
  assert.deepEqual(await sorted('semver/app'), ['1.10.1', '1.3.0', 'v1.2.0'])
})

test('--latest N takes the N highest versions in semver order (1.10.1 above 1.3.0), never latest/stable', async () => {
  await transfer(`${source.host}/team/app: ${destination.host}/latest/app\n`, '--latest', '2', '--excludeTags', 'rc')
  assert.deepEqual(await sorted('latest/app'), ['1.10.1', '1.3.0'])
})

test('include → exclude → semver → latest from flags and a rule map together', async () => {
  // Run: versions < 3, which by semver's prerelease rule leaves out 2.0.0-rc.1; then the rule:
  // ^v tags only (v1.2.0), of which the single highest. Without the run's range, the rc wins.
  await transfer(`${source.host}/team/app: {target: ${destination.host}/both/app, includeTags: ['^v'], latest: 1}\n`, '--semver', '<3')
  assert.deepEqual(await sorted('both/app'), ['v1.2.0'])
  await transfer(`${source.host}/team/app: {target: ${destination.host}/both2/app, includeTags: ['^v'], latest: 1}\n`)
  assert.deepEqual(await sorted('both2/app'), ['v2.0.0-rc.1'])
  await transfer(`${source.host}/team/app:\n  target: ${destination.host}/names/app\n  includeTags: [stable, latest]\n  excludeTags: latest\n`)
  assert.deepEqual(await sorted('names/app'), ['stable'])
})

test('a wrong key in a rule map fails that rule with file:line and the key; the others run', async () => {
  const file = await work.file(
    'bad-map.yaml',
    `${source.host}/other/app: ${destination.host}/ok/app\n${source.host}/team/app:\n  target: ${destination.host}/x/app\n  lastest: 3\n`,
  )
  const run = await runCli(['transfer', '--ruleFile', file, '--securityFile', security])
  assert.equal(run.code, 1)
  assert.match(run.stdout + run.stderr, new RegExp(`bad-map\\.yaml:4: rule "${source.host}/team/app": key "lastest": not a rule key`))
  assert.deepEqual(await sorted('ok/app'), ['1.0.0'])
  const badFlag = await runCli(['transfer', '--ruleFile', file, '--semver', 'soon'])
  assert.equal(badFlag.code, 2)
  assert.match(badFlag.stderr, /^Error: --semver "soon" is not a semver range/)
})

test('--flatten: rule case 6 joins the whole source path; an explicit destination keeps its namespace', async () => {
  await transfer(
    `${source.host}/team/sub/tool:1.0.0:\n${source.host}/other/app: ${destination.host}/flat/deep/er/app\n`,
    '--registry',
    destination.host,
    '--ns',
    'ns',
    '--flatten',
  )
  assert.deepEqual(await sorted('ns/team-sub-tool'), ['1.0.0'])
  assert.deepEqual(await sorted('flat/deep-er-app'), ['1.0.0'])
  await transfer(`${source.host}/team/sub/tool:2.0.0:\n`, '--registry', destination.host, '--ns', 'ns', '--flatten', '--flattenSeparator', '_')
  assert.deepEqual(await sorted('ns/team_sub_tool'), ['2.0.0'])
  assert.equal(await skopeoDigest(destination, 'ns/team_sub_tool:2.0.0'), await skopeoDigest(source, 'team/sub/tool:2.0.0'))
})

test('a namespace pattern maps every repository under team/ (from the catalog) to mirror/, keeping the rest of the path', async () => {
  const run = await transfer(`${source.host}/team/**: {target: ${destination.host}/mirror, latest: 1}\n`, '--json')
  const report = JSON.parse(run.stdout)
  assert.deepEqual(report.jobs.map((r: {destination: string}) => r.destination.replace(`${destination.host}/`, '')).sort(), [
    'mirror/app:v2.0.0-rc.1',
    'mirror/sub/tool:2.0.0',
  ])
  assert.deepEqual(await sorted('mirror/sub/tool'), ['2.0.0'])
  // `*` stays one level down; with --flatten the deeper path is joined under the namespace.
  await transfer(
    `${source.host}/team/*: ${destination.host}/one\n${source.host}/team/sub/*: ${destination.host}/flat2\n`,
    '--semver',
    '1.0.0 || 1.3.0',
    '--flatten',
  )
  assert.deepEqual(await sorted('one/app'), ['1.3.0'])
  assert.deepEqual(await sorted('flat2/tool'), ['1.0.0'])
})
