// Docker's `identitytoken` logins (what `az acr login` and OAuth2 registries leave in config.json):
// ferry trades the token for bearer tokens by the OAuth2 refresh-token grant at the registry's
// realm, from an `auths` entry or from a credential helper that answers `<token>`. A real
// Distribution with token auth; the harness token server speaks the grant.
import assert from 'node:assert/strict'
import {chmod, mkdir} from 'node:fs/promises'
import path from 'node:path'
import {after, before, test} from 'node:test'

import {pushImage, randomLayer, skopeoDigest, startRegistry, type PushedImage, type TestRegistry} from '../harness/index.js'
import {plainEntries, runCli, workDir} from './support.js'

const IDENTITY_TOKEN = 'id-token-7c1f0e9a2b5d4c3e8f6a1b0c9d8e7f60'
const WRONG_TOKEN = 'id-token-wrong-0a1b2c3d4e5f60718293a4b5c6d7e8f9'

let source: TestRegistry
let destination: TestRegistry
let image: PushedImage
let work: Awaited<ReturnType<typeof workDir>>

before(async () => {
  ;[source, destination, work] = await Promise.all([
    startRegistry({auth: 'token', users: {azure: 'not-used-by-the-client'}, token: {refreshTokens: {[IDENTITY_TOKEN]: 'azure'}}}),
    startRegistry(),
    workDir(),
  ])
  image = await pushImage(source, 'team/app', 'v1', {layers: [randomLayer(4096, 'identity')]})
})

after(async () => {
  await source?.stop()
  await destination?.stop()
  await work?.cleanup()
})

async function dockerConfig(name: string, config: unknown): Promise<string> {
  const dir = path.join(work.dir, name)
  await mkdir(dir, {recursive: true})
  await work.file(`${name}/config.json`, JSON.stringify(config))
  return dir
}

function assertNoTokens(text: string): void {
  assert.ok(!text.includes(IDENTITY_TOKEN) && !text.includes(WRONG_TOKEN), 'an identity token is in the output')
  for (const record of source.tokenServer!.requests) if (record.token) assert.ok(!text.includes(record.token), 'a bearer token is in the output')
}

test('an auths entry with identitytoken (and the all-zero GUID user az acr login writes) copies by the refresh-token grant', async () => {
  const guid = Buffer.from('00000000-0000-0000-0000-000000000000:').toString('base64')
  const dir = await dockerConfig('docker-auths', {auths: {[source.host]: {auth: guid, identitytoken: IDENTITY_TOKEN}}})
  const security = await work.file('security.yaml', plainEntries(source, destination))
  const rules = await work.file('rules.yaml', `${source.host}/team/app:v1: ${destination.host}/from-auths/app\n`)
  const before = source.tokenServer!.requests.length
  const run = await runCli(['transfer', '--securityFile', security, '--ruleFile', rules], {env: {DOCKER_CONFIG: dir}})
  assert.equal(run.code, 0, run.stderr)
  assert.equal(await skopeoDigest(destination, 'from-auths/app:v1'), image.digest)
  const asked = source.tokenServer!.requests.slice(before)
  assert.ok(asked.length > 0)
  assert.ok(
    asked.every((r) => r.method === 'POST' && r.grantType === 'refresh_token' && r.account === 'azure' && r.status === 200),
    JSON.stringify(asked),
  )
  assertNoTokens(run.stdout + run.stderr)
})

test('a credential helper answering Username "<token>" gives an identity token, not a password', async () => {
  const dir = await dockerConfig('docker-helper', {credHelpers: {[source.host]: 'ferryid'}})
  await mkdir(path.join(work.dir, 'bin'), {recursive: true})
  const helper = await work.file(
    'bin/docker-credential-ferryid',
    ['#!/bin/sh', 'read -r server', `printf '{"ServerURL":"%s","Username":"<token>","Secret":"${IDENTITY_TOKEN}"}' "$server"`, ''].join('\n'),
  )
  await chmod(helper, 0o755)
  const security = await work.file('security-helper.yaml', plainEntries(source, destination))
  const rules = await work.file('rules-helper.yaml', `${source.host}/team/app:v1: ${destination.host}/from-helper/app\n`)
  const run = await runCli(['transfer', '--securityFile', security, '--ruleFile', rules], {
    env: {DOCKER_CONFIG: dir, PATH: `${path.dirname(helper)}${path.delimiter}${process.env.PATH}`},
  })
  assert.equal(run.code, 0, run.stderr)
  assert.equal(await skopeoDigest(destination, 'from-helper/app:v1'), image.digest)
  assertNoTokens(run.stdout + run.stderr)
})

test('an identity token the realm refuses fails the job in one line, without the token', async () => {
  const dir = await dockerConfig('docker-wrong', {auths: {[source.host]: {identitytoken: WRONG_TOKEN}}})
  const security = await work.file('security-wrong.yaml', plainEntries(source, destination))
  const rules = await work.file('rules-wrong.yaml', `${source.host}/team/app:v1: ${destination.host}/wrong/app\n`)
  const run = await runCli(['transfer', '--securityFile', security, '--ruleFile', rules], {env: {DOCKER_CONFIG: dir}})
  assert.equal(run.code, 1, run.stderr)
  assert.match(run.stdout + run.stderr, /token server of registry [^ ]+ refused/)
  assert.doesNotMatch(run.stderr, /\n\s+at /)
  assertNoTokens(run.stdout + run.stderr)
})
