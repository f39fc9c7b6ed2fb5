/**
 * Names from registries, events and layouts reach every line ferry prints. A tag holding an escape
 * sequence would recolour or clear the terminal, a newline would forge a log line of its own, and
 * a bidirectional override would show a name other than the one used. Each such character is
 * written as a visible escape instead: `\n`, `\r`, `\t`, `\x1b`, `\u202e`.
 */

// C0 and C1 controls, DEL, the line and paragraph separators, the bidirectional controls and the
// invisible ones (zero-width spaces and joiners, word joiner, BOM) that would hide part of a name.
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff]/g

const NAMED: Record<string, string> = {'\n': '\\n', '\r': '\\r', '\t': '\\t'}

/** `text` with every control character written as an escape. Pure. */
export function escapeControl(text: string): string {
  return text.replace(CONTROL, (c) => {
    const code = c.charCodeAt(0)
    return NAMED[c] ?? (code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`)
  })
}
