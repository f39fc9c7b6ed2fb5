// Where credentials go, and what a hostile registry can make ferry print. Real Distribution
// registries (htpasswd over TLS, token auth over TLS) with the hostile registry in front where a
// real one cannot misbehave: a redirect from https:// to http:// on the same host and port, a token
// realm elsewhere, a password quoted back in other encodings, tags with terminal escape codes.
import assert from 'node:assert/strict'
import {readFile} from 'node:fs/promises'
import path from 'node:path'
import {after, before, describe, test} from 'node:test'
import {pushImage, randomLayer, startRegistry, type TestRegistry} from '../harness/index.js'
import {startHostileRegistry, type HostileRegistry} from '../harness/hostile-registry.js'
import type {ProxyRequest, UpstreamAnswer} from '../harness/fault-proxy.js'
import type {RunReport} from '../../src/index.js'
import {startFerry} from './serve-support.js'
import {ruleYaml, runCli, workDir} from './support.js'

const READER = 'reader'
// Characters every encoding changes: URL-encoding, JSON escaping and base64 all differ from it.
const PASSWORD = 'p@ss w/rd:ü"<&>'
const SHORT_USER = 'ci'
const SHORT_PASSWORD = '§¤'

let work: Awaited<ReturnType<typeof workDir>>
let plain: TestRegistry

before(async () => {
  ;[work, plain] = await Promise.all([workDir(), startRegistry()])
})
after(async () => {
  await Promise.all([plain?.stop(), work?.cleanup()])
})

function yamlEntry(key: string, fields: Record<string, string | boolean>): string {
  return `"${key}":\n${Object.entries(fields)
    .map(([k, v]) => `  ${k}: ${JSON.stringify(v)}\n`)
    .join('')}`
}

async function files(name: string, security: string, rules: Array<[string, string]>): Promise<{securityFile: string; ruleFile: string}> {
  return {
    securityFile: await work.file(`${name}.security.yaml`, security + yamlEntry(`http://${plain.host}`, {})),
    ruleFile: await work.file(`${name}.rules.yaml`, ruleYaml(rules)),
  }
}

/** The registry's real answer, passed on (only the headers a client needs). */
function passOn(real: UpstreamAnswer) {
  const headers: Record<string, string> = {}
  for (const name of ['content-type', 'www-authenticate', 'docker-content-digest', 'location']) {
    const value = real.headers[name]
    if (typeof value === 'string') headers[name] = value
  }
  return {status: real.status, headers, body: real.body}
}

function basicCredentials(request: ProxyRequest): [string, string] | undefined {
  const header = request.headers.authorization
  if (!header?.startsWith('Basic ')) return undefined
  const pair = Buffer.from(header.slice(6), 'base64').toString('utf8')
  const colon = pair.indexOf(':')
  return [pair.slice(0, colon), pair.slice(colon + 1)]
}

