// The built CLI (`node bin/run.js transfer …`): exit codes, the closing report, --json, bad input,
// and an oclif.manifest.json that matches the commands as built.
import assert from 'node:assert/strict'
import {execFile} from 'node:child_process'
import {cp, mkdtemp, readFile, rm, symlink} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {after, before, describe, test} from 'node:test'
import {promisify} from 'node:util'
import {pushImage, randomLayer, skopeoDigest, startRegistry, type PushedImage, type TestRegistry} from '../harness/index.js'
import type {RunReport} from '../../src/index.js'
import {lines, plainEntries, ROOT, ruleYaml, runCli, workDir} from './support.js'

const FINISHED = /^Finished, (\d+) transfer jobs failed, (\d+) jobs generate failed/

describe('cli: transfer against real registries', () => {
  let src: TestRegistry
  let dst: TestRegistry
  let work: Awaited<ReturnType<typeof workDir>>
  let security: string
  const images: Record<string, PushedImage> = {}

  before(async () => {
    ;[src, dst, work] = await Promise.all([startRegistry(), startRegistry(), workDir()])
    security = await work.file('security.yaml', plainEntries(src, dst))
    for (const tag of ['1.0', '2.0']) {
      images[tag] = await pushImage(src, 'cli/app', tag, {layers: [randomLayer(1500, `cli:${tag}`)]})
    }
  })
  after(async () => {
    await Promise.all([src?.stop(), dst?.stop(), work?.cleanup()])
  })

  test('all jobs succeed: exit 0, the last stdout line reports no failure; a re-run skips', async () => {
    const ruleFile = await work.file('ok.yaml', ruleYaml([[`${src.host}/cli/app:1.0,2.0`, `${dst.host}/ok/app`]]))
    const first = await runCli(['transfer', '--ruleFile', ruleFile, '--securityFile', security])
    assert.equal(first.code, 0, first.stdout + first.stderr)
    const last = lines(first.stdout).at(-1) ?? ''
    assert.match(last, /^Finished, 0 transfer jobs failed, 0 jobs generate failed \(2 copied, 0 skipped/)
    assert.ok(!first.stdout.includes('Failed jobs'), first.stdout)
    assert.equal(await skopeoDigest(dst, 'ok/app:1.0'), images['1.0']!.digest)
    assert.equal(await skopeoDigest(dst, 'ok/app:2.0'), images['2.0']!.digest)

    const again = await runCli(['transfer', '--ruleFile', ruleFile, '--securityFile', security, '--quiet'])
    assert.equal(again.code, 0, again.stdout + again.stderr)
    assert.match(lines(again.stdout).at(-1) ?? '', /^Finished, 0 transfer jobs failed, 0 jobs generate failed \(0 copied, 2 skipped/)
  })

  test('one job of several fails: exit 1, it is listed with its reason before the last line', async () => {
    const ruleFile = await work.file(
      'one-fails.yaml',
      ruleYaml([
        [`${src.host}/cli/app:1.0,2.0`, `${dst.host}/partial/app`],
        [`${src.host}/cli/app:no-such-tag`, `${dst.host}/partial/missing`],
      ]),
    )
    const run = await runCli(['transfer', '--ruleFile', ruleFile, '--securityFile', security, '--retry', '0'])
    assert.equal(run.code, 1, run.stdout + run.stderr)
    const out = lines(run.stdout)
    const last = out.at(-1) ?? ''
    assert.ok(last.startsWith('Finished, 1 transfer jobs failed, 0 jobs generate failed'), last)
    assert.match(last, /\(2 copied, 0 skipped/)
    const header = out.indexOf('Failed jobs (1):')
    assert.ok(header >= 0 && header < out.length - 1, run.stdout)
    const listed = out.slice(header + 1, -1)
    assert.equal(listed.length, 1, run.stdout)
    assert.ok(listed[0]!.includes(`${src.host}/cli/app:no-such-tag → ${dst.host}/partial/missing:no-such-tag`), listed[0])
    assert.match(listed[0]!, /MANIFEST_UNKNOWN/)
    assert.equal(await skopeoDigest(dst, 'partial/app:1.0'), images['1.0']!.digest)
    assert.equal(await skopeoDigest(dst, 'partial/app:2.0'), images['2.0']!.digest)
    assert.ok(!run.stderr.includes('    at '), run.stderr)
  })

  test('--registry/--ns, DEFAULT_REGISTRY/DEFAULT_NAMESPACE and --chunkSize reach the engine', async () => {
    const ruleFile = await work.file('defaults.yaml', ruleYaml([[`${src.host}/cli/app:2.0`, '']]))
    const flags = await runCli(['transfer', '--ruleFile', ruleFile, '--securityFile', security, '--registry', dst.host, '--ns', 'fromflag'], {
      env: {DEFAULT_REGISTRY: 'unused.example.com', DEFAULT_NAMESPACE: 'fromenv'},
    })
    assert.equal(flags.code, 0, flags.stdout + flags.stderr)
    assert.equal(await skopeoDigest(dst, 'fromflag/app:2.0'), images['2.0']!.digest)

    await dst.requestLog.settle()
    dst.requestLog.clear()
    const env = await runCli(['transfer', '--ruleFile', ruleFile, '--securityFile', security, '--chunkSize', '1000'], {
      env: {DEFAULT_REGISTRY: dst.host, DEFAULT_NAMESPACE: 'fromenv'},
    })
    assert.equal(env.code, 0, env.stdout + env.stderr)
    assert.equal(await skopeoDigest(dst, 'fromenv/app:2.0'), images['2.0']!.digest)
    const log = await dst.requestLog.settle()
    const expected = images['2.0']!.blobs.reduce((n, b) => n + Math.ceil(b.size / 1000), 0)
    assert.equal(log.filter((e) => e.method === 'PATCH' && e.status === 202).length, expected, JSON.stringify(log))
  })

  test('--json prints one JSON report whose summary matches its results', async () => {
    const ruleFile = await work.file(
      'json.yaml',
      ruleYaml([
        [`${src.host}/cli/app`, `${dst.host}/json/app`],
        [`${src.host}/cli/app:gone`, `${dst.host}/json/gone`],
        [`${src.host}/cli/app:1.0`, `${dst.host}/json/app:1.0-renamed`],
        [`${src.host}/BAD/Name:1`, `${dst.host}/json/bad`],
      ]),
    )
    const run = await runCli(['transfer', '--ruleFile', ruleFile, '--securityFile', security, '--retry', '0', '--json'])
    assert.equal(run.code, 1, run.stdout + run.stderr)
    const report = JSON.parse(run.stdout) as RunReport
    const count = (status: string) => report.jobs.filter((r) => r.status === status).length
    assert.equal(report.summary.jobs, report.jobs.length)
    assert.equal(report.summary.copied, count('copied'))
    assert.equal(report.summary.skipped, count('skipped'))
    assert.equal(report.summary.failed, count('failed'))
    assert.equal(report.summary.generateFailed, report.generateFailures.length)
    assert.equal(
      report.summary.bytes,
      report.jobs.reduce((n, r) => n + r.bytes, 0),
    )
    // And the numbers are the true ones.
    assert.deepEqual(
      {jobs: report.summary.jobs, copied: report.summary.copied, failed: report.summary.failed, generateFailed: report.summary.generateFailed},
      {jobs: 4, copied: 3, failed: 1, generateFailed: 1},
    )
    const failed = report.jobs.find((r) => r.status === 'failed')
    assert.equal(failed?.destination, `${dst.host}/json/gone:gone`)
    assert.equal(failed?.error?.code, 'MANIFEST_UNKNOWN')
    assert.ok(report.generateFailures[0]!.message.includes('BAD/Name:1'), report.generateFailures[0]!.message)
    for (const result of report.jobs.filter((r) => r.status === 'copied')) {
      const reference = result.destination.slice(dst.host.length + 1)
      assert.equal(await skopeoDigest(dst, reference), result.sourceDigest, reference)
    }
    assert.ok(report.jobs.some((r) => r.destination === `${dst.host}/json/app:1.0-renamed`))
  })
})

describe('cli: bad input', () => {
  let work: Awaited<ReturnType<typeof workDir>>
  before(async () => {
    work = await workDir()
  })
  after(async () => {
    await work?.cleanup()
  })

  /** A whole-file problem: exit 2, one line on stderr naming the file, nothing on stdout, no stack. */
  function assertFileError(run: {code: number; stdout: string; stderr: string}, file: string, what: RegExp): void {
    assert.equal(run.code, 2, run.stdout + run.stderr)
    assert.equal(run.stdout, '')
    assert.ok(!run.stderr.includes('    at '), `no stack trace:\n${run.stderr}`)
    const errorLines = lines(run.stderr)
    assert.equal(errorLines.length, 1, `one line on stderr:\n${run.stderr}`)
    assert.ok(errorLines[0]!.includes(file), `names ${file}:\n${run.stderr}`)
    assert.match(errorLines[0]!, what)
  }

  test('a rule file that is not valid YAML', async () => {
    const ruleFile = await work.file('invalid.yaml', 'registry.example.com/a/b: [unclosed\n')
    assertFileError(await runCli(['transfer', '--ruleFile', ruleFile]), ruleFile, /invalid YAML/)
  })

  test('a rule file that does not exist', async () => {
    const ruleFile = path.join(work.dir, 'does-not-exist.yaml')
    assertFileError(await runCli(['transfer', '--ruleFile', ruleFile]), ruleFile, /cannot read rule file \(ENOENT\)/)
  })

  test('a security file with an unknown key', async () => {
    const ruleFile = await work.file('fine.yaml', 'registry.example.com/a/b:1: registry.example.com/c/d\n')
    const securityFile = await work.file('unknown-key.yaml', 'registry.example.com:\n  username: someone\n  passwrd: hunter2-secret\n')
    const run = await runCli(['transfer', '--ruleFile', ruleFile, '--securityFile', securityFile])
    assertFileError(run, `${securityFile}:3`, /unknown field/)
    assert.ok(!run.stderr.includes('hunter2-secret'), run.stderr)
  })

  test('a bad --chunkSize', async () => {
    const ruleFile = await work.file('fine2.yaml', 'registry.example.com/a/b:1: registry.example.com/c/d\n')
    const run = await runCli(['transfer', '--ruleFile', ruleFile, '--chunkSize', 'lots'])
    assert.equal(run.code, 2, run.stdout + run.stderr)
    assert.match(run.stderr, /--chunk-size/)
    assert.ok(!run.stderr.includes('    at '), run.stderr)
  })

  test('a missing --ruleFile', async () => {
    const run = await runCli(['transfer'])
    assert.equal(run.code, 2, run.stdout + run.stderr)
    assert.match(run.stderr, /ruleFile/)
    assert.ok(!run.stderr.includes('    at '), run.stderr)
  })

  test('a bad reference fails its rule only: exit 1, reported with file and line', async () => {
    const ruleFile = await work.file('bad-reference.yaml', 'UPPER/Case:tag: registry.example.com/x/y\n')
    const run = await runCli(['transfer', '--ruleFile', ruleFile])
    assert.equal(run.code, 1, run.stdout + run.stderr)
    assert.ok(!run.stderr.includes('    at '), run.stderr)
    const out = lines(run.stdout)
    assert.match(out.at(-1) ?? '', /^Finished, 0 transfer jobs failed, 1 jobs generate failed/)
    assert.ok(out.includes('Rules that generated no jobs (1):'), run.stdout)
    const reason = out.find((line) => line.includes(`${ruleFile}:1`))
    assert.ok(reason, run.stdout)
    assert.match(reason, /"UPPER\/Case:tag"/)
    assert.match(reason, /uppercase/)
    assert.equal(out.filter((line) => FINISHED.test(line)).length, 1)
  })

  test('--json with a whole-file error prints a JSON error and exits 2', async () => {
    const ruleFile = path.join(work.dir, 'missing-for-json.yaml')
    const run = await runCli(['transfer', '--ruleFile', ruleFile, '--json'])
    assert.equal(run.code, 2, run.stdout + run.stderr)
    const parsed = JSON.parse(run.stdout) as {error?: {message?: string}}
    assert.ok(parsed.error?.message?.includes(ruleFile), run.stdout)
    assert.ok(!run.stdout.includes('    at '), run.stdout)
  })
})

describe('cli: oclif.manifest.json', () => {
  test('matches what `oclif manifest` generates from the built commands', async () => {
    // Generated in a copy of the package, so the committed file is left alone.
    const copy = await mkdtemp(path.join(os.tmpdir(), 'ferry-manifest-'))
    try {
      await cp(path.join(ROOT, 'package.json'), path.join(copy, 'package.json'))
      await cp(path.join(ROOT, 'dist'), path.join(copy, 'dist'), {recursive: true})
      await symlink(path.join(ROOT, 'node_modules'), path.join(copy, 'node_modules'), 'dir')
      await promisify(execFile)(path.join(ROOT, 'node_modules', '.bin', 'oclif'), ['manifest'], {
        cwd: copy,
        env: {...process.env, OCLIF_SKIP_NEW_VERSION_CHECK: 'true'},
        timeout: 60_000,
      })
      const generated = JSON.parse(await readFile(path.join(copy, 'oclif.manifest.json'), 'utf8')) as {commands: Record<string, unknown>}
      const committed = JSON.parse(await readFile(path.join(ROOT, 'oclif.manifest.json'), 'utf8')) as {commands: Record<string, unknown>}
      assert.ok(Object.keys(generated.commands).includes('transfer'))
      assert.deepEqual(committed.commands, generated.commands, 'oclif.manifest.json is stale: run `npm run manifest` and commit the result')
    } finally {
      await rm(copy, {recursive: true, force: true})
    }
  })
})
