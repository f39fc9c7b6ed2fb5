/**
 * Event-driven copies, one key (job and source tag) at a time: a burst of pushes of one tag
 * becomes one copy after `debounceMs` of quiet; a push that arrives while that tag is being copied
 * makes exactly one more copy after it ends, never a second one alongside it.
 */
export class TagQueue {
  private readonly pending = new Map<string, NodeJS.Timeout>()
  private readonly running = new Map<string, Promise<void>>()
  private readonly again = new Map<string, () => Promise<void>>()
  private closed = false

  constructor(private readonly debounceMs: number) {}

  /** Asks for `run` under `key`; the latest `run` given for a key is the one that runs. */
  request(key: string, run: () => Promise<void>): void {
    if (this.closed) return
    if (this.running.has(key)) {
      this.again.set(key, run)
      return
    }
    clearTimeout(this.pending.get(key))
    this.pending.set(
      key,
      setTimeout(() => {
        this.pending.delete(key)
        this.start(key, run)
      }, this.debounceMs),
    )
  }

  private start(key: string, run: () => Promise<void>): void {
    const task = run()
      .catch(() => undefined)
      .finally(() => {
        this.running.delete(key)
        const next = this.again.get(key)
        this.again.delete(key)
        if (next && !this.closed) this.start(key, next)
      })
    this.running.set(key, task)
  }

  /** Keys being copied now (for tests and logs). */
  get active(): number {
    return this.running.size
  }

  /** No more starts; waits for the copies in flight. */
  async close(): Promise<void> {
    this.closed = true
    for (const timer of this.pending.values()) clearTimeout(timer)
    this.pending.clear()
    this.again.clear()
    while (this.running.size > 0) await Promise.all(this.running.values())
  }
}
