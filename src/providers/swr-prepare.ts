import {ConfigError, FerryError} from '../errors.js'
import type {SwrApi} from './swr-api.js'
import {isAlreadyExists} from './swr-errors.js'
import {splitSwrPath, swrNameProblem} from './swr-names.js'

/**
 * Makes an SWR destination ready: the organization of each repository exists before the first
 * push into it (SWR creates repositories on push, but refuses a push into a missing
 * organization). The organization list is read once, so organizations already there cost no
 * create call and need no create permission; each missing one is created once, and a create
 * that races someone else's counts as done.
 */
export class SwrPreparer {
  private existing?: Promise<Set<string>>
  private readonly organizations = new Map<string, Promise<void>>()

  constructor(private readonly api: SwrApi) {}

  /** What SWR would refuse in this destination path, as one line naming it and the rule; undefined when it is fine. */
  check(repository: string): string | undefined {
    const problem = swrNameProblem(repository)
    return problem && `swr: destination ${repository} ${problem.startsWith('has ') ? problem : `breaks SWR's naming rules: ${problem}`}`
  }

  prepare(repository: string, signal?: AbortSignal): Promise<void> {
    const problem = this.check(repository)
    if (problem) return Promise.reject(new ConfigError(problem, {code: 'INVALID_NAME'}))
    const {organization} = splitSwrPath(repository)
    let ready = this.organizations.get(organization)
    if (!ready) {
      ready = this.ensure(organization, signal)
      this.organizations.set(organization, ready)
      // A failure is not remembered: the job's retry asks again.
      ready.catch(() => this.organizations.delete(organization))
    }
    return ready
  }

  private async ensure(organization: string, signal?: AbortSignal): Promise<void> {
    if ((await this.list(signal)).has(organization)) return
    try {
      await this.api.createNamespace(organization, signal)
    } catch (error) {
      if (isAlreadyExists(error)) return
      // Refused for another reason (no create permission, a name taken by another account): there after all?
      if (FerryError.is(error) && !error.retryable) {
        this.existing = undefined
        if ((await this.list(signal).catch(() => new Set<string>())).has(organization)) return
      }
      throw error
    }
  }

  private list(signal?: AbortSignal): Promise<Set<string>> {
    this.existing ??= this.api.namespaces(signal).then((namespaces) => new Set(namespaces.map((namespace) => namespace.name ?? '')))
    const pending = this.existing
    pending.catch(() => {
      if (this.existing === pending) this.existing = undefined
    })
    return pending
  }
}
