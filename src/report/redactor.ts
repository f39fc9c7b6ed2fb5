const MIN_ANYWHERE = 4
/** A private-use character standing for a blanked value until the last step. */
const MARK = '\u{10FFFD}'

/**
 * Values that must never be printed, registered as credentials are loaded. A registry that quotes
 * a credential back may quote it in any encoding it has on hand, so each secret is blanked out as
 * it is, URL-encoded (path and form style, either hex case), base64 (standard and URL-safe) and
 * JSON-escaped (JavaScript's, Go's with <>& escaped, Python's ASCII-only).
 */
export class Redactor {
  private readonly secrets = new Set<string>()
  private anywhere?: RegExp
  private inContext?: RegExp

  add(value: string | undefined): void {
    if (!value) return
    const before = this.secrets.size
    for (const form of encodings(value)) this.secrets.add(form)
    if (this.secrets.size !== before) this.anywhere = this.inContext = undefined
  }

  redact(text: string): string {
    // Each pass marks what it blanks with a character no line holds, so a later pass cannot find a
    // secret inside the word "[redacted]" itself.
    let out = text.replace(/\b(Basic|Bearer)\s+[A-Za-z0-9._~+/=-]+/g, `$1 ${MARK}`)
    // A JWT (most registries' bearer tokens), also when quoted without its scheme or cut short.
    out = out.replace(/\beyJ[A-Za-z0-9_-]{8,}(?:\.[A-Za-z0-9_-]*){0,2}/g, MARK)
    if (this.secrets.size > 0) {
      this.compile()
      if (this.anywhere) out = out.replace(this.anywhere, MARK)
      if (this.inContext) out = out.replace(this.inContext, `$1${MARK}`)
    }
    return out.includes(MARK) ? out.split(MARK).join('[redacted]') : out
  }

  /**
   * Secrets of four characters or more are blanked wherever they appear. A shorter one ("a",
   * "42") cannot be: blanking every "a" would wreck each line and, by the gaps, print the password
   * all the same. It is blanked where a credential is quoted: right after `:` or `=` (user:pass,
   * URL userinfo, password=…), or inside quotes, and only as the whole value up to the next
   * delimiter. Longest first, so `user:pass` goes before a `pass` inside it.
   */
  private compile(): void {
    if (this.anywhere || this.inContext) return
    const sorted = [...this.secrets].sort((a, b) => b.length - a.length)
    const long = sorted.filter((secret) => secret.length >= MIN_ANYWHERE).map(escapeRegExp)
    const short = sorted.filter((secret) => secret.length < MIN_ANYWHERE).map(escapeRegExp)
    this.anywhere = long.length > 0 ? new RegExp(long.join('|'), 'g') : undefined
    this.inContext = short.length > 0 ? new RegExp(`([:=]|["'\`])(?:${short.join('|')})(?=$|[\\s"'\`@,;&)\\]}/])`, 'g') : undefined
  }
}

/** The forms a registry may echo a secret in; the secret itself first. Pure. */
export function encodings(secret: string): string[] {
  const bytes = Buffer.from(secret)
  const uri = encodeURIComponent(secret)
  const form = new URLSearchParams({x: secret}).toString().slice(2)
  const json = JSON.stringify(secret).slice(1, -1)
  const goJson = json.replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
  const asciiJson = json.replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
  const lowerHex = (text: string) => text.replace(/%[0-9A-F]{2}/g, (escape) => escape.toLowerCase())
  const forms = [secret, uri, lowerHex(uri), form, lowerHex(form), json, goJson, asciiJson, bytes.toString('base64'), bytes.toString('base64url')]
  return [...new Set(forms)]
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}

/**
 * Query parameters whose values are safe to print: the distribution API's own (a digest, a mount's
 * source, paging) and a token request's scope. Every other value is blanked, whatever its name:
 * a blob redirect to storage signs its URL (X-Amz-Signature, sig, se, token, …) under names no
 * list can keep up with, and an upload Location may carry a registry's session secret.
 */
const PLAIN_QUERY = new Set(['digest', 'mount', 'from', 'n', 'last', 'service', 'scope'])

/** A URL fit to print: its user info and every query value but the known-harmless ones blanked. Pure. */
export function redactUrl(text: string, redactor?: Redactor): string {
  let url: URL
  try {
    url = new URL(text)
  } catch {
    return redactor ? redactor.redact(text) : text
  }
  if (url.username) url.username = 'redacted'
  if (url.password) url.password = 'redacted'
  // Rebuilt by hand: URLSearchParams would turn the marker's brackets into %5B…%5D.
  const query = [...url.searchParams].map(([name, value]) =>
    PLAIN_QUERY.has(name.toLowerCase()) ? `${encodeURIComponent(name)}=${encodeURIComponent(value)}` : `${encodeURIComponent(name)}=[redacted]`,
  )
  url.search = ''
  const printed = `${url.toString()}${query.length > 0 ? `?${query.join('&')}` : ''}`
  return redactor ? redactor.redact(printed) : printed
}

/** Flags whose value is a credential itself rather than a file holding one. */
const SECRET_FLAG = /(password|passwd|secret(?!file)|token|api-?key|credential)/i

/**
 * The command line as a report prints it: values of flags named like a credential blanked, user
 * info and signed query values of URL arguments (a Redis URL with a password) blanked, and then
 * whatever the redactor knows. Pure.
 */
export function redactCommandLine(argv: readonly string[], redactor = new Redactor()): string {
  const words: string[] = []
  let hideNext = false
  for (const arg of argv) {
    if (hideNext) {
      words.push('[redacted]')
      hideNext = false
      continue
    }
    const flag = /^--?([^=\s]+)(=)?/.exec(arg)
    if (flag && SECRET_FLAG.test(flag[1]!)) {
      if (flag[2]) words.push(`${arg.slice(0, arg.indexOf('=') + 1)}[redacted]`)
      else {
        words.push(arg)
        hideNext = true
      }
      continue
    }
    const printed = /^[a-z][a-z0-9+.-]*:\/\//i.test(arg) ? redactUrl(arg) : arg
    words.push(quoteWord(redactor.redact(printed)))
  }
  return words.join(' ')
}

/** A word as a POSIX shell would read it back. Pure. */
function quoteWord(word: string): string {
  return /^[\w@%+=:,./[\]-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`
}
