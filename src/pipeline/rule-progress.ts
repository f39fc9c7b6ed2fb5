import type {RuleItem} from './generate.js'

/**
 * Which rules of a run finished: read from the rule stream, listed to the end (every job yielded,
 * or the rule's own failure), and every queued job given a result. What a stop or a failure leaves
 * unfinished is named in the summary and the report instead of passing for success.
 */
export class RuleProgress {
  /** Rules read (or known up front) whose listing has not ended, in the order they came. */
  private readonly unlisted = new Set<string>()
  /** Jobs (one per destination) queued and not yet finished, per rule. */
  private readonly pending = new Map<string, number>()
  private ended = false

  /**
   * The rules as they are read. A list is known whole at once, so rules a stop kept from ever
   * starting are named too; a stream (a provider's enumeration) only as far as it was read.
   * The stream ending, even with an error (reported on its own), counts as read to the end.
   */
  track(rules: Iterable<RuleItem> | AsyncIterable<RuleItem>, signal?: AbortSignal): AsyncIterable<RuleItem> {
    // A refused item is already its rule's failure, reported on its own: nothing left to finish.
    if (Array.isArray(rules)) for (const rule of rules as readonly RuleItem[]) if (!('refused' in rule)) this.unlisted.add(rule.text)
    const read = async function* (progress: RuleProgress) {
      try {
        for await (const rule of rules) {
          if (!('refused' in rule)) progress.unlisted.add(rule.text)
          yield rule
        }
      } catch (error) {
        // A failure is reported on its own; a stop is not the stream's end, however it surfaces.
        if (!signal?.aborted) progress.ended = true
        throw error
      }
      // A provider's enumeration returns quietly when stopped: that is not its end either.
      if (!signal?.aborted) progress.ended = true
    }
    return read(this)
  }

  /** Every job of these rules has been handed on (or the rule failed and said so). */
  listed(rules: readonly string[]): void {
    for (const rule of rules) this.unlisted.delete(rule)
  }

  queued(rule: string, jobs = 1): void {
    this.pending.set(rule, (this.pending.get(rule) ?? 0) + jobs)
  }

  finished(rule: string): void {
    const left = (this.pending.get(rule) ?? 0) - 1
    if (left > 0) this.pending.set(rule, left)
    else this.pending.delete(rule)
  }

  /** The rule stream was read to its end: no rule is missing from `unfinished()` for want of being read. */
  get allRead(): boolean {
    return this.ended
  }

  /** Every rule read was listed to the end: nothing is missing from the jobs. */
  get listedAll(): boolean {
    return this.ended && this.unlisted.size === 0
  }

  /** Rules not listed to the end or with jobs that never finished, each once, in the order they came. */
  unfinished(): string[] {
    return [...new Set([...this.unlisted, ...this.pending.keys()])]
  }
}
