import {Flags} from '@oclif/core'

import {FerryCommand} from '../cli/ferry-command.js'
import {queueFlags, runQueueCommand} from '../cli/queue-flags.js'
import {abortOnStopSignals} from '../cli/stop-signals.js'
import {parseQueueAddress} from '../fleet/connection.js'
import {queueStatus, waitForQueue, type QueueStatus} from '../fleet/status.js'

export default class Status extends FerryCommand {
  static override summary = "How far a fleet's queue is: jobs waiting, active, done and failed, and bytes copied."

  static override description = `One line each: waiting (delayed and retrying included), active, done (earlier enqueues
included), failed, bytes; then each failed job with its error. --wait polls until nothing is
waiting or active, then prints the same and exits 1 if any job failed.`

  static override examples = ['<%= config.bin %> status --queue redis://redis:6379/0', '<%= config.bin %> status --queue redis://redis:6379/0 --wait']

  static override enableJsonFlag = true

  static override flags = {
    ...queueFlags(true),
    wait: Flags.boolean({description: 'block until nothing is waiting or active; exit 1 if any job failed', default: false}),
  }

  async run(): Promise<QueueStatus> {
    const {flags} = await this.parse(Status)
    return runQueueCommand(this, async () => {
      const queue = parseQueueAddress(flags.queue!, flags['queue-name'])
      // Ctrl-C ends --wait with the counts so far; SIGTERM keeps Node's default.
      const stop = abortOnStopSignals({signals: ['SIGINT']})
      const status = flags.wait ? await waitForQueue(queue, {signal: stop.signal}) : await queueStatus(queue)
      stop.release()
      if (!this.jsonEnabled()) {
        this.log(`waiting ${status.waiting}`)
        this.log(`active ${status.active}`)
        this.log(`done ${status.done}`)
        this.log(`failed ${status.failed}`)
        this.log(`bytes ${status.bytes}`)
        for (const failure of status.failures) this.log(`FAILED ${failure.job}: ${failure.error}`)
      }
      if (flags.wait && status.failed > 0) process.exitCode = 1
      return status
    })
  }
}
