// Fuzzing the two files users write (rule.yaml, security.yaml) with a seeded PRNG: random YAML
// (types, nesting, flow and block styles), mutations of real files, and a list of known nasties
// (alias bombs, deep nesting, 1 MB strings, NUL bytes, path traversal, unicode, YAML tags).
//
// The contract: every call returns, or throws a ConfigError whose message is one line; never a
// TypeError/RangeError, never a hang (each call well under a second), never a secret in a message;
// and whatever does parse names only valid repositories (nothing like `../../etc` gets through).
// FERRY_FUZZ_SEED=n replays another seed; FERRY_FUZZ_RUNS=n changes how many random files.
import assert from 'node:assert/strict'
import {mkdtemp, rm, writeFile} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {performance} from 'node:perf_hooks'
import {after, before, describe, test} from 'node:test'
import yaml from 'js-yaml'
import {parseRules, type ParsedRules} from '../../src/config/rules.js'
import {parseSecurity} from '../../src/config/security.js'
import {ConfigError, FerryError} from '../../src/errors.js'
import {lines, runCli} from '../e2e/support.js'

const SEED = Number(process.env.FERRY_FUZZ_SEED ?? 20240601)
const RUNS = Number(process.env.FERRY_FUZZ_RUNS ?? 600)
/** Per call. Generous for a loaded CI box; a pathological parse takes seconds or forever. */
const MAX_MS = 5000
const SECRET_MARK = 'SECRET-MARK'
const CONFIG_CODES = new Set(['INVALID_CONFIG', 'INVALID_RULE', 'INVALID_REFERENCE'])

/** mulberry32: small, fast, and the same sequence everywhere. */
function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

class Gen {
  readonly random: () => number
  constructor(seed: number) {
    this.random = prng(seed)
  }
  int(n: number): number {
    return Math.floor(this.random() * n)
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!
  }
  chance(p: number): boolean {
    return this.random() < p
  }
}

const MB = 1024 * 1024

const NASTY_STRINGS = [
  '',
  ' ',
  '../../etc/passwd',
  'reg.io/../../etc',
  'reg.io/a/../../b',
  '%2e%2e/%2e%2e/etc',
  'reg.io/%2e%2e/x',
  'reg.io/a/..%2f..%2fetc',
  '..',
  '.',
  '/etc/shadow',
  '/dev/zero',
  '/proc/self/environ',
  'a\u0000b',
  'reg.io/a\u0000b',
  '\u202eevil',
  'ｒｅｇ．ｉｏ/app',
  'reg.io/app:😀',
  '😀/😀',
  '\ud800',
  'reg.io/app@sha256:zz',
  'reg.io/app@sha256:' + 'a'.repeat(64),
  'reg.io/app@sha512:' + 'b'.repeat(128),
  'reg.io/App:Tag',
  'reg.io:99999/app',
  '[::1]:5000/app',
  'http://reg.io/app',
  'reg.io//app',
  'reg.io/app:',
  'reg.io/app:a,,b,',
  'reg.io/app:/a+/',
  '${HOME}',
  '${',
  '$$',
  '${A B}',
  '$NOT_SET_ANYWHERE_123',
  '__proto__',
  'constructor',
  'toString',
  'hasOwnProperty',
  '<<',
  '1.10',
  '0x1F',
  '.inf',
  '~',
  'null',
  'yes',
  'true',
  '2001-12-14t21:59:43.10-05:00',
  '#comment',
  'key: value',
  '- item',
  '{a: b}',
  '&anchor',
  '*alias',
  '!!binary',
  '\t',
  '\r\n',
  '"',
  "'",
  '\\',
]

const REF_PARTS = ['reg.io', 'localhost:5000', '127.0.0.1:1', 'docker.io', 'quay.io/coreos', 'a', 'b-c', 'x_y', 'd.e', 'library']

function reference(g: Gen): string {
  if (g.chance(0.3)) return g.pick(NASTY_STRINGS)
  const parts = Array.from({length: 1 + g.int(4)}, () => g.pick(REF_PARTS))
  let text = parts.join('/')
  if (g.chance(0.4)) text += `:${Array.from({length: 1 + g.int(3)}, () => g.pick(['1.0', 'latest', 'v2', '', 'A', '/re+/'])).join(',')}`
  if (g.chance(0.15)) text += `@sha256:${'0123456789abcdef'.repeat(4).slice(0, g.chance(0.8) ? 64 : g.int(70))}`
  if (g.chance(0.1)) text = text.slice(0, g.int(text.length + 1)) + g.pick(NASTY_STRINGS) + text.slice(g.int(text.length + 1))
  return text
}

