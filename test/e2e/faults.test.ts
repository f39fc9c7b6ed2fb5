// Faults between ferry and real registries: ferry reads the source through a fault proxy and writes
// the destination through another. Each fault is either absorbed by a retry (request level or job
// level) and the copy is exact (skopeo against the real destination), or the job fails with the
// right code and the destination stays consistent: no tag names a manifest whose blobs are missing,
// and no corrupt blob is stored under a digest.
import assert from 'node:assert/strict'
import {after, before, describe, test} from 'node:test'
import {pushImage, randomLayer, skopeoDigest, startRegistry, type PushedImage, type TestRegistry} from '../harness/index.js'
import {startFaultProxy, type FaultProxy, type FaultRule} from '../harness/fault-proxy.js'
import {parseRules} from '../../src/config/rules.js'
import {parseSecurity} from '../../src/config/security.js'
import {transfer, type JobResult, type TransferReport} from '../../src/index.js'
import {assertBlobAbsentOrIntact, assertDestinationConsistent} from './destination-check.js'
import {describeReport} from './support.js'

const LAYER = 256 * 1024
const TEST = {timeout: 90_000}

let src: TestRegistry
let dst: TestRegistry
let srcProxy: FaultProxy
let dstProxy: FaultProxy
let n = 0

before(async () => {
  ;[src, dst] = await Promise.all([startRegistry(), startRegistry()])
  ;[srcProxy, dstProxy] = await Promise.all([startFaultProxy(src), startFaultProxy(dst)])
})
after(async () => {
  await Promise.all([srcProxy?.stop(), dstProxy?.stop()])
  await Promise.all([src?.stop(), dst?.stop()])
})

/** A fresh image (its own blobs, so a fault by digest hits only this test) in its own repository. */
async function image(name: string, flavour: 'docker' | 'oci' = 'docker'): Promise<PushedImage> {
  n++
  return pushImage(src, `faults/${name}`, 'v1', {
    flavour,
    layers: [randomLayer(LAYER, `faults:${name}:${n}:big`), randomLayer(4096, `faults:${name}:${n}:small`)],
  })
}

interface Run {
  report: TransferReport
  result: JobResult
  /** `faults/NAME` at the destination. */
  repository: string
  ms: number
}

/** Copies faults/NAME:v1 from the source proxy to the destination proxy (or the real destination). */
async function copy(name: string, options: {retry?: number; idleTimeoutMs?: number; chunkSize?: number; direct?: boolean} = {}): Promise<Run> {
  const repository = `faults/${name}`
  const target = options.direct ? dst.host : dstProxy.host
  const {rules, errors} = parseRules(`${srcProxy.host}/${repository}:v1: ${target}/${repository}\n`, 'rule.yaml', {})
  assert.deepEqual(errors, [])
  const credentials = parseSecurity([srcProxy, dstProxy, dst].map((r) => `"http://${r.host}": {}\n`).join(''), 'security.yaml')
  const started = Date.now()
  const report = await transfer({
    rules,
    credentials,
    retryBaseMs: 10,
    retry: options.retry ?? 2,
    routines: 1,
    idleTimeoutMs: options.idleTimeoutMs ?? 10_000,
    chunkSize: options.chunkSize,
  })
  assert.equal(report.results.length, 1, describeReport(report))
  return {report, result: report.results[0]!, repository, ms: Date.now() - started}
}

async function assertCopied(run: Run, pushed: PushedImage): Promise<void> {
  assert.equal(run.result.status, 'copied', describeReport(run.report))
  assert.equal(run.result.digest, pushed.digest)
  assert.equal(await skopeoDigest(dst, `${run.repository}:v1`), pushed.digest)
  for (const blob of pushed.blobs) await assertBlobAbsentOrIntact(dst, run.repository, blob.digest)
}

