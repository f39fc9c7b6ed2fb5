/**
 * The digest check of a blob whose upload can be resumed: the bytes may be read more than once
 * (after a cut the destination asks for them from its own offset), yet every byte the
 * destination receives is hashed in the reading that sends it. The hash keeps its state at every
 * `interval` bytes (checkpoints); resuming at offset k goes back to the last checkpoint h ≤ k,
 * reads the source from h, hashes h..k without passing it on, and passes on from k. As in
 * DigestVerifier, the last chunk is held back until the whole blob has checked out, so a wrong
 * byte fails the stream before the destination can commit.
 *
 * The check runs on node:crypto (states can be copied, not saved; ~4× hash-wasm's speed on the
 * test machine, bench/hash-state.mjs). States a later run can load (for the upload journal) come
 * from a hash-wasm follower in a worker thread (saved-hash.ts), off the copy's path. Only a blob
 * resumed from such a state is checked with hash-wasm itself, the one engine that can load it.
 */
import {createHash, type Hash} from 'node:crypto'
import {Transform, type TransformCallback} from 'node:stream'
import type {IHasher} from 'hash-wasm'

import {FerryError} from '../errors.js'
import {SavedHashFollower} from './saved-hash.js'

interface HashEngine {
  update(data: Uint8Array): void
  hex(): string
  snapshot(): unknown
  restore(snapshot: unknown): void
  /** The snapshot as bytes for a file, when the engine can. */
  serialize(snapshot: unknown): Uint8Array | undefined
}

class NodeEngine implements HashEngine {
  private hash: Hash
  constructor(private readonly algorithm: string) {
    this.hash = createHash(algorithm)
  }
  update(data: Uint8Array) {
    this.hash.update(data)
  }
  hex() {
    return this.hash.digest('hex')
  }
  snapshot() {
    return this.hash.copy()
  }
  restore(snapshot: unknown) {
    this.hash = snapshot === undefined ? createHash(this.algorithm) : (snapshot as Hash).copy()
  }
  serialize() {
    return undefined
  }
}

class WasmEngine implements HashEngine {
  constructor(private readonly hasher: IHasher) {
    hasher.init()
  }
  update(data: Uint8Array) {
    this.hasher.update(data)
  }
  hex() {
    return this.hasher.digest('hex')
  }
  snapshot() {
    return this.hasher.save()
  }
  restore(snapshot: unknown) {
    if (snapshot === undefined) this.hasher.init()
    else this.hasher.load(snapshot as Uint8Array)
  }
  serialize(snapshot: unknown) {
    return snapshot as Uint8Array
  }
}

export interface ResumableVerifierOptions {
  /** Bytes between checkpoints; the destination's chunk size, so its offsets fall on them. */
  interval: number
  /** Hash states that can be saved to a file are wanted (hash-wasm, in a worker unless resumed from `start`). */
  savable?: boolean
  /** A state saved by an earlier run: the hash of the blob's first `offset` bytes. */
  start?: {offset: number; state: Uint8Array}
}

export class ResumableVerifier {
  private position = 0
  /** Position → engine state there; 0 is the empty hash. */
  private readonly checkpoints = new Map<number, unknown>([[0, undefined]])
  private generation = 0
  /** Makes the savable states when the engine cannot (node:crypto). */
  private follower?: SavedHashFollower

  private constructor(
    private readonly engine: HashEngine,
    private readonly algorithm: string,
    private readonly expected: {digest: string; size: number},
    private readonly what: string,
    private readonly interval: number,
  ) {}

  static async create(expected: {digest: string; size: number}, what: string, options: ResumableVerifierOptions): Promise<ResumableVerifier> {
    const [algorithm] = expected.digest.split(':')
    if (algorithm !== 'sha256' && algorithm !== 'sha512') {
      throw new FerryError('UNSUPPORTED_DIGEST', `${what}: digest algorithm ${algorithm} is not supported`)
    }
    const interval = Math.max(1, options.interval)
    const start = options.start
    if (start && options.savable && start.offset > 0 && start.offset <= expected.size) {
      // Loaded here, the one place the main thread hashes with it: every run's start paid ~40 ms for it.
      const {createSHA256, createSHA512} = await import('hash-wasm')
      const engine = new WasmEngine(await (algorithm === 'sha256' ? createSHA256() : createSHA512()))
      const verifier = new ResumableVerifier(engine, algorithm, expected, what, interval)
      try {
        engine.restore(start.state)
        verifier.position = start.offset
        verifier.checkpoints.set(start.offset, engine.snapshot())
        return verifier
      } catch {
        // A state that does not load is no state: the hash starts from the first byte, on node:crypto.
      }
    }
    const verifier = new ResumableVerifier(new NodeEngine(algorithm), algorithm, expected, what, interval)
    if (options.savable) verifier.follower = new SavedHashFollower(algorithm)
    return verifier
  }

