import {Transform, type TransformCallback} from 'node:stream'

/**
 * A cap on blob bytes per second for the whole process (`--limitRate`), shared by every blob
 * stream: each chunk is released no sooner than the bytes before it allow, so the sum over all
 * streams stays at the rate while each stream keeps its own back-pressure. Like rsync's --bwlimit:
 * for links shared with production traffic, and for measuring several workers on one machine.
 */
export class ByteRate {
  /** When the bytes released so far will have been "paid for", on the monotonic clock (ms). */
  private paidUntil = 0

  constructor(readonly bytesPerSecond: number) {}

  /** How long to hold a chunk of `bytes` now. Pure bookkeeping; the caller waits. */
  delayFor(bytes: number, now = performance.now()): number {
    // A short burst is allowed, so small chunks do not each pay a timer's slack.
    const start = Math.max(this.paidUntil, now - 50)
    this.paidUntil = start + (bytes * 1000) / this.bytesPerSecond
    return Math.max(0, this.paidUntil - now)
  }

  /** A pass-through that holds each chunk until the rate allows it. */
  throttle(): Transform {
    return new Transform({
      transform: (chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback) => {
        const wait = this.delayFor(chunk.length)
        if (wait < 1) callback(null, chunk)
        else setTimeout(() => callback(null, chunk), wait)
      },
    })
  }
}
