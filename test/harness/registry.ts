// Throwaway CNCF Distribution (docker-registry 2.8) instances for tests.
import {spawn, type ChildProcess} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import {mkdir, mkdtemp, rm, writeFile} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'
import yaml from 'js-yaml'
import {onProcessExit, removeDirOnExit} from './cleanup.js'
import {freePort} from './free-port.js'
import {writeHtpasswd} from './htpasswd.js'
import {rawRequest} from './http.js'
import {RequestLog} from './request-log.js'
import {makeServerCertificates} from './tls.js'
import {DEFAULT_USERS, startTokenServer, type TokenServer, type TokenServerOptions} from './token-server.js'

export type AuthMode = 'none' | 'htpasswd' | 'token'

export interface StartRegistryOptions {
  auth?: AuthMode
  tls?: boolean
  /** Accounts for htpasswd/token modes; default {ferry: 'ferry-secret'}. */
  users?: Record<string, string>
  /** Token-server tweaks (anonymousPull, expiresIn, grant) for auth 'token'. */
  token?: Omit<TokenServerOptions, 'users' | 'dir'>
  /** Last word on the generated config.yml (e.g. readonly maintenance mode). */
  configure?: (config: Record<string, any>) => void
  /** How long to wait for GET /v2/ to answer; default 10 s. */
  readyTimeoutMs?: number
  /** A fixed port (the demo's well-known ports); random when absent. */
  port?: number
  /** DELETE of manifests and blobs (REGISTRY_STORAGE_DELETE_ENABLED); default true. False: 405 UNSUPPORTED. */
  deletes?: boolean
}

export interface TestRegistry {
  /** `127.0.0.1:PORT`, the registry part of an image reference. */
  host: string
  /** `http(s)://127.0.0.1:PORT` */
  url: string
  tls: boolean
  auth: AuthMode
  /** CA that signed the server certificate (TLS only). */
  caFile?: string
  caPem?: string
  /** Directory containing only ca.crt, for skopeo --cert-dir (TLS only). */
  certDir?: string
  /** First account of `users` (auth modes only). */
  username?: string
  password?: string
  users: Record<string, string>
  tokenServer?: TokenServer
  /** Requests that reached the registry, from its access log. */
  requestLog: RequestLog
  /** Temp dir with config.yml and data/ (the storage root). */
  dir: string
  storageDir: string
  /** Registry stderr so far (log.level warn), for diagnosing failures. */
  logs(): string
  stop(): Promise<void>
}

const REGISTRY_BIN = process.env.FERRY_TEST_REGISTRY_BIN ?? 'docker-registry'
const MAX_LOG = 64 * 1024
const PORT_ATTEMPTS = 5

export async function startRegistry(options: StartRegistryOptions = {}): Promise<TestRegistry> {
  const auth = options.auth ?? 'none'
  const tls = options.tls ?? false
  const users = options.users ?? {...DEFAULT_USERS}
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-registry-'))
  const forgetDir = removeDirOnExit(dir)
  const storageDir = path.join(dir, 'data')
  await mkdir(storageDir)

  let tokenServer: TokenServer | undefined
  try {
    const config: Record<string, any> = {
      version: 0.1,
      // warn, not info: info logs several lines per request. Requests are
      // still visible through the access log (stdout), which ignores level.
      log: {level: 'warn', formatter: 'text', accesslog: {disabled: false}},
      storage: {
        filesystem: {rootdirectory: storageDir},
        delete: {enabled: options.deletes ?? true},
        // No blobdescriptor cache: every answer then reflects what is on
        // disk, so tests that delete or race blobs see storage, not a cache,
        // and a restart never changes behaviour. Speed is moot at test sizes.
      },
      // A fixed secret silences the "No HTTP secret provided" warning.
      http: {addr: '', secret: randomBytes(16).toString('hex')},
      health: {storagedriver: {enabled: false}},
    }

    let caFile: string | undefined
    let caPem: string | undefined
    let certDir: string | undefined
    if (tls) {
      const certs = await makeServerCertificates(dir)
      ;({caFile, caPem, certDir} = certs)
      config.http.tls = {certificate: certs.certFile, key: certs.keyFile}
    }

    if (auth === 'htpasswd') {
      // 2.8 accepts htpasswd over plain HTTP without complaint, although
      // its docs say it needs TLS; both combinations are testable.
      const file = path.join(dir, 'htpasswd')
      await writeHtpasswd(file, users)
      config.auth = {htpasswd: {realm: 'ferry-test', path: file}}
    } else if (auth === 'token') {
      tokenServer = await startTokenServer({...options.token, users, dir: path.join(dir, 'token')})
      config.auth = {
        token: {
          realm: tokenServer.realm,
          service: tokenServer.service,
          issuer: tokenServer.issuer,
          rootcertbundle: tokenServer.certFile,
        },
      }
    }
    options.configure?.(config)

    const configFile = path.join(dir, 'config.yml')
    const [username, password] = auth === 'none' ? [] : (Object.entries(users)[0] ?? [])
    for (let attempt = 1; ; attempt++) {
      const port = options.port ?? (await freePort())
      const host = `127.0.0.1:${port}`
      const url = `${tls ? 'https' : 'http'}://${host}`
      config.http.addr = host
      await writeFile(configFile, yaml.dump(config))
      const requestLog = new RequestLog({url, caPem})
      const proc = spawnRegistry(configFile, requestLog)
      const ready = await waitReady(proc, url, caPem, options.readyTimeoutMs ?? 10_000)
      if (ready === 'ready') {
        requestLog.clear()
        const server = tokenServer
        return {
          host,
          url,
          tls,
          auth,
          caFile,
          caPem,
          certDir,
          username,
          password,
          users,
          tokenServer: server,
          requestLog,
          dir,
          storageDir,
          logs: proc.logs,
          stop: async () => {
            await proc.stop()
            await server?.stop()
            forgetDir()
            await rm(dir, {recursive: true, force: true})
          },
        }
      }
      await proc.stop()
      if (ready === 'port-taken' && attempt < PORT_ATTEMPTS && options.port === undefined) continue
      throw new Error(
        `docker-registry on ${host} ${ready === 'timeout' ? 'did not answer GET /v2/ in time' : 'exited'}; ` + `config ${configFile}; stderr:\n${proc.logs()}`,
      )
    }
  } catch (error) {
    await tokenServer?.stop()
    forgetDir()
    await rm(dir, {recursive: true, force: true})
    throw error
  }
}

