import assert from 'node:assert/strict'
import {test} from 'node:test'

import {engineSettings} from '../../src/cli/engine-flags.js'
import {parseQps} from '../../src/config/qps.js'
import {parseSchedule} from '../../src/config/schedule.js'
import {ConfigError} from '../../src/errors.js'
import {slidingWindow} from '../../src/registry/limiter.js'

test('parseQps: fractions, whole numbers and 0; anything else is one line naming the setting', () => {
  const good: Array<[unknown, number]> = [
    ['0.5', 0.5],
    ['.25', 0.25],
    ['2', 2],
    ['1.5', 1.5],
    [' 10 ', 10],
    ['0', 0],
    [0.5, 0.5],
    [200, 200],
  ]
  for (const [value, qps] of good) assert.equal(parseQps(value, '--qps'), qps, String(value))
  const bad: Array<[unknown, RegExp]> = [
    ['abc', /^--qps: "abc" is not a rate; write requests per second: 0\.5 \(one every 2 s\), 10, or 0 \(unlimited\)$/],
    ['-1', /"-1" is not a rate/],
    ['1e3', /"1e3" is not a rate/],
    ['', /"" is not a rate/],
    ['Infinity', /is not a rate/],
    [true, /true is not a rate/],
    ['0.0001', /^--qps: 0\.0001 is below 0\.001/],
  ]
  for (const [value, message] of bad) {
    assert.throws(
      () => parseQps(value, '--qps'),
      (error: unknown) => error instanceof ConfigError && message.test(error.message) && !error.message.includes('\n'),
      String(value),
    )
  }
})

test('slidingWindow: ceil(qps) starts in the time they take at that rate, plus the margin', () => {
  const table: Array<[number, number, {slots: number; windowMs: number}]> = [
    [200, 50, {slots: 200, windowMs: 1050}],
    [1, 50, {slots: 1, windowMs: 1050}],
    [0.5, 50, {slots: 1, windowMs: 2050}],
    [0.25, 0, {slots: 1, windowMs: 4000}],
    [2.5, 0, {slots: 3, windowMs: 1200}],
    [1.5, 100, {slots: 2, windowMs: 2000 / 1.5 + 100}],
  ]
  for (const [qps, margin, expected] of table) assert.deepEqual(slidingWindow(qps, margin), expected, `qps ${qps}`)
  // The window never paces below the rate asked for: slots per window ≥ qps without the margin.
  for (const qps of [0.1, 0.5, 0.9, 1.5, 2.5, 7.3, 100]) {
    const {slots, windowMs} = slidingWindow(qps, 0)
    assert.ok(Math.abs((slots * 1000) / windowMs - qps) < 1e-9, `qps ${qps}`)
  }
})

test('--qps and schedule.yaml qps take fractions', () => {
  const flags = {routines: 5, retry: 2, 'tag-exist-overridden': true}
  assert.equal(engineSettings({...flags, qps: '0.5'}).qps, 0.5)
  assert.equal(engineSettings({...flags, qps: '0'}).qps, undefined)
  assert.throws(() => engineSettings({...flags, qps: 'fast'}), /^ConfigError: --qps: "fast" is not a rate/)
  const [job] = parseSchedule('jobs:\n  hub:\n    ruleFile: r.yaml\n    interval: 1h\n    qps: 0.5\n', '/s.yaml')
  assert.equal(job!.engine.qps, 0.5)
  assert.throws(
    () => parseSchedule('jobs:\n  hub:\n    ruleFile: r.yaml\n    interval: 1h\n    qps: -2\n', '/s.yaml'),
    /\/s\.yaml:5: job "hub": qps: -2 is not a rate/,
  )
})
