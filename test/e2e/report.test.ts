// --report FILE.json / FILE.html and the terminal output, between two real registries: the JSON
// report must say what skopeo sees at the destination, the HTML page must render in a real
// browser with one row per job, and a terminal gets a live progress line while a pipe gets
// plain lines.
import assert from 'node:assert/strict'
import {execFile} from 'node:child_process'
import {existsSync} from 'node:fs'
import {mkdtemp, readFile, rm} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {after, before, describe, test} from 'node:test'
import {pathToFileURL} from 'node:url'

import {startFaultProxy, type FaultProxy} from '../harness/fault-proxy.js'
import {pushImage, pushIndex, randomLayer, skopeoDigest, skopeoTags, startRegistry, type PushedImage, type TestRegistry} from '../harness/index.js'
import type {ReportJob} from '../../src/report/run-report.js'
import {ROOT, ruleYaml, runCli, workDir} from './support.js'

const CHROMIUM = '/usr/bin/chromium'
const PASSWORD = 'report-pusher-Secret-8311'
const ESC = '\u001b'

describe('--report and terminal output', () => {
  let src: TestRegistry
  let dst: TestRegistry
  let work: Awaited<ReturnType<typeof workDir>>
  let security: string
  let flaky: FaultProxy
  let app2: PushedImage

  before(async () => {
    ;[src, dst, work] = await Promise.all([startRegistry(), startRegistry({auth: 'htpasswd', users: {pusher: PASSWORD}}), workDir()])
    flaky = await startFaultProxy(src)
    security = await work.file(
      'security.yaml',
      `"http://${src.host}": {}\n"http://${flaky.host}": {}\n"http://${dst.host}":\n  username: pusher\n  password: ${JSON.stringify(PASSWORD)}\n`,
    )
    const base = randomLayer(2048, 'report:base')
    await pushImage(src, 'team/app', '1.0', {layers: [base, randomLayer(1024, 'report:1.0')]})
    app2 = await pushImage(src, 'team/app', '2.0', {flavour: 'oci', layers: [base, randomLayer(1536, 'report:2.0')]})
    await pushIndex(src, 'team/multi', 'v1', ['linux/amd64', 'linux/arm64'], 'oci', {layerSize: 700})
  })

  after(async () => {
    await flaky?.stop()
    await Promise.all([src?.stop(), dst?.stop(), work?.cleanup()])
  })

  /** Rules for the repository `into` at the destination: two images, an index, and a tag the source does not have. */
  function rules(into: string): Array<[string, string]> {
    return [
      [`${src.host}/team/app:1.0`, `${dst.host}/${into}/app:1.0`],
      [`${src.host}/team/app:2.0`, `${dst.host}/${into}/app:2.0`],
      [`${src.host}/team/multi:v1`, `${dst.host}/${into}/multi:v1`],
      [`${src.host}/team/app:9.9-missing`, `${dst.host}/${into}/app:9.9-missing`],
    ]
  }

  test('JSON: every job with the digests skopeo reads at both ends; the missing tag failed with its error', async () => {
    // One tag is there already, so the report also holds a skip.
    const first = await runCli(['transfer', '--ruleFile', await work.file('json-first.yaml', ruleYaml(rules('json').slice(0, 1))), '--securityFile', security])
    assert.equal(first.code, 0, first.stderr)

    const reportFile = path.join(work.dir, 'r.json')
    const before = Date.now()
    const run = await runCli([
      'transfer',
      '--ruleFile',
      await work.file('json.yaml', ruleYaml(rules('json'))),
      '--securityFile',
      security,
      '--retry',
      '0',
      '--report',
      reportFile,
    ])
    const after = Date.now()
    assert.equal(run.code, 1, `one job fails, so the exit code is 1\n${run.stderr}`)
    assert.match(run.stdout, new RegExp(`Report written to ${reportFile.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`))
    const text = await readFile(reportFile, 'utf8')
    assert.ok(!text.includes(PASSWORD) && !text.includes(Buffer.from(PASSWORD).toString('base64')), 'the report holds no credential')
    const report = JSON.parse(text) as {startedAt: string; finishedAt: string; summary: Record<string, number>; jobs: ReportJob[]}

    assert.ok(Date.parse(report.startedAt) >= before - 1000 && Date.parse(report.finishedAt) <= after + 1000, `${report.startedAt} – ${report.finishedAt}`)
    assert.deepEqual(
      {jobs: report.summary.jobs, copied: report.summary.copied, skipped: report.summary.skipped, failed: report.summary.failed},
      {jobs: 4, copied: 2, skipped: 1, failed: 1},
    )
    const byDestination = new Map(report.jobs.map((job) => [job.destination, job]))
    assert.equal(byDestination.size, 4, text)

    for (const [source, destination] of rules('json').slice(0, 3)) {
      const job = byDestination.get(destination)
      assert.ok(job, `a job for ${destination}`)
      assert.equal(job.source, source)
      const reference = destination.slice(dst.host.length + 1)
      assert.equal(job.destinationDigest, await skopeoDigest(dst, reference), `${destination}: the report's destination digest is what skopeo reads`)
      assert.equal(job.sourceDigest, await skopeoDigest(src, source.slice(src.host.length + 1)), `${source}: source digest`)
      assert.equal(job.error, null)
      assert.equal(job.retries, job.attempts - 1)
      assert.ok(job.startedAt && job.finishedAt && Date.parse(job.startedAt) <= Date.parse(job.finishedAt), `${destination}: start ≤ end`)
      assert.ok(
        Date.parse(job.startedAt) >= Date.parse(report.startedAt) && Date.parse(job.finishedAt) <= Date.parse(report.finishedAt),
        `${destination}: within the run`,
      )
      assert.ok(job.durationMs >= 0)
    }
    const skipped = byDestination.get(`${dst.host}/json/app:1.0`)!
    assert.deepEqual([skipped.status, skipped.skipReason, skipped.bytes], ['skipped', 'same digest', 0])
    const copied = byDestination.get(`${dst.host}/json/app:2.0`)!
    // The shared base layer is already in the repository; the 2.0 layer and config are new.
    assert.equal(copied.status, 'copied')
    assert.ok(copied.bytes > 1536 && copied.bytes < 2048 + 1536 + 4096, `bytes of 2.0: ${copied.bytes}`)
    assert.equal(byDestination.get(`${dst.host}/json/multi:v1`)!.status, 'copied')

    const failed = byDestination.get(`${dst.host}/json/app:9.9-missing`)!
    assert.equal(failed.status, 'failed')
    assert.ok(failed.error && failed.error.code !== '' && /9\.9-missing/.test(failed.error.message), JSON.stringify(failed.error))
    assert.deepEqual([failed.destinationDigest, failed.bytes, failed.retries], [null, 0, 0])
    assert.deepEqual((await skopeoTags(dst, 'json/app')).sort(), ['1.0', '2.0'])
  })

  test('HTML: the page renders in headless Chromium with one row per job and filters by status', async (t) => {
    if (!existsSync(CHROMIUM)) {
      t.skip(`${CHROMIUM} is not installed (apt-get install chromium): the HTML report was not rendered`)
      return
    }
    const reportFile = path.join(work.dir, 'r.html')
    const run = await runCli([
      'transfer',
      '--ruleFile',
      await work.file('html.yaml', ruleYaml(rules('html'))),
      '--securityFile',
      security,
      '--retry',
      '0',
      '--report',
      reportFile,
    ])
    assert.equal(run.code, 1, run.stderr)
    const html = await readFile(reportFile, 'utf8')
    assert.doesNotMatch(html, /<(script|link|img)[^>]+(src|href)=/i, 'nothing is loaded from elsewhere')

    const dom = await dumpDom(reportFile)
    const rows = [...dom.matchAll(/<tr class="[a-z]+" data-status="([a-z]+)"[^>]*>([\s\S]*?)<\/tr>/g)]
    assert.equal(rows.length, 4, dom)
    for (const [source, destination] of rules('html')) {
      const row = rows.find((match) => match[2]!.includes(`>${destination}<`))
      assert.ok(row, `a row for ${destination}`)
      assert.ok(row[2]!.includes(`>${source}<`), `the row for ${destination} names its source`)
      assert.equal(row[1], destination.endsWith('missing') ? 'failed' : 'copied')
    }
    // The inline script ran: it counts the rows it shows.
    assert.match(dom, /<span id="shown">4 of 4 jobs<\/span>/)
    assert.match(dom, /<svg id="throughput"[^>]*>[\s\S]*<polyline/)

    // The header: what ran, with which ferry, between which registries, when; the title says it too.
    const version = (JSON.parse(await readFile(path.join(ROOT, 'package.json'), 'utf8')) as {version: string}).version
    const title = /<title>([^<]*)<\/title>/.exec(dom)![1]!
    assert.match(title, new RegExp(`^ferry copy report: .*${escapeRegExp(dst.host)}.*, \\d{4}-\\d\\d-\\d\\dT`))
    const context = /<dl id="context">([\s\S]*?)<\/dl>/.exec(dom)![1]!
    assert.match(context, /<dt>Command<\/dt><dd><code>ferry transfer --ruleFile \S+html\.yaml --securityFile \S+ --retry 0 --report \S+r\.html<\/code>/)
    assert.match(context, new RegExp(`<dt>ferry</dt><dd>${escapeRegExp(version)}</dd>`))
    assert.ok(context.includes(`<code>${src.host}</code>`) && context.includes(`<code>${dst.host}</code>`), context)
    assert.match(context, /<dt>Started<\/dt><dd>\d{4}-\d\d-\d\dT[\d:.]+Z<\/dd>/)
    assert.ok(!html.includes(PASSWORD), 'no credential in the page')
    // Failures first, grouped by reason: before the figures and the jobs table, and the first row of the table.
    const failures = dom.indexOf('<div id="failures">')
    assert.ok(failures > 0 && failures < dom.indexOf('<table id="repositories"') && failures < dom.indexOf('<table id="jobs"'), 'failures come first')
    assert.match(dom, /<section class="reason" data-code="MANIFEST_UNKNOWN"><h3>MANIFEST_UNKNOWN \(1\)<\/h3><ul><li>[^<]*<code>[^<]*9\.9-missing<\/code>/)
    assert.equal(rows[0]![1], 'failed', 'the failed job is the first row')
    // Per repository: jobs, failures and bytes by how they got there; app's 1.0 and 2.0 share their base layer.
    const repositories = /<table id="repositories">([\s\S]*?)<\/table>/.exec(dom)![1]!
    const appRow = new RegExp(
      `<tr><td><code>${escapeRegExp(dst.host)}/html/app</code></td><td class="num">3</td><td class="num">1</td><td class="num uploaded">[\\d.]+ KiB</td><td class="num mounted">([\\d.]+ (?:B|KiB))</td><td class="num existing">([\\d.]+ (?:B|KiB))</td>`,
    ).exec(repositories)
    assert.ok(appRow, repositories)
    assert.ok(appRow[1] !== '0 B' || appRow[2] !== '0 B', `the shared layer counts as mounted or present: ${appRow[0]}`)
    assert.match(repositories, new RegExp(`<code>${escapeRegExp(dst.host)}/html/multi</code></td><td class="num">1</td><td class="num">0</td>`))
    assert.match(dom, /<table id="registries">[\s\S]*<td class="num rate">[\d.]+ (B|KiB|MiB)\/s<\/td>/)
    assert.match(dom, /<dl id="bytes">[\s\S]*<dt>Saved<\/dt><dd>(?!0 B)[\d.]+ (B|KiB) not uploaded<\/dd>/)

    const failedOnly = await dumpDom(reportFile, '#status=failed')
    assert.match(failedOnly, /<span id="shown">1 of 4 jobs<\/span>/)
    const hidden = [...failedOnly.matchAll(/<tr class="[a-z]+" data-status="([a-z]+)"( hidden="")?/g)]
    assert.deepEqual(hidden.map((match) => `${match[1]}${match[2] ? ' hidden' : ''}`).sort(), ['copied hidden', 'copied hidden', 'copied hidden', 'failed'])
  })

  test('HTML of a dry run: a plan, in planned words, never "0 copied"', async (t) => {
    if (!existsSync(CHROMIUM)) {
      t.skip(`${CHROMIUM} is not installed (apt-get install chromium): the HTML report was not rendered`)
      return
    }
    const reportFile = path.join(work.dir, 'plan.html')
    const run = await runCli([
      'transfer',
      '--ruleFile',
      await work.file('plan.yaml', ruleYaml(rules('plan').slice(0, 3))),
      '--securityFile',
      security,
      '--dryRun',
      '--report',
      reportFile,
    ])
    assert.equal(run.code, 0, run.stderr)
    const dom = await dumpDom(reportFile)
    assert.match(/<title>([^<]*)<\/title>/.exec(dom)![1]!, /^ferry dry-run plan: /)
    assert.match(dom, /<dt>Jobs<\/dt><dd>3 jobs planned, nothing written: 3 would be copied, 0 would be skipped, 0 failed while planning<\/dd>/)
    assert.doesNotMatch(dom, /\d+ copied/)
    assert.doesNotMatch(dom, /<dl id="bytes">/, 'a plan moved no bytes to show')
    const rows = [...dom.matchAll(/<tr class="planned" data-status="planned"/g)]
    assert.equal(rows.length, 3, dom)
    assert.deepEqual(await skopeoTags(dst, 'plan/app').catch(() => []), [], 'nothing was written')
  })

  test('a --report name that is neither .json nor .html is a one-line error before any copying', async () => {
    const run = await runCli([
      'transfer',
      '--ruleFile',
      await work.file('bad.yaml', ruleYaml(rules('bad'))),
      '--securityFile',
      security,
      '--report',
      path.join(work.dir, 'r.txt'),
    ])
    assert.equal(run.code, 2)
    assert.match(run.stderr, /^Error: --report .*r\.txt: the file name must end in \.json or \.html/)
    assert.equal(run.stderr.trim().split('\n').length, 1, run.stderr)
    assert.deepEqual(await skopeoTags(dst, 'bad/app').catch(() => []), [], 'nothing was copied')
  })

  test('not a terminal: plain lines, no escape sequences; --verbose adds a line per blob', async () => {
    const plain = await runCli(['transfer', '--ruleFile', await work.file('plain.yaml', ruleYaml(rules('plain').slice(0, 2))), '--securityFile', security], {
      env: {CI: ''},
    })
    assert.equal(plain.code, 0, plain.stderr)
    assert.ok(!plain.stderr.includes(ESC) && !plain.stdout.includes(ESC), JSON.stringify(plain.stderr))
    assert.match(plain.stderr, /^\[1\] copied .*plain\/app:(1|2)\.0 \(/m)
    assert.match(plain.stderr, /^\[2\] copied /m)
    assert.doesNotMatch(plain.stderr, /blob /)

    const verbose = await runCli([
      'transfer',
      '--ruleFile',
      await work.file('verbose.yaml', ruleYaml(rules('verbose').slice(0, 2))),
      '--securityFile',
      security,
      '--verbose',
    ])
    assert.equal(verbose.code, 0, verbose.stderr)
    assert.ok(!verbose.stderr.includes(ESC))
    const blobLines = verbose.stderr.split('\n').filter((line) => /^ {2}blob (uploaded|mounted|present) sha256:[0-9a-f]{64}/.test(line))
    // 1.0: config + 2 layers; 2.0: config + 2 layers, its base layer already there or mounted.
    assert.equal(blobLines.length, 6, verbose.stderr)
    assert.ok(
      blobLines.some((line) => line.includes('blob uploaded')),
      verbose.stderr,
    )
  })

  test('retries: --verbose names each blob retry and the job retry; the report counts retries = attempts - 1', async () => {
    // Three short bodies use up one job attempt's tries of that blob; the second attempt succeeds.
    const layer = app2.layers[1]!.digest
    const fault = flaky.addFault({method: 'GET', path: new RegExp(`/blobs/${layer}$`), times: 3, fault: {kind: 'short', afterBytes: 100}})
    try {
      const reportFile = path.join(work.dir, 'retry.json')
      const source = `${flaky.host}/team/app:2.0`
      const destination = `${dst.host}/retry/app:2.0`
      const run = await runCli([
        'transfer',
        '--ruleFile',
        await work.file('retry.yaml', ruleYaml([[source, destination]])),
        '--securityFile',
        security,
        '--verbose',
        '--report',
        reportFile,
      ])
      assert.equal(run.code, 0, run.stderr)
      assert.equal(fault.hits, 3)
      const retries = run.stderr.split('\n').filter((line) => line.startsWith('  retry '))
      assert.equal(retries.length, 3, run.stderr)
      assert.match(retries[0]!, new RegExp(`^  retry blob ${layer} of ${source}: attempt 1 failed, again in \\d+\\.\\ds: .*source sent 100 of \\d+ bytes`))
      assert.match(retries[1]!, /^ {2}retry blob .*: attempt 2 failed/)
      assert.ok(retries[2]!.startsWith(`  retry ${source} → ${destination}: attempt 1 failed, again in `), retries[2])
      const [job] = (JSON.parse(await readFile(reportFile, 'utf8')) as {jobs: ReportJob[]}).jobs
      assert.deepEqual([job!.status, job!.attempts, job!.retries, job!.error], ['copied', 2, 1, null])
      assert.equal(job!.destinationDigest, await skopeoDigest(dst, 'retry/app:2.0'))
      assert.equal(job!.destinationDigest, app2.digest)
    } finally {
      fault.remove()
    }
  })

  test('--quiet and --verbose together are refused', async () => {
    const run = await runCli(['transfer', '--ruleFile', await work.file('qv.yaml', ruleYaml(rules('qv').slice(0, 1))), '--quiet', '--verbose'])
    assert.equal(run.code, 2)
    assert.match(run.stderr, /--verbose|--quiet/)
  })

  test('a terminal: a live progress line (jobs, bytes, throughput, ETA) instead of a line per job', async (t) => {
    if (!existsSync('/usr/bin/script')) {
      t.skip('util-linux script is not installed: no pseudo-terminal to run the CLI on')
      return
    }
    const ruleFile = await work.file('tty.yaml', ruleYaml(rules('tty')))
    const output = await onTerminal(['transfer', '--ruleFile', ruleFile, '--securityFile', security, '--retry', '0'])
    assert.equal(output.code, 1, output.text)
    // The bar is drawn with cursor control; its final state says every job ended.
    assert.ok(output.text.includes(`${ESC}[`), 'cursor control sequences on a terminal')
    assert.match(output.text, /\[#+\] 4\/4 jobs \| 1 failed \| [\d.]+ (B|KiB) \| [\d.]+ (B|KiB|MiB)\/s \| ETA \d+:\d\d/)
    // Failures still print as they happen; copied jobs do not get a line of their own.
    assert.match(output.text, /\[\d\] failed .*9\.9-missing/)
    assert.doesNotMatch(output.text, /\[\d\] copied /)
    assert.match(output.text, /Finished, 1 transfer jobs failed/)
    assert.equal(await skopeoDigest(dst, 'tty/app:2.0'), await skopeoDigest(src, 'team/app:2.0'))
  })
})

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}

/** The DOM of a file after its scripts ran, from headless Chromium with a throwaway profile. */
async function dumpDom(file: string, hash = ''): Promise<string> {
  const profile = await mkdtemp(path.join(os.tmpdir(), 'ferry-chromium-'))
  try {
    return await new Promise<string>((resolve, reject) => {
      execFile(
        CHROMIUM,
        [
          '--headless',
          '--no-sandbox',
          '--disable-gpu',
          '--disable-quic',
          '--no-first-run',
          '--disable-background-networking',
          '--disable-component-update',
          '--disable-sync',
          `--user-data-dir=${profile}`,
          '--virtual-time-budget=2000',
          '--dump-dom',
          `${pathToFileURL(file).href}${hash}`,
        ],
        {timeout: 60_000, maxBuffer: 16 * 1024 * 1024},
        (error, stdout, stderr) => (error ? reject(new Error(`chromium failed: ${error.message}\n${stderr}`)) : resolve(stdout)),
      )
    })
  } finally {
    await rm(profile, {recursive: true, force: true})
  }
}

/** Runs the built CLI on a pseudo-terminal (util-linux `script`), outside CI, and returns what the terminal showed. */
function onTerminal(args: string[]): Promise<{code: number; text: string}> {
  const quote = (arg: string) => `'${arg.replace(/'/g, `'\\''`)}'`
  const command = [process.execPath, path.join(ROOT, 'bin', 'run.js'), ...args].map(quote).join(' ')
  const env: NodeJS.ProcessEnv = {...process.env, OCLIF_SKIP_NEW_VERSION_CHECK: 'true', FERRY_SKIP_NEW_VERSION_CHECK: 'true', TERM: 'xterm'}
  delete env.CI
  return new Promise((resolve, reject) => {
    const child = execFile('script', ['-qfec', command, '/dev/null'], {cwd: ROOT, env, timeout: 60_000, maxBuffer: 16 * 1024 * 1024}, (error, stdout) => {
      const code = error ? (error as {code?: unknown}).code : 0
      if (typeof code !== 'number') reject(error ?? new Error('script did not exit with a code'))
      else resolve({code, text: stdout})
    })
    child.stdin?.end()
  })
}
