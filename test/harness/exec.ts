import {execFile} from 'node:child_process'

export interface ExecResult {
  stdout: Buffer
  stderr: string
}

/**
 * Runs a binary and resolves with stdout as raw bytes.
 *
 * stdout stays a Buffer because callers hash it (skopeo --raw): decoding to a
 * string and back could change the bytes and therefore the digest.
 */
export function run(file: string, args: readonly string[], options: {timeoutMs?: number; env?: NodeJS.ProcessEnv; input?: string} = {}): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      file,
      args,
      {
        encoding: 'buffer',
        timeout: options.timeoutMs ?? 30_000,
        maxBuffer: 256 * 1024 * 1024,
        env: options.env ?? process.env,
      },
      (error, stdout, stderr) => {
        const errText = stderr.toString('utf8')
        if (error) {
          const how = error.killed ? `killed (${error.signal ?? 'timeout'})` : `exit code ${String(error.code)}`
          reject(new Error(`${file} ${args.join(' ')}: ${how}\n${errText.trim()}`))
          return
        }
        resolve({stdout, stderr: errText})
      },
    )
    if (options.input !== undefined) child.stdin?.end(options.input)
  })
}