interface RegistryProcess {
  child: ChildProcess
  exited: Promise<void>
  logs(): string
  stop(): Promise<void>
}

function spawnRegistry(configFile: string, requestLog: RequestLog): RegistryProcess {
  const child = spawn(REGISTRY_BIN, ['serve', configFile], {stdio: ['ignore', 'pipe', 'pipe']})
  let stderr = ''
  child.stderr?.on('data', (c: Buffer) => {
    stderr = (stderr + c.toString('utf8')).slice(-MAX_LOG)
  })
  child.stdout?.on('data', (c: Buffer) => requestLog.write(c))
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => resolve())
    child.once('error', (error) => {
      stderr += `\nspawn ${REGISTRY_BIN}: ${error.message}`
      resolve()
    })
  })
  // A test that never calls stop() must not keep node alive; the exit hook
  // and the watchdog below still end the registry.
  child.unref()
  ;(child.stdout as unknown as {unref?: () => void} | null)?.unref?.()
  ;(child.stderr as unknown as {unref?: () => void} | null)?.unref?.()

  const watchdog = child.pid === undefined ? undefined : spawnWatchdog(child.pid)
  const forget = onProcessExit(() => {
    child.kill('SIGKILL')
  })

  return {
    child,
    exited,
    logs: () => stderr,
    stop: async () => {
      forget()
      if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
        child.kill('SIGTERM')
        const done = await Promise.race([exited.then(() => true), sleep(3000).then(() => false)])
        if (!done) child.kill('SIGKILL')
        await exited
      }
      // Kill the shell first so it cannot act on a pid that may be reused,
      // then close the pipe so its `cat` sees EOF and exits too.
      watchdog?.kill('SIGKILL')
      watchdog?.stdin?.destroy()
    },
  }
}

/**
 * 'exit' handlers do not run when node itself is SIGKILLed (e.g. by a CI
 * timeout). This shell waits for EOF on a pipe only we hold open; the kernel
 * closes it when we die, however we die, and the shell then kills the registry.
 */
function spawnWatchdog(pid: number): ChildProcess {
  const watchdog = spawn('sh', ['-c', 'cat >/dev/null; kill -KILL "$0" 2>/dev/null', String(pid)], {
    stdio: ['pipe', 'ignore', 'ignore'],
  })
  watchdog.unref()
  ;(watchdog.stdin as unknown as {unref?: () => void} | null)?.unref?.()
  watchdog.on('error', () => {})
  return watchdog
}

async function waitReady(
  proc: RegistryProcess,
  url: string,
  caPem: string | undefined,
  timeoutMs: number,
): Promise<'ready' | 'exited' | 'port-taken' | 'timeout'> {
  let exited = false
  void proc.exited.then(() => {
    exited = true
  })
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (exited) return /address already in use/i.test(proc.logs()) ? 'port-taken' : 'exited'
    try {
      const res = await rawRequest({url, caPem}, 'GET', '/v2/', {timeoutMs: 1000})
      // 401 is "up, wants credentials"; anything else from /v2/ is not ours.
      if (res.status === 200 || res.status === 401) return 'ready'
    } catch {
      // Not listening yet.
    }
    await sleep(25)
  }
  return exited ? 'exited' : 'timeout'
}
