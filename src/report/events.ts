import {formatBytes, type JobResult} from './summary.js'

/** How a blob came to be present at the destination. */
export type BlobOutcome = 'uploaded' | 'mounted' | 'existing'

/**
 * What the engine tells a display while it runs: enough to draw live progress and the
 * --verbose lines, without the display knowing anything of registries or jobs' internals.
 * Every message in an event has already passed the engine's redactor.
 */
export type EngineEvent =
  /** The generator produced one more job: the total known so far grows by one. */
  | {type: 'job-queued'; source: string; destination: string}
  /** The generator is done: the total is final. */
  | {type: 'jobs-known'; jobs: number}
  /** Blob bytes streamed to a destination just now (live throughput; a retried upload counts again). */
  | {type: 'bytes'; bytes: number}
  /** One blob of a job is present at the destination. */
  | {type: 'blob'; source: string; destination: string; digest: string; outcome: BlobOutcome; bytes: number}
  /** A blob upload or a whole job failed and is tried again after a delay. */
  | {
      type: 'retry'
      source: string
      destination: string
      what: 'job' | 'blob'
      digest?: string
      attempt: number
      delayMs: number
      error: {code: string; message: string}
    }
  /** A job is over; index counts finished jobs from 1. */
  | {type: 'job-finished'; index: number; result: JobResult}

/** The --verbose line for an event, or undefined when the event has no line of its own. Pure. */
export function formatVerboseEvent(event: EngineEvent): string | undefined {
  switch (event.type) {
    case 'blob': {
      const size = event.outcome === 'uploaded' ? ` (${formatBytes(event.bytes)})` : ''
      const word = event.outcome === 'existing' ? 'present' : event.outcome
      return `  blob ${word} ${event.digest}${size} → ${event.destination}`
    }
    case 'retry': {
      const subject = event.what === 'blob' ? `blob ${event.digest} of ${event.source}` : `${event.source} → ${event.destination}`
      return `  retry ${subject}: attempt ${event.attempt} failed, again in ${(event.delayMs / 1000).toFixed(1)}s: ${event.error.message}`
    }
    default:
      return undefined
  }
}
