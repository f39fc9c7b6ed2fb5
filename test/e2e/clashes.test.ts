// Clashing destinations: two different sources must never write one destination tag. Implicit
// mappings (--toNamespace, --ns, --flatten) that merge two source repositories into one destination
// repository are refused before anything is written; explicit rules may merge repositories but never
// two sources on one tag. Real registries, checked with skopeo; the fleet's enqueue with a real Redis.
import assert from 'node:assert/strict'
import {readFile} from 'node:fs/promises'
import {after, before, test} from 'node:test'

import {pushImage, randomLayer, skopeoDigest, skopeoTags, startRedis, startRegistry, type TestRegistry} from '../harness/index.js'
import {lines, plainEntries, runCli, workDir} from './support.js'

let src: TestRegistry
let work: Awaited<ReturnType<typeof workDir>>
const digests = new Map<string, string>()

// Each a different image.
const IMAGES = [
  'team/app:v1',
  'team/app:v2',
  'tools/app:v1',
  'tools/lib:v3',
  'metallb/controller:v0.13',
  'ingress-nginx/controller:v1.9',
  'team/a-b:v1',
  'team/a/b:v1',
]

before(async () => {
  src = await startRegistry()
  for (const reference of IMAGES) {
    const [repository, tag] = reference.split(':') as [string, string]
    const pushed = await pushImage(src, repository, tag, {layers: [randomLayer(256, reference)]})
    digests.set(reference, pushed.digest)
  }
  work = await workDir()
})

after(async () => {
  await src?.stop()
  await work?.cleanup()
})

async function absent(registry: TestRegistry, repository: string): Promise<boolean> {
  try {
    await skopeoTags(registry, repository)
    return false
  } catch {
    return true
  }
}

/** The stderr lines that report a clash. */
function clashLines(text: string): string[] {
  return lines(text).filter((line) => line.includes('destination clash'))
}

test('migrate --toNamespace: two repositories merging into one are refused, the same way every run', async () => {
  const dst = await startRegistry()
  try {
    const security = await work.file('migrate-security.yaml', plainEntries(src, dst))
    const args = ['migrate', '--from', 'registry', '--fromRegistry', src.host, '--to', 'registry', '--toRegistry', dst.host]
    args.push('--toNamespace', 'whole', '--securityFile', security, '--json')
    for (const round of [1, 2]) {
      const run = await runCli(args, {timeoutMs: 120_000})
      assert.equal(run.code, 1, `round ${round}: ${run.stderr}`)
      const report = JSON.parse(run.stdout)
      const clashes = report.generateFailures.filter((failure: {code: string}) => failure.code === 'DESTINATION_CLASH')
      // team/app + tools/app → whole/app; metallb + ingress-nginx → whole/controller: one line per side.
      assert.equal(clashes.length, 4, JSON.stringify(report.generateFailures))
      const line = clashes.find((failure: {message: string}) => failure.message.startsWith(`destination clash: ${src.host}/team/app `))
      assert.ok(line, JSON.stringify(clashes))
      assert.match(line.message, new RegExp(`${src.host}/team/app and ${src.host}/tools/app would both go to ${dst.host}/whole/app`))
      assert.match(line.message, /--toNamespace/)
      assert.equal(await absent(dst, 'whole/app'), true, `round ${round}: whole/app was written`)
      assert.equal(await absent(dst, 'whole/controller'), true, `round ${round}: whole/controller was written`)
      // The other repositories go on.
      assert.equal(await skopeoDigest(dst, 'whole/lib:v3'), digests.get('tools/lib:v3'))
      assert.equal(await skopeoDigest(dst, 'whole/a/b:v1'), digests.get('team/a/b:v1'))
    }
  } finally {
    await dst.stop()
  }
})

test('an image list with --ns: two .../controller images are refused, the other image is copied', async () => {
  const dst = await startRegistry()
  try {
    const list = await work.file(
      'images.list',
      [`${src.host}/metallb/controller:v0.13`, `${src.host}/ingress-nginx/controller:v1.9`, `${src.host}/tools/lib:v3`].join('\n'),
    )
    const security = await work.file('list-security.yaml', plainEntries(src, dst))
    const run = await runCli(['transfer', '--images', list, '--registry', dst.host, '--ns', 'k8s', '--securityFile', security])
    assert.equal(run.code, 1, run.stderr)
    const clashes = clashLines(run.stdout + run.stderr)
    assert.ok(clashes.length >= 2, run.stdout + run.stderr)
    assert.ok(
      clashes.some((line) =>
        line.includes(`${src.host}/ingress-nginx/controller and ${src.host}/metallb/controller would both go to ${dst.host}/k8s/controller`),
      ),
      clashes.join('\n'),
    )
    assert.ok(
      clashes.every((line) => line.includes('--flatten')),
      clashes.join('\n'),
    )
    assert.equal(await absent(dst, 'k8s/controller'), true, 'k8s/controller was written')
    assert.equal(await skopeoDigest(dst, 'k8s/lib:v3'), digests.get('tools/lib:v3'))
  } finally {
    await dst.stop()
  }
})

