/**
 * One holder per key at a time, in the order they asked; other keys never wait. Used for one
 * upload per (destination registry, digest) and for one copy per destination tag across the
 * runs of a standing mirror.
 */
export class KeyedLock {
  private readonly tails = new Map<string, Promise<void>>()

  /** Resolves, once every earlier holder of `key` has released it, with the release function. */
  async acquire(key: string): Promise<() => void> {
    const previous = this.tails.get(key) ?? Promise.resolve()
    let release!: () => void
    const mine = new Promise<void>((resolve) => (release = resolve))
    const tail = previous.then(() => mine)
    this.tails.set(key, tail)
    await previous
    return () => {
      release()
      if (this.tails.get(key) === tail) this.tails.delete(key)
    }
  }

  /** Runs `task` while holding `key`. */
  async with<T>(key: string, task: () => Promise<T>): Promise<T> {
    const release = await this.acquire(key)
    try {
      return await task()
    } finally {
      release()
    }
  }
}
