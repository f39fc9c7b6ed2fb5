import {Flags} from '@oclif/core'

import {FerryCommand} from '../cli/ferry-command.js'
import {runServiceCommand} from '../cli/run-service.js'
import {serviceFlags} from '../cli/serve-flags.js'
import {loadScheduleFile} from '../config/schedule.js'
import {transferSyncJob} from '../from-files.js'
import type {RunReport} from '../report/run-report.js'

export default class Schedule extends FerryCommand {
  static override summary = 'Run several named sync jobs in one long-running process, each on its own schedule.'

  static override description = `schedule.yaml names the jobs; each has its own rule file, security file, cron expression
(schedule, with timezone) or interval, and engine settings (routines, retry, qps, chunkSize,
tagExistOverridden, includeTags, excludeTags). Paths are relative to schedule.yaml. A job's runs
never overlap (a tick while it is busy is skipped and logged). With --listen, pushes announced by
a registry's notifications start the matching rules for the pushed tag at once.
Exits on SIGINT/SIGTERM: 0 when every job's last run was complete, 1 otherwise, 2 for bad input.`

  static override examples = [
    '<%= config.bin %> schedule --config schedule.yaml',
    '<%= config.bin %> schedule --config schedule.yaml --state-file /var/lib/ferry/state.json --listen 0.0.0.0:9090',
  ]

  static override enableJsonFlag = true

  static override flags = {
    config: Flags.string({
      description: 'schedule file: jobs by name, each with ruleFile, securityFile, schedule or interval, and engine settings',
      required: true,
    }),
    ...serviceFlags,
    log: Flags.string({description: 'also append every line to this log file'}),
    quiet: Flags.boolean({description: 'no progress lines; failures and the run reports only', default: false}),
  }

  async run(): Promise<RunReport | undefined> {
    const {flags} = await this.parse(Schedule)
    return runServiceCommand(this, flags, async () => {
      const configs = await loadScheduleFile(flags.config)
      const jobs = configs.map((config) => transferSyncJob(config))
      // Every job's files are read before any job starts: a mistake stops the start, not a tick at 3 a.m.
      await Promise.all(jobs.map((job) => job.load()))
      return jobs
    })
  }
}
