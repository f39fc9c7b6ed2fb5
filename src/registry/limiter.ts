import Bottleneck from 'bottleneck'

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
 * across the refill boundary, which is exactly what rate-limited registries punish.
 */
export function createLimiter(options: {qps?: number} = {}): RequestLimiter {
  const qps = options.qps
  if (!qps || qps <= 0 || !Number.isFinite(qps)) return unlimited()
  const bottleneck = new Bottleneck({minTime: Math.ceil(1000 / qps), maxConcurrent: null})
  let started = 0
  return {
    schedule: (task) =>
      bottleneck.schedule(() => {
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
