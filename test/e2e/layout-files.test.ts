// A layout folder (or tar) is input like any other: a blob that is a symbolic link to /dev/zero,
// an index.json that is a named pipe, a blob whose size is not its descriptor's, an index.json or
// manifest far above any real one, a tar carrying links or `..` paths. Each is refused with one
// line, fast and in bounded memory, and nothing is pushed for an image it touches. Real images
// saved from a real registry by the real CLI, loaded into another real registry.
import assert from 'node:assert/strict'
import {execFileSync, spawn} from 'node:child_process'
import {createHash} from 'node:crypto'
import {appendFile, cp, mkdir, mkdtemp, readdir, readFile, rm, symlink, truncate, writeFile} from 'node:fs/promises'
import path from 'node:path'
import {after, before, test} from 'node:test'

import {clientFor, pushImage, randomLayer, skopeoDigest, startRegistry, type PushedImage, type TestRegistry} from '../harness/index.js'
import {lines, plainEntries, ROOT, runCli, workDir} from './support.js'

/** Well above a small load (about 100 MiB), far below what reading /dev/zero reaches. */
const RSS_LIMIT_MIB = 300
const DEADLINE_MS = 30_000
const REF_NAME = 'org.opencontainers.image.ref.name'

let src: TestRegistry
let dst: TestRegistry
let work: Awaited<ReturnType<typeof workDir>>
let security: string
/** A layout saved once from the source registry; each test works on its own copy. */
let saved: string
const images: Record<'app:v1' | 'app:v2' | 'other:v1', PushedImage> = {} as never

interface BoundedRun {
  code: number | null
  stdout: string
  stderr: string
  seconds: number
  peakMiB: number
  /** Why the run was killed, when it was. */
  killed?: string
}

/**
 * Runs the built CLI, watching its peak RSS (VmHWM) every 100 ms: killed above RSS_LIMIT_MIB or
 * after DEADLINE_MS, so a run that reads /dev/zero or waits on a pipe ends the test, not the machine.
 */
