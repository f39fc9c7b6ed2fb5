import assert from 'node:assert/strict'
import {after, before, test} from 'node:test'

import {parseRules} from '../../src/config/rules.js'
import {parseSecurity} from '../../src/config/security.js'
import {transfer} from '../../src/index.js'
import {pushImage, randomLayer} from '../harness/images.js'
import {startRegistry, type TestRegistry} from '../harness/registry.js'
import {skopeoDigest} from '../harness/skopeo.js'

let source: TestRegistry
let destination: TestRegistry

before(async () => {
  source = await startRegistry()
  // The token server promises 300 s, but the registry stops accepting each token after 1 s:
  // what a client sees when a token is revoked or its clock is off. A cached token then meets
  // a 401, and ferry must fetch a new one and carry on.
  destination = await startRegistry({auth: 'token', token: {expiresIn: 300, registryAcceptsFor: 1}})
})

after(async () => {
  await source?.stop()
  await destination?.stop()
})

test('a token the registry stops accepting mid-run is refreshed on 401', async () => {
  const digests: string[] = []
  for (let i = 0; i < 3; i++) {
    const image = await pushImage(source, 'app', `v${i}`, {flavour: 'oci', layers: [randomLayer(4096, `t${i}`)]})
    digests.push(image.digest)
  }
  const credentials = parseSecurity(
    `${source.host}: {insecure: true}\n${destination.host}: {insecure: true, username: ${destination.username}, password: ${destination.password}}\n`,
    'security.yaml',
  )
  // One routine and a slow pace make the run outlive each token.
  const {rules} = parseRules(`${source.host}/app: ${destination.host}/mirror/app\n`, 'rule.yaml', {})
  const report = await transfer({rules, credentials, routines: 1, qps: 8, retryBaseMs: 10})
  assert.deepEqual(report.results.map((result) => result.error?.message).filter(Boolean), [])
  assert.equal(report.summary.copied, 3)
  for (let i = 0; i < 3; i++) assert.equal(await skopeoDigest(destination, `mirror/app:v${i}`), digests[i])
  const issued = destination.tokenServer!.requests.filter((request) => request.status === 200)
  assert.ok(issued.length >= 3, `expected tokens to be fetched again after 401s, got ${issued.length}`)
  await destination.requestLog.settle()
  assert.ok(destination.requestLog.count({status: 401}) >= 2, 'the registry refused stale tokens during the run')
})
