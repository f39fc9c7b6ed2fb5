import {KeyedLock} from '../keyed-lock.js'

/**
 * What holds one upload of a blob (or one push of a child manifest) per destination registry at
 * a time. BlobFlights does it within one process; a fleet of workers swaps in a lock they share.
 */
export interface FlightLock {
  exclusive<T>(registry: string, digest: string, task: () => Promise<T>): Promise<T>
}

/**
 * One upload per (destination registry, digest) at a time. Jobs that need a blob another job
 * is uploading wait for it, then find it present (or mount it) instead of uploading it again.
 * Without this, two jobs sharing a layer upload it twice, and CNCF Distribution can answer 500
 * to a HEAD racing the commit of the same blob.
 */
export class BlobFlights implements FlightLock {
  private readonly lock = new KeyedLock()

  exclusive<T>(registry: string, digest: string, task: () => Promise<T>): Promise<T> {
    return this.lock.with(`${registry}\u0000${digest}`, task)
  }
}

/**
 * Where each digest is known to live at a destination, so a later job can mount it from there, and
 * which repositories this run has seen holding it, so the next job of the same repository does not
 * ask again (on a far link, each job of a repository asked in turn for the shared base layer).
 */
export class BlobHomes {
  private readonly homes = new Map<string, string>()
  /** By repository: the scope and digest of each blob seen there (scopes hold \u0000 themselves). */
  private readonly held = new Map<string, Set<string>>()

  /** `scope` separates clients with different credentials: a mount needs pull on the home. */
  remember(scope: string, digest: string, repository: string): void {
    this.homes.set(`${scope}\u0000${digest}`, repository)
    let seen = this.held.get(repository)
    if (!seen) this.held.set(repository, (seen = new Set()))
    seen.add(`${scope}\u0000${digest}`)
  }

  find(scope: string, digest: string): string | undefined {
    return this.homes.get(`${scope}\u0000${digest}`)
  }

  /** The run has seen `repository` hold the blob (a HEAD, a commit or a mount said so). */
  holds(scope: string, digest: string, repository: string): boolean {
    return this.held.get(repository)?.has(`${scope}\u0000${digest}`) ?? false
  }

  /**
   * A job to `repository` failed: what the run believed it holds is asked again next time (a
   * manifest refused for a blob deleted meanwhile must not be retried on the same belief). A
   * repository of that name at another registry is forgotten too: it costs that one a HEAD.
   */
  forget(repository: string): void {
    this.held.delete(repository)
  }
}
