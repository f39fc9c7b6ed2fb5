// Round trips a copy no longer waits for, against real Distribution behind the fault proxy. On a far
// link every request that waits for another costs a round trip; these tests hold one request at
// the proxy (its answer is the registry's own, sent late) and check, by the order the requests
// arrived in, that the copy went on with what does not depend on it. A hold ends when what it
// waits for arrives, or after 5 s (the old, serial order: then the assertion fails).
import assert from 'node:assert/strict'
import path from 'node:path'
import {after, before, describe, test} from 'node:test'
import {setTimeout as sleep} from 'node:timers/promises'

import {startFaultProxy, type Fault, type FaultProxy, type ProxyRequest} from '../harness/fault-proxy.js'
import {pushImage, pushIndex, randomLayer, sha256, skopeoDigest, startRegistry, type TestRegistry} from '../harness/index.js'
import {plainEntries, ruleYaml, runCli, workDir} from './support.js'

/** The registry's own answer, sent once `released()` holds (or after 5 s). */
function holdUntil(released: () => boolean): Fault {
  return {
    kind: 'respond',
    answer: async (_request, upstream) => {
      const until = Date.now() + 5000
      while (!released() && Date.now() < until) await sleep(10)
      const answer = await upstream()
      return {status: answer.status, headers: answer.headers, body: answer.body}
    },
  }
}

const mountOf = (request: ProxyRequest) => /^\/v2\/(.+)\/blobs\/uploads\/\?mount=([^&]+)/.exec(request.path)

