import {createRequire} from 'node:module'

import type BottleneckClass from 'bottleneck'

// Required only when --qps asks for pacing: without it no request waits, and a no-change run of a
// few hundred tags would otherwise pay 15 ms of its start-up for a module it never calls.
const require = createRequire(import.meta.url)

/**
 * The one gate every registry request passes. The pipeline and the clients see only this
 * interface, so a fleet can swap in bottleneck's Redis clustering without touching them.
 */
export interface RequestLimiter {
  /** Runs `task` when the budget allows; the task's start is what counts as one request. */
  schedule<T>(task: () => Promise<T>): Promise<T>
  /** Requests started so far, for reports and benchmarks. */
  readonly started: number
  stop(): Promise<void>
}

/**
 * `qps` requests per second at most, in any sliding second, evenly paced: bottleneck's `minTime`
 * spaces starts 1000/qps ms apart. A reservoir refilled each second would allow a burst of 2×qps
 * across the refill boundary, which is exactly what rate-limited registries punish. A fraction
 * (0.5: one request every 2 s, Docker Hub's pace) is paced the same way, its window stretched.
 */
export function createLimiter(options: {qps?: number} = {}): RequestLimiter {
  const qps = options.qps
  if (!qps || qps <= 0 || !Number.isFinite(qps)) return unlimited()
  const Bottleneck = require('bottleneck') as typeof BottleneckClass
  const bottleneck = new Bottleneck({minTime: 1000 / qps, maxConcurrent: null})
  // Wider than the second, so that an observer who sees the starts a little later (the registry,
  // behind the sender's event loop, the OS scheduler and the network) still never sees qps + 1 in
  // one second. Measured at the wire (test/e2e/load.test.ts, qps 200): under Node 20 requests
  // admitted a window apart arrived up to ~26 ms closer together, under Node 24 up to ~52 ms, and
  // with a 50 ms margin CI under Node 24 saw 206 in one second. 100 ms (the fleet's margin too)
  // costs under 10% of the rate.
  const {slots, windowMs} = slidingWindow(qps, 100)
  const window = new SlidingWindow(slots, windowMs)
  let started = 0
  return {
    schedule: (task) =>
      bottleneck.schedule(async () => {
        await window.admit()
        started++
        return task()
      }),
    get started() {
      return started
    },
    async stop() {
      await bottleneck.stop({dropWaitingJobs: true}).catch(() => undefined)
    },
  }
}

function unlimited(): RequestLimiter {
  let started = 0
  return {
    schedule: (task) => {
      started++
      return task()
    },
    get started() {
      return started
    },
    async stop() {},
  }
}

/**
 * The hard bound's shape for `qps`: at most `slots` starts in any `windowMs`. A whole qps is qps
 * starts a second; a fraction is ceil(qps) starts in the time they take at that rate (1.5: 2 in
 * 1333 ms, 0.5: 1 in 2 s), so the window never holds the pace below what was asked. `marginMs`
 * widens it for what happens between admission and the wire. Pure.
 */
export function slidingWindow(qps: number, marginMs: number): {slots: number; windowMs: number} {
  const slots = Math.max(1, Math.ceil(qps))
  return {slots, windowMs: (slots * 1000) / qps + marginMs}
}

/**
 * The hard bound under bottleneck's pacing: bottleneck spaces starts on a millisecond clock, and
 * timer slack can put qps + 1 starts inside one second by a fraction of a millisecond. Starts are
 * admitted one at a time, each no sooner than one window after the start `limit` places before it.
 */
class SlidingWindow {
  private readonly starts: number[]
  private next = 0
  private gate: Promise<void> = Promise.resolve()

  constructor(
    slots: number,
    private readonly windowMs: number,
  ) {
    this.starts = new Array(slots).fill(-Infinity)
  }

  admit(): Promise<void> {
    const turn = this.gate.then(async () => {
      const oldest = this.starts[this.next]
      const wait = oldest + this.windowMs - performance.now()
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, Math.ceil(wait)))
      this.starts[this.next] = performance.now()
      this.next = (this.next + 1) % this.starts.length
    })
    this.gate = turn
    return turn
  }
}
