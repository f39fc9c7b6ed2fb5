/** What a run would copy, without copying: the generator's jobs, tags listed at the sources. */
import type {Rule} from '../config/rules.js'
import type {CredentialStore} from '../config/security.js'
import {generateJobs} from '../pipeline/generate.js'
import {formatReference} from '../reference.js'
import {listTags} from '../registry/catalog.js'
import {createLimiter} from '../registry/limiter.js'
import type {GenerateFailure} from '../report/summary.js'
import {ClientPool} from '../transfer/clients.js'

export interface Plan {
  /** Source references, in the order the generator found them. */
  images: string[]
  failures: GenerateFailure[]
}

export async function plannedImages(
  rules: Iterable<Rule> | AsyncIterable<Rule>,
  credentials: CredentialStore,
  options: {routines?: number; qps?: number; tagFilter?: (tag: string) => boolean; signal?: AbortSignal},
): Promise<Plan> {
  const limiter = createLimiter({qps: options.qps})
  const clients = new ClientPool((registry, repository) => {
    const access = credentials.lookup(registry, repository)
    return {key: access.entry ?? '', access}
  }, {limiter})
  const plan: Plan = {images: [], failures: []}
  try {
    for await (const item of generateJobs(rules, {
      listTags: (registry, repository, signal) => listTags(clients.get(registry, repository).client, repository, {signal}),
      listers: options.routines ?? 5,
      signal: options.signal,
      tagFilter: options.tagFilter,
    })) {
      if (item.kind === 'job') plan.images.push(formatReference(item.job.source))
      else plan.failures.push({rule: item.rule, code: item.error.code, message: item.error.message})
    }
  } finally {
    await limiter.stop()
  }
  return plan
}
