// What a run tells, between real registries (an htpasswd source, a token-auth destination): --json
// and --report FILE.json are one document; --log-format json prints one parseable object per line
// with the fields it is about; --debug prints each registry request with every credential blanked.
import assert from 'node:assert/strict'
import {readFile} from 'node:fs/promises'
import path from 'node:path'
import {after, before, describe, test} from 'node:test'

import {pushImage, randomLayer, skopeoDigest, startRegistry, type PushedImage, type TestRegistry} from '../harness/index.js'
import type {RunReport} from '../../src/index.js'
import {startFerry} from './serve-support.js'
import {ruleYaml, runCli, workDir} from './support.js'

const SRC_USER = 'reader'
const SRC_PASSWORD = 'pw-OUTPUT-src-5521'
const DST_USER = 'pusher'
const DST_PASSWORD = 'pw-OUTPUT-dst-7730'

describe('what a run tells: --json, --log-format json, --debug', () => {
  let src: TestRegistry
  let dst: TestRegistry
  let work: Awaited<ReturnType<typeof workDir>>
  let security: string
  let one: PushedImage
  let two: PushedImage

  before(async () => {
    ;[src, dst, work] = await Promise.all([
      startRegistry({auth: 'htpasswd', users: {[SRC_USER]: SRC_PASSWORD}}),
      startRegistry({auth: 'token', users: {[DST_USER]: DST_PASSWORD}}),
      workDir(),
    ])
    security = await work.file(
      'security.yaml',
      `"http://${src.host}":\n  username: ${SRC_USER}\n  password: "${SRC_PASSWORD}"\n` +
        `"http://${dst.host}":\n  username: ${DST_USER}\n  password: "${DST_PASSWORD}"\n`,
    )
    const base = randomLayer(4096, 'output:base')
    one = await pushImage(src, 'team/app', '1.0', {layers: [base, randomLayer(2048, 'output:1.0')]})
    two = await pushImage(src, 'team/app', '2.0', {layers: [base, randomLayer(3072, 'output:2.0')]})
  })

  after(async () => {
    await Promise.all([src?.stop(), dst?.stop(), work?.cleanup()])
  })

  /** Two images (sharing a layer) and a tag the source lacks, into the repository `into`. */
  const rules = (into: string) =>
    work.file(
      `${into}.yaml`,
      ruleYaml([
        [`${src.host}/team/app:1.0`, `${dst.host}/${into}/app:1.0`],
        [`${src.host}/team/app:2.0`, `${dst.host}/${into}/app:2.0`],
        [`${src.host}/team/app:9.9-missing`, `${dst.host}/${into}/app:9.9-missing`],
      ]),
    )

  /** Every credential this run could print: passwords, their base64 in a Basic header, the tokens issued. */
  function secrets(): string[] {
    const basic = (user: string, password: string) => Buffer.from(`${user}:${password}`).toString('base64')
    const tokens = dst.tokenServer!.requests.flatMap((request) => (request.token ? [request.token] : []))
    assert.ok(tokens.length > 0, 'the token server issued tokens')
    return [SRC_PASSWORD, DST_PASSWORD, basic(SRC_USER, SRC_PASSWORD), basic(DST_USER, DST_PASSWORD), ...tokens]
  }

  test('--json and --report FILE.json print one document: schemaVersion, every key present (null when unknown), measured durations', async () => {
    const reportFile = path.join(work.dir, 'same.json')
    const run = await runCli(['transfer', '--ruleFile', await rules('json'), '--securityFile', security, '--retry', '0', '--json', '--report', reportFile])
    assert.equal(run.code, 1, run.stderr)
    const printed = JSON.parse(run.stdout) as RunReport
    const written = JSON.parse(await readFile(reportFile, 'utf8')) as RunReport
    assert.deepEqual(printed, written, 'the same document on stdout and in the file')

    assert.equal(printed.schemaVersion, 2)
    assert.equal(printed.mode, 'copy')
    assert.deepEqual(printed.registries, [dst.host, src.host].sort())
    const version = (JSON.parse(await readFile(path.join(process.cwd(), 'package.json'), 'utf8')) as {version: string}).version
    assert.equal(printed.ferryVersion, version)
    assert.match(printed.command!, /^ferry transfer --ruleFile \S+json\.yaml --securityFile \S+ --retry 0 --json --report \S+same\.json$/)
    assert.deepEqual(
      {...printed.summary, requests: 0, durationMs: 0, bytes: 0, blobBytes: null},
      {
        jobs: 3,
        copied: 2,
        skipped: 0,
        failed: 1,
        planned: 0,
        verified: 0,
        generateFailed: 0,
        dryRun: false,
        interrupted: false,
        interruptedJobs: 0,
        bytes: 0,
        blobBytes: null,
        referrers: {copied: 0, present: 0},
        requests: 0,
        durationMs: 0,
        pullQuotas: [],
      },
    )
    const byTag = new Map(printed.jobs.map((job) => [job.destination.split(':').at(-1), job]))
    for (const [tag, image] of [
      ['1.0', one],
      ['2.0', two],
    ] as const) {
      const job = byTag.get(tag)!
      assert.equal(job.sourceDigest, image.digest)
      assert.equal(job.destinationDigest, await skopeoDigest(dst, `json/app:${tag}`))
      assert.deepEqual([job.skipReason, job.note, job.missing, job.error], [null, null, null, null])
      // Every blob's size is counted once, by how it got there; uploaded bytes are the job's bytes.
      const size = image.blobs.reduce((sum, blob) => sum + blob.size, 0)
      assert.equal(job.blobBytes.uploaded + job.blobBytes.mounted + job.blobBytes.existing, size, `${tag}: ${JSON.stringify(job.blobBytes)}`)
      assert.equal(job.blobBytes.uploaded, job.bytes)
    }
    // The blobs the images share (the base layer, and a config they may have in common) were
    // uploaded by one job only: the other found them present (or mounted).
    const shared = two.blobs.filter((blob) => one.blobs.some((other) => other.digest === blob.digest)).reduce((sum, blob) => sum + blob.size, 0)
    assert.ok(shared >= 4096)
    const saved = printed.jobs.reduce((sum, job) => sum + job.blobBytes.mounted + job.blobBytes.existing, 0)
    assert.equal(saved, shared)
    assert.equal(printed.summary.blobBytes.existing + printed.summary.blobBytes.mounted, shared)

    const failed = byTag.get('9.9-missing')!
    const keys = Object.keys(byTag.get('1.0')!).sort()
    assert.deepEqual(Object.keys(failed).sort(), keys, 'a failed job has every key')
    assert.deepEqual([failed.sourceDigest, failed.destinationDigest, failed.skipReason, failed.note, failed.missing], [null, null, null, null, null])
    assert.equal(failed.error!.code, 'MANIFEST_UNKNOWN')
    assert.equal(failed.durationMs, Date.parse(failed.finishedAt!) - Date.parse(failed.startedAt!), 'a failed job has its measured duration')

    const text = run.stdout + run.stderr
    for (const secret of secrets()) assert.ok(!text.includes(secret), `a credential in the output: ${secret.slice(0, 6)}…`)
  })

  test('--log-format json: every line one object with time, level and message; job lines carry registry, repository, tag, digest, code', async () => {
    const logFile = path.join(work.dir, 'lines.log')
    const run = await runCli([
      'transfer',
      '--ruleFile',
      await rules('lines'),
      '--securityFile',
      security,
      '--retry',
      '0',
      '--log-format',
      'json',
      '--verbose',
      '--log',
      logFile,
    ])
    assert.equal(run.code, 1, run.stderr)
    const lines = run.stderr.trim().split('\n')
    const objects = lines.map((line) => JSON.parse(line) as Record<string, unknown>)
    for (const object of objects) {
      assert.ok(typeof object.message === 'string' && typeof object.level === 'string', JSON.stringify(object))
      assert.ok(!Number.isNaN(Date.parse(object.time as string)), JSON.stringify(object))
    }
    const copied = objects.find((object) => object.status === 'copied' && object.tag === '1.0')
    assert.ok(copied, run.stderr)
    assert.deepEqual([copied.level, copied.registry, copied.repository, copied.digest], ['info', dst.host, 'lines/app', one.digest])
    assert.match(copied.message as string, /^\[\d\] copied /)
    const failed = objects.find((object) => object.status === 'failed')
    assert.ok(failed, run.stderr)
    assert.deepEqual([failed.level, failed.code, failed.tag, failed.repository], ['error', 'MANIFEST_UNKNOWN', '9.9-missing', 'lines/app'])
    const blobs = objects.filter((object) => /^ {2}blob /.test(object.message as string))
    assert.ok(blobs.length >= 5, run.stderr)
    assert.ok(
      blobs.every((object) => /^sha256:[0-9a-f]{64}$/.test(object.digest as string)),
      JSON.stringify(blobs),
    )
    // The closing lines go to stdout, as JSON lines too.
    const closing = run.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as {message: string})
    assert.match(closing.at(-1)!.message, /^Finished, 1 transfer jobs failed/)
    // The log file holds the same objects.
    const logged = (await readFile(logFile, 'utf8'))
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as {message: string})
    assert.ok(
      logged.some((object) => object.message === copied.message),
      'the job line is in the log file',
    )
  })

  test('--debug: a line per registry request (method, URL, status, time), no password, token or upload secret in any of them', async () => {
    dst.tokenServer!.reset()
    for (const format of ['text', 'json']) {
      const run = await runCli([
        'transfer',
        '--ruleFile',
        await rules(`debug-${format}`),
        '--securityFile',
        security,
        '--retry',
        '0',
        '--debug',
        '--log-format',
        format,
      ])
      assert.equal(run.code, 1, run.stderr)
      const text = run.stdout + run.stderr
      for (const secret of secrets()) assert.ok(!text.includes(secret), `${format}: a credential in the output: ${secret.slice(0, 6)}…`)
      // Distribution's upload URLs carry a signed `_state`: blanked like any query value not known to be harmless.
      assert.doesNotMatch(text, /_state=(?!\[redacted\])/, `${format}: an upload URL's state was printed`)
      const requests =
        format === 'text'
          ? run.stderr.split('\n').flatMap((line) => {
              const match = /^debug: ([A-Z]+) (\S+) → (\d+|no answer) \((\d+) ms\)$/.exec(line)
              return match ? [{method: match[1]!, url: match[2]!, httpStatus: Number(match[3])}] : []
            })
          : run.stderr
              .trim()
              .split('\n')
              .map((line) => JSON.parse(line) as {level: string; method?: string; url?: string; httpStatus?: number; ms?: number; registry?: string})
              .filter((object) => object.level === 'debug')
              .map((object) => {
                assert.ok(typeof object.ms === 'number' && object.registry, JSON.stringify(object))
                return {method: object.method!, url: object.url!, httpStatus: object.httpStatus!}
              })
      const seen = (method: string, pattern: RegExp, status: number) =>
        requests.some((request) => request.method === method && pattern.test(request.url) && request.httpStatus === status)
      assert.ok(seen('GET', new RegExp(`^http://${src.host}/v2/team/app/manifests/`), 200), `${format}: source manifest GET\n${run.stderr}`)
      assert.ok(seen('HEAD', new RegExp(`^http://${src.host}/v2/team/app/manifests/9\\.9-missing$`), 404), `${format}: the missing tag's HEAD`)
      assert.ok(seen('PUT', new RegExp(`^http://${dst.host}/v2/debug-${format}/app/manifests/1\\.0$`), 201), `${format}: the manifest PUT`)
      assert.ok(
        requests.some((request) => request.httpStatus === 401),
        `${format}: the token challenge is a request too`,
      )
      const upload = requests.find((request) => request.method === 'PUT' && /\/blobs\/uploads\//.test(request.url))
      assert.ok(upload, `${format}: a blob upload PUT`)
      assert.match(upload.url, /[?&]digest=sha256(%3A|:)[0-9a-f]{64}/, 'the digest stays readable')
    }
  })

  test('--debug in the standing mode: the request lines of each run, no credential in them', async () => {
    dst.tokenServer!.reset()
    const ferry = startFerry([
      'transfer',
      '--ruleFile',
      await rules('debug-standing'),
      '--securityFile',
      security,
      '--retry',
      '0',
      '--interval',
      '1h',
      '--debug',
    ])
    try {
      await ferry.waitFor(/run 1 (complete|incomplete)/, 30_000)
      ferry.child.kill('SIGTERM')
      await ferry.exited
      const text = ferry.stderr() + ferry.stdout()
      assert.match(text, new RegExp(`debug: PUT http://${dst.host}/v2/debug-standing/app/manifests/1\\.0 → 201 \\(\\d+ ms\\)`), text)
      assert.match(text, new RegExp(`debug: GET http://${src.host}/v2/team/app/manifests/\\S+ → 200`), text)
      for (const secret of secrets()) assert.ok(!text.includes(secret), `a credential in the output: ${secret.slice(0, 6)}…`)
    } finally {
      ferry.kill()
    }
  })
})
