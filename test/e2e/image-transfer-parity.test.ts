// image-transfer's own README, run as written but for the hosts: its two usage examples (with
// Go-style `--flag=value` and `--ccrToTcr=true`), its rule and secret files, plus the flags it
// documents (--tag-exist-overridden, DEFAULT_REGISTRY/DEFAULT_NAMESPACE, --ccrTagNums).
import assert from 'node:assert/strict'
import {after, before, describe, test} from 'node:test'

import {pushImage, randomLayer, skopeoDigest, skopeoTags, startRegistry, type TestRegistry} from '../harness/index.js'
import {startFakeTcr, type FakeTcr} from '../fakes/tcr-api.js'
import {runCli, workDir} from './support.js'

let source: TestRegistry
let destination: TestRegistry
let work: Awaited<ReturnType<typeof workDir>>
const digests = new Map<string, string>()

before(async () => {
  ;[source, destination] = await Promise.all([startRegistry(), startRegistry({auth: 'htpasswd', users: {robot: 'pw-parity-1'}})])
  work = await workDir()
  for (const [repository, tag] of [
    ['demo-ns/nginx', 'latest'],
    ['demo-ns/redis', '7'],
    ['demo-ns/keep', 'v1'],
    ['many/app', 'v1'],
    ['many/app', 'v2'],
    ['many/app', 'v3'],
  ] as const) {
    const image = await pushImage(source, repository, tag, {layers: [randomLayer(2048, `${repository}:${tag}`)]})
    digests.set(`${repository}:${tag}`, image.digest)
  }
})

after(async () => {
  await Promise.all([source?.stop(), destination?.stop(), work?.cleanup()])
})

/** registry-secret.yaml as image-transfer's README writes it, hosts swapped in. */
async function registrySecret(): Promise<string> {
  return work.file(
    'registry-secret.yaml',
    `${source.host}:\n  insecure: true\n${destination.host}:\n  username: robot\n  password: pw-parity-1\n  insecure: true\nregistry.hub.docker.com:\n  username: xxx\n  password: xxx\n`,
  )
}

test('usage example 1 (general mode), with --flag=value syntax and a default registry/namespace', async () => {
  // The README's one rule, `demo-ns/nginx:latest : image-transfer.tencentcloudcr.com/demo-ns/nginx:latest`,
  // hosts swapped; plus an empty destination that --registry/--ns fill.
  const rules = await work.file(
    'transfer-rule.yaml',
    `${source.host}/demo-ns/nginx:latest : ${destination.host}/demo-ns/nginx:latest\n${source.host}/demo-ns/redis:7 :\n`,
  )
  const security = await registrySecret()
  const run = await runCli([
    'transfer',
    `--securityFile=${security}`,
    `--ruleFile=${rules}`,
    '--ns=default',
    `--registry=${destination.host}`,
    '--routines=5',
    '--retry=3',
  ])
  assert.equal(run.code, 0, run.stderr)
  assert.match(run.stdout, /Finished, 0 transfer jobs failed, 0 jobs generate failed/)
  assert.equal(await skopeoDigest(destination, 'demo-ns/nginx:latest'), digests.get('demo-ns/nginx:latest'))
  assert.equal(await skopeoDigest(destination, 'default/redis:7'), digests.get('demo-ns/redis:7'))
})

test('--tag-exist-overridden=false leaves a differing destination tag untouched and exits 0', async () => {
  const other = await pushImage(destination, 'mirror/keep', 'v1', {layers: [randomLayer(1024, 'already-there')]})
  assert.notEqual(other.digest, digests.get('demo-ns/keep:v1'))
  const rules = await work.file('keep.yaml', `${source.host}/demo-ns/keep:v1: ${destination.host}/mirror/keep\n`)
  const security = await registrySecret()
  const run = await runCli(['transfer', `--securityFile=${security}`, `--ruleFile=${rules}`, '--tag-exist-overridden=false'])
  assert.equal(run.code, 0, run.stderr)
  assert.match(run.stderr, /skipped .*mirror\/keep:v1 \(tag exists\)/)
  assert.match(run.stdout, /0 copied, 1 skipped/)
  assert.equal(await skopeoDigest(destination, 'mirror/keep:v1'), other.digest)

  // The default (true, as image-transfer) moves the tag.
  const moved = await runCli(['transfer', `--securityFile=${security}`, `--ruleFile=${rules}`, '--tag-exist-overridden=true'])
  assert.equal(moved.code, 0, moved.stderr)
  assert.equal(await skopeoDigest(destination, 'mirror/keep:v1'), digests.get('demo-ns/keep:v1'))
})

