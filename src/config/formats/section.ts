/**
 * One top-level section of a YAML or JSON file (image-syncer's `auth:` and `images:`), returned as
 * the same text with everything else blanked out. Newlines are kept, so the section's parser
 * reports the lines of the original file.
 */
import {scanKeys, yamlKeyOf} from '../yaml.js'

export function sectionText(text: string, key: string): string | undefined {
  const keys = scanKeys(text).filter((k) => k.top)
  const index = keys.findIndex((k) => yamlKeyOf(k).key === key)
  if (index < 0) return undefined
  const found = keys[index]!
  const colon = text.indexOf(':', found.offset + key.length)
  if (colon < 0) return undefined
  let start = colon + 1
  while (start < text.length && /[ \t]/.test(text[start]!)) start++
  const end = text[start] === '{' || text[start] === '[' ? closingBracket(text, start) : (keys[index + 1]?.offset ?? text.length)
  return blankOutside(text, start, end)
}

/** The end (exclusive) of the bracketed value starting at `start`; quotes are skipped over. */
function closingBracket(text: string, start: number): number {
  let depth = 0
  for (let i = start; i < text.length; i++) {
    const ch = text[i]!
    if (ch === '"' || ch === "'") {
      i++
      while (i < text.length && text[i] !== ch) {
        if (ch === '"' && text[i] === '\\') i++
        i++
      }
      continue
    }
    if (ch === '{' || ch === '[') depth++
    else if (ch === '}' || ch === ']') {
      depth--
      if (depth === 0) return i + 1
    }
  }
  return text.length
}

function blankOutside(text: string, start: number, end: number): string {
  const blank = (part: string) => part.replace(/[^\n]/g, ' ')
  return blank(text.slice(0, start)) + text.slice(start, end) + blank(text.slice(end))
}
