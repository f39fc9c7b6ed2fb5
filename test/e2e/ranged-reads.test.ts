// The source side of a big blob: read over several connections with Range requests on parts, read
// as one stream from a source that ignores Range, and continued after a cut from the last byte
// received. Real Distribution (it answers Range with 206) behind the hostile registry (a fault
// proxy that logs every request), reached through the link emulator, which counts the bytes the
// source served. skopeo checks the copy at the real destination.
import assert from 'node:assert/strict'
import {after, before, describe, test} from 'node:test'
import {pushImage, randomLayer, skopeoDigest, startRegistry, type PushedImage, type TestRegistry} from '../harness/index.js'
import {startFaultProxy} from '../harness/fault-proxy.js'
import {startHostileRegistry, type HostileRegistry} from '../harness/hostile-registry.js'
import {startLinkEmulator, type LinkEmulator} from '../harness/link-emulator.js'
import {parseRules} from '../../src/config/rules.js'
import {PART_SIZE, planParts} from '../../src/registry/ranged-reader.js'
import {parseSecurity} from '../../src/config/security.js'
import {transfer, type JobResult, type TransferReport} from '../../src/index.js'
import {assertDestinationConsistent} from './destination-check.js'
import {describeReport} from './support.js'

const MiB = 1024 * 1024
/** Above the 16 MiB threshold: five parts of 4 MiB (PART_SIZE). */
const LAYER = 20 * MiB
/** The Range header of each part of a blob of `size` bytes, as ferry asks for them, and the answer expected. */
const partRequests = (size: number) => planParts(0, size, PART_SIZE).map((part) => [`bytes=${part.start}-${part.end}`, 206])
/** Where the first blob GET is cut: inside the first part, 75% through it. */
const CUT_AT = (PART_SIZE * 3) / 4
const TEST = {timeout: 120_000}

let src: TestRegistry
let dst: TestRegistry
let hostile: HostileRegistry
let link: LinkEmulator
let n = 0

before(async () => {
  ;[src, dst] = await Promise.all([startRegistry(), startRegistry()])
  hostile = await startHostileRegistry(src)
  link = await startLinkEmulator(hostile)
})
after(async () => {
  await link?.stop()
  await hostile?.stop()
  await Promise.all([src?.stop(), dst?.stop()])
})

async function image(name: string): Promise<PushedImage> {
  n++
  return pushImage(src, `ranged/${name}`, 'v1', {layers: [randomLayer(LAYER, `ranged:${name}:${n}`), randomLayer(2048, `ranged:${name}:${n}:small`)]})
}

interface Run {
  report: TransferReport
  result: JobResult
  /** Bytes the source sent across the link during the copy. */
  served: number
}

async function copy(name: string, options: {blobConnections?: number; retry?: number} = {}): Promise<Run> {
  const repository = `ranged/${name}`
  const {rules, errors} = parseRules(`${link.host}/${repository}:v1: ${dst.host}/${repository}\n`, 'rule.yaml', {})
  assert.deepEqual(errors, [])
  const credentials = parseSecurity([link, dst].map((r) => `"http://${r.host}": {}\n`).join(''), 'security.yaml')
  link.resetCounters()
  const report = await transfer({rules, credentials, retryBaseMs: 10, retry: options.retry ?? 0, routines: 1, blobConnections: options.blobConnections})
  assert.equal(report.results.length, 1, describeReport(report))
  return {report, result: report.results[0]!, served: link.stats.serverToClient}
}

async function assertCopied(run: Run, pushed: PushedImage): Promise<void> {
  assert.equal(run.result.status, 'copied', describeReport(run.report))
  assert.equal(await skopeoDigest(dst, `${pushed.repository}:v1`), pushed.digest)
  await assertDestinationConsistent(dst)
}

const imageBytes = (pushed: PushedImage) => pushed.manifest.length + pushed.blobs.reduce((sum, blob) => sum + blob.size, 0)
const blobPath = (digest: string) => new RegExp(`^/v2/ranged/[^?]*/blobs/${digest}$`)
const blobGets = (digest: string) => hostile.requests.filter((r) => r.method === 'GET' && blobPath(digest).test(r.path))

