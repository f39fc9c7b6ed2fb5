import assert from 'node:assert/strict'
import {test} from 'node:test'

import {abortOnStopSignals, onStopSignals, signalExitCode, type StopListening, type StopSignal} from '../../src/cli/stop-signals.js'

// process.emit calls the listeners only: no signal is sent, so nothing here can end the test run.
const listening = () => ({SIGINT: process.listenerCount('SIGINT'), SIGTERM: process.listenerCount('SIGTERM')})

test('onStopSignals: which signals reach the handler, and what is left listening after', () => {
  const cases: {name: string; options: StopListening; emit: StopSignal[]; calls: number; left: {SIGINT: number; SIGTERM: number}}[] = [
    // A second Ctrl-C finds no listener of ferry's: Node's default ends the process.
    {name: 'once: the first of each signal', options: {}, emit: ['SIGINT', 'SIGINT'], calls: 1, left: {SIGINT: 0, SIGTERM: 1}},
    {name: 'once: SIGTERM after SIGINT', options: {}, emit: ['SIGINT', 'SIGTERM'], calls: 2, left: {SIGINT: 0, SIGTERM: 0}},
    {
      name: 'every: each signal (the standing mirror)',
      options: {times: 'every'},
      emit: ['SIGINT', 'SIGTERM', 'SIGINT'],
      calls: 3,
      left: {SIGINT: 1, SIGTERM: 1},
    },
    {name: 'SIGINT only', options: {signals: ['SIGINT']}, emit: ['SIGTERM', 'SIGINT'], calls: 1, left: {SIGINT: 0, SIGTERM: 0}},
  ]
  for (const c of cases) {
    const before = listening()
    let calls = 0
    const release = onStopSignals(() => calls++, c.options)
    for (const signal of c.emit) process.emit(signal, signal)
    assert.equal(calls, c.calls, c.name)
    const after = listening()
    assert.deepEqual({SIGINT: after.SIGINT - before.SIGINT, SIGTERM: after.SIGTERM - before.SIGTERM}, c.left, c.name)
    release()
    assert.deepEqual(listening(), before, `${c.name}: release gives the signals back`)
  }
})

test('abortOnStopSignals: the first stop aborts the signal; release stops listening', () => {
  const before = listening()
  const stop = abortOnStopSignals()
  assert.equal(stop.signal.aborted, false)
  process.emit('SIGTERM', 'SIGTERM')
  assert.equal(stop.signal.aborted, true)
  stop.release()
  assert.deepEqual(listening(), before)

  const unused = abortOnStopSignals()
  unused.release()
  process.emit('SIGINT', 'SIGINT')
  assert.equal(unused.signal.aborted, false)
  assert.deepEqual(listening(), before)
})

test('a stop signal exits as the shell reports it: 128 + its number', () => {
  assert.equal(signalExitCode('SIGINT'), 130)
  assert.equal(signalExitCode('SIGTERM'), 143)
})
