import {abortError} from '../errors.js'

/**
 * Where the generator and the routines meet. The pipeline sees only this interface so that a
 * Redis-backed queue can take the in-memory one's place for a fleet of workers.
 */
export interface Channel<T> extends AsyncIterable<T> {
  /** Resolves once the item is buffered; waits while the channel is full (backpressure). */
  push(item: T, options?: {signal?: AbortSignal}): Promise<void>
  /** No more items: readers finish once the buffer is drained. */
  close(): void
}

/**
 * A bounded in-memory channel. Any number of readers may iterate it at once; each item goes to
 * exactly one of them. A reader that stops early does not close the channel for the others.
 */
export class MemoryChannel<T> implements Channel<T> {
  private readonly buffer: T[] = []
  private readonly waitingReaders: ((result: IteratorResult<T>) => void)[] = []
  private readonly waitingWriters: {item: T; resolve: () => void; reject: (error: unknown) => void; signal?: AbortSignal; onAbort?: () => void}[] = []
  private closed = false

  constructor(private readonly capacity: number) {
    if (!(capacity >= 1)) throw new RangeError('channel capacity must be at least 1')
  }

  get size(): number {
    return this.buffer.length
  }

  push(item: T, options: {signal?: AbortSignal} = {}): Promise<void> {
    if (this.closed) return Promise.reject(new Error('push on a closed channel'))
    if (options.signal?.aborted) return Promise.reject(options.signal.reason ?? abortError())
    const reader = this.waitingReaders.shift()
    if (reader) {
      reader({value: item, done: false})
      return Promise.resolve()
    }
    if (this.buffer.length < this.capacity) {
      this.buffer.push(item)
      return Promise.resolve()
    }
    return new Promise((resolve, reject) => {
      const writer: (typeof this.waitingWriters)[number] = {item, resolve, reject, signal: options.signal}
      if (options.signal) {
        writer.onAbort = () => {
          const index = this.waitingWriters.indexOf(writer)
          if (index >= 0) this.waitingWriters.splice(index, 1)
          reject(options.signal?.reason ?? abortError())
        }
        options.signal.addEventListener('abort', writer.onAbort, {once: true})
      }
      this.waitingWriters.push(writer)
    })
  }

  close(): void {
    if (this.closed) return
    this.closed = true
    if (this.buffer.length === 0) {
      for (const reader of this.waitingReaders.splice(0)) reader({value: undefined, done: true})
    }
  }

  private next(): Promise<IteratorResult<T>> {
    if (this.buffer.length > 0) {
      const value = this.buffer.shift() as T
      this.admitWriter()
      return Promise.resolve({value, done: false})
    }
    const writer = this.takeWriter()
    if (writer) return Promise.resolve({value: writer.item, done: false})
    if (this.closed) return Promise.resolve({value: undefined, done: true})
    return new Promise((resolve) => this.waitingReaders.push(resolve))
  }

  private takeWriter() {
    const writer = this.waitingWriters.shift()
    if (!writer) return undefined
    if (writer.onAbort) writer.signal?.removeEventListener('abort', writer.onAbort)
    writer.resolve()
    return writer
  }

  private admitWriter(): void {
    const writer = this.takeWriter()
    if (writer) this.buffer.push(writer.item)
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    return {
      next: () => this.next(),
      return: async () => ({value: undefined, done: true}),
    }
  }
}