test('a generated JSON rule file whose tag list ends with a comma warns and copies the tags', async () => {
  const rules = await work.file('generated.json', `{"${source.host}/many/app:v1,v2,": "${destination.host}/json/app"}\n`)
  const run = await runCli(['transfer', `--securityFile=${await registrySecret()}`, `--ruleFile=${rules}`])
  assert.equal(run.code, 0, run.stderr)
  assert.match(run.stderr, /generated\.json:1: rule .* an empty tag in the tag list ignored/)
  assert.deepEqual((await skopeoTags(destination, 'json/app')).sort(), ['v1', 'v2'])
})

describe('usage example 2 (CCR one-click mode) against the fake Tencent API', () => {
  let fake: FakeTcr
  const LOGIN = {username: '100012345678', token: 'tcr-temporary-login-parity'}
  let tcr: TestRegistry

  before(async () => {
    tcr = await startRegistry({auth: 'htpasswd', users: {[LOGIN.username]: LOGIN.token}})
    fake = await startFakeTcr({
      ccr: {
        server: source.host,
        namespaces: ['demo-ns', 'many'],
        repositories: [
          {name: 'demo-ns/nginx', tags: [{name: 'latest', pushTime: '2023-01-01 00:00:00'}]},
          {
            name: 'many/app',
            tags: [
              {name: 'v1', pushTime: '2022-01-01 00:00:00'},
              {name: 'v2', pushTime: '2024-01-01 00:00:00'},
              {name: 'v3', pushTime: '2023-01-01 00:00:00'},
            ],
          },
        ],
      },
      instances: [{id: 'tcr-parity', name: 'image-transfer', region: 'ap-guangzhou', publicDomain: tcr.host}],
      login: LOGIN,
    })
  })

  after(async () => {
    await Promise.all([fake?.stop(), tcr?.stop()])
  })

  test('--ccrToTcr=true with tencentcloud-secret.yaml copies CCR into TCR; --ccrTagNums 2 keeps the two newest', async () => {
    const secret = await work.file('tencentcloud-secret.yaml', `ccr:\n    secretId: ${fake.secretId}\n    secretKey: ${fake.secretKey}\n`)
    const security = await work.file('ccr-registry-secret.yaml', `${source.host}:\n  insecure: true\n${tcr.host}:\n  insecure: true\n`)
    const run = await runCli(
      [
        'transfer',
        '--ccrToTcr=true',
        `--securityFile=${security}`,
        `--secretFile=${secret}`,
        '--tcrName=image-transfer',
        '--tcrRegion=ap-guangzhou',
        '--ccrRegion=ap-guangzhou',
        '--routines=5',
        '--retry=3',
        '--ccrTagNums',
        '2',
      ],
      {env: {FERRY_ENDPOINT_TCR: fake.url}},
    )
    assert.equal(run.code, 0, run.stderr)
    assert.equal(await skopeoDigest(tcr, 'demo-ns/nginx:latest'), digests.get('demo-ns/nginx:latest'))
    // v2 (2024) and v3 (2023) are the newest by push time; v1 is left out, and said so.
    assert.deepEqual((await skopeoTags(tcr, 'many/app')).sort(), ['v2', 'v3'])
    assert.match(run.stderr, /many\/app: 1 older tags left out/)
    assert.match(run.stdout, /Tags left out by the tag limit: 1 in 1 repositories/)
    assert.doesNotMatch(run.stdout + run.stderr, new RegExp(fake.secretKey))
  })
})
