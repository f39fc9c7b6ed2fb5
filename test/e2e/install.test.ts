// Installing ferry as README says, into temporary prefixes, from a copy of the checkout with no
// dist/ (as a fresh clone has): `npm install -g .` (a link; `prepare` builds), and `npm pack` then
// `npm install -g` of the tarball (a copy). Each installed `ferry` runs --version, transfer --help
// and one real copy between two local registries. Loopback only: the dependencies come from test/harness/npm-registry.ts (the checkout's
// package-lock.json and installed folders), with an empty npm cache and user config of its own.
import assert from 'node:assert/strict'
import {execFile} from 'node:child_process'
import {cp, mkdtemp, readdir, readFile, rm, symlink, writeFile} from 'node:fs/promises'
import {existsSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {after, before, describe, test} from 'node:test'
import {promisify} from 'node:util'
import * as tar from 'tar'
import {pushImage, randomLayer, skopeoDigest, startRegistry, type PushedImage, type TestRegistry} from '../harness/index.js'
import {startNpmRegistry, type NpmRegistry} from '../harness/npm-registry.js'
import {plainEntries, ROOT, ruleYaml} from './support.js'

const exec = promisify(execFile)

describe('install: npm pack, npm install -g, the installed ferry', () => {
  let tmp: string
  let checkout: string
  let tarball: string | undefined
  let npmRegistry: NpmRegistry
  let src: TestRegistry
  let dst: TestRegistry
  let image: PushedImage
  // npm and the installed ferry see no proxy, no user npmrc and no cache but their own.
  const env = (): NodeJS.ProcessEnv => {
    const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(npm_|https?_proxy$|no_proxy$|all_proxy$)/i.test(k)))
    return {...clean, npm_config_userconfig: path.join(tmp, 'npmrc'), npm_config_cache: path.join(tmp, 'cache'), npm_config_update_notifier: 'false'}
  }

  before(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'ferry-install-'))
    await writeFile(path.join(tmp, 'npmrc'), '')
    ;[npmRegistry, src, dst] = await Promise.all([startNpmRegistry(ROOT), startRegistry(), startRegistry()])
    image = await pushImage(src, 'team/app', '1.0', {layers: [randomLayer(3000, 'install:1')]})
    checkout = path.join(tmp, 'checkout')
    for (const entry of [
      'package.json',
      'package-lock.json',
      'tsconfig.json',
      'tsconfig.build.json',
      'oclif.manifest.json',
      'README.md',
      'bin',
      'scripts',
      'src',
    ]) {
      await cp(path.join(ROOT, entry), path.join(checkout, entry), {recursive: true})
    }
    await symlink(path.join(ROOT, 'node_modules'), path.join(checkout, 'node_modules'))
  })
  after(async () => {
    await Promise.all([npmRegistry?.stop(), src?.stop(), dst?.stop()])
    if (tmp) await rm(tmp, {recursive: true, force: true})
  })

  const npm = (args: string[], cwd: string) =>
    exec('npm', [...args, '--registry', npmRegistry.url, '--no-audit', '--no-fund'], {cwd, env: env(), timeout: 600_000, maxBuffer: 64 * 1024 * 1024})

  /** `ferry --version`, `ferry transfer --help` and a copy, with the prefix's bin first on PATH. */
  async function useInstalled(prefix: string, name: string): Promise<void> {
    const ferry = path.join(prefix, 'bin', 'ferry')
    const run = (args: string[]) =>
      exec(ferry, args, {cwd: tmp, env: {...env(), PATH: `${path.join(prefix, 'bin')}${path.delimiter}${process.env.PATH}`}, timeout: 120_000})
    assert.match((await run(['--version'])).stdout, /^ferry\/\d+\.\d+\.\d+ /)
    assert.match((await run(['transfer', '--help'])).stdout, /--ruleFile/)
    const ruleFile = path.join(tmp, `${name}-rules.yaml`)
    const securityFile = path.join(tmp, `${name}-security.yaml`)
    await writeFile(ruleFile, ruleYaml([[`${src.host}/team/app:1.0`, `${dst.host}/${name}/app`]]))
    await writeFile(securityFile, plainEntries(src, dst))
    await run(['transfer', '--ruleFile', ruleFile, '--securityFile', securityFile, '--retry', '0'])
    assert.equal(await skopeoDigest(dst, `${name}/app:1.0`), image.digest)
  }

  test('from a checkout: npm install -g . builds dist/ and links ferry', async () => {
    const prefix = path.join(tmp, 'linked')
    await npm(['install', '-g', '--prefix', prefix, '.'], checkout)
    assert.ok(existsSync(path.join(checkout, 'dist', 'commands', 'transfer.js')), 'prepare built dist/')
    await useInstalled(prefix, 'linked')
  })

  test('npm pack: the tarball holds bin/, dist/ and oclif.manifest.json, no sources or tests', async () => {
    // README's order: the checkout is built (here by the test above's `prepare`), then packed.
    // npm would run `prepare` (the whole tsc build) again; the test above already shows it builds.
    assert.ok(existsSync(path.join(checkout, 'dist', 'commands', 'transfer.js')), 'the checkout is built')
    const {stdout} = await npm(['pack', '--json', '--ignore-scripts', '--pack-destination', tmp], checkout)
    tarball = path.join(tmp, (JSON.parse(stdout) as {filename: string}[])[0]!.filename)
    const files: string[] = []
    await tar.list({file: tarball, onReadEntry: (entry) => void files.push(entry.path)})
    for (const want of [
      'package/bin/run.js',
      'package/dist/index.js',
      'package/dist/commands/transfer.js',
      'package/oclif.manifest.json',
      'package/package.json',
    ]) {
      assert.ok(files.includes(want), `${want} is in the tarball`)
    }
    assert.deepEqual(
      files.filter((f) => /^package\/(src|test|bench|node_modules)\//.test(f)),
      [],
    )
  })

  test('npm install -g of the tarball: a copy with its dependencies, and a working ferry', async () => {
    assert.ok(tarball, 'npm pack made the tarball')
    const prefix = path.join(tmp, 'copied')
    await npm(['install', '-g', '--prefix', prefix, tarball], tmp)
    const installed = path.join(prefix, 'lib', 'node_modules', 'ferry')
    assert.ok(existsSync(path.join(installed, 'dist', 'index.js')), 'a copy, not a link to the checkout')
    // Every dependency came from the loopback registry (npm's cache here starts empty).
    const declared = Object.keys((JSON.parse(await readFile(path.join(installed, 'package.json'), 'utf8')) as {dependencies: object}).dependencies)
    const asked = new Set(npmRegistry.requests.map((r) => decodeURIComponent(r.slice(1))))
    assert.deepEqual(
      declared.filter((name) => !asked.has(name)),
      [],
    )
    assert.ok((await readdir(path.join(installed, 'node_modules'))).includes('@oclif'))
    await useInstalled(prefix, 'copied')
  })
})
