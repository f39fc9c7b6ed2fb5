/**
 * One copy per destination tag at a time across all of a process's runs: a push event for a tag
 * that the scheduled run is copying right now waits for that copy (and then finds it done, for
 * the price of two HEADs) instead of copying alongside it.
 */
export class TagLocks {
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
}