describe('round trips a copy does not wait for', () => {
  let src: TestRegistry
  let dst: TestRegistry
  let srcProxy: FaultProxy
  let dstProxy: FaultProxy
  let work: Awaited<ReturnType<typeof workDir>>

  before(async () => {
    ;[src, dst, work] = await Promise.all([startRegistry(), startRegistry(), workDir()])
    ;[srcProxy, dstProxy] = await Promise.all([startFaultProxy(src), startFaultProxy(dst)])
    await work.file('security.yaml', plainEntries(srcProxy as unknown as TestRegistry, dstProxy as unknown as TestRegistry))
  })
  after(async () => {
    await Promise.all([srcProxy?.stop(), dstProxy?.stop(), src?.stop(), dst?.stop(), work?.cleanup()])
  })

  async function transfer(name: string, rules: Array<[string, string]>, ...flags: string[]) {
    const ruleFile = await work.file(`${name}.yaml`, ruleYaml(rules))
    const retry = flags.includes('--retry') ? [] : ['--retry', '0']
    return runCli(['transfer', '--ruleFile', ruleFile, '--securityFile', path.join(work.dir, 'security.yaml'), ...retry, ...flags])
  }

  test('repositories that share a layer mount it side by side, not one after another across the registry', async () => {
    const base = randomLayer(64 * 1024, 'round-trips-base')
    const names = ['x', 'a', 'b']
    for (const name of names) {
      await pushImage(src, `share/${name}`, 'v1', {layers: [base, randomLayer(4096, `round-trips-${name}`)], labels: {repository: name}})
    }
    const before = dstProxy.requests.length
    const mounts = () => dstProxy.requests.slice(before).filter((request) => mountOf(request) !== null)
    // The first mount of the shared layer is answered only once another repository's mount of it was.
    const hold = dstProxy.addFault({
      method: 'POST',
      path: /\/blobs\/uploads\/\?mount=/,
      times: 1,
      fault: holdUntil(() => {
        const [held, ...others] = mounts()
        const [, heldInto, digest] = mountOf(held!)!
        return others.some((other) => other.endedAt !== undefined && mountOf(other)![2] === digest && mountOf(other)![1] !== heldInto)
      }),
    })
    try {
      const run = await transfer(
        'shared',
        names.map((name) => [`${srcProxy.host}/share/${name}`, `${dstProxy.host}/shared/${name}`]),
        '--routines',
        '3',
      )
      assert.equal(run.code, 0, run.stdout + run.stderr)
    } finally {
      hold.remove()
    }
    const [held, ...others] = mounts()
    assert.ok(held, 'the shared layer was mounted (the home of an upload of this run)')
    assert.equal(held.status, 201)
    const beside = others.filter((other) => mountOf(other)![2] === mountOf(held)![2])
    assert.equal(beside.length, 1, 'the layer was uploaded once and mounted into the two other repositories')
    assert.ok(beside[0]!.endedAt! < held.endedAt!, "the second repository's mount was answered while the first was held")
    for (const name of names) assert.equal(await skopeoDigest(dst, `shared/${name}:v1`), await skopeoDigest(src, `share/${name}:v1`))
  })

  test('tags of one repository that share a layer: the destination is asked about it once in the run, not by every job', async () => {
    const base = randomLayer(64 * 1024, 'round-trips-tags-base')
    const tags = ['1', '2', '3']
    for (const tag of tags) await pushImage(src, 'tags/app', tag, {layers: [base, randomLayer(4096, `round-trips-tags-${tag}`)]})
    const before = dstProxy.requests.length
    const run = await transfer('tags', [[`${srcProxy.host}/tags/app`, `${dstProxy.host}/tags/app`]], '--routines', '1')
    assert.equal(run.code, 0, run.stdout + run.stderr)
    const digest = sha256(base)
    const asked = dstProxy.requests.slice(before).filter((r) => r.method === 'HEAD' && r.path.endsWith(`/blobs/${digest}`))
    // The first job asks (404) and uploads it; the next two know the repository holds it.
    assert.equal(asked.length, 1, asked.map((r) => `${r.method} ${r.path} ${r.status}`).join('\n'))
    for (const tag of tags) assert.equal(await skopeoDigest(dst, `tags/app:${tag}`), await skopeoDigest(src, `tags/app:${tag}`))
  })

  test('a blob deleted at the destination in the middle of the run: the job that needs it again fails, and its retry asks and uploads it', async () => {
    const base = randomLayer(64 * 1024, 'round-trips-deleted-base')
    const digest = sha256(base)
    for (const tag of ['1', '2']) await pushImage(src, 'gone/app', tag, {layers: [base, randomLayer(4096, `round-trips-deleted-${tag}`)]})
    // Once the first tag is pushed, someone deletes the shared layer from the repository (the run believes it is held there).
    const deleted = dstProxy.addFault({
      method: 'PUT',
      path: /\/gone\/app\/manifests\/[12]$/,
      times: 1,
      fault: {
        kind: 'respond',
        answer: async (_request, upstream) => {
          const answer = await upstream()
          const removed = await fetch(`${dst.url}/v2/gone/app/blobs/${digest}`, {method: 'DELETE'})
          assert.equal(removed.status, 202)
          return {status: answer.status, headers: answer.headers, body: answer.body}
        },
      },
    })
    const before = dstProxy.requests.length
    try {
      const run = await transfer('gone', [[`${srcProxy.host}/gone/app`, `${dstProxy.host}/gone/app`]], '--routines', '1', '--retry', '1')
      assert.equal(
        run.code,
        0,
        run.stdout +
          run.stderr +
          dstProxy.requests
            .slice(before)
            .map((r) => `${r.method} ${r.path} ${r.status}`)
            .join('\n'),
      )
    } finally {
      deleted.remove()
    }
    const seen = dstProxy.requests.slice(before)
    const puts = seen.flatMap((r, at) => (r.method === 'PUT' && /\/gone\/app\/manifests\/[12]$/.test(r.path) ? [{at, status: r.status}] : []))
    assert.deepEqual(
      puts.map((put) => put.status),
      [201, 400, 201],
      'the second tag was refused once (the run still believed the repository held the layer), then pushed',
    )
    const askedAfter = seen.slice(puts[1]!.at).filter((r) => r.method === 'HEAD' && r.path.endsWith(`/blobs/${digest}`))
    assert.equal(askedAfter.length, 1, 'the retry asked about the layer again instead of trusting what the failed attempt believed')
    for (const tag of ['1', '2']) assert.equal(await skopeoDigest(dst, `gone/app:${tag}`), await skopeoDigest(src, `gone/app:${tag}`))
  })

  test("an index's children are copied side by side, and the index is pushed after all of them", async () => {
    const index = await pushIndex(src, 'multi/app', 'v1', ['linux/amd64', 'linux/arm64', 'linux/s390x'], 'oci', {layerSize: 2048})
    const children = index.children.map((child) => child.digest)
    const before = srcProxy.requests.length
    const childGets = () =>
      srcProxy.requests.slice(before).filter((r) => r.method === 'GET' && children.some((digest) => r.path.endsWith(`/manifests/${digest}`)))
    // The first child's manifest is served only once another child's manifest was asked for.
    const hold = srcProxy.addFault({
      method: 'GET',
      path: new RegExp(`/manifests/(${children.join('|')})$`),
      times: 1,
      fault: holdUntil(() => childGets().length > 1),
    })
    const dstBefore = dstProxy.requests.length
    try {
      const run = await transfer('index', [[`${srcProxy.host}/multi/app`, `${dstProxy.host}/multi/app`]])
      assert.equal(run.code, 0, run.stdout + run.stderr)
    } finally {
      hold.remove()
    }
    const [held, next] = childGets()
    assert.ok(held && next, 'every child manifest was read')
    assert.ok(next.at < held.endedAt!, "another child's manifest was asked for while the first was held")
    // The copy order stays: every child manifest is in before the tag is pushed.
    const puts = dstProxy.requests.slice(dstBefore).filter((r) => r.method === 'PUT' && r.path.includes('/manifests/'))
    const tag = puts.find((r) => r.path.endsWith('/manifests/v1'))!
    const childPuts = puts.filter((r) => children.some((digest) => r.path.endsWith(`/manifests/${digest}`)))
    assert.equal(childPuts.length, children.length)
    assert.ok(
      childPuts.every((put) => put.endedAt! <= tag.at),
      'the index after its children',
    )
    assert.equal(await skopeoDigest(dst, 'multi/app:v1'), index.digest)
  })

  test("a new image's manifest is asked for without waiting for the source's HEAD", async () => {
    const image = await pushImage(src, 'fresh/app', 'v1', {layers: [randomLayer(4096, 'round-trips-fresh')]})
    const before = srcProxy.requests.length
    const manifestGets = () => srcProxy.requests.slice(before).filter((r) => r.method === 'GET' && r.path.includes('/manifests/'))
    const hold = srcProxy.addFault({method: 'HEAD', path: /\/fresh\/app\/manifests\/v1$/, times: 1, fault: holdUntil(() => manifestGets().length > 0)})
    try {
      const run = await transfer('fresh', [[`${srcProxy.host}/fresh/app`, `${dstProxy.host}/fresh/app`]])
      assert.equal(run.code, 0, run.stdout + run.stderr)
    } finally {
      hold.remove()
    }
    const head = srcProxy.requests.slice(before).find((r) => r.method === 'HEAD' && r.path.endsWith('/fresh/app/manifests/v1'))!
    const [get] = manifestGets()
    assert.ok(get && get.at < head.endedAt!, 'the manifest was asked for while the HEAD was held')
    assert.equal(manifestGets().length, 1, 'one GET of the manifest')
    assert.equal(await skopeoDigest(dst, 'fresh/app:v1'), image.digest)

    // At the destination already: HEADs only, no GET (a GET can count against a pull limit).
    const again = srcProxy.requests.length
    const rerun = await transfer('fresh', [[`${srcProxy.host}/fresh/app`, `${dstProxy.host}/fresh/app`]])
    assert.equal(rerun.code, 0, rerun.stdout + rerun.stderr)
    assert.equal(srcProxy.requests.slice(again).filter((r) => r.method === 'GET' && r.path.includes('/manifests/')).length, 0)
  })

  test("an image's referrers are looked up while it copies, not after its push", async () => {
    const image = await pushImage(src, 'signed/app', 'v1', {layers: [randomLayer(4096, 'round-trips-signed')]})
    const before = dstProxy.requests.length
    const tagPushed = () => dstProxy.requests.slice(before).some((r) => r.method === 'PUT' && r.path.endsWith('/signed/app/manifests/v1'))
    // The source's referrers answer comes only once the image's tag was pushed at the destination.
    const hold = srcProxy.addFault({method: 'GET', path: new RegExp(`/signed/app/referrers/${image.digest}`), times: 1, fault: holdUntil(tagPushed)})
    const srcBefore = srcProxy.requests.length
    try {
      const run = await transfer('signed', [[`${srcProxy.host}/signed/app`, `${dstProxy.host}/signed/app`]])
      assert.equal(run.code, 0, run.stdout + run.stderr)
    } finally {
      hold.remove()
    }
    const lookup = srcProxy.requests.slice(srcBefore).find((r) => r.method === 'GET' && r.path.includes(`/referrers/${image.digest}`))
    const push = dstProxy.requests.slice(before).find((r) => r.method === 'PUT' && r.path.endsWith('/signed/app/manifests/v1'))
    assert.ok(lookup && push, 'the referrers were looked up and the tag pushed')
    assert.ok(lookup.at < push.at, 'the lookup was sent before the push')
    assert.ok(push.at < lookup.endedAt!, 'the push did not wait for the lookup')
    assert.equal(await skopeoDigest(dst, 'signed/app:v1'), image.digest)
  })
})
