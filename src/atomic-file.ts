import {open, rename, rm} from 'node:fs/promises'
import path from 'node:path'

/**
 * Replaces `target` with `text` so that a reader (or a crash at any moment) sees either the old
 * file or the new one, never a part: a temporary file in the same folder, flushed to disk, renamed
 * over the target, then the folder flushed so the rename itself survives a power loss. The
 * temporary name is the caller's, so that its own clean-up can recognise what a killed run left.
 */
export async function replaceFileAtomically(target: string, text: string, options: {temporaryName: string; mode?: number}): Promise<void> {
  const folder = path.dirname(path.resolve(target))
  const temporary = path.join(folder, options.temporaryName)
  try {
    const handle = await open(temporary, 'wx', options.mode ?? 0o644)
    try {
      await handle.writeFile(text)
      await handle.sync()
    } finally {
      await handle.close()
    }
    await rename(temporary, target)
  } catch (error) {
    await rm(temporary, {force: true})
    throw error
  }
  const directory = await open(folder, 'r').catch(() => undefined)
  await directory?.sync().catch(() => undefined)
  await directory?.close()
}
