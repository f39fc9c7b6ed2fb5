// `kill -9` of a save in the middle of writing a layer: the layout on disk stays valid (every
// index.json entry whole, every blob file true to its name), and running the save again removes
// the dead run's temporary file and finishes the layout.
import assert from 'node:assert/strict'
import {spawn} from 'node:child_process'
import {existsSync} from 'node:fs'
import {readdir, readFile} from 'node:fs/promises'
import path from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'
import {after, before, test} from 'node:test'

import {
  buildImage,
  pushBuiltImage,
  randomLayer,
  skopeo,
  skopeoDigest,
  skopeoFlags,
  startRegistry,
  type PushedImage,
  type TestRegistry,
} from '../harness/index.js'
import {startFaultProxy, type FaultProxy} from '../harness/fault-proxy.js'
import {checkLayout} from './layout-check.js'
import {lines, ROOT, runCli, workDir} from './support.js'

let src: TestRegistry
let dst: TestRegistry
let proxy: FaultProxy
let work: Awaited<ReturnType<typeof workDir>>
const images: PushedImage[] = []
const BIG = 3 // the image with the bigger layer

before(async () => {
  ;[src, dst, work] = await Promise.all([startRegistry(), startRegistry(), workDir()])
  proxy = await startFaultProxy(src)
  const base = randomLayer(256 * 1024, 'kill:base')
  for (let k = 0; k < 7; k++) {
    const own = randomLayer(k === BIG ? 24 * 1024 * 1024 : 512 * 1024, `kill:${k}`)
    images.push(await pushBuiltImage(src, `kill/app-${k}`, 'v1', buildImage({flavour: 'oci', layers: [base, own]})))
  }
})

after(async () => {
  await Promise.all([proxy?.stop(), src?.stop(), dst?.stop(), work?.cleanup()])
})

test('save killed with SIGKILL while writing a layer: layout valid; a re-run finishes it with no temporary files left', {timeout: 150_000}, async () => {
  assert.ok(existsSync(path.join(ROOT, 'dist', 'commands', 'save.js')), 'run `npm run build` first')
  const layout = path.join(work.dir, 'layout')
  const rules = await work.file('rules.yaml', images.map((image) => `${proxy.host}/${image.repository}:v1: ""\n`).join(''))
  const security = await work.file('security.yaml', `"http://${proxy.host}": {}\n"http://${dst.host}": {}\n`)
  const args = ['save', '--ruleFile', rules, '--securityFile', security, '--output', layout, '--routines', '2']
  // The big layer's body stalls after its headers: the save has its temporary file open while
  // the other routine commits the other images. The kill lands in that window, every time.
  const bigLayer = images[BIG]!.layers[1]!.digest
  proxy.addFault({method: 'GET', path: new RegExp(`/blobs/${bigLayer}`), times: 1, fault: {kind: 'stall', headers: true, ms: 60_000}})

  // --qps paces the other images, so the kill lands about halfway through them.
  const child = spawn(process.execPath, [path.join(ROOT, 'bin', 'run.js'), ...args, '--qps', '10'], {
    cwd: ROOT,
    env: {...process.env, OCLIF_SKIP_NEW_VERSION_CHECK: 'true'},
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true, // its own process group, killed whole below
  })
  let stderr = ''
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')))
  child.stdout.resume()
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, signal) => resolve(signal)))

  // A small layer's temporary file lives a few milliseconds; the stalled big layer's stays. Only a
  // temporary file seen for a whole second is taken for it, so the kill never lands between a
  // small layer's check and its rename (which once left no stray at all).
  const deadline = Date.now() + 60_000
  const firstSeen = new Map<string, number>()
  while (Date.now() < deadline) {
    const saved = await readFile(path.join(layout, 'index.json'), 'utf8').then(
      (text) => JSON.parse(text).manifests.length as number,
      () => 0,
    )
    const temporary = (await readdir(path.join(layout, 'blobs', 'sha256')).catch(() => [] as string[])).filter((name) => name.startsWith('.ferry-tmp-'))
    for (const name of temporary) if (!firstSeen.has(name)) firstSeen.set(name, Date.now())
    const lasting = temporary.some((name) => Date.now() - firstSeen.get(name)! >= 1000)
    if (saved >= 3 && lasting) break
    await sleep(10)
  }
  process.kill(-child.pid!, 'SIGKILL')
  assert.equal(await exited, 'SIGKILL', stderr)

  const killed = await checkLayout(layout)
  console.log(`killed with ${killed.entries.length} of ${images.length} images in index.json, ${killed.blobs} blobs, strays: ${killed.strays.join(', ')}`)
  assert.ok(killed.entries.length > 0 && killed.entries.length < images.length, `some but not all images saved (${killed.entries.length})`)
  assert.ok(
    killed.strays.some((name) => name.startsWith('blobs/sha256/.ferry-tmp-')),
    `the dead run left its temporary layer file: ${killed.strays}`,
  )
  assert.ok(!killed.entries.some((entry) => (entry as {digest: string}).digest === images[BIG]!.digest), 'the stalled image is not in index.json')

  const rerun = await runCli([...args, '--quiet'], {timeoutMs: 120_000})
  assert.equal(rerun.code, 0, rerun.stdout + rerun.stderr)
  const counts = /\((\d+) copied, (\d+) skipped/.exec(lines(rerun.stdout).at(-1) ?? '')
  assert.ok(counts, rerun.stdout)
  assert.equal(Number(counts[1]) + Number(counts[2]), images.length)
  assert.equal(Number(counts[2]), killed.entries.length, 'what was saved is skipped')

  const finished = await checkLayout(layout)
  assert.deepEqual(finished.strays, [], 'no temporary files left')
  assert.equal(finished.entries.length, images.length)
  assert.deepEqual(finished.entries.map((entry) => entry.digest).sort(), images.map((image) => image.digest).sort())
  // skopeo, sharing no code with ferry, copies the big image out of the finished layout.
  const big = images[BIG]!
  await skopeo(
    [
      '--insecure-policy',
      'copy',
      '--preserve-digests',
      ...skopeoFlags(dst, 'dest-'),
      `oci:${layout}:${proxy.host}/${big.repository}:v1`,
      `docker://${dst.host}/${big.repository}:v1`,
    ],
    120_000,
  )
  assert.equal(await skopeoDigest(dst, `${big.repository}:v1`), big.digest)
})
