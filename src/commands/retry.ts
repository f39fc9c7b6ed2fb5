import {FerryCommand} from '../cli/ferry-command.js'
import {queueFlags, runQueueCommand} from '../cli/queue-flags.js'
import {parseQueueAddress} from '../fleet/connection.js'
import {retryFailed} from '../fleet/status.js'

export default class Retry extends FerryCommand {
  static override summary = "Put a fleet's failed jobs back in its queue."

  static override description = `Every failed job goes back to waiting, and the workers copy it again (a copy picks up what is
already at the destination). Prints how many jobs were put back.`

  static override examples = ['<%= config.bin %> retry --queue redis://redis:6379/0']

  static override flags = {...queueFlags(true)}

  async run(): Promise<void> {
    const {flags} = await this.parse(Retry)
    await runQueueCommand(this, async () => {
      const count = await retryFailed(parseQueueAddress(flags.queue!, flags['queue-name']))
      this.log(String(count))
    })
  }
}
