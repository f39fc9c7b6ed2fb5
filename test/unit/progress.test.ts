import assert from 'node:assert/strict'
import {Writable} from 'node:stream'
import {test} from 'node:test'

import {mkdtemp, readFile, rm} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'

import type {EngineEvent} from '../../src/report/events.js'
import {createLogger, type LiveDisplay} from '../../src/report/logger.js'
import {
  applyEvent,
  createProgressDisplay,
  etaSeconds,
  formatDuration,
  formatProgressLine,
  initialProgress,
  recentRate,
  wantsLiveProgress,
  type ProgressState,
} from '../../src/report/progress.js'
import {formatProgress, type JobResult} from '../../src/report/summary.js'

const T0 = 1_000_000
const ids = {source: 's/a:1', destination: 'd/a:1'}

function finished(status: JobResult['status'], index = 1): EngineEvent {
  return {type: 'job-finished', index, result: {...ids, rule: 'r', status, bytes: 0, blobs: {uploaded: 0, mounted: 0, existing: 0}, attempts: 1, durationMs: 0}}
}

/** Applies timed events to a fresh state. */
function fold(events: Array<[number, EngineEvent]>): ProgressState {
  const state = initialProgress(T0)
  for (const [offset, event] of events) applyEvent(state, event, T0 + offset)
  return state
}

test('applyEvent: queued, done, failed, bytes and whether the total is final', () => {
  const cases: [string, Array<[number, EngineEvent]>, Partial<ProgressState>][] = [
    ['nothing yet', [], {queued: 0, done: 0, failed: 0, bytes: 0, totalFinal: false}],
    [
      'jobs queued while generating',
      [
        [0, {type: 'job-queued', ...ids}],
        [1, {type: 'job-queued', ...ids}],
      ],
      {queued: 2, totalFinal: false},
    ],
    [
      'generation over',
      [
        [0, {type: 'job-queued', ...ids}],
        [5, {type: 'jobs-known', jobs: 1}],
      ],
      {queued: 1, totalFinal: true},
    ],
    [
      'finished jobs and failures',
      [
        [0, {type: 'job-queued', ...ids}],
        [0, {type: 'job-queued', ...ids}],
        [9, finished('copied')],
        [10, finished('failed', 2)],
      ],
      {done: 2, failed: 1},
    ],
    [
      'bytes add up; blob events do not count twice',
      [
        [1, {type: 'bytes', bytes: 100}],
        [2, {type: 'bytes', bytes: 50}],
        [3, {type: 'blob', ...ids, digest: 'sha256:x', outcome: 'uploaded', bytes: 150}],
      ],
      {bytes: 150},
    ],
  ]
  for (const [name, events, expected] of cases) {
    const state = fold(events)
    for (const [key, value] of Object.entries(expected)) assert.deepEqual(state[key as keyof ProgressState], value, `${name}: ${key}`)
  }
})

test('recentRate: bytes over the last window, not since the start', () => {
  const steady = fold(Array.from({length: 20}, (_, second): [number, EngineEvent] => [(second + 1) * 1000, {type: 'bytes', bytes: 1000}]))
  const cases: [string, ProgressState, number, number][] = [
    ['nothing moved', initialProgress(T0), 5000, 0],
    ['at the start', initialProgress(T0), 0, 0],
    ['1000 B/s for 20 s, measured at 20 s', steady, 20_000, 1000],
    ['then silence for 5 s halves the window rate', steady, 25_000, 500],
    ['silence for a whole window', steady, 31_000, 0],
    ['a young run: since its start', fold([[500, {type: 'bytes', bytes: 2000}]]), 1000, 2000],
  ]
  for (const [name, state, now, expected] of cases) assert.equal(Math.round(recentRate(state, T0 + now)), expected, name)
})

