/**
 * Hash states a later run can load (hash-wasm), made off the main thread: node:crypto checks the
 * blob at its own speed (~4× hash-wasm's on the test machine, bench/hash-state.mjs), while a
 * worker thread follows the same bytes with hash-wasm and hands back its saved state at each
 * checkpoint, for the upload journal. The follower never holds the copy back: when the worker
 * falls more than BACKLOG bytes behind (a link faster than hash-wasm), it stops following that
 * blob, and the journal keeps the last state it had; a later run then re-reads the source from
 * there, which is cheap exactly when the link outran the hash.
 *
 * One worker per process, shared by every blob, started on first use and not keeping the
 * process alive. A worker that fails costs only the saved states, never the copy.
 */
import {createRequire} from 'node:module'
import {Worker} from 'node:worker_threads'

/** Bytes sent to the worker and not yet hashed there, per blob, before the follower gives up. */
export const BACKLOG = 16 * 1024 * 1024
/** Bytes copied into one message to the worker. */
const BATCH = 1024 * 1024

type ToWorker =
  | {type: 'open'; id: number; algorithm: string}
  | {type: 'data'; id: number; bytes: Uint8Array}
  | {type: 'mark'; id: number; offset: number; generation: number}
  | {type: 'load'; id: number; state?: Uint8Array}
  | {type: 'close'; id: number}
  | {type: 'ping'; id: number; ping: number}

type FromWorker =
  | {type: 'ack'; id: number; bytes: Uint8Array}
  | {type: 'state'; id: number; offset: number; generation: number; state: Uint8Array}
  | {type: 'pong'; id: number; ping: number}

// The worker runs plain CommonJS (eval), so the same code serves dist/ and the sources under tsx.
const WORKER_CODE = `
const {parentPort, workerData} = require('node:worker_threads')
const {createSHA256, createSHA512} = require(workerData.hashWasm)
const hashers = new Map()
let queue = Promise.resolve()
parentPort.on('message', (message) => {
  queue = queue.then(async () => {
    if (message.type === 'open') {
      const hasher = await (message.algorithm === 'sha512' ? createSHA512() : createSHA256())
      hasher.init()
      hashers.set(message.id, hasher)
      return
    }
    if (message.type === 'ping') return parentPort.postMessage({type: 'pong', id: message.id, ping: message.ping})
    const hasher = hashers.get(message.id)
    if (!hasher) return
    if (message.type === 'data') {
      hasher.update(message.bytes)
      // The buffer goes back to be filled again: no allocation (and collection) per batch.
      parentPort.postMessage({type: 'ack', id: message.id, bytes: message.bytes}, [message.bytes.buffer])
    } else if (message.type === 'mark') {
      parentPort.postMessage({type: 'state', id: message.id, offset: message.offset, generation: message.generation, state: hasher.save()})
    } else if (message.type === 'load') {
      if (message.state) hasher.load(message.state)
      else hasher.init()
    } else if (message.type === 'close') {
      hashers.delete(message.id)
    }
  })
})
`

interface Pool {
  worker: Worker
  followers: Map<number, SavedHashFollower>
  next: number
  /** Callers waiting on the worker (settled()): it holds the process while there are any. */
  waiting: number
}

let shared: Pool | undefined

function pool(): Pool {
  if (shared) return shared
  const worker = new Worker(WORKER_CODE, {eval: true, workerData: {hashWasm: createRequire(import.meta.url).resolve('hash-wasm')}})
  const state: Pool = {worker, followers: new Map(), next: 1, waiting: 0}
  worker.on('message', (message: FromWorker) => state.followers.get(message.id)?.receive(message))
  const fail = () => {
    if (shared === state) shared = undefined
    for (const follower of state.followers.values()) follower.close()
    state.followers.clear()
  }
  worker.on('error', fail)
  worker.on('exit', fail)
  // After the listeners: adding one refs the worker again.
  worker.unref()
  shared = state
  return state
}

/**
 * Follows one blob's bytes, in order, as the verifier hashes them; `mark(offset)` asks for the
 * state there. States arrive later: `newest(offset)` is the newest one at or below `offset`.
 */
