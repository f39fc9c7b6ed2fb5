// save → layout → load against real registries, checked by skopeo: digests survive the round
// trip (Docker-typed and multi-arch included), blobs are stored once, skopeo reads ferry's
// layouts and ferry loads skopeo's, a damaged blob fails only the images that use it, tars.
import assert from 'node:assert/strict'
import {execFileSync} from 'node:child_process'
import {existsSync} from 'node:fs'
import {readdir, readFile, writeFile} from 'node:fs/promises'
import path from 'node:path'
import {after, before, test} from 'node:test'

import {
  buildImage,
  pushBuiltImage,
  pushImage,
  pushIndex,
  randomLayer,
  skopeo,
  skopeoDigest,
  skopeoFlags,
  startRegistry,
  type PushedImage,
  type PushedIndex,
  type TestRegistry,
} from '../harness/index.js'
import {lines, plainEntries, runCli, workDir} from './support.js'

let src: TestRegistry
let dst: TestRegistry
let work: Awaited<ReturnType<typeof workDir>>
let security: string
let rules: string
const pushed: Record<string, PushedImage | PushedIndex> = {}

/** Saved reference (as in index.json) → what was pushed under it. */
function ref(key: string): string {
  return `${src.host}/${key}`
}

before(async () => {
  ;[src, dst, work] = await Promise.all([startRegistry(), startRegistry(), workDir()])
  const base = randomLayer(4096, 'offline:base')
  pushed['team/app:v1'] = await pushImage(src, 'team/app', 'v1', {flavour: 'docker', layers: [base, randomLayer(2048, 'offline:app:v1')]})
  pushed['team/app:v2'] = await pushImage(src, 'team/app', 'v2', {flavour: 'oci', layers: [base, randomLayer(2048, 'offline:app:v2')]})
  pushed['team/multi:1.0'] = await pushIndex(src, 'team/multi', '1.0', undefined, 'oci', {sharedLayer: base, layerSize: 1024})
  pushed['other/dock:1.0'] = await pushIndex(src, 'other/dock', '1.0', ['linux/amd64', 'linux/arm64'], 'docker', {sharedLayer: base, layerSize: 1024})
  // Docker's grammar allows "__" in a path component; the OCI ref.name grammar skopeo checks does not.
  pushed['odd/a__b:v1'] = await pushBuiltImage(src, 'odd/a__b', 'v1', buildImage({flavour: 'oci', layers: [base, randomLayer(1024, 'offline:odd')]}))
  security = await work.file('security.yaml', plainEntries(src, dst))
  // Destinations left empty: save ignores them.
  rules = await work.file('rules.yaml', `${src.host}/team/app: ""\n${src.host}/team/multi:1.0:\n${src.host}/other/dock: ""\n${src.host}/odd/a__b:v1: ""\n`)
})

after(async () => {
  await Promise.all([src?.stop(), dst?.stop(), work?.cleanup()])
})

/** Every digest a pushed image or index consists of: manifests and blobs. */
function contentOf(image: PushedImage | PushedIndex): string[] {
  const children = image.kind === 'index' ? image.children.map((child) => child.digest) : []
  return [image.digest, ...children, ...image.blobs.map((blob) => blob.digest)]
}

async function blobFiles(layout: string): Promise<string[]> {
  return (await readdir(path.join(layout, 'blobs', 'sha256'))).sort()
}

async function indexEntries(layout: string): Promise<Array<{mediaType: string; digest: string; annotations?: Record<string, string>}>> {
  return JSON.parse(await readFile(path.join(layout, 'index.json'), 'utf8')).manifests
}

