import {createHash, type Hash} from 'node:crypto'
import {Transform, type TransformCallback} from 'node:stream'

import {FerryError} from '../errors.js'

/**
 * Passes a blob through while hashing it, and holds the last chunk back until the whole blob
 * is checked: when the digest or size is wrong the stream fails before the destination has
 * received every byte, so an upload with a declared Content-Length can never complete and
 * nothing corrupt is committed.
 */
export class DigestVerifier extends Transform {
  private readonly hash: Hash
  private readonly algorithm: string
  private held?: Buffer
  private seen = 0

  constructor(
    private readonly expected: {digest: string; size: number},
    private readonly what: string,
    /** Told the size of every chunk as it passes (live progress). */
    private readonly onChunk?: (bytes: number) => void,
  ) {
    super()
    const [algorithm] = expected.digest.split(':')
    if (algorithm !== 'sha256' && algorithm !== 'sha512') {
      throw new FerryError('UNSUPPORTED_DIGEST', `${what}: digest algorithm ${algorithm} is not supported`)
    }
    this.algorithm = algorithm
    this.hash = createHash(algorithm)
  }

  /** Bytes seen so far, for progress and reports. */
  get bytes(): number {
    return this.seen
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.seen += chunk.length
    this.onChunk?.(chunk.length)
    if (this.seen > this.expected.size) {
      callback(
        new FerryError('SIZE_MISMATCH', `${this.what}: source sent more than the ${this.expected.size} bytes its descriptor declares`, {retryable: true}),
      )
      return
    }
    this.hash.update(chunk)
    const previous = this.held
    this.held = chunk
    callback(null, previous)
  }

  override _flush(callback: TransformCallback): void {
    if (this.seen !== this.expected.size) {
      callback(new FerryError('SIZE_MISMATCH', `${this.what}: source sent ${this.seen} of ${this.expected.size} bytes`, {retryable: true}))
      return
    }
    const actual = `${this.algorithm}:${this.hash.digest('hex')}`
    if (actual !== this.expected.digest) {
      callback(new FerryError('DIGEST_MISMATCH', `${this.what}: content digest is ${actual}, refused`, {retryable: true}))
      return
    }
    callback(null, this.held)
  }
}