async function assertFailedCleanly(run: Run, code: string, pushed: PushedImage, corrupt?: string): Promise<void> {
  assert.equal(run.result.status, 'failed', describeReport(run.report))
  assert.equal(run.result.error?.code, code, describeReport(run.report))
  assert.ok(!run.result.error!.message.includes('\n'), run.result.error!.message)
  const head = await skopeoDigest(dst, `${run.repository}:v1`).then(
    () => 'present',
    () => 'absent',
  )
  assert.equal(head, 'absent', 'a failed job leaves no tag at the destination')
  await assertDestinationConsistent(dst)
  for (const blob of pushed.blobs) await assertBlobAbsentOrIntact(dst, run.repository, blob.digest)
  if (corrupt) assert.equal(await assertBlobAbsentOrIntact(dst, run.repository, corrupt), 'absent')
}

const blobPath = (digest: string) => new RegExp(`^/v2/faults/[^?]*/blobs/${digest}$`)
// The source manifest's GET: by tag for an image new at the destination, by digest otherwise.
const manifestGet = /^\/v2\/faults\/[^?]*\/manifests\//

function fault(proxy: FaultProxy, rule: FaultRule) {
  return proxy.addFault(rule)
}

describe('source faults on blob GET', () => {
  test('a reset in the middle of a blob body is continued from the last byte received and the copy succeeds', TEST, async () => {
    const pushed = await image('reset-once')
    const big = pushed.layers[0]!
    const f = fault(srcProxy, {method: 'GET', path: blobPath(big.digest), times: 2, fault: {kind: 'reset', afterBytes: 64 * 1024}})
    const run = await copy('reset-once')
    f.remove()
    assert.equal(f.hits, 2)
    await assertCopied(run, pushed)
    const gets = srcProxy.requests.filter((r) => r.method === 'GET' && blobPath(big.digest).test(r.path))
    // Cut mid-body: the whole blob's 200, then a Range from where it stopped (cut too), then the rest.
    assert.deepEqual(
      gets.map((r) => [r.fault, r.status, r.headers.range === undefined ? 'whole' : 'from a byte']),
      [
        ['reset', 200, 'whole'],
        ['reset', 206, 'from a byte'],
        [undefined, 206, 'from a byte'],
      ],
    )
    assert.equal(run.result.attempts, 1)
  })

  test('a reset on every GET of a blob, more often than a read resumes, fails the job with NETWORK, destination consistent', TEST, async () => {
    const pushed = await image('reset-always')
    const big = pushed.layers[0]!
    // A read continues a few times (ranged-reader MAX_RESUMES): 16 KiB a time is too little for 256 KiB.
    const f = fault(srcProxy, {method: 'GET', path: blobPath(big.digest), fault: {kind: 'reset', afterBytes: 16 * 1024}})
    const run = await copy('reset-always', {retry: 1})
    f.remove()
    await assertFailedCleanly(run, 'NETWORK', pushed)
    assert.equal(run.result.attempts, 2)
  })

  test('a body cut short of its Content-Length is retried and the copy succeeds', TEST, async () => {
    const pushed = await image('truncate-once')
    const big = pushed.layers[0]!
    const f = fault(srcProxy, {method: 'GET', path: blobPath(big.digest), times: 2, fault: {kind: 'truncate', afterBytes: 100_000}})
    const run = await copy('truncate-once')
    f.remove()
    assert.equal(f.hits, 2)
    await assertCopied(run, pushed)
  })

  test('a body always cut short of its Content-Length fails the job (NETWORK), destination consistent', TEST, async () => {
    const pushed = await image('truncate-always')
    const big = pushed.layers[0]!
    // Each cut read continues from where it stopped, a few times: 10 kB a time is too little for 256 KiB.
    const f = fault(srcProxy, {method: 'GET', path: blobPath(big.digest), fault: {kind: 'truncate', afterBytes: 10_000}})
    const run = await copy('truncate-always', {retry: 1})
    f.remove()
    await assertFailedCleanly(run, 'NETWORK', pushed)
  })

  test('a well-formed but short body once is retried; always short fails with SIZE_MISMATCH', TEST, async () => {
    const once = await image('short-once')
    const f1 = fault(srcProxy, {method: 'GET', path: blobPath(once.layers[0]!.digest), times: 1, fault: {kind: 'short', afterBytes: 1000}})
    const run1 = await copy('short-once')
    f1.remove()
    assert.equal(f1.hits, 1)
    await assertCopied(run1, once)

    const always = await image('short-always')
    const big = always.layers[0]!
    const f2 = fault(srcProxy, {method: 'GET', path: blobPath(big.digest), fault: {kind: 'short', afterBytes: 1000}})
    const run2 = await copy('short-always', {retry: 1})
    f2.remove()
    await assertFailedCleanly(run2, 'SIZE_MISMATCH', always, big.digest)
    assert.equal(run2.result.attempts, 2, 'a short body is retried, then given up')
  })

  test('one flipped byte once is retried; on every GET the job fails with DIGEST_MISMATCH and nothing is committed', TEST, async () => {
    const once = await image('corrupt-once')
    const f1 = fault(srcProxy, {method: 'GET', path: blobPath(once.layers[0]!.digest), times: 1, fault: {kind: 'corrupt'}})
    const run1 = await copy('corrupt-once')
    f1.remove()
    assert.equal(f1.hits, 1)
    await assertCopied(run1, once)

    const always = await image('corrupt-always')
    const big = always.layers[0]!
    const f2 = fault(srcProxy, {method: 'GET', path: blobPath(big.digest), fault: {kind: 'corrupt'}})
    const run2 = await copy('corrupt-always', {retry: 1})
    f2.remove()
    await assertFailedCleanly(run2, 'DIGEST_MISMATCH', always, big.digest)
    assert.ok(run2.result.error!.message.includes(big.digest), run2.result.error!.message)
    // Nothing under the corrupt digest reached the destination's storage either (no other repository has it).
    await dst.requestLog.settle()
    assert.equal(
      dst.requestLog.entries.filter((e) => e.method === 'PUT' && e.path.includes(`digest=${encodeURIComponent(big.digest)}`) && e.status === 201).length,
      0,
      'no upload of the corrupt blob was committed',
    )
  })

  test('the same with chunked uploads: a flipped byte never completes a PATCH+PUT upload', TEST, async () => {
    const pushed = await image('corrupt-chunked')
    const big = pushed.layers[0]!
    const f = fault(srcProxy, {method: 'GET', path: blobPath(big.digest), fault: {kind: 'corrupt', offset: LAYER - 10}})
    const run = await copy('corrupt-chunked', {retry: 0, chunkSize: 64 * 1024})
    f.remove()
    await assertFailedCleanly(run, 'DIGEST_MISMATCH', pushed, big.digest)
  })

  test(
    'a flipped byte once in a chunked upload: the next try starts a fresh upload (the session holds the wrong bytes) and the copy is exact',
    TEST,
    async () => {
      const pushed = await image('corrupt-chunked-once')
      const big = pushed.layers[0]!
      // Early in the blob, so several chunks holding it (and checkpoints hashing it) are sent before the end shows it.
      const f = fault(srcProxy, {method: 'GET', path: blobPath(big.digest), times: 1, fault: {kind: 'corrupt', offset: 1000}})
      const run = await copy('corrupt-chunked-once', {retry: 0, chunkSize: 64 * 1024})
      f.remove()
      assert.equal(f.hits, 1)
      await assertCopied(run, pushed)
    },
  )

  test('the corrupt fault counts its offset in the whole blob: a ranged read covering it is corrupt, one after it is not', TEST, async () => {
    const pushed = await image('corrupt-ranged')
    const big = pushed.layers[0]!
    const f = fault(srcProxy, {method: 'GET', path: blobPath(big.digest), fault: {kind: 'corrupt', offset: LAYER - 10}})
    const read = async (from: number) => {
      const res = await fetch(`${srcProxy.url}/v2/faults/corrupt-ranged/blobs/${big.digest}`, {headers: {range: `bytes=${from}-`}})
      assert.equal(res.status, 206)
      return Buffer.from(await res.arrayBuffer())
    }
    const from = big.size - 64 * 1024
    const covering = await read(from)
    const after = await read(LAYER - 8)
    f.remove()
    const whole = await read(0)
    assert.equal(covering.length, 64 * 1024)
    assert.equal(covering[LAYER - 10 - from], whole[LAYER - 10]! ^ 0xff, 'the byte at LAYER - 10 is flipped in the covering range')
    assert.ok(covering.subarray(0, LAYER - 10 - from).equals(whole.subarray(from, LAYER - 10)), 'and only that byte')
    assert.ok(after.equals(whole.subarray(LAYER - 8)), 'a range after the offset is intact')
  })

  test('a manifest served with a flipped byte fails with DIGEST_MISMATCH', TEST, async () => {
    const pushed = await image('corrupt-manifest', 'oci')
    const f = fault(srcProxy, {method: 'GET', path: /^\/v2\/faults\/corrupt-manifest\/manifests\//, fault: {kind: 'corrupt'}})
    const run = await copy('corrupt-manifest', {retry: 1})
    f.remove()
    await assertFailedCleanly(run, 'DIGEST_MISMATCH', pushed)
  })
})

describe('server errors', () => {
  for (const status of [500, 502, 503]) {
    test(`${status} on the source manifest GET (twice) is retried inside the request`, TEST, async () => {
      const name = `manifest-${status}`
      const pushed = await image(name)
      const f = fault(srcProxy, {
        method: 'GET',
        path: manifestGet,
        times: 2,
        fault: {kind: 'status', status, ...(status === 503 ? {retryAfter: 1} : {})},
      })
      const run = await copy(name)
      f.remove()
      assert.equal(f.hits, 2)
      await assertCopied(run, pushed)
      assert.equal(run.result.attempts, 1, 'the client retried the request; the job did not need another attempt')
      if (status === 503) {
        const gets = srcProxy.requests.filter((r) => r.method === 'GET' && r.path.startsWith(`/v2/faults/${name}/manifests/`))
        assert.equal(gets.length, 3)
        for (let i = 1; i < gets.length; i++) {
          assert.ok(gets[i]!.at - gets[i - 1]!.at >= 1000, `Retry-After: 1 honoured (${Math.round(gets[i]!.at - gets[i - 1]!.at)} ms)`)
        }
      }
    })

    test(`${status} on the destination blob HEAD (twice) is retried`, TEST, async () => {
      const name = `blob-head-${status}`
      const pushed = await image(name)
      const f = fault(dstProxy, {method: 'HEAD', path: blobPath(pushed.layers[0]!.digest), times: 2, fault: {kind: 'status', status}})
      const run = await copy(name)
      f.remove()
      assert.equal(f.hits, 2)
      await assertCopied(run, pushed)
      assert.equal(run.result.attempts, 1)
    })
  }

  test('503 on every source manifest GET fails the job with a retryable server error; nothing at the destination', TEST, async () => {
    const pushed = await image('manifest-503-always')
    const f = fault(srcProxy, {method: 'GET', path: /^\/v2\/faults\/manifest-503-always\/manifests\//, fault: {kind: 'status', status: 503}})
    const run = await copy('manifest-503-always', {retry: 0})
    f.remove()
    assert.equal(f.hits, 4, 'the first try and three request retries')
    await assertFailedCleanly(run, 'UNAVAILABLE', pushed)
  })
})

describe('rate limiting', () => {
  test('429 with Retry-After: 1 on the destination manifest PUT: the retry waits at least a second, then succeeds', TEST, async () => {
    const pushed = await image('429-manifest')
    const path = '/v2/faults/429-manifest/manifests/v1'
    const f = fault(dstProxy, {method: 'PUT', path: new RegExp(`^${path}$`), times: 1, fault: {kind: 'status', status: 429, retryAfter: 1}})
    const run = await copy('429-manifest')
    f.remove()
    assert.equal(f.hits, 1)
    await assertCopied(run, pushed)
    const refused = dstProxy.requests.find((r) => r.method === 'PUT' && r.path === path && r.status === 429)!
    const retried = dstProxy.requests.find((r) => r.method === 'PUT' && r.path === path && r.status === 201)!
    assert.ok(refused && retried, JSON.stringify(dstProxy.requests.filter((r) => r.path === path)))
    const gap = retried.at - refused.at
    assert.ok(gap >= 1000, `retry came ${Math.round(gap)} ms after the 429, before its Retry-After`)
    // The whole registry paused, not just that request.
    const during = dstProxy.requests.filter((r) => r.at > refused.at && r.at < refused.at + 1000)
    assert.deepEqual(
      during.map((r) => `${r.method} ${r.path}`),
      [],
    )
  })

  test('429 with Retry-After: 1 on a destination blob HEAD: retried no sooner than a second later', TEST, async () => {
    const pushed = await image('429-blob')
    const big = pushed.layers[0]!
    const f = fault(dstProxy, {method: 'HEAD', path: blobPath(big.digest), times: 1, fault: {kind: 'status', status: 429, retryAfter: 1}})
    const run = await copy('429-blob')
    f.remove()
    await assertCopied(run, pushed)
    const heads = dstProxy.requests.filter((r) => r.method === 'HEAD' && blobPath(big.digest).test(r.path))
    assert.equal(heads[0]!.status, 429)
    assert.ok(heads[1]!.at - heads[0]!.at >= 1000, `${Math.round(heads[1]!.at - heads[0]!.at)} ms`)
  })
})

describe('stalls beyond the idle timeout (1.5 s)', () => {
  test('a blob body that stops after the headers, once: the stream times out and is retried', TEST, async () => {
    const pushed = await image('stall-body-once')
    const f = fault(srcProxy, {method: 'GET', path: blobPath(pushed.layers[0]!.digest), times: 1, fault: {kind: 'stall', headers: true}})
    const run = await copy('stall-body-once', {idleTimeoutMs: 1500})
    f.remove()
    assert.equal(f.hits, 1)
    await assertCopied(run, pushed)
    assert.ok(run.ms >= 1500, `the stall was waited out (${run.ms} ms)`)
  })

  test('a manifest GET answered with nothing at all, once: the request times out and is retried', TEST, async () => {
    const pushed = await image('stall-silent-once')
    const f = fault(srcProxy, {method: 'GET', path: manifestGet, times: 1, fault: {kind: 'stall'}})
    const run = await copy('stall-silent-once', {idleTimeoutMs: 1500})
    f.remove()
    assert.equal(f.hits, 1)
    await assertCopied(run, pushed)
  })

  test('a manifest GET that never answers fails the job with TIMEOUT after the request retries', TEST, async () => {
    const pushed = await image('stall-silent-always')
    const f = fault(srcProxy, {method: 'GET', path: /^\/v2\/faults\/stall-silent-always\/manifests\//, fault: {kind: 'stall'}})
    const run = await copy('stall-silent-always', {idleTimeoutMs: 1500, retry: 0})
    f.remove()
    assert.equal(f.hits, 4, 'the first try and three request retries')
    await assertFailedCleanly(run, 'TIMEOUT', pushed)
  })

  test('a blob body that always stalls fails the job with TIMEOUT, destination consistent', TEST, async () => {
    const pushed = await image('stall-always')
    const f = fault(srcProxy, {method: 'GET', path: blobPath(pushed.layers[0]!.digest), fault: {kind: 'stall', headers: true}})
    const run = await copy('stall-always', {idleTimeoutMs: 1500, retry: 0})
    f.remove()
    await assertFailedCleanly(run, 'TIMEOUT', pushed)
    assert.match(run.result.error!.message, /no data for 1\.5s/)
    assert.ok(run.ms < 20_000, `gave up in ${run.ms} ms`)
  })
})

describe('upload-side faults', () => {
  test('the blob PUT answered 500 once: the blob is uploaded again and the copy succeeds', TEST, async () => {
    const pushed = await image('put-blob-500')
    const big = pushed.layers[0]!
    const path = new RegExp(`^/v2/faults/put-blob-500/blobs/uploads/.*digest=${encodeURIComponent(big.digest)}`)
    const f = fault(dstProxy, {method: 'PUT', path, times: 1, fault: {kind: 'status', status: 500}})
    const run = await copy('put-blob-500')
    f.remove()
    assert.equal(f.hits, 1)
    await assertCopied(run, pushed)
    assert.equal(dstProxy.count({method: 'PUT', path}), 2)
  })

  test('a registry refusing a whole-blob PUT as too large (413): the blob goes up in PATCH chunks', TEST, async () => {
    const pushed = await image('put-blob-413')
    const big = pushed.layers[0]!
    const put = new RegExp(`^/v2/faults/put-blob-413/blobs/uploads/.*digest=${encodeURIComponent(big.digest)}`)
    const patch = /^\/v2\/faults\/put-blob-413\/blobs\/uploads\//
    // Only a PUT that carries the body is refused: the empty commit PUT after the chunks passes.
    const f = fault(dstProxy, {method: 'PUT', path: put, times: 1, fault: {kind: 'status', status: 413}})
    const run = await copy('put-blob-413')
    f.remove()
    assert.equal(f.hits, 1)
    await assertCopied(run, pushed)
    assert.ok(dstProxy.count({method: 'PATCH', path: patch}) >= 1, 'the fallback uploaded in chunks')
  })

  test('the connection dropped during a blob PUT: uploaded again, the copy succeeds', TEST, async () => {
    const pushed = await image('put-blob-drop')
    const big = pushed.layers[0]!
    const path = new RegExp(`^/v2/faults/put-blob-drop/blobs/uploads/.*digest=${encodeURIComponent(big.digest)}`)
    const f = fault(dstProxy, {method: 'PUT', path, times: 1, fault: {kind: 'stall', ms: 100}})
    const run = await copy('put-blob-drop')
    f.remove()
    assert.equal(f.hits, 1)
    await assertCopied(run, pushed)
  })

  test('a chunk PATCH answered 500 once: the blob is uploaded again and the copy succeeds', TEST, async () => {
    const pushed = await image('patch-500')
    const f = fault(dstProxy, {method: 'PATCH', path: /^\/v2\/faults\/patch-500\/blobs\/uploads\//, skip: 1, times: 1, fault: {kind: 'status', status: 500}})
    const run = await copy('patch-500', {chunkSize: 64 * 1024})
    f.remove()
    assert.equal(f.hits, 1)
    await assertCopied(run, pushed)
  })

  test('the blob PUT always answered 500: the job fails, no manifest, destination consistent', TEST, async () => {
    const pushed = await image('put-blob-500-always')
    const big = pushed.layers[0]!
    const path = new RegExp(`^/v2/faults/put-blob-500-always/blobs/uploads/.*digest=${encodeURIComponent(big.digest)}`)
    const f = fault(dstProxy, {method: 'PUT', path, fault: {kind: 'status', status: 500}})
    const run = await copy('put-blob-500-always', {retry: 0})
    f.remove()
    await assertFailedCleanly(run, 'UNKNOWN', pushed)
    assert.equal(f.hits, 3, 'one blob is tried three times within a job attempt')
  })

  test('the manifest PUT answered 503 twice is retried and succeeds', TEST, async () => {
    const pushed = await image('put-manifest-503')
    const path = /^\/v2\/faults\/put-manifest-503\/manifests\/v1$/
    const f = fault(dstProxy, {method: 'PUT', path, times: 2, fault: {kind: 'status', status: 503}})
    const run = await copy('put-manifest-503')
    f.remove()
    assert.equal(f.hits, 2)
    await assertCopied(run, pushed)
    assert.equal(dstProxy.count({method: 'PUT', path, status: 201}), 1)
  })
})

describe('the proxy itself', () => {
  test('forwards faithfully: a copy through both proxies without faults is exact, and Location points at the proxy', TEST, async () => {
    const pushed = await image('clean')
    const run = await copy('clean')
    await assertCopied(run, pushed)
    const posts = dstProxy.requests.filter((r) => r.method === 'POST' && r.path.startsWith('/v2/faults/clean/blobs/uploads/'))
    assert.ok(posts.length > 0)
    const puts = dstProxy.requests.filter((r) => r.method === 'PUT' && r.path.startsWith('/v2/faults/clean/blobs/uploads/'))
    assert.equal(puts.length, pushed.blobs.length, 'uploads followed the rewritten Location back through the proxy')
    assert.equal(await assertDestinationConsistent(dst).then((r) => r.tags > 0), true)
  })
})