/** Sets a key even when it is `__proto__`, which plain assignment would turn into a prototype. */
function put(map: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(map, key, {value, enumerable: true, writable: true, configurable: true})
}

function scalar(g: Gen, forSecurity: boolean): unknown {
  switch (g.int(9)) {
    case 0:
      return null
    case 1:
      return g.chance(0.5)
    case 2:
      return g.int(1e6) - 5e5
    case 3:
      return g.random() * 1e9
    case 4:
      return g.pick(NASTY_STRINGS)
    case 5:
      return forSecurity ? `${SECRET_MARK}-${g.int(1e6)}` : reference(g)
    case 6:
      return String.fromCodePoint(...Array.from({length: g.int(20)}, () => g.int(0x2ffff)).filter((c) => c < 0xd800 || c > 0xdfff))
    case 7:
      return new Date(g.int(2e12))
    default:
      return reference(g)
  }
}

function value(g: Gen, depth: number, forSecurity: boolean): unknown {
  if (depth <= 0 || g.chance(0.5)) return scalar(g, forSecurity)
  if (g.chance(0.4)) return Array.from({length: g.int(4)}, () => value(g, depth - 1, forSecurity))
  const map: Record<string, unknown> = {}
  for (let i = g.int(5); i > 0; i--) {
    const key =
      forSecurity && g.chance(0.6)
        ? g.pick(['username', 'password', 'insecure', 'skipTlsVerify', 'caFile', 'pasword', 'user', 'auth', 'token'])
        : String(scalar(g, false))
    put(map, key, value(g, depth - 1, forSecurity))
  }
  return map
}

/** A security entry that is mostly right, so the fuzz reaches past the first check. */
function securityEntry(g: Gen): unknown {
  const entry: Record<string, unknown> = {}
  if (g.chance(0.7)) entry.username = g.chance(0.8) ? 'user' : scalar(g, true)
  if (g.chance(0.7)) entry.password = g.chance(0.8) ? `${SECRET_MARK}-${g.int(1e6)}` : scalar(g, true)
  if (g.chance(0.3)) entry.insecure = g.pick([true, false, 'true', 'maybe', 1, null])
  if (g.chance(0.3)) entry.skipTlsVerify = g.pick([true, false, 'FALSE', 'no', 0])
  if (g.chance(0.3))
    entry.caFile = g.pick([
      '../../etc/passwd',
      '/dev/zero',
      '/dev/null',
      '/etc',
      '%2e%2e/ca.pem',
      'ca\u0000.pem',
      '${NOPE}/ca.pem',
      '/proc/self/status',
      '😀.pem',
    ])
  if (g.chance(0.2)) put(entry, g.pick(['pasword', 'passwd', 'hunter2-secret', 'user name', '__proto__']), `${SECRET_MARK}-x`)
  return g.chance(0.1) ? value(g, 3, true) : entry
}

function dump(g: Gen, doc: unknown): string {
  try {
    return yaml.dump(doc, {
      flowLevel: g.pick([-1, 0, 1, 2]),
      forceQuotes: g.chance(0.2),
      noRefs: g.chance(0.5),
      lineWidth: g.pick([80, -1, 20]),
      skipInvalid: true,
    })
  } catch {
    return JSON.stringify(doc) ?? ''
  }
}

const YAML_NOISE = [
  ':',
  ': ',
  '{',
  '}',
  '[',
  ']',
  ',',
  '&a ',
  '*a',
  '!',
  '!!str ',
  '|',
  '>',
  "'",
  '"',
  '%',
  '@',
  '`',
  '#',
  '\n',
  '\t',
  '- ',
  '? ',
  '---\n',
  '...\n',
  '\\',
  '\u0000',
  '\ufeff',
  '\r',
]

