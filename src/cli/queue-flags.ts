import type {Command} from '@oclif/core'
import {Flags} from '@oclif/core'

// Not from fleet/connection: that loads ioredis, and every command with these flags would pay for it.
import {DEFAULT_QUEUE_NAME} from '../fleet/queue-name.js'
import {describeError, FerryError} from '../errors.js'
import {exitWithUserError} from './user-error.js'

const FLEET = 'FLEET (workers on many machines sharing a Redis queue)'

/** --queue and --queueName, required (worker, status, retry) or not (transfer). */
export function queueFlags(required: boolean) {
  return {
    queue: Flags.string({
      description: "Redis holding the fleet's queue: redis://HOST:PORT/DB (rediss:// for TLS)",
      required,
      helpGroup: FLEET,
    }),
    'queue-name': Flags.string({
      aliases: ['queueName'],
      description: 'queue name, so several fleets can share one Redis; every ferry of one fleet gives the same',
      default: DEFAULT_QUEUE_NAME,
      helpGroup: FLEET,
    }),
  }
}

/** Input errors as one line and exit 2; a Redis that cannot be reached likewise, without a stack. */
export async function runQueueCommand<T>(command: Command, body: () => Promise<T>): Promise<T> {
  try {
    return await body()
  } catch (error) {
    const message = FerryError.is(error) ? error.message : `queue: ${describeError(error)}`
    return exitWithUserError(command, message)
  }
}
