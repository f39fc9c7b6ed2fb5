/**
 * Docker's config.json (`$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`): `auths` with a
 * base64 `auth` (or username and password), `credHelpers` per registry and a `credsStore` for the
 * rest, each run as `docker-credential-NAME get`. ferry uses it for a registry that no security
 * entry gives credentials, as docker, skopeo and image-syncer users expect.
 */
import {execFileSync} from 'node:child_process'
import {readFileSync} from 'node:fs'
import {homedir} from 'node:os'
import {join} from 'node:path'
import {ConfigError, FerryError} from '../../errors.js'
import {DOCKER_HUB, normalizeRegistry, parseRegistryHost, quote} from '../../reference.js'
import {fallbackStore, type CredentialStore, type RegistryAccess} from '../security.js'
import {isPlainMap, kindOf, loadYaml, scanKeys} from '../yaml.js'

export interface Login {
  username: string
  password: string
  /** `identitytoken` (or a helper's `<token>` answer): an OAuth2 refresh token, used instead of the password. */
  identityToken?: string
}

export interface DockerConfig {
  file: string
  /** Per registry host (Docker Hub's many names folded to docker.io). */
  auths: Map<string, Login>
  /** What docker sends a helper as the server URL, per host, as the file wrote it. */
  serverUrls: Map<string, string>
  credHelpers: Map<string, string>
  credsStore?: string
}

/** Where docker looks: $DOCKER_CONFIG/config.json, else ~/.docker/config.json. */
export function dockerConfigPath(env: NodeJS.ProcessEnv = process.env): string {
  const dir = env.DOCKER_CONFIG?.trim() || join(env.HOME?.trim() || homedir(), '.docker')
  return join(dir, 'config.json')
}

/** The config docker would read, or undefined when there is none. */
export function loadDockerConfig(env: NodeJS.ProcessEnv = process.env): DockerConfig | undefined {
  const file = dockerConfigPath(env)
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined
    throw new ConfigError(`cannot read docker config (${code ?? 'unreadable'}); fix it or point DOCKER_CONFIG elsewhere`, {file})
  }
  return parseDockerConfig(text, file)
}

