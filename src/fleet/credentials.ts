import {readFile} from 'node:fs/promises'

import {checkFormat} from '../config/formats/detect.js'
import {anonymousStore, parseSecurity, type CredentialStore} from '../config/security.js'
import {ConfigError} from '../errors.js'

/**
 * A worker's credentials: its own security file and nothing else (no docker config.json, nothing
 * from the queue). Without a file, registries are asked anonymously.
 */
export async function loadWorkerCredentials(securityFile: string | undefined, env: NodeJS.ProcessEnv = process.env): Promise<CredentialStore> {
  if (!securityFile) return anonymousStore
  let text: string
  try {
    text = await readFile(securityFile, 'utf8')
  } catch (error) {
    throw new ConfigError(`cannot read security file (${(error as NodeJS.ErrnoException).code ?? 'unreadable'})`, {file: securityFile})
  }
  checkFormat(text, securityFile, '--securityFile', ['credentials'])
  return parseSecurity(text, securityFile, env)
}
