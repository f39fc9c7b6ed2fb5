// The likeliest first-run mistakes, against real things on loopback: a registry that cannot be
// reached as written (plain HTTP reached over TLS, a closed port, a name that does not resolve) or
// that refuses the password. Each ends in one line in words naming the registry and what to do,
// said once; the registry (or its login) is marked down for the run after the first failure, so
// 20 images cost about one request's retries, not 20 jobs × 3 attempts × 4 requests.
import assert from 'node:assert/strict'
import {readFile} from 'node:fs/promises'
import {after, before, describe, it} from 'node:test'
import {freePort, seedCorpus, startRegistry, type Corpus, type TestRegistry} from '../harness/index.js'
import {runCli, workDir} from './support.js'

let src: TestRegistry
let plain: TestRegistry
let locked: TestRegistry
let work: Awaited<ReturnType<typeof workDir>>
let corpus: Corpus

const ROUTINES = 5
/** The client's request retries: attempts per request are one more. */
const REQUEST_ATTEMPTS = 4

before(async () => {
  ;[src, plain, locked, work] = await Promise.all([startRegistry(), startRegistry(), startRegistry({auth: 'htpasswd', tls: true}), workDir()])
  corpus = await seedCorpus(src, {repositories: 4, tagsPerRepo: 5, layerSize: 512, indexEvery: 0, seed: 'registry-down'})
  assert.equal(corpus.entries.length, 20)
})
after(async () => {
  await Promise.all([src?.stop(), plain?.stop(), locked?.stop(), work?.cleanup()])
})

interface Outcome {
  code: number
  stderr: string
  jobs: {status: string; error: {code: string; message: string} | null}[]
  /** --debug lines of requests to `host`. */
  requestsTo: (host: string) => number
}

/** Every corpus image to `destination` (host[:port]), with `security` as the security file. */
async function copyTo(name: string, destination: string, security: string): Promise<Outcome> {
  const rules = corpus.entries.map((e) => `${src.host}/${e.repository}:${e.tag}: ${destination}/${e.repository}:${e.tag}\n`).join('')
  const report = `${work.dir}/${name}.json`
  const run = await runCli([
    'transfer',
    '--ruleFile',
    await work.file(`${name}-rules.yaml`, rules),
    '--securityFile',
    await work.file(`${name}-security.yaml`, `"http://${src.host}": {}\n${security}`),
    '--routines',
    String(ROUTINES),
    '--debug',
    '--report',
    report,
  ])
  const parsed = JSON.parse(await readFile(report, 'utf8')) as {jobs: Outcome['jobs']}
  const debug = run.stderr.split('\n').filter((line) => /^(HEAD|GET|PUT|POST|PATCH|DELETE) /.test(line.trim()) || line.includes('debug'))
  return {code: run.code, stderr: run.stderr, jobs: parsed.jobs, requestsTo: (host) => debug.filter((line) => line.includes(`//${host}/`)).length}
}

/** Every job failed with exactly `line`; the line said once on its own (the warning), besides each job's. */
function assertOneLine(outcome: Outcome, line: string | RegExp, code: string): string {
  assert.equal(outcome.code, 1, outcome.stderr)
  assert.equal(outcome.jobs.length, 20)
  const messages = new Set(outcome.jobs.map((job) => job.error?.message))
  assert.equal(messages.size, 1, [...messages].join('\n'))
  const message = [...messages][0]!
  if (typeof line === 'string') assert.equal(message, line)
  else assert.match(message, line)
  assert.deepEqual(new Set(outcome.jobs.map((job) => `${job.status} ${job.error?.code}`)), new Set([`failed ${code}`]))
  const alone = outcome.stderr.split('\n').filter((l) => l.trim() === message || l.trim().endsWith(`] ${message}`) || l.trim() === `warning: ${message}`)
  assert.equal(alone.length, 1, `said once on its own line:\n${outcome.stderr}`)
  return message
}

describe('a registry that cannot be reached is one line, and down for the run', {timeout: 120_000}, () => {
  it('a closed port: "refused the connection", one request retried, then every job ends at once', async () => {
    const port = await freePort()
    const outcome = await copyTo('refused', `127.0.0.1:${port}`, `"http://127.0.0.1:${port}": {}\n`)
    assertOneLine(outcome, `registry 127.0.0.1:${port} refused the connection (ECONNREFUSED): is the registry running, and on that port?`, 'CONNECTION_REFUSED')
    // At most the routines that were already on their way, each with its own retries; was 20 jobs × 3 × 4.
    const tries = outcome.requestsTo(`127.0.0.1:${port}`)
    assert.ok(tries >= 1 && tries <= ROUTINES * REQUEST_ATTEMPTS, `${tries} attempts at the closed port`)
  })

  it('a name under .invalid: "does not resolve", answered without asking the DNS, no retry', async () => {
    const outcome = await copyTo('unknown', 'nowhere.invalid:5000', '"http://nowhere.invalid:5000": {}\n')
    assertOneLine(
      outcome,
      'registry nowhere.invalid:5000: the host name nowhere.invalid does not resolve (ENOTFOUND); check how it is spelled, and the DNS',
      'UNKNOWN_HOST',
    )
    assert.ok(outcome.requestsTo('nowhere.invalid:5000') <= ROUTINES, `${outcome.requestsTo('nowhere.invalid:5000')} attempts`)
  })

  it('a plain-HTTP registry written without http://: "answers plain HTTP", and where to say insecure', async () => {
    const before = plain.requestLog.entries.length
    const outcome = await copyTo('plain', plain.host, '')
    assertOneLine(
      outcome,
      `registry ${plain.host} answers plain HTTP, not HTTPS: set insecure: true for it in the security file, or write its key as "http://${plain.host}"`,
      'PLAIN_HTTP',
    )
    assert.ok(outcome.requestsTo(plain.host) <= ROUTINES, `${outcome.requestsTo(plain.host)} attempts`)
    assert.equal(plain.requestLog.entries.length, before, 'no HTTP request reached it')
  })

  it('a wrong password: said once, and not sent again for every job', async () => {
    const security = `"${locked.host}": {username: ${locked.username}, password: not-the-password, caFile: ${JSON.stringify(locked.caFile)}}\n`
    const outcome = await copyTo('password', locked.host, security)
    const line = assertOneLine(
      outcome,
      /^registry (127\.0\.0\.1:\d+) refused the credentials given for \1 \(.*password-security\.yaml:2\); check the username and password$/,
      'UNAUTHORIZED',
    )
    assert.ok(!line.includes('not-the-password'))
    assert.ok(!outcome.stderr.includes('not-the-password'))
    // Every attempt (a renewal's too) checks the stop first, so per routine at most the anonymous
    // try and the one with the password that were sent before the first refusal came. Before, every
    // one of the 20 jobs sent its own pair; with the check only at a request's start, a renewal
    // after the stop sent the password again (seen: 11 of 15 on CI).
    const refused = locked.requestLog.entries.filter((e) => e.status === 401).length
    assert.ok(refused >= 2 && refused <= 2 * ROUTINES, `${refused} requests answered 401`)
  })
})
