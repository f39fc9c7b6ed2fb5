/**
 * `${VAR}` / `$VAR` expansion for config values, as Huawei image-migrator's auth.json allows, so
 * secrets can live in the environment (CI variables) rather than in the file.
 */

export type Expansion = {ok: true; value: string} | {ok: false; variable?: string; problem: string}

const NAME = /[A-Za-z_][A-Za-z0-9_]*/y

/**
 * `$$` is a literal `$`. A `$` not followed by a name or `{` stays as written, so a password such as
 * `pa$5word` needs no escaping. A variable that is set but empty expands to the empty string; one
 * that is not set at all is an error, because silently sending an empty password hides the mistake.
 */
export function expandEnv(text: string, env: NodeJS.ProcessEnv): Expansion {
  if (!text.includes('$')) return {ok: true, value: text}
  let out = ''
  let i = 0
  while (i < text.length) {
    const dollar = text.indexOf('$', i)
    if (dollar < 0) {
      out += text.slice(i)
      break
    }
    out += text.slice(i, dollar)
    const next = text[dollar + 1]
    if (next === '$') {
      out += '$'
      i = dollar + 2
      continue
    }
    let name: string | undefined
    if (next === '{') {
      const close = text.indexOf('}', dollar + 2)
      if (close < 0) return {ok: false, problem: "has '${' without a closing '}'"}
      name = text.slice(dollar + 2, close)
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
        return {ok: false, problem: "has '${…}' around something that is not a variable name"}
      }
      i = close + 1
    } else {
      NAME.lastIndex = dollar + 1
      const match = NAME.exec(text)
      if (!match) {
        out += '$'
        i = dollar + 1
        continue
      }
      name = match[0]
      i = dollar + 1 + name.length
    }
    const value = env[name]
    if (value === undefined) {
      return {ok: false, variable: name, problem: `uses environment variable ${name}, which is not set; set it, or write $$ for a literal $`}
    }
    out += value
  }
  return {ok: true, value: out}
}

// Harbor's robot accounts are `robot$name` (system) or `robot$project+name` (project), and Harbor
// allows only lowercase letters, digits and . _ - in those names. Read as `$VAR`, such a username
// would need a variable named after the robot; nobody means that, so it is taken as written.
const HARBOR_ROBOT = /^robot\$[a-z0-9]+(?:[._-][a-z0-9]+)*(?:\+[a-z0-9]+(?:[._-][a-z0-9]+)*)?$/

/** A username: a whole Harbor robot name as written, anything else as expandEnv reads it. */
export function expandUsername(text: string, env: NodeJS.ProcessEnv): Expansion {
  return HARBOR_ROBOT.test(text) ? {ok: true, value: text} : expandEnv(text, env)
}
