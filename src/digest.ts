import {createHash} from 'node:crypto'

/** The sha256 digest of `bytes` in the OCI form `sha256:<hex>`. Pure. */
export function sha256Digest(bytes: Buffer): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`
}