test('etaSeconds and formatDuration', () => {
  const cases: [Partial<ProgressState>, number, number | undefined][] = [
    [{queued: 10, done: 0}, 5000, undefined],
    [{queued: 10, done: 5}, 5000, 5],
    [{queued: 10, done: 10}, 5000, 0],
    [{queued: 4, done: 1}, 30_000, 90],
  ]
  for (const [state, now, expected] of cases) assert.equal(etaSeconds({startedMs: T0, queued: 0, done: 0, ...state}, T0 + now), expected, JSON.stringify(state))
  const durations: [number, string][] = [
    [0, '0:00'],
    [59, '0:59'],
    [61, '1:01'],
    [3599, '59:59'],
    [3661, '1:01:01'],
  ]
  for (const [seconds, text] of durations) assert.equal(formatDuration(seconds), text)
})

test('formatProgressLine: bar, jobs done of known total, failures, bytes, rate, ETA; fits the width', () => {
  const running = fold([
    [0, {type: 'job-queued', ...ids}],
    [0, {type: 'job-queued', ...ids}],
    [0, {type: 'job-queued', ...ids}],
    [0, {type: 'job-queued', ...ids}],
    [1000, {type: 'bytes', bytes: 2048}],
    [2000, finished('copied')],
  ])
  const final = fold([
    [0, {type: 'job-queued', ...ids}],
    [0, {type: 'job-queued', ...ids}],
    [1000, {type: 'bytes', bytes: 1024}],
    [1500, finished('copied')],
    [2000, finished('failed', 2)],
    [2000, {type: 'jobs-known', jobs: 2}],
  ])
  const cases: [string, ProgressState, number, number, string][] = [
    ['nothing yet', initialProgress(T0), 0, 80, '[------------------------------] 0/0+ jobs | 0 B | 0 B/s | ETA --:--'],
    ['generating: total and ETA are lower bounds', running, 2000, 100, '[########----------------------] 1/4+ jobs | 2.0 KiB | 1.0 KiB/s | ETA >0:06'],
    ['all done with a failure', final, 2000, 100, '[##############################] 2/2 jobs | 1 failed | 1.0 KiB | 512 B/s | ETA 0:00'],
    ['narrow terminal: the bar shrinks', final, 2000, 70, '[################] 2/2 jobs | 1 failed | 1.0 KiB | 512 B/s | ETA 0:00'],
    ['very narrow: text only, cut', final, 2000, 30, '2/2 jobs | 1 failed | 1.0 KiB'],
  ]
  for (const [name, state, now, columns, expected] of cases) {
    const line = formatProgressLine(state, T0 + now, columns)
    assert.equal(line, expected, name)
    assert.ok(line.length < columns, `${name}: ${line.length} < ${columns}`)
  }
})

test('wantsLiveProgress: both streams terminals, not CI, not a dumb terminal', () => {
  const tty = {isTTY: true}
  const pipe = {isTTY: false}
  const cases: [{isTTY?: boolean}, {isTTY?: boolean}, NodeJS.ProcessEnv, boolean][] = [
    [tty, tty, {}, true],
    [tty, tty, {CI: 'true'}, false],
    [tty, tty, {CI: '1'}, false],
    [tty, tty, {CI: 'false'}, true],
    [tty, tty, {CI: ''}, true],
    [tty, tty, {TERM: 'dumb'}, false],
    [pipe, tty, {}, false],
    [tty, pipe, {}, false],
    [{}, {}, {}, false],
  ]
  for (const [stdout, stderr, env, expected] of cases) assert.equal(wantsLiveProgress({stdout, stderr}, env), expected, JSON.stringify({stdout, stderr, env}))
})

/** A stream that says it is a terminal, as cli-progress checks, and keeps what it was sent. */
function fakeTerminal(columns: number): Writable & {isTTY: true; columns: number; text(): string} {
  const chunks: string[] = []
  const stream = new Writable({
    write(chunk, _encoding, callback) {
      chunks.push(String(chunk))
      callback()
    },
  }) as Writable & {isTTY: true; columns: number; text(): string}
  stream.isTTY = true
  stream.columns = columns
  stream.text = () => chunks.join('')
  return stream
}

