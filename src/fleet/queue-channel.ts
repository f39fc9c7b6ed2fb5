import {MemoryChannel, type Channel} from '../pipeline/channel.js'

/**
 * The engine's channel on a worker: the jobs BullMQ hands this worker, in the engine's own
 * routines. The engine closes its channel when its (empty) local generator ends; a queue is not
 * finished then, so `close` is ignored and only `end` (the worker stopping) finishes the readers.
 */
export class QueueChannel<T> implements Channel<T> {
  private readonly inner: MemoryChannel<T>

  constructor(capacity: number) {
    this.inner = new MemoryChannel<T>(capacity)
  }

  /** A job BullMQ gave this worker. */
  push(item: T, options?: {signal?: AbortSignal}): Promise<void> {
    return this.inner.push(item, options)
  }

  close(): void {}

  /** The worker takes no more jobs: readers finish once the buffered ones are done. */
  end(): void {
    this.inner.close()
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    return this.inner[Symbol.asyncIterator]()
  }
}
