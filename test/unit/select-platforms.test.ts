import assert from 'node:assert/strict'
import {createHash} from 'node:crypto'
import {test} from 'node:test'

import {save} from '../../src/offline-files.js'
import {formatPlatform, parsePlatform, parsePlatforms, pickPlatform, platformMatches, subsetIndex, type Platform} from '../../src/select/platforms.js'

const digest = (n: number) => `sha256:${String(n).repeat(64)}`
const entry = (n: number, platform?: Record<string, string>, annotations?: Record<string, string>) => ({
  mediaType: 'application/vnd.oci.image.manifest.v1+json',
  digest: digest(n),
  size: 100 + n,
  ...(platform ? {platform} : {}),
  ...(annotations ? {annotations} : {}),
})
const INDEX = {
  schemaVersion: 2,
  mediaType: 'application/vnd.oci.image.index.v1+json',
  manifests: [
    entry(1, {architecture: 'amd64', os: 'linux'}),
    entry(2, {architecture: 'arm64', os: 'linux', variant: 'v8'}),
    entry(3, {architecture: 'arm', os: 'linux', variant: 'v7'}),
    entry(4, {architecture: 'unknown', os: 'unknown'}, {'vnd.docker.reference.digest': digest(2), 'vnd.docker.reference.type': 'attestation-manifest'}),
  ],
  annotations: {'org.opencontainers.image.source': 'https://example.com/app'},
}
const sha = (bytes: Buffer) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`

test('parsePlatforms: comma lists and repeats; bad ones name the flag', () => {
  assert.deepEqual(parsePlatforms(['linux/amd64,linux/arm64', 'linux/arm/v7']), [
    {os: 'linux', architecture: 'amd64'},
    {os: 'linux', architecture: 'arm64'},
    {os: 'linux', architecture: 'arm', variant: 'v7'},
  ])
  for (const bad of ['linux', 'linux/amd64/v1/x', 'linux//amd64', 'linux/amd 64']) {
    assert.throws(() => parsePlatforms([bad]), /--platform ".*" is not a platform; write os\/architecture/, bad)
  }
})

test('platformMatches: os and architecture exact; a variant only when asked for', () => {
  const cases: [Platform[], Record<string, string> | undefined, boolean][] = [
    [[{os: 'linux', architecture: 'amd64'}], {os: 'linux', architecture: 'amd64'}, true],
    [[{os: 'linux', architecture: 'arm'}], {os: 'linux', architecture: 'arm', variant: 'v7'}, true],
    [[{os: 'linux', architecture: 'arm', variant: 'v6'}], {os: 'linux', architecture: 'arm', variant: 'v7'}, false],
    [[{os: 'linux', architecture: 'arm', variant: 'v7'}], {os: 'linux', architecture: 'arm', variant: 'v7'}, true],
    [[{os: 'linux', architecture: 'arm', variant: 'v7'}], {os: 'linux', architecture: 'arm'}, false],
    [[{os: 'windows', architecture: 'amd64'}], {os: 'linux', architecture: 'amd64'}, false],
    [[{os: 'linux', architecture: 'amd64'}], undefined, false],
  ]
  for (const [wanted, actual, expected] of cases) assert.equal(platformMatches(wanted, actual), expected, JSON.stringify([wanted, actual]))
})

test('parsePlatform (save --platform) and pickPlatform: os/architecture[/variant]; a variant asked for must match', () => {
  assert.deepEqual(parsePlatform('linux/arm64'), {os: 'linux', architecture: 'arm64'})
  assert.deepEqual(parsePlatform('linux/arm/v7'), {os: 'linux', architecture: 'arm', variant: 'v7'})
  for (const bad of ['linux', 'linux/', 'a/b/c/d', 'linux/arm 64'])
    assert.throws(() => parsePlatform(bad), /--platform ".*" is not a platform; write os\/architecture or os\/architecture\/variant/, bad)
  const child = (architecture: string, variant?: string) => ({
    mediaType: 'm',
    digest: `${architecture}${variant ?? ''}`,
    size: 1,
    platform: {os: 'linux', architecture, ...(variant ? {variant} : {})},
  })
  const manifests = [child('amd64'), child('arm', 'v6'), child('arm', 'v7')]
  assert.equal(pickPlatform(manifests, {os: 'linux', architecture: 'arm', variant: 'v7'})?.digest, 'armv7')
  assert.equal(pickPlatform(manifests, {os: 'linux', architecture: 'arm'})?.digest, 'armv6')
  assert.equal(pickPlatform(manifests, {os: 'windows', architecture: 'amd64'}), undefined)
})

test('formatPlatform: what messages of transfer, verify and save --platform print', () => {
  const cases: [Partial<Platform> | undefined, string][] = [
    [{os: 'linux', architecture: 'amd64'}, 'linux/amd64'],
    [{os: 'linux', architecture: 'arm', variant: 'v7'}, 'linux/arm/v7'],
    [{os: 'unknown', architecture: 'unknown'}, 'unknown/unknown'],
    [{architecture: 'amd64'}, '?/amd64'],
    [undefined, 'unknown platform'],
  ]
  for (const [platform, text] of cases) assert.equal(formatPlatform(platform), text, JSON.stringify(platform))
})

test('save reads --platform with the same parser as transfer, before it reads any file', async () => {
  await assert.rejects(
    save({ruleFile: '/nonexistent/rules.yaml', output: '/nonexistent/out', platform: 'linux'}),
    /--platform "linux" is not a platform; write os\/architecture/,
  )
})

test('subsetIndex: only the asked children (and their attestations), every other field and entry kept as it was', () => {
  for (const indent of [0, 3, '\t'] as const) {
    const source = Buffer.from(JSON.stringify(INDEX, null, indent))
    const cases: [string[], number[]][] = [
      [['linux/amd64'], [1]],
      [['linux/arm64'], [2, 4]],
      [['linux/arm'], [3]],
      [
        ['linux/amd64', 'linux/arm/v7'],
        [1, 3],
      ],
    ]
    for (const [platforms, kept] of cases) {
      const subset = subsetIndex(source, parsePlatforms(platforms))!
      const doc = JSON.parse(subset.bytes.toString())
      assert.deepEqual(doc, {...INDEX, manifests: INDEX.manifests.filter((m) => kept.includes(Number(m.digest.at(-1))))}, platforms.join())
      assert.deepEqual(Object.keys(doc), Object.keys(INDEX))
      assert.equal(subset.digest, sha(subset.bytes))
      assert.equal(subset.total, 4)
      // Same input, same bytes: a re-run compares the destination with this digest.
      assert.equal(subsetIndex(source, parsePlatforms(platforms))!.digest, subset.digest)
      assert.equal(subset.bytes.toString(), JSON.stringify(doc, null, indent))
    }
    const all = subsetIndex(source, parsePlatforms(['linux/amd64,linux/arm64,linux/arm']))!
    assert.equal(all.bytes, source, 'every child kept: the source bytes themselves')
    assert.equal(subsetIndex(source, parsePlatforms(['linux/s390x'])), undefined)
  }
})
