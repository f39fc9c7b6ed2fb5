// Deterministic bytes and layers, so a corpus is the same on every run and
// digests can be compared across runs and machines.
import {createCipheriv, createHash} from 'node:crypto'
import {gunzipSync, gzipSync} from 'node:zlib'

export function sha256(data: Buffer | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`
}

/**
 * `size` pseudo-random bytes fully determined by `seed`: AES-256-CTR over
 * zeros with a key derived from the seed. Fast enough for multi-MB layers and
 * incompressible, so gzipped layers stay about `size` bytes.
 */
export function randomBlob(size: number, seed: string | number = 'ferry'): Buffer {
  const key = createHash('sha256').update(`ferry-blob:${seed}`).digest()
  const cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16))
  return Buffer.concat([cipher.update(Buffer.alloc(size)), cipher.final()])
}

function tarHeader(name: string, size: number): Buffer {
  const header = Buffer.alloc(512)
  const put = (offset: number, length: number, value: string): void => {
    header.write(value, offset, length, 'ascii')
  }
  const octal = (value: number, length: number): string => value.toString(8).padStart(length - 1, '0') + '\0'
  put(0, 100, name)
  put(100, 8, octal(0o644, 8))
  put(108, 8, octal(0, 8))
  put(116, 8, octal(0, 8))
  put(124, 12, octal(size, 12))
  put(136, 12, octal(0, 12)) // mtime 0: reproducible
  put(148, 8, '        ') // checksum is computed with this field as spaces
  put(156, 1, '0')
  put(257, 6, 'ustar\0')
  put(263, 2, '00')
  let sum = 0
  for (const byte of header) sum += byte
  put(148, 8, sum.toString(8).padStart(6, '0') + '\0 ')
  return header
}

/** An uncompressed tar archive of regular files. */
export function tar(files: Record<string, Buffer>): Buffer {
  const parts: Buffer[] = []
  for (const [name, content] of Object.entries(files)) {
    parts.push(tarHeader(name, content.length), content, Buffer.alloc((512 - (content.length % 512)) % 512))
  }
  parts.push(Buffer.alloc(1024))
  return Buffer.concat(parts)
}

/**
 * A real gzipped tar layer holding one file of `size` seeded random bytes.
 *
 * Real archives (not bare random bytes) keep the images valid for tools that
 * unpack layers or check diff_ids, e.g. skopeo converting formats. Node's
 * gzip header has mtime 0, so the bytes only depend on the seed (and zlib).
 */
export function randomLayer(size: number, seed: string | number = 'ferry'): Buffer {
  return gzipSync(tar({[`ferry/${String(seed).replace(/[^\w.-]/g, '_')}.bin`]: randomBlob(size, seed)}))
}

/** The uncompressed digest of a layer: config.rootfs.diff_ids wants this. */
export function diffId(layer: Buffer): string {
  const gzipped = layer.length >= 2 && layer[0] === 0x1f && layer[1] === 0x8b
  return sha256(gzipped ? gunzipSync(layer) : layer)
}
