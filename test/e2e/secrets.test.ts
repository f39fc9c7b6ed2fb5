// Secrets never leave ferry: passwords from the security file, their base64 (alone and inside a
// Basic header) and the bearer tokens a token server issued appear nowhere a person or a CI log
// can read them: stdout, stderr, the --log file, the --json report. In success and failure, and
// also when a careless registry quotes the request's Authorization header back in its error.
import assert from 'node:assert/strict'
import {readFile} from 'node:fs/promises'
import path from 'node:path'
import {after, before, describe, test} from 'node:test'
import {pushImage, randomLayer, skopeoDigest, startRegistry, type PushedImage, type TestRegistry} from '../harness/index.js'
import {startFaultProxy, type FaultProxy} from '../harness/fault-proxy.js'
import type {RunReport} from '../../src/index.js'
import {ruleYaml, runCli, workDir, type CliRun} from './support.js'

const SRC_USER = 'reader'
const SRC_PASSWORD = 'pw-LEAK-CHECK-123'
const DST_USER = 'pusher'
const DST_PASSWORD = 'pw-LEAK-CHECK-456'
const WRONG_PASSWORD = 'pw-LEAK-CHECK-789'

let src: TestRegistry
let dst: TestRegistry
let srcProxy: FaultProxy
let dstProxy: FaultProxy
let work: Awaited<ReturnType<typeof workDir>>
let image: PushedImage
const outputs: Array<{where: string; text: string}> = []

before(async () => {
  ;[src, dst, work] = await Promise.all([
    startRegistry({auth: 'htpasswd', users: {[SRC_USER]: SRC_PASSWORD}}),
    startRegistry({auth: 'token', users: {[DST_USER]: DST_PASSWORD}}),
    workDir(),
  ])
  ;[srcProxy, dstProxy] = await Promise.all([startFaultProxy(src), startFaultProxy(dst)])
  image = await pushImage(src, 'secret/app', '1.0', {layers: [randomLayer(3000, 'secrets:1')]})
  dst.tokenServer!.reset()
})
after(async () => {
  await Promise.all([srcProxy?.stop(), dstProxy?.stop()])
  await Promise.all([src?.stop(), dst?.stop(), work?.cleanup()])
})

function security(options: {srcPassword?: string; dstPassword?: string; viaProxy?: boolean} = {}): string {
  const s = options.viaProxy ? srcProxy.host : src.host
  const d = options.viaProxy ? dstProxy.host : dst.host
  return (
    `"http://${s}":\n  username: ${SRC_USER}\n  password: "${options.srcPassword ?? SRC_PASSWORD}"\n` +
    `"http://${d}":\n  username: ${DST_USER}\n  password: "${options.dstPassword ?? DST_PASSWORD}"\n`
  )
}

/** Runs the CLI with --log; keeps stdout, stderr and (with --json) the parsed report for the final sweep. */
async function cli(name: string, securityText: string, rules: Array<[string, string]>, extra: string[] = []): Promise<CliRun & {report?: RunReport}> {
  const securityFile = await work.file(`${name}.security.yaml`, securityText)
  const ruleFile = await work.file(`${name}.rules.yaml`, ruleYaml(rules))
  const logFile = path.join(work.dir, `${name}.log`)
  const run = await runCli(['transfer', '--ruleFile', ruleFile, '--securityFile', securityFile, '--log', logFile, '--retry', '0', ...extra])
  outputs.push({where: `${name}: stdout`, text: run.stdout}, {where: `${name}: stderr`, text: run.stderr})
  outputs.push({where: `${name}: --log file`, text: await readFile(logFile, 'utf8').catch(() => '')})
  assert.ok(!(run.stdout + run.stderr).includes('    at '), `${name}: stack trace\n${run.stderr}`)
  if (extra.includes('--json')) {
    const report = JSON.parse(run.stdout) as RunReport
    outputs.push({where: `${name}: --json report`, text: JSON.stringify(report)})
    return {...run, report}
  }
  return run
}