function mutate(g: Gen, text: string): string {
  let out = text
  for (let i = 1 + g.int(6); i > 0; i--) {
    const at = g.int(out.length + 1)
    switch (g.int(5)) {
      case 0:
        out = out.slice(0, at) + g.pick(YAML_NOISE) + out.slice(at)
        break
      case 1:
        out = out.slice(0, at) + out.slice(at + 1 + g.int(10))
        break
      case 2: {
        const all = out.split('\n')
        const line = g.int(all.length)
        all.splice(line, 0, all[g.int(all.length)] ?? '')
        out = all.join('\n')
        break
      }
      case 3:
        out = out.slice(0, at) + ' '.repeat(g.int(8)) + out.slice(at)
        break
      default:
        out = out.slice(0, at) + g.pick(NASTY_STRINGS) + out.slice(at)
    }
  }
  return out
}

const RULE_SEEDS = [
  'reg.io/team/app: other.io/mirror/app\nreg.io/team/db:1.0,2.0: other.io/db\n',
  '{"reg.io/a:1.0": "other.io/a", "reg.io/b": "other.io/b",}\n',
  'reg.io/a@sha256:' + 'a'.repeat(64) + ': other.io/a:pinned\n"reg.io/q": \'other.io/q\'\n',
  'reg.io/a:\n  - other.io/a\n  - other.io/b\n',
]
const SECURITY_SEEDS = [
  `reg.io:\n  username: u\n  password: ${SECRET_MARK}-1\nhttp://plain.local:5000:\n  insecure: true\n`,
  `{"reg.io/ns": {"username": "u", "password": "${SECRET_MARK}-2", "skipTlsVerify": "true"}}\n`,
  `reg.io: {username: u, password: "\${PW}"}\nquay.io/coreos: {caFile: ../ca.pem}\n`,
]

function billionLaughs(levels: number, width: number, asRules: boolean): string {
  const names = 'abcdefghijklmnop'
  let text = `${names[0]}: &${names[0]} [${Array(width).fill('"lol"').join(', ')}]\n`
  for (let i = 1; i < levels; i++)
    text += `${names[i]}: &${names[i]} [${Array(width)
      .fill(`*${names[i - 1]}`)
      .join(', ')}]\n`
  return text + (asRules ? `reg.io/bomb: *${names[levels - 1]}\n` : `reg.io: {username: *${names[levels - 1]}}\n`)
}