  /** Resolves once the savable states asked for so far have arrived (they are made in a worker). */
  async statesSettled(): Promise<void> {
    await this.follower?.settled()
  }

  /** Lets the follower's worker forget this blob. */
  close(): void {
    this.follower?.close()
  }

  /**
   * Forgets every checkpoint: after bytes that checked out wrong, the states past the bad byte are
   * wrong too, and the blob must be read and hashed from its first byte again.
   */
  reset(): void {
    this.checkpoints.clear()
    this.checkpoints.set(0, undefined)
    this.follower?.rewind(0, true)
    this.rewind(0)
  }

  /** Bytes hashed so far. */
  get hashed(): number {
    return this.position
  }

  /**
   * The newest savable state at or below `offset` (the bytes a destination holds), as bytes for a
   * file, with the bytes it covers; undefined when none is kept. A later run resuming from it
   * re-reads the source from there.
   */
  savedState(offset: number): {offset: number; state: Uint8Array} | undefined {
    if (this.follower) return this.follower.newest(offset)
    let best = 0
    for (const at of this.checkpoints.keys()) if (at <= offset && at > best) best = at
    const state = best > 0 ? this.engine.serialize(this.checkpoints.get(best)) : undefined
    return state && {offset: best, state}
  }

  /**
   * Goes back to the last checkpoint at or below `offset` (for a destination that holds `offset`
   * bytes) and returns its position: where the source must be read from. A stream made before
   * stops counting.
   */
  rewind(offset: number): number {
    let best = 0
    for (const at of this.checkpoints.keys()) if (at <= offset && at > best) best = at
    this.engine.restore(this.checkpoints.get(best))
    if (best !== this.position) this.follower?.rewind(best)
    this.position = best
    this.generation++
    return best
  }

  /**
   * Checks the bytes of a stream that starts at the current position (after `rewind`), and
   * passes on those from `emitFrom` on.
   */
  stream(emitFrom: number, onChunk?: (bytes: number) => void): Transform {
    const generation = this.generation
    let held: Buffer | undefined
    return new Transform({
      transform: (chunk: Buffer, _encoding, callback: TransformCallback) => {
        if (generation !== this.generation) return callback()
        const at = this.position
        if (at + chunk.length > this.expected.size) {
          callback(
            new FerryError('SIZE_MISMATCH', `${this.what}: source sent more than the ${this.expected.size} bytes its descriptor declares`, {
              retryable: true,
            }),
          )
          return
        }
        this.hash(chunk)
        const out = at >= emitFrom ? chunk : at + chunk.length > emitFrom ? chunk.subarray(emitFrom - at) : undefined
        if (!out || out.length === 0) return callback()
        onChunk?.(out.length)
        const previous = held
        held = out
        callback(null, previous)
      },
      flush: (callback: TransformCallback) => {
        if (generation !== this.generation) return callback()
        if (this.position !== this.expected.size) {
          callback(new FerryError('SIZE_MISMATCH', `${this.what}: source sent ${this.position} of ${this.expected.size} bytes`, {retryable: true}))
          return
        }
        const actual = `${this.algorithm}:${this.engine.hex()}`
        if (actual !== this.expected.digest) {
          callback(new FerryError('DIGEST_MISMATCH', `${this.what}: content digest is ${actual}, refused`, {retryable: true}))
          return
        }
        callback(null, held)
      },
    })
  }

  /** Hashes `chunk` at the current position, keeping the state at every checkpoint it crosses. */
  private hash(chunk: Buffer): void {
    let data = chunk
    while (data.length > 0) {
      const next = (Math.floor(this.position / this.interval) + 1) * this.interval
      const take = Math.min(data.length, next - this.position)
      this.engine.update(data.subarray(0, take))
      this.follower?.update(data.subarray(0, take))
      this.position += take
      data = data.subarray(take)
      if (this.position === next && next < this.expected.size) {
        this.checkpoints.set(next, this.engine.snapshot())
        this.follower?.mark(next)
      }
    }
  }
}
