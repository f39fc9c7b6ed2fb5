import {loadTransferInputs, type InputFiles} from '../inputs.js'
import {runTransfer, type EngineOptions, type TransferReport} from './run.js'

export type TransferOptions = Omit<EngineOptions, 'rules' | 'credentials' | 'ruleErrors' | 'ruleWarnings'> &
  (
    | ({rules?: undefined; credentials?: undefined} & InputFiles)
    | Pick<EngineOptions, 'rules' | 'credentials' | 'ruleErrors' | 'ruleWarnings'>
  )

/**
 * Copies every image the rules name. Give `ruleFile` (and `securityFile`) as the CLI does, or
 * already parsed `rules` and `credentials`. Resolves with each job's result; rejects only when the
 * inputs cannot be read at all.
 */
export async function transfer(options: TransferOptions): Promise<TransferReport> {
  if (options.rules) return runTransfer(options)
  const inputs = await loadTransferInputs(options)
  return runTransfer({...options, ...inputs})
}

