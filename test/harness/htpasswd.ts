import {writeFile} from 'node:fs/promises'
import {run} from './exec.js'

/**
 * Writes an htpasswd file for Distribution.
 *
 * Distribution only accepts bcrypt entries, hence -B; htpasswd's default
 * bcrypt cost (5) keeps each authenticated request cheap.
 */
export async function writeHtpasswd(file: string, users: Record<string, string>): Promise<void> {
  const lines: string[] = []
  for (const [user, password] of Object.entries(users)) {
    const {stdout} = await run('htpasswd', ['-Bbn', user, password])
    lines.push(stdout.toString('utf8').trim())
  }
  await writeFile(file, lines.join('\n') + '\n', {mode: 0o600})
}
