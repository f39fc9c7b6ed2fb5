// Credentials and TLS from the security file: htpasswd over TLS as the source, token auth as the
// destination; refusals that say what to fix; and passwords that never leave the process.
import assert from 'node:assert/strict'
import {copyFile, readFile} from 'node:fs/promises'
import path from 'node:path'
import {after, before, describe, test} from 'node:test'
import {pushImage, randomLayer, skopeoDigest, skopeoTags, startRegistry, type PushedImage, type TestRegistry} from '../harness/index.js'
import {transfer, type TransferReport} from '../../src/index.js'
import {describeReport, resultFor, ruleYaml, runCli, workDir} from './support.js'

const SRC_PASSWORD = 'Src-Pa55word-9f2c1e'
const DST_PASSWORD = 'Dst-Pa55word-4b7d0a'
const WRONG_PASSWORD = 'Wrong-Pa55word-31e8c6'

/** Every form in which a password could leak: as is, base64 alone, and inside a Basic header. */
function secretForms(user: string, password: string): string[] {
  return [password, Buffer.from(password).toString('base64'), Buffer.from(`${user}:${password}`).toString('base64')]
}

function assertNoSecrets(text: string, where: string): void {
  for (const [user, password] of [
    ['reader', SRC_PASSWORD],
    ['pusher', DST_PASSWORD],
    ['reader', WRONG_PASSWORD],
    ['pusher', WRONG_PASSWORD],
  ] as const) {
    for (const form of secretForms(user, password)) {
      assert.ok(!text.includes(form), `${where} contains a secret (${form === password ? 'a password' : 'its base64'})`)
    }
  }
}

