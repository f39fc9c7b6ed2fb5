/** What a run would copy, without copying: the session's jobs, tags and catalogs listed at the sources. */
import type {Rule} from '../config/rules.js'
import type {CredentialStore} from '../config/security.js'
import type {EngineSettings} from '../engine/options.js'
import {withSession} from '../engine/session.js'
import type {GenerateFailure} from '../report/summary.js'
import {formatReference} from '../reference.js'

export interface Plan {
  /** Source references, in the order the generator found them. */
  images: string[]
  failures: GenerateFailure[]
}

export async function plannedImages(
  rules: Iterable<Rule> | AsyncIterable<Rule>,
  credentials: CredentialStore,
  options: Pick<EngineSettings, 'routines' | 'qps' | 'tagFilter' | 'signal'>,
): Promise<Plan> {
  const session = {
    credentials,
    mode: 'dry run' as const,
    selection: {tagFilter: options.tagFilter},
    limits: {routines: options.routines, qps: options.qps},
    signal: options.signal,
  }
  return withSession(session, async (session) => {
    const plan: Plan = {images: [], failures: []}
    for await (const item of session.jobs(rules)) {
      if (item.kind === 'job') plan.images.push(formatReference(item.job.source))
      else plan.failures.push({rule: item.rule, code: item.error.code, message: item.error.message})
    }
    return plan
  })
}