describe('credentials stay on the registry they are for', () => {
  let secure: TestRegistry
  let hostile: HostileRegistry

  before(async () => {
    secure = await startRegistry({auth: 'htpasswd', tls: true, users: {[READER]: PASSWORD}})
    hostile = await startHostileRegistry(secure, {tls: true})
    await pushImage(secure, 'team/app', '1.0', {layers: [randomLayer(1500, 'creds:1')]})
  })
  after(async () => {
    await hostile?.stop()
    await secure?.stop()
  })

  test('an https:// → http:// redirect on the same host and port is followed without the Authorization header', async () => {
    // Over TLS the registry challenges as usual; the request that carries credentials is redirected
    // to plain HTTP on the same host:port, where the plain side answers 404.
    const fault = hostile.respond(/\/manifests\//, async (request, upstream) => {
      if (!request.secure)
        return {status: 404, headers: {'content-type': 'application/json'}, body: JSON.stringify({errors: [{code: 'MANIFEST_UNKNOWN', message: 'plain side'}]})}
      if (!request.headers.authorization) return passOn(await upstream())
      return {status: 307, headers: {location: `http://${hostile.host}${request.path}`}}
    })
    try {
      const {securityFile, ruleFile} = await files('downgrade', yamlEntry(hostile.host, {username: READER, password: PASSWORD, caFile: hostile.caFile!}), [
        [`${hostile.host}/team/app:1.0`, `${plain.host}/copy/downgrade`],
      ])
      const run = await runCli(['transfer', '--ruleFile', ruleFile, '--securityFile', securityFile, '--retry', '0'])
      const overPlainHttp = hostile.requests.filter((r) => !r.secure)
      assert.ok(overPlainHttp.length > 0, `the redirect was followed: ${run.stdout}${run.stderr}`)
      assert.ok(
        hostile.requests.some((r) => r.secure && r.headers.authorization),
        'credentials were sent over TLS',
      )
      assert.deepEqual(
        overPlainHttp.map((r) => r.headers.authorization ?? null),
        overPlainHttp.map(() => null),
      )
      assert.equal(run.code, 1, run.stdout + run.stderr)
    } finally {
      fault.remove()
    }
  })

  test('a token realm on plain HTTP never gets the Basic password of an HTTPS registry', async () => {
    const tokenRegistry = await startRegistry({auth: 'token', tls: true, users: {[READER]: PASSWORD}})
    try {
      await pushImage(tokenRegistry, 'team/app', '1.0', {layers: [randomLayer(1500, 'creds:2')]})
      const token = tokenRegistry.tokenServer!
      assert.match(token.realm, /^http:\/\//, 'the harness token server is plain HTTP on another port')
      token.reset()
      const {securityFile, ruleFile} = await files(
        'realm',
        yamlEntry(tokenRegistry.host, {username: READER, password: PASSWORD, caFile: tokenRegistry.caFile!}),
        [[`${tokenRegistry.host}/team/app:1.0`, `${plain.host}/copy/realm`]],
      )
      const run = await runCli(['transfer', '--ruleFile', ruleFile, '--securityFile', securityFile, '--retry', '0'])
      assert.ok(token.requests.length > 0, 'a token was asked for')
      assert.deepEqual(
        token.requests.map((r) => r.sentCredentials),
        token.requests.map(() => false),
        JSON.stringify(token.requests) + run.stdout + run.stderr,
      )
      assert.equal(run.code, 1, run.stdout + run.stderr)
      assert.match(
        run.stdout + run.stderr,
        /credentials given for \S+ \([^)]+\.yaml:\d+\) were not sent, as its token realm http:\/\/127\.0\.0\.1:\d+ is plain HTTP while the registry is HTTPS/,
      )
      assert.ok(!(run.stdout + run.stderr).includes('    at '), run.stderr)
    } finally {
      await tokenRegistry.stop()
    }
  })

  test('a token realm on a link-local address (cloud metadata) is refused before it is contacted', async () => {
    const fault = hostile.respond(/^\/v2\//, async (request, upstream) => {
      const real = passOn(await upstream())
      if (real.status === 401) real.headers['www-authenticate'] = 'Bearer realm="http://169.254.169.254/latest/token",service="x"'
      return real
    })
    try {
      const {securityFile, ruleFile} = await files('metadata', yamlEntry(hostile.host, {username: READER, password: PASSWORD, caFile: hostile.caFile!}), [
        [`${hostile.host}/team/app:1.0`, `${plain.host}/copy/metadata`],
      ])
      const run = await runCli(['transfer', '--ruleFile', ruleFile, '--securityFile', securityFile, '--retry', '0', '--json'])
      assert.equal(run.code, 1, run.stdout + run.stderr)
      const report = JSON.parse(run.stdout) as RunReport
      const failed = report.jobs.find((r) => r.status === 'failed')
      assert.equal(failed?.error?.code, 'UNSAFE_REDIRECT', JSON.stringify(report.jobs))
      assert.match(failed?.error?.message ?? '', /its token realm on a link-local address \(169\.254\.169\.254\) that the registry itself is not on; refused/)
    } finally {
      fault.remove()
    }
  })
})