export class SavedHashFollower {
  private readonly id: number
  private readonly pool: Pool
  private readonly states = new Map<number, Uint8Array>()
  private batch?: Uint8Array
  private batched = 0
  /** Batch buffers the worker handed back. */
  private spare: ArrayBuffer[] = []
  private backlog = 0
  private generation = 0
  private following = true
  private readonly pings = new Map<number, () => void>()
  private lastPing = 0

  constructor(algorithm: string) {
    this.pool = pool()
    this.id = this.pool.next++
    this.pool.followers.set(this.id, this)
    this.post({type: 'open', id: this.id, algorithm})
  }

  /** Whether the follower still follows the bytes (it gave up when the worker fell behind). */
  get active(): boolean {
    return this.following
  }

  update(data: Uint8Array): void {
    if (!this.following) return
    let rest = data
    while (rest.length > 0) {
      this.batch ??= new Uint8Array(this.spare.pop() ?? new ArrayBuffer(BATCH))
      const take = Math.min(rest.length, BATCH - this.batched)
      this.batch.set(rest.subarray(0, take), this.batched)
      this.batched += take
      rest = rest.subarray(take)
      if (this.batched === BATCH) this.flush()
      if (!this.following) return
    }
  }

  /** Asks for the state after the first `offset` bytes (the bytes given so far). */
  mark(offset: number): void {
    if (!this.following) return
    this.flush()
    this.post({type: 'mark', id: this.id, offset, generation: this.generation})
  }

  /** The newest state received at or below `offset`, with where it stands. */
  newest(offset: number): {offset: number; state: Uint8Array} | undefined {
    let best: number | undefined
    for (const at of this.states.keys()) if (at <= offset && (best === undefined || at > best)) best = at
    return best === undefined ? undefined : {offset: best, state: this.states.get(best)!}
  }

  /**
   * Goes back to `offset` (0, or a state received), as the verifier does; elsewhere it stops
   * following. `forget`: the states past 0 hashed wrong bytes and are dropped.
   */
  rewind(offset: number, forget = false): void {
    if (forget) {
      this.states.clear()
      this.generation++
    }
    this.batched = 0
    const state = offset === 0 ? undefined : this.states.get(offset)
    if (offset !== 0 && !state) {
      this.stop()
      return
    }
    if (!this.pool.followers.has(this.id)) return
    this.following = true
    this.post({type: 'load', id: this.id, state: state && state.slice()})
  }

  /** Resolves once the worker has answered everything asked so far (or is gone). */
  settled(): Promise<void> {
    if (!this.pool.followers.has(this.id)) return Promise.resolve()
    this.flush()
    const ping = ++this.lastPing
    // The worker is unref'd so it never holds the process; a caller waiting on it must.
    if (this.pool.waiting++ === 0) this.pool.worker.ref()
    return new Promise<void>((resolve) => {
      this.pings.set(ping, resolve)
      this.post({type: 'ping', id: this.id, ping})
    }).finally(() => {
      if (--this.pool.waiting === 0) this.pool.worker.unref()
    })
  }

  stop(): void {
    this.following = false
    this.batch = undefined
    this.batched = 0
    this.spare = []
  }

  close(): void {
    this.stop()
    if (this.pool.followers.delete(this.id)) this.post({type: 'close', id: this.id})
    for (const resolve of this.pings.values()) resolve()
    this.pings.clear()
  }

  /** @internal from the pool */
  receive(message: FromWorker): void {
    if (message.type === 'ack') {
      this.backlog -= message.bytes.length
      if (this.following && this.spare.length < 2) this.spare.push(message.bytes.buffer as ArrayBuffer)
    } else if (message.type === 'pong') {
      this.pings.get(message.ping)?.()
      this.pings.delete(message.ping)
    } else if (message.generation === this.generation) this.states.set(message.offset, message.state)
  }

  private flush(): void {
    if (!this.batch || this.batched === 0) return
    const bytes = this.batch.subarray(0, this.batched)
    this.batch = undefined
    this.batched = 0
    this.backlog += bytes.length
    if (this.backlog > BACKLOG) {
      // Behind the link: waiting would slow the copy to hash-wasm's speed, and queueing more would grow memory.
      this.stop()
      return
    }
    this.post({type: 'data', id: this.id, bytes}, [bytes.buffer as ArrayBuffer])
  }

  private post(message: ToWorker, transfer?: ArrayBuffer[]): void {
    try {
      this.pool.worker.postMessage(message, transfer)
    } catch {
      this.stop()
    }
  }
}
