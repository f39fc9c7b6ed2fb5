import {createRequire} from 'node:module'

import type CliProgress from 'cli-progress'

import type {EngineEvent} from './events.js'
import type {LiveDisplay} from './logger.js'
import {formatBytes} from './summary.js'

/** What the live line shows, folded from engine events. */
export interface ProgressState {
  startedMs: number
  /** Jobs the generator produced so far. */
  queued: number
  /** False while the generator may still produce jobs: the total is a lower bound. */
  totalFinal: boolean
  done: number
  failed: number
  /** Blob bytes streamed to destinations so far. */
  bytes: number
  /** Recent (time, bytes) points for the current throughput, oldest first. */
  samples: Array<{atMs: number; bytes: number}>
}

/** Throughput is measured over this last stretch of time, so it follows the present pace. */
export const RATE_WINDOW_MS = 10_000

export function initialProgress(nowMs: number): ProgressState {
  return {startedMs: nowMs, queued: 0, totalFinal: false, done: 0, failed: 0, bytes: 0, samples: [{atMs: nowMs, bytes: 0}]}
}

/** Folds one event into the state (in place: a display applies thousands of them). */
export function applyEvent(state: ProgressState, event: EngineEvent, nowMs: number): void {
  switch (event.type) {
    case 'job-queued':
      state.queued++
      break
    case 'jobs-known':
      state.queued = Math.max(state.queued, event.jobs)
      state.totalFinal = true
      break
    case 'bytes':
      state.bytes += event.bytes
      recordSample(state, nowMs)
      break
    case 'job-finished':
      state.done++
      if (event.result.status === 'failed') state.failed++
      break
    default:
      break
  }
}

function recordSample(state: ProgressState, nowMs: number): void {
  const last = state.samples[state.samples.length - 1]
  // One point per 100 ms is plenty for a rate over seconds, and keeps the list short.
  if (last && nowMs - last.atMs < 100) last.bytes = state.bytes
  else state.samples.push({atMs: nowMs, bytes: state.bytes})
  while (state.samples.length > 2 && state.samples[1]!.atMs <= nowMs - RATE_WINDOW_MS) state.samples.shift()
}

/** Bytes per second over the last window (since the start when the run is younger). Pure. */
export function recentRate(state: Pick<ProgressState, 'samples' | 'bytes' | 'startedMs'>, nowMs: number, windowMs = RATE_WINDOW_MS): number {
  const from = Math.max(state.startedMs, nowMs - windowMs)
  // The newest sample at or before the window start; bytes before it are outside the window.
  let base = state.samples[0] ?? {atMs: state.startedMs, bytes: 0}
  for (const sample of state.samples) {
    if (sample.atMs <= from) base = sample
    else break
  }
  const seconds = (nowMs - base.atMs) / 1000
  if (seconds <= 0) return 0
  return (state.bytes - base.bytes) / seconds
}

/** Seconds left at the pace of the jobs finished so far, or undefined before the first one. Pure. */
export function etaSeconds(state: Pick<ProgressState, 'startedMs' | 'queued' | 'done'>, nowMs: number): number | undefined {
  if (state.done === 0) return undefined
  const perJob = (nowMs - state.startedMs) / state.done
  return Math.max(0, Math.round(((state.queued - state.done) * perJob) / 1000))
}

export function formatDuration(seconds: number): string {
  const h = Math.floor(seconds / 3600)
  const m = Math.floor((seconds % 3600) / 60)
  const s = seconds % 60
  const mm = h > 0 ? String(m).padStart(2, '0') : String(m)
  return `${h > 0 ? `${h}:` : ''}${mm}:${String(s).padStart(2, '0')}`
}

/**
 * The live line: a bar of jobs done, then counts, bytes, throughput and ETA, cut to the
 * terminal's width. Pure, so every case is a table row in the unit tests.
 */
export function formatProgressLine(state: ProgressState, nowMs: number, columns: number): string {
  const total = `${state.queued}${state.totalFinal ? '' : '+'}`
  const eta = etaSeconds(state, nowMs)
  const parts = [
    `${state.done}/${total} jobs`,
    ...(state.failed > 0 ? [`${state.failed} failed`] : []),
    formatBytes(state.bytes),
    `${formatBytes(Math.round(recentRate(state, nowMs)))}/s`,
    // While jobs are still being generated the known total only grows: the ETA is a lower bound.
    `ETA ${eta === undefined ? '--:--' : `${state.totalFinal ? '' : '>'}${formatDuration(eta)}`}`,
  ]
  const text = parts.join(' | ')
  // The last column stays empty: writing into it makes some terminals wrap the line.
  const room = columns - text.length - 4
  if (room < 10) return text.slice(0, Math.max(0, columns - 1))
  const width = Math.min(30, room)
  const fraction = state.queued === 0 ? 0 : state.done / state.queued
  const filled = Math.round(width * Math.min(1, fraction))
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${text}`
}

/** True when a live display fits: both streams are terminals and no CI system is driving the run. */
export function wantsLiveProgress(streams: {stdout: {isTTY?: boolean}; stderr: {isTTY?: boolean}}, env: NodeJS.ProcessEnv): boolean {
  const ci = env.CI !== undefined && env.CI !== '' && env.CI !== 'false' && env.CI !== '0'
  return Boolean(streams.stdout.isTTY && streams.stderr.isTTY) && !ci && env.TERM !== 'dumb'
}

export interface ProgressDisplay extends LiveDisplay {
  /** Draws the final state and gives the terminal back; lines logged after this go straight to the stream. */
  stop(): void
}

/** DECAWM: the terminal wraps text at the last column (on) or overwrites the last column (off). */
const WRAP_ON = '\x1b[?7h'
const WRAP_OFF = '\x1b[?7l'

// Required when a terminal shows the live line: runs in CI or with --quiet never pay for loading it.
const require = createRequire(import.meta.url)

/** The live line on a terminal stream, redrawn a few times a second by cli-progress. */
export function createProgressDisplay(
  stream: NodeJS.WritableStream & {isTTY?: boolean; columns?: number},
  options: {fps?: number; now?: () => number} = {},
): ProgressDisplay {
  const now = options.now ?? Date.now
  const state = initialProgress(now())
  const cliProgress = require('cli-progress') as typeof CliProgress
  const bars = new cliProgress.MultiBar({
    stream: stream as NodeJS.WritableStream,
    fps: options.fps ?? 8,
    hideCursor: true,
    clearOnComplete: false,
    // ferry's own run-command handles SIGINT (an abort that still writes the report).
    gracefulExit: false,
    format: (_options, params) => formatProgressLine(state, now(), params.maxWidth),
  })
  // Drawn from the first event on: an input error before any job leaves no empty bar behind.
  let started = false
  let stopped = false
  return {
    log(line) {
      if (stopped || !started) stream.write(`${line}\n`)
      // cli-progress turns line wrap off for the whole run (so the bar never spills onto a second
      // row); a line printed above the bar gets it back while it is written, so a long reason
      // wraps onto the next rows instead of being cut at the terminal's width.
      else bars.log(`${WRAP_ON}${line}\n${WRAP_OFF}`)
    },
    event(event) {
      applyEvent(state, event, now())
      if (!started && !stopped) {
        started = true
        bars.create(1, 0)
      }
    },
    stop() {
      if (stopped) return
      stopped = true
      if (!started) return
      state.totalFinal = true
      // The log buffer is written only by a redraw; stop() alone would drop what is still in it.
      bars.update()
      bars.stop()
    },
  }
}