function runBounded(args: string[], env: NodeJS.ProcessEnv = {}): Promise<BoundedRun> {
  const started = Date.now()
  const child = spawn(process.execPath, [path.join(ROOT, 'bin', 'run.js'), ...args], {
    cwd: ROOT,
    env: {...process.env, OCLIF_SKIP_NEW_VERSION_CHECK: 'true', FERRY_SKIP_NEW_VERSION_CHECK: 'true', ...env},
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  let peakMiB = 0
  let killed: string | undefined
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')))
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')))
  const kill = (why: string) => {
    killed ??= why
    child.kill('SIGKILL')
  }
  const watch = setInterval(async () => {
    const status = await readFile(`/proc/${child.pid}/status`, 'utf8').catch(() => '')
    const hwm = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024
    peakMiB = Math.max(peakMiB, hwm)
    if (peakMiB > RSS_LIMIT_MIB) kill(`peak RSS ${peakMiB.toFixed(0)} MiB`)
    if (Date.now() - started > DEADLINE_MS) kill(`still running after ${DEADLINE_MS / 1000} s`)
  }, 100)
  return new Promise((resolve) =>
    child.once('close', (code) => {
      clearInterval(watch)
      resolve({code, stdout, stderr, seconds: (Date.now() - started) / 1000, peakMiB, killed})
    }),
  )
}

function describe(run: BoundedRun): string {
  return `${run.killed ?? `exit ${run.code}`} after ${run.seconds.toFixed(1)} s, peak ${run.peakMiB.toFixed(0)} MiB\n${run.stdout.slice(-3000)}\n${run.stderr.slice(-3000)}`
}

/** A run that ended by itself, quickly, in bounded memory. */
function assertBounded(run: BoundedRun): void {
  assert.equal(run.killed, undefined, describe(run))
  assert.ok(run.seconds < 20, describe(run))
  assert.ok(run.peakMiB < RSS_LIMIT_MIB, describe(run))
}

/** A setup failure: exit 2 and exactly one line on stderr, no stack. */
function assertOneLineError(run: BoundedRun, pattern: RegExp): void {
  assertBounded(run)
  assert.equal(run.code, 2, describe(run))
  assert.equal(lines(run.stderr).length, 1, describe(run))
  assert.match(run.stderr, pattern)
}

function blobFile(layout: string, digest: string): string {
  return path.join(layout, 'blobs', 'sha256', digest.slice('sha256:'.length))
}

async function copyOf(name: string): Promise<string> {
  const layout = path.join(work.dir, name)
  await cp(saved, layout, {recursive: true})
  return layout
}

/** The destination has no manifest for `image` in `repository`, by digest or by tag. */
async function assertAbsent(repository: string, image: PushedImage): Promise<void> {
  const res = await clientFor(dst).request('HEAD', `/v2/${repository}/manifests/${image.digest}`, {headers: {accept: image.mediaType}})
  assert.equal(res.status, 404, `${repository}@${image.digest} must not be pushed`)
  await assert.rejects(skopeoDigest(dst, `${repository}:${image.tag}`), `${repository}:${image.tag} must not exist`)
}

function failures(run: BoundedRun): Array<{destination: string; error: {code: string; message: string}}> {
  return JSON.parse(run.stdout).jobs.filter((r: {status: string}) => r.status === 'failed')
}

before(async () => {
  ;[src, dst, work] = await Promise.all([startRegistry(), startRegistry(), workDir()])
  images['app:v1'] = await pushImage(src, 'team/app', 'v1', {flavour: 'oci', layers: [randomLayer(4096, 'layout-files:v1')]})
  images['app:v2'] = await pushImage(src, 'team/app', 'v2', {flavour: 'oci', layers: [randomLayer(4096, 'layout-files:v2')]})
  images['other:v1'] = await pushImage(src, 'team/other', 'v1', {flavour: 'oci', layers: [randomLayer(4096, 'layout-files:other')]})
  security = await work.file('security.yaml', plainEntries(src, dst))
  const rules = await work.file('rules.yaml', `${src.host}/team/app: ""\n${src.host}/team/other: ""\n`)
  saved = path.join(work.dir, 'saved')
  const run = await runCli(['save', '--ruleFile', rules, '--securityFile', security, '--output', saved, '--quiet'])
  assert.equal(run.code, 0, run.stdout + run.stderr)
})

after(async () => {
  await Promise.all([src?.stop(), dst?.stop(), work?.cleanup()])
})

test('a blob that is a symbolic link to /dev/zero: refused fast in bounded memory, nothing pushed for its image', {timeout: 90_000}, async () => {
  const layout = await copyOf('zero')
  // app:v1's manifest (read into memory) and app:v2's layer (streamed) both point at /dev/zero.
  for (const digest of [images['app:v1'].digest, images['app:v2'].layers[0]!.digest]) {
    await rm(blobFile(layout, digest))
    await symlink('/dev/zero', blobFile(layout, digest))
  }
  const run = await runBounded(['load', layout, '--registry', dst.host, '--ns', 'zero', '--securityFile', security, '--json'])
  assertBounded(run)
  assert.equal(run.code, 1, describe(run))
  const failed = failures(run).sort((a, b) => a.destination.localeCompare(b.destination))
  assert.deepEqual(
    failed.map((f) => f.destination),
    [`${dst.host}/zero/app:v1`, `${dst.host}/zero/app:v2`],
  )
  for (const [f, digest] of [
    [failed[0]!, images['app:v1'].digest],
    [failed[1]!, images['app:v2'].layers[0]!.digest],
  ] as const) {
    assert.equal(f.error.code, 'INVALID_LAYOUT')
    assert.ok(f.error.message.includes(`${blobFile(layout, digest)} is a symbolic link, not a regular file`), f.error.message)
    assert.ok(!f.error.message.includes('\n'), 'one line')
  }
  await assertAbsent('zero/app', images['app:v1'])
  await assertAbsent('zero/app', images['app:v2'])
  assert.equal(await skopeoDigest(dst, 'zero/other:v1'), images['other:v1'].digest, 'the untouched image loads')
})

test('index.json or oci-layout a named pipe: one line within seconds, no hang', {timeout: 90_000}, async () => {
  for (const name of ['index.json', 'oci-layout']) {
    const layout = await copyOf(`fifo-${name}`)
    await rm(path.join(layout, name))
    execFileSync('mkfifo', [path.join(layout, name)])
    const run = await runBounded(['load', layout, '--registry', dst.host, '--ns', 'fifo', '--securityFile', security])
    assertOneLineError(run, new RegExp(`^Error: ${path.join(layout, name).replaceAll('.', '\\.')} is a named pipe \\(FIFO\\), not a regular file;`))
  }
  await assertAbsent('fifo/other', images['other:v1'])
})

test('a blob larger or smaller than its descriptor: refused before it is read, the layout named as damaged', {timeout: 90_000}, async () => {
  const layout = await copyOf('sizes')
  const grown = images['app:v1'].layers[0]!
  const shrunk = images['app:v2'].layers[0]!
  await appendFile(blobFile(layout, grown.digest), Buffer.alloc(1024, 7))
  await truncate(blobFile(layout, shrunk.digest), shrunk.size - 1)
  const run = await runBounded(['load', layout, '--registry', dst.host, '--ns', 'sizes', '--securityFile', security, '--json'])
  assertBounded(run)
  assert.equal(run.code, 1, describe(run))
  const failed = failures(run).sort((a, b) => a.destination.localeCompare(b.destination))
  assert.deepEqual(
    failed.map((f) => f.destination),
    [`${dst.host}/sizes/app:v1`, `${dst.host}/sizes/app:v2`],
  )
  assert.equal(failed[0]!.error.code, 'SIZE_MISMATCH')
  assert.match(
    failed[0]!.error.message,
    new RegExp(`blob ${grown.digest} is ${grown.size + 1024} bytes on disk but its descriptor says ${grown.size}; the layout is damaged`),
  )
  assert.match(
    failed[1]!.error.message,
    new RegExp(`blob ${shrunk.digest} is ${shrunk.size - 1} bytes on disk but its descriptor says ${shrunk.size}; the layout is damaged`),
  )
  for (const f of failed) assert.ok(!f.error.message.includes('\n'), 'one line')
  await assertAbsent('sizes/app', images['app:v1'])
  await assertAbsent('sizes/app', images['app:v2'])
  assert.equal(await skopeoDigest(dst, 'sizes/other:v1'), images['other:v1'].digest)
})

test('an index.json above 64 MiB, a manifest above 4 MiB: one line naming the limit', {timeout: 90_000}, async () => {
  // Valid JSON all the same: whitespace after the document.
  const big = await copyOf('big-index')
  await appendFile(path.join(big, 'index.json'), Buffer.alloc(65 * 1024 * 1024, ' '))
  const run = await runBounded(['load', big, '--registry', dst.host, '--ns', 'big', '--securityFile', security])
  assertOneLineError(run, /index\.json is \d+ bytes, above the 64 MiB limit ferry reads for an index\.json/)
  await assertAbsent('big/other', images['other:v1'])

  // app:v1 with a 5 MiB annotation: a new manifest over blobs the layout has, under its own entry.
  const layout = await copyOf('big-manifest')
  const doc = JSON.parse(images['app:v1'].manifest.toString('utf8'))
  doc.annotations = {...doc.annotations, 'org.ferry.test.padding': 'x'.repeat(5 * 1024 * 1024)}
  const bytes = Buffer.from(JSON.stringify(doc))
  const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`
  await writeFile(blobFile(layout, digest), bytes)
  const index = JSON.parse(await readFile(path.join(layout, 'index.json'), 'utf8'))
  index.manifests.push({mediaType: images['app:v1'].mediaType, digest, size: bytes.length, annotations: {[REF_NAME]: `${src.host}/team/huge:v1`}})
  await writeFile(path.join(layout, 'index.json'), JSON.stringify(index))
  const loaded = await runBounded(['load', layout, '--registry', dst.host, '--ns', 'big', '--securityFile', security, '--json'])
  assertBounded(loaded)
  assert.equal(loaded.code, 1, describe(loaded))
  const failed = failures(loaded)
  assert.deepEqual(
    failed.map((f) => f.destination),
    [`${dst.host}/big/huge:v1`],
  )
  assert.match(failed[0]!.error.message, new RegExp(`${digest.slice(7)} is ${bytes.length} bytes, above the 4 MiB limit ferry reads for a manifest`))
  assert.equal((await clientFor(dst).request('HEAD', `/v2/big/huge/manifests/${digest}`, {headers: {accept: images['app:v1'].mediaType}})).status, 404)
  assert.equal(await skopeoDigest(dst, 'big/app:v1'), images['app:v1'].digest, 'the other images load')
})

test('a tar with a symbolic link, a `..` path or a link to a folder outside: refused, nothing written outside', {timeout: 90_000}, async () => {
  const tmp = await mkdtemp(path.join(work.dir, 'tmp-'))
  const outside = path.join(work.dir, 'outside')
  await mkdir(outside)
  const env = {TMPDIR: tmp}

  // The manifest of app:v1 a link to /dev/zero, packed by GNU tar as a symbolic link entry.
  const linked = await copyOf('tar-zero')
  const manifest = blobFile(linked, images['app:v1'].digest)
  await rm(manifest)
  await symlink('/dev/zero', manifest)
  const zeroTar = path.join(work.dir, 'zero.tar')
  execFileSync('tar', ['-cf', zeroTar, '-C', linked, '.'])
  const run = await runBounded(['load', zeroTar, '--registry', dst.host, '--ns', 'tar', '--securityFile', security], env)
  assertOneLineError(
    run,
    new RegExp(
      `^Error: .*zero\\.tar: entry "\\./blobs/sha256/${images['app:v1'].digest.slice(7)}" is a symbolic link \\(to "/dev/zero"\\); a layout tar holds only files and folders`,
    ),
  )
  assert.deepEqual(await readdir(tmp), [], 'the unpacked folder is removed')
  await assertAbsent('tar/other', images['other:v1'])

  // A folder link to `outside`, then a file through it; and a file at `../escape`.
  const escaping = await copyOf('tar-escape')
  await symlink(outside, path.join(escaping, 'blobs', 'sha256', 'escape'))
  const stage = path.join(work.dir, 'stage')
  await mkdir(stage)
  await writeFile(path.join(stage, 'planted'), 'planted')
  for (const [name, transform] of [
    ['through-link.tar', 's,^planted$,./blobs/sha256/escape/planted,'],
    ['dot-dot.tar', 's,^planted$,../escape-planted,'],
  ] as const) {
    const file = path.join(work.dir, name)
    execFileSync('tar', ['-cf', file, '-C', name === 'dot-dot.tar' ? saved : escaping, '.'])
    execFileSync('tar', ['-rf', file, '-P', `--transform=${transform}`, '-C', stage, 'planted'])
    const refused = await runBounded(['load', file, '--registry', dst.host, '--ns', 'tar', '--securityFile', security], env)
    assertOneLineError(
      refused,
      name === 'dot-dot.tar' ? /entry "\.\.\/escape-planted" leads outside the layout/ : /entry "\.\/blobs\/sha256\/escape" is a symbolic link/,
    )
    assert.deepEqual(await readdir(tmp), [], `${name}: nothing left in TMPDIR, nothing at ../escape-planted`)
    assert.deepEqual(await readdir(outside), [], `${name}: nothing written through the link`)
  }
  await assertAbsent('tar/other', images['other:v1'])
})

test('a blob folder that is a symbolic link is refused, with one line', {timeout: 90_000}, async () => {
  const real = await copyOf('real-blobs')
  const layout = path.join(work.dir, 'linked-blobs')
  await mkdir(layout)
  for (const name of ['oci-layout', 'index.json']) await cp(path.join(real, name), path.join(layout, name))
  await symlink(path.join(real, 'blobs'), path.join(layout, 'blobs'))
  const run = await runBounded(['load', layout, '--registry', dst.host, '--ns', 'linked', '--securityFile', security])
  assertOneLineError(
    run,
    new RegExp(`^Error: ${path.join(layout, 'blobs').replaceAll('.', '\\.')} is a symbolic link, not a folder; ferry follows no links inside a layout`),
  )
  await assertAbsent('linked/other', images['other:v1'])
})