describe('nothing a registry quotes back is printed', () => {
  let source: TestRegistry
  let hostile: HostileRegistry

  before(async () => {
    source = await startRegistry({auth: 'htpasswd', users: {[READER]: PASSWORD, [SHORT_USER]: SHORT_PASSWORD}})
    hostile = await startHostileRegistry(source)
    await pushImage(source, 'team/app', '1.0', {layers: [randomLayer(1500, 'creds:3')]})
  })
  after(async () => {
    await hostile?.stop()
    await source?.stop()
  })

  test('a password echoed URL-encoded, JSON-escaped or as base64, and a 2-character one, reach no output', async () => {
    // The manifest GET with credentials is refused with a message quoting the password three ways.
    const fault = hostile.respond(
      /\/manifests\//,
      async (request, upstream) => {
        const sent = basicCredentials(request)
        if (!sent) return passOn(await upstream())
        const [user, password] = sent
        const message =
          user === SHORT_USER
            ? `password "${password}" is wrong for ${user}:${password}`
            : `you sent ${encodeURIComponent(password)} ${JSON.stringify(JSON.stringify(password))} ${Buffer.from(password).toString('base64')}`
        return {status: 403, headers: {'content-type': 'application/json'}, body: JSON.stringify({errors: [{code: 'DENIED', message}]})}
      },
      {method: 'GET'},
    )
    const outputs: Array<{where: string; text: string}> = []
    try {
      for (const [user, password] of [
        [READER, PASSWORD],
        [SHORT_USER, SHORT_PASSWORD],
      ] as const) {
        for (const style of ['json', 'html'] as const) {
          const name = `echo-${user}-${style}`
          const {securityFile, ruleFile} = await files(name, yamlEntry(`http://${hostile.host}`, {username: user, password}), [
            [`${hostile.host}/team/app:1.0`, `${plain.host}/copy/${name}`],
          ])
          const logFile = path.join(work.dir, `${name}.log`)
          const reportFile = path.join(work.dir, `${name}.${style}`)
          const extra = style === 'json' ? ['--json'] : []
          const run = await runCli([
            'transfer',
            '--ruleFile',
            ruleFile,
            '--securityFile',
            securityFile,
            '--retry',
            '0',
            '--log',
            logFile,
            '--report',
            reportFile,
            ...extra,
          ])
          assert.equal(run.code, 1, run.stdout + run.stderr)
          assert.match(run.stdout + run.stderr, /DENIED/, `${name}: the registry's message is reported`)
          outputs.push(
            {where: `${name}: stdout`, text: run.stdout},
            {where: `${name}: stderr`, text: run.stderr},
            {where: `${name}: --log`, text: await readFile(logFile, 'utf8')},
            {where: `${name}: --report ${style}`, text: await readFile(reportFile, 'utf8')},
          )
        }
      }
      assert.ok(fault.hits >= 4, 'the echo was hit')
    } finally {
      fault.remove()
    }
    const forbidden = [PASSWORD, encodeURIComponent(PASSWORD), JSON.stringify(PASSWORD).slice(1, -1), Buffer.from(PASSWORD).toString('base64'), SHORT_PASSWORD]
    const leaks = outputs.flatMap(({where, text}) => forbidden.filter((secret) => text.includes(secret)).map((secret) => `${where}: ${secret}`))
    assert.deepEqual(leaks, [])
    const denied = outputs.find((o) => o.where === `echo-${SHORT_USER}-json: stdout`)!.text
    assert.match(denied, /password \\"\[redacted\]\\" is wrong for \[redacted\]\)/, 'the message stays readable')
  })
})

describe('names with control characters', () => {
  let hostile: HostileRegistry

  before(async () => {
    await pushImage(plain, 'esc/app', '1.0', {layers: [randomLayer(1000, 'creds:4')]})
    hostile = await startHostileRegistry(plain)
  })
  after(async () => {
    await hostile?.stop()
  })

  test('a tag holding an escape code and a newline is printed escaped on the terminal and in the log', async () => {
    const fault = hostile.forgeTags('esc/app', ['1.0', '\u001b[31mred\n2026-01-01T00:00:00.000Z copied forged'])
    try {
      const {securityFile, ruleFile} = await files('escape', yamlEntry(`http://${hostile.host}`, {}), [
        [`${hostile.host}/esc/app`, `${plain.host}/copy/escape`],
      ])
      const logFile = path.join(work.dir, 'escape.log')
      const run = await runCli(['transfer', '--ruleFile', ruleFile, '--securityFile', securityFile, '--retry', '0', '--log', logFile])
      assert.ok(fault.hits > 0, 'the forged tag list was served')
      const log = await readFile(logFile, 'utf8')
      for (const [where, text] of [
        ['stdout', run.stdout],
        ['stderr', run.stderr],
        ['--log', log],
      ] as const) {
        assert.ok(!text.includes('\u001b'), `${where}: a raw escape code\n${text}`)
        assert.ok(!/^2026-01-01T00:00:00\.000Z copied forged/m.test(text), `${where}: a forged line\n${text}`)
      }
      assert.match(run.stdout + run.stderr, /\\x1b\[31mred\\n2026-01-01T00:00:00\.000Z copied forged/, run.stdout + run.stderr)
      assert.match(log, /\\x1b\[31mred\\n2026-01-01T00:00:00\.000Z copied forged/)
    } finally {
      fault.remove()
    }
  })
})

describe('--listen without --eventToken', () => {
  test('warns once at start', async () => {
    await pushImage(plain, 'listen/app', '1.0', {layers: [randomLayer(800, 'creds:5')]})
    const {securityFile, ruleFile} = await files('listen', '', [[`${plain.host}/listen/app:1.0`, `${plain.host}/copy/listen`]])
    const ferry = startFerry(['transfer', '--ruleFile', ruleFile, '--securityFile', securityFile, '--listen', '127.0.0.1:0', '--interval', '1h'])
    try {
      await ferry.waitFor(/listening on http:\/\//, 20_000)
      await ferry.waitFor(/copied|Complete|1 of 1/i, 20_000)
      ferry.child.kill('SIGTERM')
      await ferry.exited
      const warnings = ferry.stderr().match(/accepts events from anyone who can reach it; set --eventToken/g) ?? []
      assert.equal(warnings.length, 1, ferry.stderr())
    } finally {
      ferry.kill()
    }
  })
})