describe('transfer: authentication and TLS', () => {
  let src: TestRegistry
  let dst: TestRegistry
  let work: Awaited<ReturnType<typeof workDir>>
  let image: PushedImage
  let other: PushedImage

  before(async () => {
    ;[src, dst, work] = await Promise.all([
      startRegistry({auth: 'htpasswd', tls: true, users: {reader: SRC_PASSWORD}}),
      startRegistry({auth: 'token', users: {pusher: DST_PASSWORD}}),
      workDir(),
    ])
    image = await pushImage(src, 'secure/app', '1.0', {layers: [randomLayer(2000, 'auth:1')]})
    other = await pushImage(src, 'secure/app', '2.0', {flavour: 'oci', layers: [randomLayer(2000, 'auth:2')]})
    // Relative caFile paths are resolved against the security file's directory.
    await copyFile(src.caFile!, path.join(work.dir, 'source-ca.crt'))
  })
  after(async () => {
    await Promise.all([src?.stop(), dst?.stop(), work?.cleanup()])
  })

  function securityYaml(source: Record<string, string | boolean> | null, destinationPassword = DST_PASSWORD): string {
    const entry = (fields: Record<string, string | boolean>) =>
      Object.entries(fields)
        .map(([k, v]) => `  ${k}: ${JSON.stringify(v)}\n`)
        .join('')
    return (source ? `"${src.host}":\n${entry(source)}` : '') + `"http://${dst.host}":\n${entry({username: 'pusher', password: destinationPassword})}`
  }

  async function run(name: string, security: string, rules: Array<[string, string]>): Promise<TransferReport> {
    const securityFile = await work.file(`${name}-security.yaml`, security)
    const ruleFile = await work.file(`${name}-rules.yaml`, ruleYaml(rules))
    return transfer({ruleFile, securityFile, retryBaseMs: 10, retry: 1})
  }

  test('htpasswd over TLS with a caFile → token-auth destination, push scope asked for', async () => {
    dst.tokenServer!.reset()
    const report = await run('good', securityYaml({username: 'reader', password: SRC_PASSWORD, caFile: 'source-ca.crt'}), [
      [`${src.host}/secure/app:1.0`, `${dst.host}/pushed/app`],
      [`${src.host}/secure/app`, `${dst.host}/pushed/all`],
    ])
    assert.equal(report.generateFailures.length, 0, describeReport(report))
    assert.equal(report.summary.failed, 0, describeReport(report))
    assert.equal(report.summary.copied, 3, describeReport(report))
    assert.equal(await skopeoDigest(dst, 'pushed/app:1.0'), image.digest)
    assert.equal(await skopeoDigest(dst, 'pushed/all:1.0'), image.digest)
    assert.equal(await skopeoDigest(dst, 'pushed/all:2.0'), other.digest)
    assert.deepEqual((await skopeoTags(dst, 'pushed/all')).sort(), ['1.0', '2.0'])

    const requests = dst.tokenServer!.requests
    for (const repository of ['pushed/app', 'pushed/all']) {
      const push = requests.filter(
        (r) =>
          r.status === 200 && r.account === 'pusher' && r.granted.some((s) => s.type === 'repository' && s.name === repository && s.actions.includes('push')),
      )
      assert.ok(push.length > 0, `a token with push on ${repository}: ${JSON.stringify(requests)}`)
      assert.ok(
        push.some((r) => r.scopes.includes(`repository:${repository}:pull,push`)),
        JSON.stringify(push),
      )
    }
    assertNoSecrets(JSON.stringify(report), 'the report')

    // Checking the mirror writes nothing, so it asks the destination for pull tokens only: a
    // read-only account is enough for verify and for a dry run.
    for (const mode of ['verify', 'dryRun'] as const) {
      dst.tokenServer!.reset()
      const checked = await transfer({
        ruleFile: await work.file(`check-${mode}-rules.yaml`, ruleYaml([[`${src.host}/secure/app`, `${dst.host}/pushed/all`]])),
        securityFile: await work.file(`check-${mode}-security.yaml`, securityYaml({username: 'reader', password: SRC_PASSWORD, caFile: 'source-ca.crt'})),
        [mode]: true,
        deep: mode === 'dryRun',
      })
      assert.equal(checked.summary.failed, 0, describeReport(checked))
      const scopes = dst.tokenServer!.requests.flatMap((r) => r.scopes)
      assert.ok(scopes.length > 0, `${mode} asked for tokens`)
      assert.deepEqual(
        scopes.filter((scope) => scope.split(':').at(-1)!.split(',').includes('push')),
        [],
        `${mode}: ${JSON.stringify(scopes)}`,
      )
    }
  })

  test('anonymous access to an htpasswd registry fails and asks for credentials', async () => {
    const report = await run('anonymous', securityYaml({caFile: 'source-ca.crt'}), [
      [`${src.host}/secure/app:1.0`, `${dst.host}/anonymous/app`],
      [`${src.host}/secure/app`, `${dst.host}/anonymous/all`],
    ])
    const job = resultFor(report, dst, 'anonymous/app:1.0')
    assert.equal(job.status, 'failed', describeReport(report))
    assert.equal(job.error?.code, 'UNAUTHORIZED')
    assert.match(job.error!.message, /anonymous/)
    assert.match(job.error!.message, /credentials/)
    assert.equal(job.attempts, 1, 'a refusal is not retried')
    // The tag listing of the all-tags rule is refused the same way.
    assert.equal(report.generateFailures.length, 1, describeReport(report))
    assert.match(report.generateFailures[0]!.message, /credentials/)
    await assert.rejects(skopeoTags(dst, 'anonymous/app'))
  })

  test('a wrong password fails the job, names the credentials and where they were written, and is never shown', async () => {
    const report = await run('wrong', securityYaml({username: 'reader', password: WRONG_PASSWORD, caFile: 'source-ca.crt'}), [
      [`${src.host}/secure/app:1.0`, `${dst.host}/wrong/app`],
    ])
    const job = resultFor(report, dst, 'wrong/app:1.0')
    assert.equal(job.status, 'failed', describeReport(report))
    assert.equal(job.error?.code, 'UNAUTHORIZED')
    assert.match(job.error!.message, /credentials given for \S+ \([^)]+\.yaml:\d+\)/)
    assertNoSecrets(JSON.stringify(report), 'the report')
    await assert.rejects(skopeoTags(dst, 'wrong/app'))
  })

  test('a wrong password at the token server fails the job the same way', async () => {
    const report = await run('wrong-token', securityYaml({username: 'reader', password: SRC_PASSWORD, caFile: 'source-ca.crt'}, WRONG_PASSWORD), [
      [`${src.host}/secure/app:1.0`, `${dst.host}/wrongtoken/app`],
    ])
    const job = resultFor(report, dst, 'wrongtoken/app:1.0')
    assert.equal(job.status, 'failed', describeReport(report))
    assert.equal(job.error?.code, 'UNAUTHORIZED')
    assert.match(job.error!.message, /token server/)
    assert.match(job.error!.message, /credentials given for \S+ \([^)]+\.yaml:\d+\)/)
    assertNoSecrets(JSON.stringify(report), 'the report')
  })

  test('TLS without caFile fails with a message saying to set caFile or skipTlsVerify', async () => {
    const report = await run('no-ca', securityYaml({username: 'reader', password: SRC_PASSWORD}), [[`${src.host}/secure/app:1.0`, `${dst.host}/noca/app`]])
    const job = resultFor(report, dst, 'noca/app:1.0')
    assert.equal(job.status, 'failed', describeReport(report))
    assert.equal(job.error?.code, 'TLS')
    assert.match(job.error!.message, /caFile/)
    assert.match(job.error!.message, /skipTlsVerify/)
    await assert.rejects(skopeoTags(dst, 'noca/app'))
  })

  test('skipTlsVerify: true reaches the TLS registry without a CA', async () => {
    const report = await run('skip-verify', securityYaml({username: 'reader', password: SRC_PASSWORD, skipTlsVerify: true}), [
      [`${src.host}/secure/app:2.0`, `${dst.host}/skipverify/app`],
    ])
    assert.equal(report.summary.copied, 1, describeReport(report))
    assert.equal(await skopeoDigest(dst, 'skipverify/app:2.0'), other.digest)
  })

  test('the CLI prints no password: not on stdout, stderr, in --json or in the --log file', async () => {
    const logFile = path.join(work.dir, 'ferry.log')
    const good = await work.file('cli-good-security.yaml', securityYaml({username: 'reader', password: SRC_PASSWORD, caFile: 'source-ca.crt'}))
    const wrongSource = await work.file('cli-wrong-security.yaml', securityYaml({username: 'reader', password: WRONG_PASSWORD, caFile: 'source-ca.crt'}))
    const wrongDestination = await work.file(
      'cli-wrong-dst-security.yaml',
      securityYaml({username: 'reader', password: SRC_PASSWORD, caFile: 'source-ca.crt'}, WRONG_PASSWORD),
    )
    const ruleFile = await work.file(
      'cli-rules.yaml',
      ruleYaml([
        [`${src.host}/secure/app:1.0`, `${dst.host}/cli/app`],
        [`${src.host}/secure/app`, `${dst.host}/cli/all`],
      ]),
    )

    const ok = await runCli(['transfer', '--ruleFile', ruleFile, '--securityFile', good, '--log', logFile])
    assert.equal(ok.code, 0, ok.stdout + ok.stderr)
    assert.equal(await skopeoDigest(dst, 'cli/app:1.0'), image.digest)
    const runs = [ok]
    for (const securityFile of [wrongSource, wrongDestination]) {
      for (const json of [[], ['--json']]) {
        const failed = await runCli(['transfer', '--ruleFile', ruleFile, '--securityFile', securityFile, '--log', logFile, '--retry', '0', ...json])
        assert.equal(failed.code, 1, failed.stdout + failed.stderr)
        assert.match(failed.stdout + failed.stderr, /credentials/)
        runs.push(failed)
      }
    }
    for (const [i, r] of runs.entries()) {
      assertNoSecrets(r.stdout, `stdout of run ${i}`)
      assertNoSecrets(r.stderr, `stderr of run ${i}`)
    }
    const log = await readFile(logFile, 'utf8')
    assert.match(log, /Finished, 0 transfer jobs failed/)
    assert.match(log, /credentials/)
    assertNoSecrets(log, 'the --log file')
  })
})
