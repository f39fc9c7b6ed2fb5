/**
 * A standing job: something the service runs again and again (a rule file, a provider migration),
 * with the hooks the service needs into each run.
 */
import type {Rule} from '../config/rules.js'
import type {CredentialStore} from '../config/security.js'
import type {TransferInputs} from '../inputs.js'
import type {RegistryObserver} from '../registry/client.js'
import type {RequestLimiter} from '../registry/limiter.js'
import type {PullQuotas} from '../registry/pull-quota.js'
import type {Logger} from '../report/logger.js'
import type {JobResult} from '../report/summary.js'
import {runTransfer, type TransferReport} from '../engine/run.js'
import type {EngineSettings} from '../engine/options.js'
import {requestLimiter} from '../engine/session.js'
import type {UserSettings} from '../settings.js'
import {rulesForPush, withClaimants} from './event-rules.js'
import type {TransferJob} from '../pipeline/job.js'
import type {PushEvent} from './push-events.js'
import type {TriggerSpec} from '../config/trigger-spec.js'

export interface RunHooks {
  /** Abandons copies in flight (after the grace period). */
  signal: AbortSignal
  /** Starts no new copies (graceful stop). */
  drain: AbortSignal
  observer: RegistryObserver
  onResult: (result: JobResult) => void
  logger: Logger
  exclusive: (job: TransferJob) => Promise<() => void>
  /** The service's pull quotas, kept across runs and jobs: a spent one waits for its window. */
  pullQuotas: PullQuotas
}

export interface SyncJob {
  name: string
  trigger: TriggerSpec
  /** Everything the job covers. */
  runAll(hooks: RunHooks): Promise<TransferReport>
  /** The job's rules narrowed to one pushed tag; empty when the push is none of its business. */
  rulesForPush(push: PushEvent): Rule[]
  /** Copies the given (narrowed) rules. */
  runRules(rules: Rule[], hooks: RunHooks): Promise<TransferReport>
  close(): Promise<void>
}

/**
 * Rules (and credentials) synced on a trigger. `load` is called again at each full run (the
 * caller's loader reads the rule and security files, see from-files.ts), so a changed ConfigMap
 * takes effect without a restart; events use the rules of the last load. One limiter for all of
 * the job's runs: --qps bounds the job, not each run.
 */
export function rulesSyncJob(options: {
  name: string
  trigger: TriggerSpec
  load: () => Promise<TransferInputs>
  engine: UserSettings & Pick<EngineSettings, 'resumeDir'>
}): SyncJob & {load(): Promise<void>} {
  const limiter: RequestLimiter = requestLimiter({qps: options.engine.qps})
  let rules: Rule[] = []
  let credentials: CredentialStore | undefined
  const load = async () => {
    const inputs = await options.load()
    rules = inputs.rules
    credentials = inputs.credentials
    return inputs
  }
  return {
    name: options.name,
    trigger: options.trigger,
    async load() {
      await load()
    },
    async runAll(hooks) {
      const inputs = await load()
      return runTransfer({...options.engine, ...inputs, limiter, ...hooks})
    },
    rulesForPush: (push) => withClaimants(rulesForPush(rules, push, options.engine.tagFilter, {referrers: options.engine.referrers}), rules),
    async runRules(narrowed, hooks) {
      if (!credentials) await load()
      // A push copies one tag: its run lists no rule whole, so it never prunes.
      return runTransfer({...options.engine, prune: false, rules: narrowed, credentials: credentials!, limiter, ...hooks})
    },
    close: () => limiter.stop(),
  }
}

/**
 * Any run that has no rules of its own to match events against (a provider migration): runs in
 * full on its trigger; pushes start nothing.
 */
export function runnerSyncJob(options: {name: string; trigger: TriggerSpec; run: (hooks: RunHooks) => Promise<TransferReport>}): SyncJob {
  return {
    name: options.name,
    trigger: options.trigger,
    runAll: options.run,
    rulesForPush: () => [],
    runRules: () => Promise.reject(new Error('this job does not follow events')),
    close: async () => undefined,
  }
}