test('createProgressDisplay on a terminal: lines above the bar, the final state on stop, nothing before the first event', () => {
  let now = T0
  const terminal = fakeTerminal(100)
  const display = createProgressDisplay(terminal, {now: () => now})
  display.log('before any job')
  assert.equal(terminal.text(), 'before any job\n', 'no bar drawn before the engine reports anything')
  display.event({type: 'job-queued', ...ids})
  display.event({type: 'job-queued', ...ids})
  display.event({type: 'jobs-known', jobs: 2})
  now += 1000
  display.event({type: 'bytes', bytes: 4096})
  display.event(finished('failed'))
  display.log('[1] failed s/a:1 → d/a:1: boom')
  now += 1000
  display.event(finished('copied', 2))
  display.stop()
  display.stop()
  display.log('after stop')
  const text = terminal.text()
  assert.ok(text.includes('\u001b['), 'cursor control on a terminal')
  assert.ok(text.includes('[1] failed s/a:1 → d/a:1: boom\n'), text)
  assert.ok(text.includes('2/2 jobs | 1 failed | 4.0 KiB | 2.0 KiB/s | ETA 0:00'), JSON.stringify(text))
  assert.ok(text.indexOf('boom') < text.lastIndexOf('2/2 jobs'), 'the logged line is printed above the final bar')
  assert.ok(text.endsWith('after stop\n'), 'after stop, lines go straight to the stream')
})

test('createLogger with a live display: job lines counted, failures and other lines above the bar, all in the log file', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-logger-'))
  try {
    const cases: [string, {verbose: boolean}, string[]][] = [
      ['default', {verbose: false}, ['[2] failed s/a:1 → d/a:1: boom', 'harbor: 1 untagged artifact not copied', 'warning: something']],
      [
        'verbose',
        {verbose: true},
        [
          '[1] copied s/a:1 → d/a:1 (0 B; blobs: 0 uploaded, 0 mounted, 0 present)',
          `  blob present sha256:${'c'.repeat(64)} → d/a:1`,
          '[2] failed s/a:1 → d/a:1: boom',
          'harbor: 1 untagged artifact not copied',
          'warning: something',
        ],
      ],
    ]
    for (const [name, options, expected] of cases) {
      const shown: string[] = []
      const events: string[] = []
      const display: LiveDisplay = {log: (line) => shown.push(line), event: (event) => events.push(event.type)}
      const logFile = path.join(dir, `${name}.log`)
      const logger = createLogger({...options, display, logFile})
      const copied = finished('copied', 1)
      const failed = finished('failed', 2)
      if (failed.type === 'job-finished') failed.result.error = {code: 'X', message: 'boom'}
      for (const event of [copied, {type: 'blob', ...ids, digest: `sha256:${'c'.repeat(64)}`, outcome: 'existing', bytes: 0} as EngineEvent]) {
        logger.event!(event)
        if (event.type === 'job-finished') logger.info(formatProgress(event.index, event.result))
      }
      logger.event!(failed)
      if (failed.type === 'job-finished') logger.info(formatProgress(failed.index, failed.result))
      logger.info('harbor: 1 untagged artifact not copied')
      logger.warn('warning: something')
      assert.deepEqual(shown, expected, name)
      assert.deepEqual(events, ['job-finished', 'blob', 'job-finished'], `${name}: the display gets every event`)
      const logged = (await readFile(logFile, 'utf8'))
        .trim()
        .split('\n')
        .map((line) => line.replace(/^\S+ /, ''))
      assert.ok(logged.includes('[1] copied s/a:1 → d/a:1 (0 B; blobs: 0 uploaded, 0 mounted, 0 present)'), `${name}: the log file keeps every job line`)
    }
  } finally {
    await rm(dir, {recursive: true, force: true})
  }
})