test('save → load: every digest identical at the destination; each blob stored once', {timeout: 120_000}, async () => {
  const layout = path.join(work.dir, 'layout')
  const saved = await runCli(['save', '--ruleFile', rules, '--securityFile', security, '--output', layout])
  assert.equal(saved.code, 0, saved.stdout + saved.stderr)
  assert.match(lines(saved.stdout).at(-1) ?? '', /^Finished, 0 transfer jobs failed, 0 jobs generate failed \(5 copied/)
  // The "__" reference is saved, with a warning that skopeo cannot name it.
  assert.match(saved.stderr, /warning: ".*odd\/a__b:v1" does not follow the OCI ref\.name grammar skopeo checks/)

  const entries = await indexEntries(layout)
  const byName = new Map(entries.map((entry) => [entry.annotations?.['org.opencontainers.image.ref.name'], entry]))
  assert.deepEqual([...byName.keys()].sort(), Object.keys(pushed).map(ref).sort())
  for (const [key, image] of Object.entries(pushed)) {
    const entry = byName.get(ref(key))!
    assert.equal(entry.digest, image.digest, key)
    assert.equal(entry.mediaType, image.mediaType, `${key}: Docker media types kept`)
    // Byte for byte: the manifest blob is exactly what the registry served.
    assert.deepEqual(await readFile(path.join(layout, 'blobs', 'sha256', image.digest.slice(7))), image.manifest, key)
  }
  assert.deepEqual(JSON.parse(await readFile(path.join(layout, 'oci-layout'), 'utf8')), {imageLayoutVersion: '1.0.0'})

  // The base layer is in all 5 images (and every child of both indexes): one file.
  const expected = [...new Set(Object.values(pushed).flatMap(contentOf))].map((digest) => digest.slice(7)).sort()
  assert.deepEqual(await blobFiles(layout), expected)
  const references = Object.values(pushed).reduce((sum, image) => sum + contentOf(image).length, 0)
  assert.ok(references >= expected.length + 4, `shared content: ${references} references, ${expected.length} files`)

  // Saving again adds nothing and copies nothing.
  const again = await runCli(['save', '--ruleFile', rules, '--securityFile', security, '--output', layout, '--quiet'])
  assert.equal(again.code, 0, again.stderr)
  assert.match(lines(again.stdout).at(-1) ?? '', /\(0 copied, 5 skipped/)

  const loaded = await runCli(['load', layout, '--registry', dst.host, '--ns', 'restored', '--securityFile', security])
  assert.equal(loaded.code, 0, loaded.stdout + loaded.stderr)
  assert.match(loaded.stderr, /odd\/a__b:v1" does not follow the OCI ref\.name grammar/)
  for (const [key, image] of Object.entries(pushed)) {
    const last = key.split('/').at(-1)!
    assert.equal(await skopeoDigest(dst, `restored/${last}`), image.digest, key)
  }
  // Children of an index were pushed by digest before it.
  const multi = pushed['team/multi:1.0'] as PushedIndex
  for (const child of multi.children) assert.equal(await skopeoDigest(dst, `restored/multi@${child.digest}`), child.digest)

  // A second load finds everything in place.
  const reload = await runCli(['load', layout, '--registry', dst.host, '--ns', 'restored', '--securityFile', security, '--quiet'])
  assert.equal(reload.code, 0, reload.stderr)
  assert.match(lines(reload.stdout).at(-1) ?? '', /\(0 copied, 5 skipped/)
})

test('load by rule file (a destination without a tag keeps the saved tag); tag filters choose among saved tags', {timeout: 60_000}, async () => {
  const layout = path.join(work.dir, 'layout')
  assert.ok(existsSync(path.join(layout, 'index.json')), 'runs after the round-trip test')
  const map = await work.file(
    'load-rules.yaml',
    `${src.host}/team/app:v2: ${dst.host}/mapped/application\n${src.host}/team/multi:1.0: ${dst.host}/mapped/multi:renamed\n`,
  )
  const run = await runCli(['load', layout, '--ruleFile', map, '--securityFile', security, '--quiet', '--json'])
  assert.equal(run.code, 0, run.stdout + run.stderr)
  const report = JSON.parse(run.stdout)
  assert.deepEqual(report.jobs.map((r: {destination: string}) => r.destination.replace(`${dst.host}/`, '')).sort(), [
    'mapped/application:v2',
    'mapped/multi:renamed',
  ])
  // The base layer both images share is uploaded once and mounted into the other repository.
  assert.equal(
    report.jobs.reduce((sum: number, r: {blobs: {mounted: number}}) => sum + r.blobs.mounted, 0),
    1,
    run.stdout,
  )
  assert.equal(await skopeoDigest(dst, 'mapped/application:v2'), pushed['team/app:v2']!.digest)
  assert.equal(await skopeoDigest(dst, 'mapped/multi:renamed'), pushed['team/multi:1.0']!.digest)

  const filtered = await runCli([
    'load',
    layout,
    '--registry',
    dst.host,
    '--ns',
    'filtered',
    '--includeTags',
    '^v',
    '--excludeTags',
    '1$',
    '--securityFile',
    security,
    '--quiet',
    '--json',
  ])
  assert.equal(filtered.code, 0, filtered.stdout + filtered.stderr)
  assert.deepEqual(
    JSON.parse(filtered.stdout).jobs.map((r: {destination: string}) => r.destination),
    [`${dst.host}/filtered/app:v2`],
  )

  const unused = await work.file('unused-rules.yaml', `${src.host}/nothing/here: ${dst.host}/x/y\n`)
  const none = await runCli(['load', layout, '--ruleFile', unused, '--securityFile', security])
  assert.equal(none.code, 1)
  assert.match(none.stderr, /unused-rules\.yaml:1: rule ".*nothing\/here" names no image in the layout/)
})

test('skopeo copies out of a ferry layout (OCI-typed entries), and ferry loads a layout skopeo wrote', {timeout: 120_000}, async () => {
  const layout = path.join(work.dir, 'layout')
  for (const key of ['team/multi:1.0', 'team/app:v2']) {
    await skopeo(
      [
        '--insecure-policy',
        'copy',
        '--all',
        '--preserve-digests',
        ...skopeoFlags(dst, 'dest-'),
        `oci:${layout}:${ref(key)}`,
        `docker://${dst.host}/by-skopeo/${key}`,
      ],
      120_000,
    )
    assert.equal(await skopeoDigest(dst, `by-skopeo/${key}`), pushed[key]!.digest, key)
  }

  // skopeo's own layout: one image under a bare tag, one under a full reference.
  const skopeoLayout = path.join(work.dir, 'skopeo-layout')
  await skopeo(
    ['--insecure-policy', 'copy', '--all', '--preserve-digests', ...skopeoFlags(src, 'src-'), `docker://${src.host}/team/multi:1.0`, `oci:${skopeoLayout}:1.0`],
    120_000,
  )
  await skopeo(
    [
      '--insecure-policy',
      'copy',
      '--all',
      '--preserve-digests',
      ...skopeoFlags(src, 'src-'),
      `docker://${src.host}/team/app:v2`,
      `oci:${skopeoLayout}:${ref('team/app:v2')}`,
    ],
    120_000,
  )
  // With --preserve-digests skopeo stores a Docker manifest as it is (without, it rewrites it to
  // OCI); it cannot read such an entry back itself, ferry loads it with its digest.
  await skopeo(
    [
      '--insecure-policy',
      'copy',
      '--preserve-digests',
      ...skopeoFlags(src, 'src-'),
      `docker://${src.host}/team/app:v1`,
      `oci:${skopeoLayout}:${ref('team/app:v1')}`,
    ],
    120_000,
  )

  const withoutName = await runCli(['load', skopeoLayout, '--registry', dst.host, '--ns', 'from-skopeo', '--securityFile', security])
  assert.equal(withoutName.code, 1, 'a bare tag without --repository cannot be placed')
  assert.match(withoutName.stderr, /"1\.0" is a bare tag with no repository; give --repository NAME/)

  const run = await runCli(['load', skopeoLayout, '--repository', 'team/multi', '--registry', dst.host, '--ns', 'from-skopeo', '--securityFile', security])
  assert.equal(run.code, 0, run.stdout + run.stderr)
  assert.equal(await skopeoDigest(dst, 'from-skopeo/multi:1.0'), pushed['team/multi:1.0']!.digest)
  assert.equal(await skopeoDigest(dst, 'from-skopeo/app:v2'), pushed['team/app:v2']!.digest)
  assert.equal(await skopeoDigest(dst, 'from-skopeo/app:v1'), pushed['team/app:v1']!.digest, 'Docker-typed entry skopeo wrote')
})

test('a blob that does not match its digest fails the images using it, named; the others load', {timeout: 120_000}, async () => {
  const layout = path.join(work.dir, 'damaged')
  const some = await work.file('rules-damaged.yaml', `${src.host}/team/app: ""\n${src.host}/team/multi:1.0: ""\n`)
  const saved = await runCli(['save', '--ruleFile', some, '--securityFile', security, '--output', layout, '--quiet'])
  assert.equal(saved.code, 0, saved.stderr)
  // The layer only team/app:v1 has.
  const v1 = pushed['team/app:v1'] as PushedImage
  const victim = v1.layers[1]!.digest
  const file = path.join(layout, 'blobs', 'sha256', victim.slice(7))
  const bytes = await readFile(file)
  bytes[bytes.length >> 1] ^= 0xff
  await writeFile(file, bytes)

  const run = await runCli(['load', layout, '--registry', dst.host, '--ns', 'damaged', '--securityFile', security, '--retry', '0', '--json'])
  assert.equal(run.code, 1, run.stdout + run.stderr)
  const report = JSON.parse(run.stdout)
  const failed = report.jobs.filter((r: {status: string}) => r.status === 'failed')
  assert.equal(failed.length, 1, run.stdout)
  assert.equal(failed[0].destination, `${dst.host}/damaged/app:v1`)
  assert.equal(failed[0].error.code, 'DIGEST_MISMATCH')
  assert.match(failed[0].error.message, new RegExp(`blob ${victim} .*content digest is sha256:[0-9a-f]{64}, refused`))
  assert.equal(await skopeoDigest(dst, 'damaged/app:v2'), pushed['team/app:v2']!.digest)
  assert.equal(await skopeoDigest(dst, 'damaged/multi:1.0'), pushed['team/multi:1.0']!.digest)
  await assert.rejects(skopeoDigest(dst, 'damaged/app:v1'), 'no manifest for the damaged image')
})

test('tar round trips: plain, gzip and zstd; a tar holds the layout at its root', {timeout: 120_000}, async () => {
  const some = await work.file('rules-tar.yaml', `${src.host}/team/multi:1.0: ""\n${src.host}/other/dock: ""\n`)
  for (const [name, extra, magic] of [
    ['images.tar', [], null],
    ['images.tar.gz', ['--compress', 'gzip'], '1f8b'],
    ['images.tar.zst', ['--compress', 'zstd'], '28b52ffd'],
  ] as const) {
    const file = path.join(work.dir, name)
    const saved = await runCli(['save', '--ruleFile', some, '--securityFile', security, '--output', file, ...extra, '--quiet'])
    assert.equal(saved.code, 0, saved.stderr)
    assert.ok(!existsSync(`${file}.layout`), 'the staging folder is gone after a complete save')
    const head = (await readFile(file)).subarray(0, 4).toString('hex')
    if (magic) assert.ok(head.startsWith(magic), `${name} starts with ${head}`)
    if (name === 'images.tar') {
      const listing = execFileSync('tar', ['-tf', file], {encoding: 'utf8'})
      assert.ok(lines(listing).includes('oci-layout') && lines(listing).includes('index.json'), listing)
    }
    const ns = `tar-${name.replaceAll('.', '-')}`
    const loaded = await runCli(['load', file, '--registry', dst.host, '--ns', ns, '--securityFile', security, '--quiet'])
    assert.equal(loaded.code, 0, loaded.stdout + loaded.stderr)
    assert.equal(await skopeoDigest(dst, `${ns}/multi:1.0`), pushed['team/multi:1.0']!.digest, name)
    assert.equal(await skopeoDigest(dst, `${ns}/dock:1.0`), pushed['other/dock:1.0']!.digest, name)
  }
})

test('save --platform keeps one platform of a multi-arch image; a single image is saved as it is', {timeout: 60_000}, async () => {
  const layout = path.join(work.dir, 'arm64')
  const some = await work.file('rules-platform.yaml', `${src.host}/team/multi:1.0: ""\n${src.host}/team/app:v2: ""\n`)
  const saved = await runCli(['save', '--ruleFile', some, '--securityFile', security, '--output', layout, '--platform', 'linux/arm64', '--quiet'])
  assert.equal(saved.code, 0, saved.stdout + saved.stderr)
  const multi = pushed['team/multi:1.0'] as PushedIndex
  const arm64 = multi.children.find((child) => child.platform.architecture === 'arm64')!
  const entries = await indexEntries(layout)
  assert.deepEqual(entries.map((entry) => entry.digest).sort(), [arm64.digest, pushed['team/app:v2']!.digest].sort())
  const expected = [...new Set([...contentOf({...arm64, repository: 'team/multi', tag: null}), ...contentOf(pushed['team/app:v2']!)])]
    .map((d) => d.slice(7))
    .sort()
  assert.deepEqual(await blobFiles(layout), expected, 'nothing of the other platforms')
  const loaded = await runCli(['load', layout, '--registry', dst.host, '--ns', 'arm64', '--securityFile', security, '--quiet'])
  assert.equal(loaded.code, 0, loaded.stdout + loaded.stderr)
  assert.equal(await skopeoDigest(dst, 'arm64/multi:1.0'), arm64.digest)

  const none = await runCli([
    'save',
    '--ruleFile',
    some,
    '--securityFile',
    security,
    '--output',
    layout,
    '--platform',
    'linux/s390x',
    '--quiet',
    '--retry',
    '0',
  ])
  assert.equal(none.code, 1)
  assert.match(none.stdout, /team\/multi:1\.0 has no linux\/s390x image \(it has linux\/amd64, linux\/arm64, linux\/arm\/v7\)/)
})

test('save --dryRun with a repository pattern lists what save saves (the catalog is listed in both)', {timeout: 60_000}, async () => {
  const pattern = await work.file('pattern.yaml', `${src.host}/team/**: ${dst.host}/ignored\n`)
  const layout = path.join(work.dir, 'pattern-dry')
  const dry = await runCli(['save', '--ruleFile', pattern, '--securityFile', security, '--output', layout, '--dryRun'])
  assert.equal(dry.code, 0, dry.stdout + dry.stderr)
  const out = lines(dry.stdout)
  const team = Object.keys(pushed)
    .filter((key) => key.startsWith('team/'))
    .map(ref)
    .sort()
  assert.deepEqual(out.slice(0, -1).sort(), team)
  assert.match(out.at(-1)!, /^Dry run: 3 images would be saved/)
  assert.ok(!existsSync(layout))

  const saved = await runCli(['save', '--ruleFile', pattern, '--securityFile', security, '--output', layout, '--quiet'])
  assert.equal(saved.code, 0, saved.stdout + saved.stderr)
  const names = (await indexEntries(layout)).map((entry) => entry.annotations?.['org.opencontainers.image.ref.name'])
  assert.deepEqual(names.sort(), team)
})

test('save --dryRun lists the images and writes nothing; bad output and input are one-line errors', {timeout: 60_000}, async () => {
  const layout = path.join(work.dir, 'dry')
  const run = await runCli(['save', '--ruleFile', rules, '--securityFile', security, '--output', layout, '--dryRun'])
  assert.equal(run.code, 0, run.stderr)
  const out = lines(run.stdout)
  assert.deepEqual(out.slice(0, -1).sort(), Object.keys(pushed).map(ref).sort())
  assert.match(out.at(-1)!, /^Dry run: 5 images would be saved/)
  assert.ok(!existsSync(layout))

  const folder = await runCli(['save', '--ruleFile', rules, '--output', layout, '--compress', 'zstd'])
  assert.equal(folder.code, 2)
  assert.match(folder.stderr, /^Error: --compress zstd needs a tar file as --output/)
  const unwritable = await runCli(['save', '--ruleFile', rules, '--output', path.join(rules, 'layout')])
  assert.equal(unwritable.code, 2)
  assert.match(unwritable.stderr, /^Error: .*rules\.yaml\/layout: cannot make an OCI layout here \(ENOTDIR\)\n$/)
  const missing = await runCli(['load', path.join(work.dir, 'nothing'), '--registry', dst.host])
  assert.equal(missing.code, 2)
  assert.match(missing.stderr, /^Error: .*nothing: no such folder or file; give an OCI layout folder or a tar of one\n$/)
  const notLayout = await runCli(['load', work.dir, '--registry', dst.host])
  assert.equal(notLayout.code, 2)
  assert.match(notLayout.stderr, /is not an OCI image layout: oci-layout is missing/)
})