/** Docker writes registry keys as hosts or URLs (`https://index.docker.io/v1/`). */
export function registryOfKey(key: string): string {
  const host = key
    .trim()
    .replace(/^[a-z][a-z0-9+.-]*:\/\//i, '')
    .replace(/\/.*$/s, '')
  return parseRegistryHost(host)
}

export function parseDockerConfig(text: string, file: string): DockerConfig {
  let doc: unknown
  try {
    // js-yaml reads JSON and its messages never quote the text (which holds secrets here).
    doc = loadYaml(text, file, {duplicates: 'error', what: 'key'}).value
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error
    throw new ConfigError(`is not valid JSON (${error.message.replace(/^.*?invalid YAML: /s, '')})`, {file, line: error.line})
  }
  const config: DockerConfig = {file, auths: new Map(), serverUrls: new Map(), credHelpers: new Map()}
  if (doc === null || doc === undefined) return config
  if (!isPlainMap(doc)) throw new ConfigError(`a docker config.json is a JSON object; this one is ${kindOf(doc)}`, {file})
  const keys = scanKeys(text)
  // Entry keys are registries, so the line of the first key with that name inside the section is its line.
  const lineOf = (section: string, key: string) => {
    const start = keys.find((k) => k.top && k.key === section)
    return keys.find((k) => !k.top && k.key === key && (!start || k.offset > start.offset))?.line ?? start?.line
  }
  const fail = (section: string, key: string, message: string): never => {
    throw new ConfigError(`${section} entry ${quote(key)}: ${message}`, {file, line: lineOf(section, key)})
  }
  const host = (section: string, key: string) => {
    try {
      return registryOfKey(key)
    } catch (error) {
      return fail(section, key, (error as Error).message)
    }
  }

  if (doc.auths !== undefined && doc.auths !== null) {
    if (!isPlainMap(doc.auths)) throw new ConfigError(`auths must be an object; found ${kindOf(doc.auths)}`, {file, line: lineOf('auths', '')})
    for (const [key, value] of Object.entries(doc.auths)) {
      const registry = host('auths', key)
      if (!config.serverUrls.has(registry)) config.serverUrls.set(registry, key)
      if (value === null || value === undefined) continue
      if (!isPlainMap(value)) fail('auths', key, `must be an object; found ${kindOf(value)}`)
      const entry = value as Record<string, unknown>
      const login = loginOf(entry, (message) => fail('auths', key, message))
      if (login) config.auths.set(registry, login)
    }
  }
  if (doc.credHelpers !== undefined && doc.credHelpers !== null) {
    if (!isPlainMap(doc.credHelpers)) throw new ConfigError(`credHelpers must be an object; found ${kindOf(doc.credHelpers)}`, {file})
    for (const [key, value] of Object.entries(doc.credHelpers)) {
      if (typeof value !== 'string' || !/^[A-Za-z0-9._-]+$/.test(value)) {
        fail('credHelpers', key, 'must name a helper (docker-credential-NAME is run), letters, digits, ".", "_" or "-"')
      }
      config.credHelpers.set(host('credHelpers', key), value as string)
    }
  }
  if (doc.credsStore !== undefined && doc.credsStore !== null && doc.credsStore !== '') {
    if (typeof doc.credsStore !== 'string' || !/^[A-Za-z0-9._-]+$/.test(doc.credsStore)) {
      throw new ConfigError('credsStore must name a helper (docker-credential-NAME is run)', {
        file,
        line: keys.find((k) => k.top && k.key === 'credsStore')?.line,
      })
    }
    config.credsStore = doc.credsStore
  }
  return config
}

function loginOf(entry: Record<string, unknown>, fail: (message: string) => never): Login | undefined {
  const text = (field: string) => {
    const value = entry[field]
    if (value === undefined || value === null || value === '') return undefined
    if (typeof value !== 'string') return fail(`${field} must be a string`)
    return value
  }
  const identityToken = text('identitytoken')
  const auth = text('auth')
  if (auth !== undefined) {
    const decoded = /^[A-Za-z0-9+/]+={0,2}$/.test(auth) ? Buffer.from(auth, 'base64').toString('utf8') : ''
    const colon = decoded.indexOf(':')
    if (colon <= 0) fail('auth is not base64 of username:password (its value is not shown)')
    return {username: decoded.slice(0, colon), password: decoded.slice(colon + 1), ...(identityToken ? {identityToken} : {})}
  }
  // `docker login` to an OAuth2 registry (Azure's `az acr login`) may store only the token.
  if (identityToken) return {username: text('username') ?? '<token>', password: '', identityToken}
  const username = text('username')
  const password = text('password')
  if (username && password) return {username, password}
  if (username || password) fail(`has a ${username ? 'username' : 'password'} but no ${username ? 'password' : 'username'}`)
  return undefined
}

export type HelperRunner = (helper: string, serverUrl: string) => {status: 'found'; login: Login} | {status: 'not-found'}

/**
 * Credentials from docker's config for one registry host, helpers run at most once per host (a
 * helper may prompt a keychain or a cloud API) and their answers cached for the run.
 */
export class DockerCredentials {
  private readonly cache = new Map<string, Login | undefined | FerryError>()

  constructor(
    readonly config: DockerConfig,
    private readonly runHelper: HelperRunner = runCredentialHelper,
  ) {}

  login(registry: string): Login | undefined {
    const host = normalizeRegistry(registry)
    if (!this.cache.has(host)) {
      try {
        this.cache.set(host, this.resolve(host))
      } catch (error) {
        this.cache.set(host, FerryError.is(error) ? error : new FerryError('AUTH_FAILED', String(error)))
      }
    }
    const cached = this.cache.get(host)
    if (cached instanceof FerryError) throw cached
    return cached
  }

  secrets(): string[] {
    const logins = [...this.config.auths.values(), ...[...this.cache.values()].filter((v): v is Login => !!v && !(v instanceof FerryError))]
    return logins.flatMap((login) => [
      ...(login.password ? [login.password, `${login.username}:${login.password}`] : []),
      ...(login.identityToken ? [login.identityToken] : []),
    ])
  }

  private resolve(host: string): Login | undefined {
    const helper = this.config.credHelpers.get(host)
    if (helper) return this.ask(helper, host)
    const inline = this.config.auths.get(host)
    if (inline) return inline
    if (this.config.credsStore) return this.ask(this.config.credsStore, host)
    return undefined
  }

  private ask(helper: string, host: string): Login | undefined {
    const serverUrl = this.config.serverUrls.get(host) ?? (host === DOCKER_HUB ? 'https://index.docker.io/v1/' : host)
    const answer = this.runHelper(helper, serverUrl)
    return answer.status === 'found' ? answer.login : undefined
  }
}

/** Runs `docker-credential-NAME get` with the server URL on stdin, as docker does. */
export function runCredentialHelper(helper: string, serverUrl: string): ReturnType<HelperRunner> {
  const command = `docker-credential-${helper}`
  let stdout: string
  try {
    stdout = execFileSync(command, ['get'], {input: serverUrl, encoding: 'utf8', timeout: 30_000, stdio: ['pipe', 'pipe', 'pipe'], maxBuffer: 1024 * 1024})
  } catch (error) {
    const failure = error as NodeJS.ErrnoException & {status?: number | null; stdout?: string; stderr?: string}
    if (failure.code === 'ENOENT') {
      throw new FerryError('AUTH_FAILED', `docker config names credential helper ${command} for ${serverUrl}, and it is not on PATH`)
    }
    // Docker's helpers say this (and exit 1) for a registry they hold nothing for: anonymous, as in docker.
    if (/credentials not found/i.test(`${failure.stdout ?? ''}${failure.stderr ?? ''}`)) return {status: 'not-found'}
    const why = failure.code === 'ETIMEDOUT' ? 'timed out after 30 s' : `exit code ${failure.status ?? failure.code ?? 'unknown'}`
    // Its output is not shown: a helper may print a secret on the way to failing.
    throw new FerryError('AUTH_FAILED', `${command} get failed for ${serverUrl} (${why}); run it by hand to see why`)
  }
  let answer: unknown
  try {
    answer = JSON.parse(stdout)
  } catch {
    throw new FerryError('AUTH_FAILED', `${command} get answered ${serverUrl} with something that is not JSON`)
  }
  const {Username, Secret} = (isPlainMap(answer) ? answer : {}) as {Username?: unknown; Secret?: unknown}
  if (typeof Secret !== 'string' || Secret === '') return {status: 'not-found'}
  // Docker's helper protocol: this username means the secret is an identity token, not a password.
  if (Username === '<token>') return {status: 'found', login: {username: '<token>', password: '', identityToken: Secret}}
  return {status: 'found', login: {username: typeof Username === 'string' ? Username : '', password: Secret}}
}

/**
 * The security file first; docker's credentials for a registry whose matching entry (if any) gives
 * no username. The entry's other settings (insecure, TLS) still apply.
 */
export function withDockerCredentials(primary: CredentialStore, docker: DockerCredentials): CredentialStore {
  return fallbackStore(primary, {
    lookup(registry: string): RegistryAccess {
      const login = docker.login(registry)
      return {insecure: false, skipTlsVerify: false, ...(login ? {...login, entry: 'docker config', writtenIn: docker.config.file} : {})}
    },
    secrets: () => docker.secrets(),
  })
}
