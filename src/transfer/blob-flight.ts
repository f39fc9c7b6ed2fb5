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

/** Where each digest is known to live at a destination, so a later job can mount it from there. */
export class BlobHomes {
  private readonly homes = new Map<string, string>()

  /** `scope` separates clients with different credentials: a mount needs pull on the home. */
  remember(scope: string, digest: string, repository: string): void {
    this.homes.set(`${scope}\u0000${digest}`, repository)
  }

  find(scope: string, digest: string): string | undefined {
    return this.homes.get(`${scope}\u0000${digest}`)
  }
}
