import type {Command} from '@oclif/core'

/**
 * Ends a command for a problem the user must fix: one line, `Error: …`, and `code` (2: a file or
 * flag to fix). oclif's own error display would wrap it at 80 columns (stderr is seldom a terminal
 * in CI) and prefix each piece with ' ›'; with --json, oclif prints it as JSON instead.
 */
export function exitWithUserError(command: Command, message: string, code = 2): never {
  if (command.jsonEnabled()) {
    // oclif prints the error as JSON, then exits with process.exitCode (else 1), not `exit`.
    process.exitCode = code
    command.error(message, {exit: code})
  }
  command.logToStderr(`Error: ${message}`)
  return command.exit(code)
}
