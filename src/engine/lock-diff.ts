/**
 * `ferry diff`: what moved at the sources since the lock. The rules' jobs as a transfer would
 * list them (same filters), one HEAD per source reference, compared with the lock. Writes nothing.
 */
import {describeError, errorCode} from '../errors.js'
import {lockChanges, lockKey, type Lock, type LockChange} from '../lock.js'
import type {TransferJob} from '../pipeline/job.js'
import {formatReference} from '../reference.js'
import type {GenerateFailure} from '../report/summary.js'
import {sourceReferrers} from '../transfer/copy-referrers.js'
import {mapLimit} from '../transfer/map-limit.js'
import {sessionOptions, type EngineSettings, type RunInput} from './options.js'
import {ruleFailures} from './results.js'
import {withSession} from './session.js'

export interface LockDiff {
  /** Moved, gone and new source references, sorted. */
  changes: LockChange[]
  /** Source references still at their locked digest. */
  unchanged: number
  /** Rules that could not be listed and sources that could not be asked: what the diff could not check. */
  notChecked: GenerateFailure[]
}

export async function diffLock(options: EngineSettings & Pick<RunInput, 'rules' | 'ruleErrors'>, lock: Lock): Promise<LockDiff> {
  return withSession(sessionOptions({...options, dryRun: true, frozenLock: undefined}), async (session) => {
    const redact = (text: string) => session.redactor.redact(text)
    const notChecked = ruleFailures(options.ruleErrors ?? [], redact)
    const sources = new Map<string, TransferJob>()
    for await (const item of session.jobs(options.rules)) {
      if (item.kind === 'job') sources.set(lockKey(formatReference(item.job.source)), item.job)
      else notChecked.push({rule: item.rule, code: item.error.code, message: redact(item.error.message)})
    }
    const current = new Map<string, string | undefined>()
    const referrers = new Map<string, string[]>()
    await mapLimit([...sources], session.routines, async ([key, job]) => {
      try {
        const source = session.endpoints.source(job.source)
        const head = await source.headManifest(job.source.digest ?? job.source.tag!, session.signal)
        // Referrers only where the image is the locked one: a moved tag is said once, as moved.
        if (head && options.referrers !== false && head.digest === lock.images[key]?.digest)
          referrers.set(key, await sourceReferrers(head.digest, source, options.referrerArtifactTypes ?? [], session.signal))
        current.set(key, head?.digest)
      } catch (error) {
        notChecked.push({rule: job.rule, code: errorCode(error), message: redact(`${key}: ${describeError(error)}`)})
      }
    })
    // A source that could not be asked, or a rule that could not be listed, is not "gone".
    const changes = lockChanges(lock, current, {complete: notChecked.length === 0 && !session.starting?.aborted, referrers})
    return {changes, unchanged: current.size - changes.filter((change) => current.has(change.source)).length, notChecked}
  })
}