describe('secrets never leak', () => {
  test('success: htpasswd source → token destination, plain and --json', async () => {
    const ok = await cli('success', security(), [[`${src.host}/secret/app:1.0`, `${dst.host}/copy/one`]])
    assert.equal(ok.code, 0, ok.stdout + ok.stderr)
    const json = await cli('success-json', security(), [[`${src.host}/secret/app:1.0`, `${dst.host}/copy/two`]], ['--json'])
    assert.equal(json.code, 0, json.stdout + json.stderr)
    assert.equal(json.report!.summary.copied, 1)
    assert.equal(await skopeoDigest(dst, 'copy/one:1.0'), image.digest)
    assert.equal(await skopeoDigest(dst, 'copy/two:1.0'), image.digest)
  })

  test('failure: a wrong source password (htpasswd), plain and --json', async () => {
    for (const extra of [[], ['--json']]) {
      const run = await cli(
        `wrong-source${extra.length}`,
        security({srcPassword: WRONG_PASSWORD}),
        [[`${src.host}/secret/app:1.0`, `${dst.host}/copy/wrong`]],
        extra,
      )
      assert.equal(run.code, 1, run.stdout + run.stderr)
      assert.match(run.stdout + run.stderr, /refused the credentials given for \S+ \([^)]+\.yaml:\d+\)/)
    }
  })

  test('failure: a wrong destination password (token server), plain and --json', async () => {
    for (const extra of [[], ['--json']]) {
      const run = await cli(
        `wrong-destination${extra.length}`,
        security({dstPassword: WRONG_PASSWORD}),
        [[`${src.host}/secret/app:1.0`, `${dst.host}/copy/wrong`]],
        extra,
      )
      assert.equal(run.code, 1, run.stdout + run.stderr)
      assert.match(run.stdout + run.stderr, /token server/)
    }
  })

  test('failure: registries that quote the Authorization header in their error messages', async () => {
    const cases = [
      {name: 'echo-basic', proxy: srcProxy, method: 'GET', path: /\/manifests\//, withoutScheme: false},
      {name: 'echo-basic-raw', proxy: srcProxy, method: 'GET', path: /\/manifests\//, withoutScheme: true},
      {name: 'echo-bearer', proxy: dstProxy, method: 'PUT', path: /\/manifests\//, withoutScheme: false},
      {name: 'echo-bearer-raw', proxy: dstProxy, method: 'PUT', path: /\/manifests\//, withoutScheme: true},
    ]
    for (const c of cases) {
      const fault = c.proxy.addFault({
        method: c.method,
        path: c.path,
        fault: {kind: 'echo-auth', status: c.method === 'PUT' ? 400 : 403, withoutScheme: c.withoutScheme},
      })
      try {
        const run = await cli(c.name, security({viaProxy: true}), [[`${srcProxy.host}/secret/app:1.0`, `${dstProxy.host}/echo/${c.name}`]], ['--json'])
        assert.ok(fault.hits > 0, `${c.name}: the fault was never hit`)
        assert.equal(run.code, 1, run.stdout + run.stderr)
        const failed = run.report!.jobs.find((r) => r.status === 'failed')
        assert.match(failed?.error?.message ?? '', /you sent/, `${c.name}: the registry's message is reported (redacted): ${JSON.stringify(failed)}`)
      } finally {
        fault.remove()
      }
    }
  })

  test('none of the outputs above holds a password, its base64, a Basic header or an issued token', () => {
    const tokens = dst.tokenServer!.requests.map((r) => r.token).filter((t): t is string => Boolean(t))
    assert.ok(tokens.length > 0, 'the token server issued tokens during these runs')
    const forbidden: Array<[string, string]> = []
    for (const [user, password] of [
      [SRC_USER, SRC_PASSWORD],
      [DST_USER, DST_PASSWORD],
      [SRC_USER, WRONG_PASSWORD],
      [DST_USER, WRONG_PASSWORD],
    ] as const) {
      forbidden.push([`password of ${user}`, password])
      forbidden.push([`base64 of a password`, Buffer.from(password).toString('base64')])
      forbidden.push([`Basic credentials of ${user}`, Buffer.from(`${user}:${password}`).toString('base64')])
    }
    for (const token of tokens) {
      const [header, payload, signature] = token.split('.')
      forbidden.push(
        ['an issued token', token],
        ['a token payload', payload!],
        ['a token signature', signature!],
        ['the start of a token', header!.slice(0, 40)],
      )
    }
    forbidden.push(['a bearer token', 'Bearer ey'], ['a basic header', 'Basic cmVh'], ['a basic header', 'Basic cHVz'])
    assert.ok(outputs.length >= 30, `${outputs.length} outputs collected`)
    const leaks: string[] = []
    for (const {where, text} of outputs) {
      for (const [what, value] of forbidden) if (text.includes(value)) leaks.push(`${where}: ${what}`)
    }
    assert.deepEqual([...new Set(leaks)], [])
  })
})
