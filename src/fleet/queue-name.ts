/** The BullMQ queue (and the rate-limiter id) a fleet uses unless --queueName says otherwise. */
export const DEFAULT_QUEUE_NAME = 'ferry'
