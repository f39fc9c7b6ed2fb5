import {Flags} from '@oclif/core'

import {parseSize} from '../config/size.js'

/** The flags every command that runs the copy engine takes, with image-transfer's names. */
export const engineFlags = {
  securityFile: Flags.string({description: 'security file: credentials per registry or registry/namespace (anonymous when absent)'}),
  routines: Flags.integer({description: 'images copied at once (and repositories listed at once)', default: 5, min: 1, max: 1000}),
  retry: Flags.integer({description: 'attempts after the first for a failed job, with backoff', default: 2, min: 0, max: 100}),
  qps: Flags.integer({
    description:
      'at most this many requests per second to all registries together, evenly paced (0 = unlimited). Unlike image-transfer, the limit really applies',
    default: 0,
    min: 0,
  }),
  chunkSize: Flags.string({description: 'upload blobs in chunks of this size (e.g. 16MiB) instead of one streamed PUT'}),
  log: Flags.string({description: 'also append every line to this log file'}),
  quiet: Flags.boolean({description: 'no progress lines; failures and the summary only', default: false}),
}

export interface EngineFlagValues {
  routines: number
  retry: number
  qps: number
  chunkSize?: string
}

/** Engine options from the parsed flags. */
export function engineSettings(flags: EngineFlagValues): {routines: number; retry: number; qps?: number; chunkSize?: number} {
  return {
    routines: flags.routines,
    retry: flags.retry,
    qps: flags.qps || undefined,
    chunkSize: flags.chunkSize ? parseSize(flags.chunkSize, '--chunkSize') : undefined,
  }
}
