import {Command, Flags} from '@oclif/core'

import {transfer, type TransferReport} from '../index.js'
import {parseSize} from '../config/size.js'
import {FerryError} from '../errors.js'
import {createLogger} from '../report/logger.js'
import {formatReport} from '../report/summary.js'

export default class Transfer extends Command {
  static override summary = 'Copy images between registries by rules (image-transfer compatible).'

  static override description = `Reads a rule file (source → destination, image-transfer's format) and a security file
(credentials per registry or registry/namespace), then copies every image: manifests (single or
multi-arch) byte for byte, blobs streamed registry to registry and verified against their digests.
A tag whose destination already has the same digest costs one HEAD at each side.
Exits 0 only when every job succeeded and every rule generated its jobs.`

  static override examples = [
    '<%= config.bin %> transfer --securityFile security.yaml --ruleFile rules/rule.yaml',
    '<%= config.bin %> transfer --securityFile security.yaml --ruleFile rules/rule.yaml --routines 10 --qps 100 --retry 3',
    'DEFAULT_REGISTRY=registry.example.com DEFAULT_NAMESPACE=mirror <%= config.bin %> transfer --ruleFile images.yaml',
  ]

  static override enableJsonFlag = true

  static override flags = {
    ruleFile: Flags.string({description: 'rule file: a YAML or JSON map from source image to destination image', required: true}),
    securityFile: Flags.string({description: 'security file: credentials per registry or registry/namespace (anonymous when absent)'}),
    routines: Flags.integer({description: 'images copied at once (and repositories listed at once)', default: 5, min: 1, max: 1000}),
    retry: Flags.integer({description: 'attempts after the first for a failed job, with backoff', default: 2, min: 0, max: 100}),
    qps: Flags.integer({
      description: 'at most this many requests per second to all registries together, evenly paced (0 = unlimited). Unlike image-transfer, the limit really applies',
      default: 0,
      min: 0,
    }),
    registry: Flags.string({description: 'default destination registry for rules with an empty destination (env DEFAULT_REGISTRY)'}),
    ns: Flags.string({description: 'default destination namespace for rules with an empty destination (env DEFAULT_NAMESPACE)'}),
    chunkSize: Flags.string({description: 'upload blobs in chunks of this size (e.g. 16MiB) instead of one streamed PUT'}),
    log: Flags.string({description: 'also append every line to this log file'}),
    quiet: Flags.boolean({description: 'no progress lines; failures and the summary only', default: false}),
  }

  async run(): Promise<TransferReport> {
    const {flags} = await this.parse(Transfer)
    const logger = createLogger({logFile: flags.log, quiet: flags.quiet, json: this.jsonEnabled()})
    const abort = new AbortController()
    const stop = () => abort.abort()
    process.once('SIGINT', stop)
    process.once('SIGTERM', stop)
    let report: TransferReport
    try {
      report = await transfer({
        ruleFile: flags.ruleFile,
        securityFile: flags.securityFile,
        registry: flags.registry,
        ns: flags.ns,
        routines: flags.routines,
        retry: flags.retry,
        qps: flags.qps || undefined,
        chunkSize: flags.chunkSize ? parseSize(flags.chunkSize, '--chunkSize') : undefined,
        logger,
        signal: abort.signal,
      })
    } catch (error) {
      if (!FerryError.is(error)) throw error
      if (this.jsonEnabled()) {
        // oclif prints the error as JSON, then exits with process.exitCode (else 1), not `exit`.
        process.exitCode = 2
        this.error(error.message, {exit: 2})
      }
      // A file the user must fix is one line naming it. oclif's error display would wrap it at
      // 80 columns (stderr is seldom a terminal in CI) and prefix each piece with ' ›'.
      this.logToStderr(`Error: ${error.message}`)
      this.exit(2)
    } finally {
      process.off('SIGINT', stop)
      process.off('SIGTERM', stop)
    }
    for (const line of formatReport(report.summary, report.results, report.generateFailures)) logger.result(line)
    if (report.summary.failed > 0 || report.summary.generateFailed > 0) process.exitCode = 1
    return report
  }
}