describe('ranged reads of the source', () => {
  test('a large blob is read in parts over several connections; one connection reads it as one stream', TEST, async () => {
    const pushed = await image('parts')
    const big = pushed.layers[0]!
    const run = await copy('parts', {blobConnections: 4})
    await assertCopied(run, pushed)
    const gets = blobGets(big.digest)
    assert.deepEqual(
      gets.map((r) => [r.headers.range, r.status]),
      partRequests(big.size),
    )
    // Every part after the first is conditional on the first answer's ETag (Distribution sends one).
    assert.ok(
      gets.slice(1).every((r) => typeof r.headers['if-range'] === 'string'),
      JSON.stringify(gets.map((r) => r.headers)),
    )
    assert.ok(run.served < 1.05 * imageBytes(pushed), `${run.served} bytes served for ${imageBytes(pushed)}`)

    const single = await image('single')
    const one = await copy('single', {blobConnections: 1})
    await assertCopied(one, single)
    assert.deepEqual(
      blobGets(single.layers[0]!.digest).map((r) => [r.headers.range, r.status]),
      [[undefined, 200]],
    )
  })

  test('a source that ignores Range (200 with the whole blob) is read as that one stream, with no request more', TEST, async () => {
    const pushed = await image('no-range')
    const big = pushed.layers[0]!
    const whole = hostile.respond(blobPath(big.digest), () => ({status: 200, headers: {'content-type': 'application/octet-stream'}, body: big.bytes}), {
      method: 'GET',
    })
    const run = await copy('no-range', {blobConnections: 4})
    whole.remove()
    await assertCopied(run, pushed)
    const gets = blobGets(big.digest)
    assert.deepEqual(
      gets.map((r) => [r.headers.range, r.status]),
      [[`bytes=0-${PART_SIZE - 1}`, 200]],
    )
    assert.ok(run.served < 1.05 * imageBytes(pushed), `${run.served} bytes served for ${imageBytes(pushed)}`)
  })

  test('a blob GET redirected to storage elsewhere: the Range requests go along, each part from the storage', TEST, async () => {
    const pushed = await image('redirect')
    const big = pushed.layers[0]!
    // "Storage": another origin (a second proxy in front of the same registry) that serves the blob.
    const storage = await startFaultProxy(src)
    try {
      const moved = hostile.redirect(blobPath(big.digest), (request) => `${storage.url}${request.path}`, {method: 'GET', status: 307})
      const run = await copy('redirect', {blobConnections: 4})
      moved.remove()
      await assertCopied(run, pushed)
      const fromStorage = storage.requests.filter((r) => r.method === 'GET' && blobPath(big.digest).test(r.path))
      assert.deepEqual(
        fromStorage.map((r) => [r.headers.range, r.status]),
        partRequests(big.size),
      )
    } finally {
      await storage.stop()
    }
  })

  for (const connections of [1, 4]) {
    test(`a cut in the middle of a blob (${connections} connection${connections > 1 ? 's' : ''}) continues from the last byte received`, TEST, async () => {
      const pushed = await image(`cut-${connections}`)
      const big = pushed.layers[0]!
      // The first blob GET is cut inside the first part (15% of the one stream).
      const cut = hostile.addFault({method: 'GET', path: blobPath(big.digest), times: 1, fault: {kind: 'reset', afterBytes: CUT_AT}})
      const run = await copy(`cut-${connections}`, {blobConnections: connections})
      cut.remove()
      assert.equal(cut.hits, 1)
      await assertCopied(run, pushed)
      const gets = blobGets(big.digest)
      assert.equal(gets[0]!.fault, 'reset')
      // An RST drops what the client had not read yet: it resumes at the last byte it received.
      const startOf = (range: string | undefined) => Number(/^bytes=(\d+)-/.exec(range ?? '')?.[1])
      const resume = gets.find((r) => r.headers.range !== undefined && startOf(r.headers.range) % PART_SIZE !== 0)
      const start = startOf(resume?.headers.range)
      assert.ok(
        resume && start > 0 && start <= CUT_AT,
        `a request resumes inside the first ${CUT_AT} bytes: ${JSON.stringify(gets.map((r) => r.headers.range))}`,
      )
      assert.equal(resume.status, 206)
      // Within its part when read in parts; to the end as one stream.
      assert.equal(resume.headers.range, `bytes=${start}-${connections > 1 ? PART_SIZE - 1 : ''}`)
      assert.ok(resume.headers['if-range'], 'the resume is conditional on the ETag')
      assert.equal(run.result.blobs?.uploaded, pushed.blobs.length, describeReport(run.report))
      // Served twice: only what the cut lost between the client's last byte and what the proxy
      // sent (on a loaded machine the client has read less when the RST comes), and a little.
      const lost = CUT_AT - start
      assert.ok(run.served <= imageBytes(pushed) + lost + MiB, `${run.served} bytes served for ${imageBytes(pushed)}, ${lost} lost in the cut`)
    })
  }

  test('a 200 to a resume is never glued on: the blob is read again from byte 0 and arrives intact', TEST, async () => {
    const pushed = await image('resume-200')
    const big = pushed.layers[0]!
    // The resume is answered with the whole blob (one byte flipped, so that no use of this body can
    // pass verification): glued after the 3 MiB already handed on it would be a wrong blob. The
    // cut comes first (rules apply in order).
    const corrupt = Buffer.from(big.bytes)
    corrupt[10] = corrupt[10]! ^ 0xff
    hostile.addFault({method: 'GET', path: blobPath(big.digest), times: 1, fault: {kind: 'reset', afterBytes: 3 * MiB}})
    hostile.respond(
      blobPath(big.digest),
      (request) => ({status: 200, headers: {'content-type': 'application/octet-stream'}, body: request.headers.range ? corrupt : big.bytes}),
      {method: 'GET'},
    )
    const run = await copy('resume-200', {blobConnections: 1})
    hostile.clearFaults()
    await assertCopied(run, pushed)
    const gets = blobGets(big.digest)
    assert.deepEqual(
      gets.map((r) => [r.headers.range?.replace(/\d+-$/, 'N-'), r.status]),
      [
        [undefined, 200],
        ['bytes=N-', 200],
        [undefined, 200],
      ],
    )
  })
})
