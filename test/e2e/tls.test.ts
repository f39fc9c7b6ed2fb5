// TLS through the CLI: verification is on by default, for the source and for the destination; an
// untrusted certificate (no CA, or another registry's CA) is refused with a message that names
// `caFile` and `skipTlsVerify`; with the right caFile, or skipTlsVerify asked for, the copy is exact.
import assert from 'node:assert/strict'
import {after, before, describe, test} from 'node:test'
import {pushImage, randomLayer, skopeoDigest, startRegistry, type PushedImage, type TestRegistry} from '../harness/index.js'
import {lines, ruleYaml, runCli, workDir} from './support.js'

let secure: TestRegistry
let other: TestRegistry
let plain: TestRegistry
let work: Awaited<ReturnType<typeof workDir>>
let image: PushedImage
let plainImage: PushedImage

before(async () => {
  ;[secure, other, plain, work] = await Promise.all([startRegistry({tls: true}), startRegistry({tls: true}), startRegistry(), workDir()])
  image = await pushImage(secure, 'tls/app', '1.0', {layers: [randomLayer(2000, 'tls:1')]})
  plainImage = await pushImage(plain, 'plain/app', '1.0', {layers: [randomLayer(2000, 'tls:2')]})
})
after(async () => {
  await Promise.all([secure?.stop(), other?.stop(), plain?.stop(), work?.cleanup()])
})

/** The one failed job's line in the closing report. */
function failedLine(stdout: string): string {
  const out = lines(stdout)
  const header = out.indexOf('Failed jobs (1):')
  assert.ok(header >= 0, stdout)
  return out[header + 1]!
}

async function run(name: string, rules: Array<[string, string]>, security?: string) {
  const args = ['transfer', '--ruleFile', await work.file(`${name}.rules.yaml`, ruleYaml(rules)), '--retry', '0', '--quiet']
  if (security !== undefined) args.push('--securityFile', await work.file(`${name}.security.yaml`, security))
  const result = await runCli(args)
  assert.ok(!(result.stdout + result.stderr).includes('    at '), result.stderr)
  return result
}

describe('cli: TLS verification', () => {
  const plainEntry = () => `"http://${plain.host}": {}\n`

  test('no security file at all: the TLS source is verified and refused, naming caFile and skipTlsVerify', async () => {
    const result = await run('no-security', [[`${secure.host}/tls/app:1.0`, `${plain.host}/copy/none`]])
    assert.equal(result.code, 1, result.stdout + result.stderr)
    const line = failedLine(result.stdout)
    assert.match(line, /TLS certificate not trusted/)
    assert.match(line, /caFile/)
    assert.match(line, /skipTlsVerify/)
  })

  test('an entry without caFile: refused the same way', async () => {
    const result = await run('no-ca', [[`${secure.host}/tls/app:1.0`, `${plain.host}/copy/noca`]], `"${secure.host}": {}\n${plainEntry()}`)
    assert.equal(result.code, 1, result.stdout + result.stderr)
    assert.match(failedLine(result.stdout), /caFile.*skipTlsVerify/)
  })

  test("another registry's CA does not make this one trusted", async () => {
    const result = await run(
      'wrong-ca',
      [[`${secure.host}/tls/app:1.0`, `${plain.host}/copy/wrongca`]],
      `"${secure.host}": {caFile: "${other.caFile}"}\n${plainEntry()}`,
    )
    assert.equal(result.code, 1, result.stdout + result.stderr)
    assert.match(failedLine(result.stdout), /caFile/)
  })

  test('the destination is verified too: pushing to an untrusted TLS registry is refused', async () => {
    const result = await run('dst-untrusted', [[`${plain.host}/plain/app:1.0`, `${secure.host}/pushed/app`]], plainEntry())
    assert.equal(result.code, 1, result.stdout + result.stderr)
    assert.match(failedLine(result.stdout), /caFile.*skipTlsVerify/)
    await assert.rejects(skopeoDigest(secure, 'pushed/app:1.0'), 'nothing was pushed')
  })

  test('with the right caFile both ways, the copy is exact', async () => {
    const security = `"${secure.host}": {caFile: "${secure.caFile}"}\n${plainEntry()}`
    const pull = await run('ca-pull', [[`${secure.host}/tls/app:1.0`, `${plain.host}/copy/ca`]], security)
    assert.equal(pull.code, 0, pull.stdout + pull.stderr)
    assert.equal(await skopeoDigest(plain, 'copy/ca:1.0'), image.digest)
    const push = await run('ca-push', [[`${plain.host}/plain/app:1.0`, `${secure.host}/pushed/ca`]], security)
    assert.equal(push.code, 0, push.stdout + push.stderr)
    assert.equal(await skopeoDigest(secure, 'pushed/ca:1.0'), plainImage.digest)
  })

  test('skipTlsVerify: true is the explicit way around verification', async () => {
    const result = await run('skip', [[`${secure.host}/tls/app:1.0`, `${plain.host}/copy/skip`]], `"${secure.host}": {skipTlsVerify: true}\n${plainEntry()}`)
    assert.equal(result.code, 0, result.stdout + result.stderr)
    assert.equal(await skopeoDigest(plain, 'copy/skip:1.0'), image.digest)
  })
})

describe("a skopeo sync file's own TLS settings", () => {
  test('cert-dir trusts the CA in it, tls-verify: false skips verification; with neither the same file is refused with the caFile hint', async () => {
    const security = await work.file('sync.security.yaml', `"http://${plain.host}": {}\n`)
    const sync = (name: string, tls: string) => work.file(`${name}.sync.yaml`, `${secure.host}:\n  images:\n    tls/app: ["1.0"]\n${tls}`)
    const copy = async (file: string, ns: string) =>
      runCli(['transfer', '--images', file, '--securityFile', security, '--registry', plain.host, '--ns', ns, '--retry', '0'])

    const trusted = await copy(await sync('trusted', `  cert-dir: ${secure.certDir}\n`), 'from-sync')
    assert.equal(trusted.code, 0, trusted.stderr)
    assert.equal(await skopeoDigest(plain, 'from-sync/app:1.0'), image.digest)

    // tls-verify: false is HTTPS without verification, as skopeo means it.
    const unverified = await copy(await sync('unverified', '  tls-verify: false\n'), 'unverified-sync')
    assert.equal(unverified.code, 0, unverified.stderr)
    assert.equal(await skopeoDigest(plain, 'unverified-sync/app:1.0'), image.digest)

    const untrusted = await copy(await sync('untrusted', ''), 'untrusted-sync')
    assert.equal(untrusted.code, 1, untrusted.stderr)
    assert.match(failedLine(untrusted.stdout), /TLS certificate not trusted .*caFile/)
  })
})
