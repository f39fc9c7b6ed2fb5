// HTTPS_PROXY / HTTP_PROXY / NO_PROXY, as skopeo, image-transfer and curl honour them: a copy from a
// plain-HTTP registry to a TLS one through a real forward proxy (absolute-URI requests for http,
// CONNECT tunnels for https, verified against the registry's CA inside the tunnel), with the proxy's
// login from the URL and never printed; NO_PROXY bypasses it; a refused login is one clear line.
import assert from 'node:assert/strict'
import http from 'node:http'
import type {AddressInfo} from 'node:net'
import {after, before, test} from 'node:test'

import {createProxy} from 'proxy'

import {pushImage, randomLayer, skopeoDigest, startRegistry, type PushedImage, type TestRegistry} from '../harness/index.js'
import {runCli, workDir} from './support.js'

const PROXY_PASSWORD = 'proxy-Pa55-8e1d'

let source: TestRegistry
let destination: TestRegistry
let image: PushedImage
let work: Awaited<ReturnType<typeof workDir>>
let proxy: http.Server
let proxyUrl: string
const tunnels: string[] = []
const forwarded: string[] = []

before(async () => {
  ;[source, destination, work] = await Promise.all([startRegistry(), startRegistry({tls: true}), workDir()])
  image = await pushImage(source, 'team/app', 'v1', {layers: [randomLayer(8192, 'proxy')]})
  const server = createProxy(http.createServer())
  server.authenticate = (req) => req.headers['proxy-authorization'] === `Basic ${Buffer.from(`ferry:${PROXY_PASSWORD}`).toString('base64')}`
  server.on('connect', (req: http.IncomingMessage) => tunnels.push(req.url ?? ''))
  server.on('request', (req: http.IncomingMessage) => forwarded.push(`${req.method} ${req.url}`))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  proxy = server
  proxyUrl = `http://ferry:${PROXY_PASSWORD}@127.0.0.1:${(server.address() as AddressInfo).port}`
})

after(async () => {
  proxy?.closeAllConnections()
  await new Promise((resolve) => proxy?.close(resolve))
  await Promise.all([source?.stop(), destination?.stop(), work?.cleanup()])
})

async function files(name: string) {
  const security = await work.file(`security-${name}.yaml`, `"http://${source.host}": {}\n${destination.host}:\n  caFile: ${destination.caFile}\n`)
  const rules = await work.file(`rules-${name}.yaml`, `${source.host}/team/app:v1: ${destination.host}/${name}/app\n`)
  return ['transfer', '--securityFile', security, '--ruleFile', rules]
}

// The registries are on loopback, which ferry (like Go programs) reaches directly unless told otherwise.
const proxyEnv = (url: string, noProxy = '', loopback = '1') => ({
  HTTP_PROXY: url,
  HTTPS_PROXY: url,
  NO_PROXY: noProxy,
  FERRY_PROXY_LOOPBACK: loopback,
  DOCKER_CONFIG: `${work.dir}/no-docker`,
})

test('every request goes through the proxy: http forwarded, https tunnelled and still verified against the caFile', async () => {
  const run = await runCli(await files('proxied'), {env: proxyEnv(proxyUrl)})
  assert.equal(run.code, 0, run.stderr)
  assert.equal(await skopeoDigest(destination, 'proxied/app:v1'), image.digest)
  assert.ok(tunnels.includes(destination.host), `CONNECT ${destination.host} in ${JSON.stringify(tunnels)}`)
  assert.ok(
    forwarded.some((line) => line.startsWith(`HEAD http://${source.host}/v2/team/app/manifests/v1`)),
    JSON.stringify(forwarded.slice(0, 5)),
  )
  assert.ok(forwarded.some((line) => line.startsWith(`GET http://${source.host}/v2/team/app/blobs/`)))
  assert.ok(!(run.stdout + run.stderr).includes(PROXY_PASSWORD))
})

test('NO_PROXY lists the registries, or they are on loopback and not asked for: the proxy sees nothing', async () => {
  const before = tunnels.length + forwarded.length
  const cases: [string, Record<string, string>][] = [
    ['direct', proxyEnv(proxyUrl, '127.0.0.1')],
    ['loopback', proxyEnv(proxyUrl, '', '')],
  ]
  for (const [name, env] of cases) {
    const run = await runCli(await files(name), {env})
    assert.equal(run.code, 0, run.stderr)
    assert.equal(await skopeoDigest(destination, `${name}/app:v1`), image.digest)
  }
  assert.equal(tunnels.length + forwarded.length, before)
})

test('a proxy that refuses the login: the job fails in one line that names the proxy, without its password', async () => {
  const wrong = proxyUrl.replace(PROXY_PASSWORD, 'wrong-password')
  const run = await runCli(await files('refused'), {env: proxyEnv(wrong)})
  assert.equal(run.code, 1, run.stderr)
  const output = run.stdout + run.stderr
  assert.match(output, /proxy/i)
  assert.match(output, /407/)
  assert.doesNotMatch(run.stderr, /\n\s+at /)
  assert.ok(!output.includes('wrong-password') && !output.includes(PROXY_PASSWORD))
})

test('a proxy variable that is not a URL fails each job in one line naming the variables, without its text', async () => {
  const run = await runCli(await files('malformed'), {env: proxyEnv('http://ferry:s3cret-in-url@[not-a-host')})
  assert.equal(run.code, 1, run.stderr)
  const output = run.stdout + run.stderr
  assert.match(output, /the proxy for 127\.0\.0\.1:\d+ \(HTTPS_PROXY \/ HTTP_PROXY\) is not a URL; write it as http:\/\/\[USER:PASSWORD@\]HOST:PORT/)
  assert.doesNotMatch(run.stderr, /\n\s+at /)
  assert.ok(!output.includes('s3cret-in-url'))
})