/** Named cases that every run includes, whatever the seed. */
function nastyFiles(): Array<[string, string]> {
  const big = 'x'.repeat(MB)
  return [
    ['billion laughs (9×9)', billionLaughs(9, 9, true)],
    ['billion laughs (16×16)', billionLaughs(16, 16, true)],
    ['alias bomb as a key', billionLaughs(9, 9, true) + '? *i\n: reg.io/x\n'],
    ['merge-key bomb', 'a: &a {x: 1, y: 2}\nb: &b {<<: [*a, *a]}\nc: &c {<<: [*b, *b]}\nd: {<<: [*c, *c]}\n'],
    ['alias to an unknown anchor', 'reg.io/a: *nowhere\n'],
    ['anchor on a key reused as a value', '&k reg.io/a: *k\n'],
    ['deep flow nesting (100k)', 'reg.io/a: ' + '['.repeat(100_000) + ']'.repeat(100_000) + '\n'],
    ['deep flow maps (20k)', 'reg.io/a: ' + '{b: '.repeat(20_000) + '1' + '}'.repeat(20_000) + '\n'],
    ['deep block nesting (3k)', Array.from({length: 3000}, (_, i) => `${' '.repeat(i)}k${i}:`).join('\n') + ' v\n'],
    ['unclosed flow', '{'.repeat(50_000)],
    ['1 MB key', `${big}: reg.io/x\n`],
    ['1 MB value', `reg.io/a: ${big}\n`],
    ['1 MB quoted key with escapes', `"${'\\u0041'.repeat(MB / 6)}": reg.io/x\n`],
    ['1 MB password', `reg.io: {username: u, password: ${SECRET_MARK}${big}}\n`],
    ['1 MB of newlines', '\n'.repeat(MB)],
    ['1 MB of colons', ': '.repeat(MB / 2)],
    ['50k keys', Array.from({length: 50_000}, (_, i) => `reg.io/r${i}: reg.io/d${i}`).join('\n')],
    ['the same key 20k times', Array.from({length: 20_000}, () => 'reg.io/r: reg.io/d').join('\n')],
    ['NUL bytes', 'reg.io/a\u0000: reg.io/b\u0000\n'],
    ['escaped NUL', '"reg.io/a\\0b": "reg.io/c\\0d"\n'],
    ['path traversal', '../../etc/passwd: reg.io/x\nreg.io/../../etc: reg.io/y\nreg.io/a: ../../etc\n'],
    ['percent-encoded traversal', 'reg.io/%2e%2e/%2e%2e/etc: reg.io/x\nreg.io/a: reg.io/%2e%2e%2fetc\n'],
    ['caFile traversal', 'reg.io: {caFile: ../../../../../etc/passwd}\n'],
    ['caFile an endless device', 'reg.io: {caFile: /dev/zero}\n'],
    ['caFile a pipe', 'reg.io: {caFile: "/proc/self/fd/0"}\n'],
    ['caFile a FIFO-ish /dev path', 'reg.io: {caFile: /dev/stdin}\n'],
    ['caFile percent traversal', 'reg.io: {caFile: "%2e%2e/%2e%2e/etc/passwd"}\n'],
    ['unicode confusables and RTL', 'ｒｅｇ．ｉｏ/app: reg.io/x\n"\u202ereg.io/a": reg.io/b\nreg.io/😀: reg.io/c\n'],
    ['lone surrogate', '"reg.io/\\ud800": reg.io/x\n'],
    ['BOM and CRLF', '\ufeffreg.io/a: reg.io/b\r\nreg.io/c: reg.io/d\r\n'],
    ['js-yaml unsafe tags', 'reg.io/a: !!js/function "function () { return 1 }"\nreg.io/b: !!js/regexp /x/\n'],
    [
      'binary, set, omap, pairs, timestamp',
      'reg.io/a: !!binary aGVsbG8=\nreg.io/b: !!set {x, y}\nreg.io/c: !!omap [{a: b}]\nreg.io/d: !!pairs [{a: b}]\nreg.io/e: 2001-01-01\n',
    ],
    ['tagged root', '!!set {reg.io/a, reg.io/b}\n'],
    ['complex keys', '? [a, b]\n: reg.io/x\n? {a: b}\n: reg.io/y\n'],
    ['prototype keys', '__proto__: reg.io/x\nconstructor: reg.io/y\nreg.io: {__proto__: {username: u}, constructor: 1}\n'],
    ['several documents', '---\nreg.io/a: reg.io/b\n---\nreg.io/c: reg.io/d\n'],
    ['directives', '%YAML 1.2\n%TAG ! tag:evil,2000:\n---\nreg.io/a: !x reg.io/b\n'],
    ['env expansion edge cases', `reg.io: {username: "\${", password: "\${A B}"}\nr2.io: {username: "$$", password: "\${${'A'.repeat(100_000)}}"}\n`],
    ['an unquoted password read as an alias', `reg.io: {username: u, password: *${SECRET_MARK}"x"}\n`],
    ['an unquoted password read as a tag', `reg.io:\n  username: u\n  password: !${SECRET_MARK} x\n`],
    ['an unquoted password read as a verbatim tag', `reg.io:\n  username: u\n  password: !<${SECRET_MARK}> x\n`],
    ['a list at the top', '- reg.io/a\n- reg.io/b\n'],
    ['a scalar at the top', 'just words\n'],
    ['only a comment', '# nothing\n'],
  ]
}

interface Outcome {
  ms: number
  error?: unknown
}

function timed(fn: () => unknown): Outcome {
  const start = performance.now()
  try {
    fn()
    return {ms: performance.now() - start}
  } catch (error) {
    return {ms: performance.now() - start, error}
  }
}

const DOCKER_NAME = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/
const TAG = /^[\w][\w.-]{0,127}$/
const DIGEST = /^sha(?:256:[a-f0-9]{64}|512:[a-f0-9]{128})$/

function checkConfigError(error: unknown, what: string): void {
  assert.ok(
    FerryError.is(error) && error instanceof ConfigError,
    `${what}: threw ${(error as Error)?.name}: ${(error as Error)?.message?.slice(0, 300)}\n${(error as Error)?.stack?.slice(0, 1000)}`,
  )
  assert.ok(CONFIG_CODES.has(error.code), `${what}: code ${error.code}`)
  assert.ok(!error.message.includes('\n') && !error.message.includes('\r'), `${what}: message of several lines: ${JSON.stringify(error.message.slice(0, 500))}`)
  assert.ok(error.message.length < 2000, `${what}: message of ${error.message.length} characters`)
  assert.ok(!error.message.includes(SECRET_MARK), `${what}: a password value is quoted in ${JSON.stringify(error.message.slice(0, 300))}`)
}