test('--flatten: team/a-b and team/a/b meeting in one repository are refused', async () => {
  const dst = await startRegistry()
  try {
    const rules = await work.file('flatten.yaml', `${src.host}/team/a-b:v1: ''\n${src.host}/team/a/b:v1: ''\n${src.host}/tools/lib:v3: ''\n`)
    const security = await work.file('flatten-security.yaml', plainEntries(src, dst))
    const run = await runCli(['transfer', '--ruleFile', rules, '--registry', dst.host, '--ns', 'flat', '--flatten', '--securityFile', security, '--json'])
    assert.equal(run.code, 1, run.stderr)
    const report = JSON.parse(run.stdout)
    const clashes = report.generateFailures.filter((failure: {code: string}) => failure.code === 'DESTINATION_CLASH')
    assert.equal(clashes.length, 2, JSON.stringify(report.generateFailures))
    for (const clash of clashes) {
      assert.match(clash.message, new RegExp(`${dst.host}/flat/team-a-b \\(mapped there by --flatten\\)`))
    }
    assert.equal(await absent(dst, 'flat/team-a-b'), true, 'flat/team-a-b was written')
    assert.equal(await skopeoDigest(dst, 'flat/tools-lib:v3'), digests.get('tools/lib:v3'))
  } finally {
    await dst.stop()
  }
})

/**
 * team/app (v1, v2, listed), tools/app (v1, listed) and tools/lib (v3, listed) into one repository:
 * explicit rules may merge repositories, so v2 and v3 go there, but v1 is claimed twice.
 */
function clashingRules(dst: TestRegistry): string {
  return [
    `${src.host}/team/app: ${dst.host}/both/app`,
    `${src.host}/tools/app: ${dst.host}/both/app`,
    `${src.host}/tools/lib: ${dst.host}/both/app`,
    `${src.host}/tools/lib:v3: ${dst.host}/other/lib:v3`,
    '',
  ].join('\n')
}

test('explicit rules merge repositories, but two sources on one tag are both refused; the other jobs are copied', async () => {
  const dst = await startRegistry()
  try {
    const rules = await work.file('tag-clash.yaml', clashingRules(dst))
    const security = await work.file('tag-clash-security.yaml', plainEntries(src, dst))
    const report = await work.file('tag-clash-report.json', '')
    for (const round of [1, 2]) {
      const run = await runCli(['transfer', '--ruleFile', rules, '--securityFile', security, '--report', report])
      assert.equal(run.code, 1, run.stdout + run.stderr)
      const clashes = clashLines(run.stdout + run.stderr).filter((line) => !line.includes('generate failed'))
      assert.equal(clashes.length, 2, run.stdout + run.stderr)
      for (const clash of clashes) {
        assert.match(clash, new RegExp(`${dst.host}/both/app:v1 is the destination of both`))
        assert.ok(clash.includes(`${src.host}/team/app:v1`) && clash.includes(`${src.host}/tools/app:v1`), clash)
      }
      assert.deepEqual((await skopeoTags(dst, 'both/app')).sort(), ['v2', 'v3'], `round ${round}`)
      assert.equal(await skopeoDigest(dst, 'both/app:v2'), digests.get('team/app:v2'))
      assert.equal(await skopeoDigest(dst, 'both/app:v3'), digests.get('tools/lib:v3'))
      assert.equal(await skopeoDigest(dst, 'other/lib:v3'), digests.get('tools/lib:v3'))
      const written = JSON.parse(await readFile(report, 'utf8'))
      const inReport = written.generateFailures.filter((failure: {code: string}) => failure.code === 'DESTINATION_CLASH')
      assert.equal(inReport.length, 2, JSON.stringify(written.generateFailures))
    }
  } finally {
    await dst.stop()
  }
})

test('--dryRun shows the clash and writes nothing', async () => {
  const dst = await startRegistry()
  try {
    const rules = await work.file('dry-clash.yaml', clashingRules(dst))
    const security = await work.file('dry-clash-security.yaml', plainEntries(src, dst))
    const run = await runCli(['transfer', '--ruleFile', rules, '--securityFile', security, '--dryRun', '--json'])
    assert.equal(run.code, 1, run.stderr)
    const report = JSON.parse(run.stdout)
    const clashes = report.generateFailures.filter((failure: {code: string}) => failure.code === 'DESTINATION_CLASH')
    assert.equal(clashes.length, 2, JSON.stringify(report.generateFailures))
    const planned = report.jobs.filter((result: {status: string}) => result.status === 'planned').map((result: {destination: string}) => result.destination)
    assert.deepEqual(planned.sort(), [`${dst.host}/both/app:v2`, `${dst.host}/both/app:v3`, `${dst.host}/other/lib:v3`])
    assert.equal(await absent(dst, 'both/app'), true)
  } finally {
    await dst.stop()
  }
})

test('the fleet enqueue refuses the clash: only the other jobs are queued', async () => {
  const dst = await startRegistry()
  const redis = await startRedis()
  try {
    const rules = await work.file('fleet-clash.yaml', clashingRules(dst))
    const security = await work.file('fleet-clash-security.yaml', plainEntries(src, dst))
    const run = await runCli(['transfer', '--queue', redis.url, '--queueName', 'clash', '--ruleFile', rules, '--securityFile', security])
    assert.equal(run.code, 1, run.stdout + run.stderr)
    // both/app:v2, both/app:v3 and other/lib:v3; never both/app:v1.
    assert.equal(lines(run.stdout)[0], '3', run.stdout + run.stderr)
    assert.equal(clashLines(run.stdout + run.stderr).length, 2, run.stdout + run.stderr)
  } finally {
    await redis.stop()
    await dst.stop()
  }
})
