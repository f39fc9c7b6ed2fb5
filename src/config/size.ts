import {ConfigError} from '../errors.js'

const UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1000,
  kb: 1000,
  kib: 1024,
  m: 1000 ** 2,
  mb: 1000 ** 2,
  mib: 1024 ** 2,
  g: 1000 ** 3,
  gb: 1000 ** 3,
  gib: 1024 ** 3,
}

/** `16MiB`, `5MB`, `1048576` → bytes. Pure. */
export function parseSize(text: string, what: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(text)
  const unit = match ? UNITS[match[2].toLowerCase()] : undefined
  if (!match || unit === undefined) {
    throw new ConfigError(`${what}: ${JSON.stringify(text)} is not a size; write bytes or a number with KiB, MiB, GiB, KB, MB or GB`)
  }
  const bytes = Math.floor(Number(match[1]) * unit)
  if (bytes < 1) throw new ConfigError(`${what}: must be at least 1 byte`)
  return bytes
}