function checkRules(text: string, what: string): void {
  let parsed: ParsedRules | undefined
  const outcome = timed(() => {
    parsed = parseRules(text, 'rule.yaml', {})
  })
  assert.ok(outcome.ms < MAX_MS, `${what}: parseRules took ${outcome.ms.toFixed(0)} ms`)
  if (outcome.error !== undefined) return checkConfigError(outcome.error, `${what} (parseRules)`)
  for (const error of parsed!.errors) checkConfigError(error, `${what} (a rule error)`)
  for (const rule of parsed!.rules) {
    for (const side of [rule.source, rule.destination] as const) {
      assert.ok(DOCKER_NAME.test(side.repository), `${what}: a rule names repository ${JSON.stringify(side.repository.slice(0, 200))}`)
      assert.ok(side.repository.length <= 255, `${what}: repository of ${side.repository.length} characters`)
      assert.match(side.registry, /^[a-z0-9.-]+(?::\d{1,5})?$|^\[[0-9a-f:]+\](?::\d{1,5})?$/i, `${what}: registry ${JSON.stringify(side.registry)}`)
      if (side.digest !== undefined) assert.match(side.digest, DIGEST, what)
    }
    for (const tag of [...(rule.source.tags ?? []), ...(rule.destination.tag ? [rule.destination.tag] : [])]) {
      assert.match(tag, TAG, `${what}: tag ${JSON.stringify(tag)}`)
    }
  }
}

function checkSecurity(text: string, what: string, file = '/nonexistent-dir/security.yaml'): void {
  let store: ReturnType<typeof parseSecurity> | undefined
  const outcome = timed(() => {
    store = parseSecurity(text, file, {PW: `${SECRET_MARK}-env`, HOME: '/root'})
  })
  assert.ok(outcome.ms < MAX_MS, `${what}: parseSecurity took ${outcome.ms.toFixed(0)} ms`)
  if (outcome.error !== undefined) return checkConfigError(outcome.error, `${what} (parseSecurity)`)
  for (const [registry, repository] of [
    ['reg.io', 'a/b'],
    ['docker.io', 'library/x'],
    ['localhost:5000', ''],
  ]) {
    const access = store!.lookup(registry!, repository!)
    assert.equal(typeof access.insecure, 'boolean', what)
    assert.equal(typeof access.skipTlsVerify, 'boolean', what)
  }
  for (const secret of store!.secrets()) assert.equal(typeof secret, 'string')
}

describe(`fuzz: rule and security parsers (seed ${SEED}, ${RUNS} random files each)`, () => {
  for (const [name, text] of nastyFiles()) {
    test(`known nasty: ${name}`, () => {
      checkRules(text, name)
      checkSecurity(text, name)
    })
  }

  test('js-yaml: an alias bomb parses to shared references at once, not to copies', () => {
    const start = performance.now()
    const doc = yaml.load(billionLaughs(16, 16, true)) as Record<string, unknown[]>
    assert.ok(performance.now() - start < 2000) // an expansion would take far longer than this
    // 16^16 leaves if expanded; js-yaml keeps one object per anchor.
    assert.equal(doc.p![0], doc.o)
  })

  test('random YAML documents', () => {
    const g = new Gen(SEED)
    for (let i = 0; i < RUNS; i++) {
      const rulesDoc: Record<string, unknown> = {}
      for (let k = g.int(6); k > 0; k--) put(rulesDoc, reference(g), g.chance(0.7) ? reference(g) : value(g, 4, false))
      const rulesText = g.chance(0.8) ? dump(g, g.chance(0.9) ? rulesDoc : value(g, 5, false)) : mutate(g, dump(g, rulesDoc))
      checkRules(rulesText, `random rules #${i} (seed ${SEED})`)

      const securityDoc: Record<string, unknown> = {}
      for (let k = g.int(5); k > 0; k--) put(securityDoc, g.chance(0.7) ? g.pick(REF_PARTS) + (g.chance(0.3) ? '/ns' : '') : reference(g), securityEntry(g))
      const securityText = g.chance(0.8) ? dump(g, securityDoc) : mutate(g, dump(g, securityDoc))
      checkSecurity(securityText, `random security #${i} (seed ${SEED})`)
    }
  })

  test('mutated real files', () => {
    const g = new Gen(SEED ^ 0x5eed)
    for (let i = 0; i < RUNS; i++) {
      checkRules(mutate(g, g.pick(RULE_SEEDS)), `mutated rules #${i} (seed ${SEED})`)
      checkSecurity(mutate(g, g.pick(SECURITY_SEEDS)), `mutated security #${i} (seed ${SEED})`)
    }
  })

  test('random bytes', () => {
    const g = new Gen(SEED ^ 0xb17e5)
    for (let i = 0; i < RUNS / 4; i++) {
      const text = Buffer.from(Array.from({length: g.int(400)}, () => g.int(256))).toString(g.chance(0.5) ? 'utf8' : 'latin1')
      checkRules(text, `random bytes #${i} (seed ${SEED})`)
      checkSecurity(text, `random bytes #${i} (seed ${SEED})`)
    }
  })
})

