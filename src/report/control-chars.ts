/**
 * Names from registries, events and layouts reach every line ferry prints. A tag holding an escape
 * sequence would recolour or clear the terminal, a newline would forge a log line of its own, and
 * a bidirectional override would show a name other than the one used. Each such character is
 * written as a visible escape instead: `\n`, `\r`, `\t`, `\x1b`, `\u202e`.
 */

// C0 and C1 controls, DEL, the line and paragraph separators, and the bidirectional controls.
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]/g

const NAMED: Record<string, string> = {'\n': '\\n', '\r': '\\r', '\t': '\\t'}

/** `text` with every control character written as an escape. Pure. */
export function escapeControl(text: string): string {
  return text.replace(CONTROL, (c) => {
    const code = c.charCodeAt(0)
    return NAMED[c] ?? (code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`)
  })
}