describe('fuzz: the CLI with hostile files', () => {
  let dir: string
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-fuzz-'))
  })
  after(async () => {
    await rm(dir, {recursive: true, force: true})
  })

  const fine = 'reg.invalid/a: reg.invalid/b\n'
  const cases: Array<{name: string; rules: string; security?: string; exit: 1 | 2}> = [
    {name: 'billion laughs rule file', rules: billionLaughs(12, 12, true), exit: 1},
    {name: 'deeply nested rule file', rules: 'reg.io/a: ' + '['.repeat(50_000) + ']'.repeat(50_000) + '\n', exit: 2},
    {name: 'NUL bytes in the rule file', rules: 'reg.io/a\u0000: reg.io/b\n', exit: 2},
    {name: 'path traversal rules only', rules: '../../etc/passwd: reg.io/x\nreg.io/%2e%2e/etc: reg.io/y\n', exit: 1},
    {name: '1 MB key', rules: `${'k'.repeat(MB)}: reg.io/x\n`, exit: 1},
    {name: 'security caFile is /dev/zero', rules: fine, security: 'reg.invalid: {caFile: /dev/zero}\n', exit: 2},
    {name: 'security alias bomb', rules: fine, security: billionLaughs(12, 12, false), exit: 2},
    {
      name: 'security with a secret in an unknown field',
      rules: fine,
      security: `reg.invalid:\n  usr: u\n  ${SECRET_MARK}-field: ${SECRET_MARK}-value\n`,
      exit: 2,
    },
    {name: 'a password that YAML reads as an alias', rules: fine, security: `reg.invalid:\n  username: u\n  password: *${SECRET_MARK}\n`, exit: 2},
    {name: 'a list as the security file', rules: fine, security: `- ${SECRET_MARK}\n`, exit: 2},
  ]
  for (const c of cases) {
    test(`${c.name}: exit ${c.exit}, no stack trace${c.exit === 2 ? ', one line on stderr' : ''}`, {timeout: 60_000}, async () => {
      const ruleFile = path.join(dir, `${c.name.replace(/\W+/g, '-')}.yaml`)
      await writeFile(ruleFile, c.rules)
      const args = ['transfer', '--ruleFile', ruleFile, '--retry', '0', '--quiet']
      if (c.security !== undefined) {
        const securityFile = path.join(dir, `${c.name.replace(/\W+/g, '-')}.security.yaml`)
        await writeFile(securityFile, c.security)
        args.push('--securityFile', securityFile)
      }
      const started = Date.now()
      const run = await runCli(args, {timeoutMs: 30_000})
      const all = run.stdout + run.stderr
      assert.equal(run.code, c.exit, all.slice(0, 2000))
      assert.ok(!all.includes('    at '), `stack trace:\n${all.slice(0, 2000)}`)
      assert.ok(!all.includes(SECRET_MARK), 'a secret value reached the output')
      assert.ok(Date.now() - started < 20_000, `took ${Date.now() - started} ms`)
      if (c.exit === 2) {
        assert.equal(run.stdout, '')
        assert.equal(lines(run.stderr).length, 1, run.stderr.slice(0, 2000))
        assert.match(run.stderr, /^Error: /)
      } else {
        assert.match(lines(run.stdout).at(-1) ?? '', /^Finished, \d+ transfer jobs failed, [1-9]\d* jobs generate failed/)
        for (const line of lines(run.stdout)) assert.ok(line.length < 2000, `an output line of ${line.length} characters`)
      }
    })
  }
})
