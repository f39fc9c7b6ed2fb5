// What a newcomer meets first on the command line (issue 21): help, a mistyped command or flag,
// shell completion, kebab-case flag names beside the camelCase ones, Go's `--flag=true|false` for
// every boolean, and the flags that did not fit their command.
import assert from 'node:assert/strict'
import {execFile} from 'node:child_process'
import {mkdtemp, readFile, rm} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {after, before, describe, test} from 'node:test'
import {promisify} from 'node:util'

import {pushImage, pushIndex, randomLayer, skopeoDigest, startRegistry, type PushedIndex, type TestRegistry} from '../harness/index.js'
import {lines, plainEntries, ROOT, ruleYaml, runCli, workDir} from './support.js'

interface ManifestFlag {
  name: string
  type: 'boolean' | 'option'
  aliases?: string[]
  description?: string
  multiple?: boolean
  exclusive?: string[]
}
type Manifest = {commands: Record<string, {flags: Record<string, ManifestFlag>; pluginName?: string}>}

async function manifest(): Promise<Manifest> {
  return JSON.parse(await readFile(path.join(ROOT, 'oclif.manifest.json'), 'utf8')) as Manifest
}

/** Names image-transfer, image-syncer and image-migrator users type: they stay primary as they are. */
const INHERITED = new Set(['securityFile', 'ruleFile', 'ccrToTcr', 'ccrRegion', 'tcrRegion', 'tcrName', 'secretFile', 'ccrTagNums', 'tag-exist-overridden'])

describe('cli surface: help, not found, completion', () => {
  test('ferry help, ferry help transfer, transfer -h and --help all show help', async () => {
    const top = await runCli(['help'])
    assert.equal(top.code, 0, top.stderr)
    assert.match(top.stdout, /^ {2}transfer +Copy images between registries/m)
    for (const args of [
      ['help', 'transfer'],
      ['transfer', '-h'],
      ['transfer', '--help'],
    ]) {
      const run = await runCli(args)
      assert.equal(run.code, 0, `${args.join(' ')}: ${run.stderr}`)
      assert.match(run.stdout, /\$ ferry transfer /, args.join(' '))
      assert.match(run.stdout, /--ruleFile=<value>/, args.join(' '))
      assert.match(run.stdout, /--dry-run/, args.join(' '))
    }
    const nested = await runCli(['help', 'config', 'k8s'])
    assert.equal(nested.code, 0, nested.stderr)
    assert.match(nested.stdout, /\$ ferry config k8s/)
  })

  test('a mistyped command: one line naming the nearest command, exit 127', async () => {
    const run = await runCli(['tranfser', '--ruleFile', 'x.yaml'])
    assert.equal(run.code, 127, run.stdout + run.stderr)
    assert.deepEqual(lines(run.stderr), ['Error: "tranfser" is not a ferry command; did you mean "ferry transfer"? ("ferry help" lists them)'])
    assert.equal(run.stdout, '')
  })

  test('a mistyped flag: at most three lines, naming the nearest flag, exit 2', async () => {
    const cases: Array<[string[], string]> = [
      [['transfer', '--ruleFle', 'rules.yaml'], '--ruleFile'],
      [['transfer', '--rule-file', 'rules.yaml'], '--ruleFile'],
      [['transfer', '--ruleFile', 'rules.yaml', '--dryrun'], '--dry-run'],
      [['migrate', '--from', 'registry', '--to', 'registry', '--fromRegsitry', 'a'], '--from-registry'],
      [['verify', '--ruleFile', 'rules.yaml', '--include-tag', 'v1'], '--include-tags'],
    ]
    for (const [args, nearest] of cases) {
      const run = await runCli(args)
      assert.equal(run.code, 2, `${args.join(' ')}: ${run.stdout}${run.stderr}`)
      const said = lines(run.stderr)
      assert.ok(said.length >= 1 && said.length <= 3, `${args.join(' ')}: ${run.stderr}`)
      assert.ok(said[0]!.includes(`did you mean ${nearest}?`), `${args.join(' ')}: ${run.stderr}`)
      assert.equal(run.stdout, '')
    }
    const far = await runCli(['transfer', '--ruleFile', 'rules.yaml', '--zzzzzzzz'])
    assert.equal(far.code, 2)
    assert.deepEqual(lines(far.stderr), ['Error: unknown flag --zzzzzzzz; "ferry transfer --help" lists every flag'])
  })

  test('shell completion: bash completes commands and flags; zsh and powershell scripts name them', async () => {
    const cache = await mkdtemp(path.join(os.tmpdir(), 'ferry-complete-'))
    try {
      const env = {XDG_CACHE_HOME: cache}
      for (const shell of ['bash', 'zsh', 'powershell']) {
        const setup = await runCli(['autocomplete', shell], {env})
        assert.equal(setup.code, 0, `${shell}: ${setup.stdout}${setup.stderr}`)
      }
      const script = await runCli(['autocomplete', 'script', 'bash'], {env})
      assert.equal(script.code, 0, script.stderr)
      const complete = (line: string) =>
        promisify(execFile)('bash', [
          '-c',
          `${script.stdout}\nCOMP_LINE='${line}'; COMP_POINT=${line.length}; read -ra COMP_WORDS <<< "$COMP_LINE"; COMP_CWORD=$(( \${#COMP_WORDS[@]} - 1 ))\n` +
            `$(complete -p ferry | sed -E 's/.*-F ([^ ]+).*/\\1/'); echo "\${COMPREPLY[@]}"`,
        ])
      assert.deepEqual((await complete('ferry tran')).stdout.trim().split(/\s+/), ['transfer'])
      assert.deepEqual((await complete('ferry transfer --dry')).stdout.trim().split(/\s+/), ['--dry-run'])

      const functions = path.join(cache, 'ferry', 'autocomplete', 'functions')
      const zsh = await runCli(['autocomplete', 'script', 'zsh'], {env})
      assert.match(zsh.stdout, /zsh_setup/)
      const zshFunction = await readFile(path.join(functions, 'zsh', '_ferry'), 'utf8')
      assert.match(zshFunction, /transfer/)
      assert.match(zshFunction, /--dry-run/)
      const ps = await runCli(['autocomplete', 'script', 'powershell'], {env})
      assert.match(ps.stdout, /ferry\.ps1/)
      const psFunction = await readFile(path.join(functions, 'powershell', 'ferry.ps1'), 'utf8')
      assert.match(psFunction, /"transfer"/)
      assert.match(psFunction, /dry-run/)
    } finally {
      await rm(cache, {recursive: true, force: true})
    }
  })
})

describe('cli surface: flag names', () => {
  test("every flag ferry added is kebab-case with its camelCase spelling as an alias; image-transfer's names stay", async () => {
    const {commands} = await manifest()
    const problems: string[] = []
    for (const [id, command] of Object.entries(commands)) {
      if (command.pluginName && command.pluginName !== 'ferry') continue
      for (const flag of Object.values(command.flags)) {
        if (INHERITED.has(flag.name)) continue
        if (/[A-Z]/.test(flag.name)) problems.push(`${id} --${flag.name} is camelCase`)
        const camel = flag.name.replace(/-([a-z])/g, (_, letter: string) => letter.toUpperCase())
        if (camel !== flag.name && !flag.aliases?.includes(camel)) problems.push(`${id} --${flag.name} has no alias --${camel}`)
      }
    }
    assert.deepEqual(problems, [])
  })

  test('Go-style --flag=true and --flag=false parse for every boolean flag of every command', async () => {
    const {commands} = await manifest()
    // Arguments that pass parsing and then stop at a cheap input error, before any request.
    const base: Record<string, string[]> = {
      transfer: ['--ruleFile', '/nonexistent/rules.yaml', '--qps', 'lots'],
      verify: ['--ruleFile', '/nonexistent/rules.yaml', '--qps', 'lots'],
      diff: ['--ruleFile', '/nonexistent/rules.yaml', '--lock-file', '/nonexistent/lock.yaml', '--qps', 'lots'],
      migrate: ['--from', 'registry', '--to', 'registry', '--qps', 'lots'],
      save: ['--ruleFile', '/nonexistent/rules.yaml', '--output', '/nonexistent/out', '--qps', 'lots'],
      backup: ['--source', 'registry.invalid', '--output', '/nonexistent/out', '--qps', 'lots'],
      load: ['/nonexistent/layout', '--registry', 'registry.invalid', '--qps', 'lots'],
      schedule: ['--config', '/nonexistent/schedule.yaml'],
      status: ['--queue', 'http://not-redis'],
      worker: ['--queue', 'http://not-redis'],
    }
    const parseErrors =
      /unknown flag|Nonexistent flag|Parsing --|expects a value|Unexpected argument|cannot also be provided|can only be specified once|is not a ferry command/
    let checked = 0
    // One process per command, spelling set (names, then aliases) and value: every boolean of the
    // command at once, so a spelling that does not parse fails the whole line (and names itself).
    for (const [id, command] of Object.entries(commands)) {
      const booleans = Object.values(command.flags).filter((flag) => flag.type === 'boolean')
      if (booleans.length === 0) continue
      assert.ok(base[id], `no base arguments for ${id} (booleans ${booleans.map((flag) => `--${flag.name}`).join(', ')})`)
      // Spelling k of each flag (its name, then its aliases), split where flags exclude each other.
      const spellings: string[][] = []
      for (let k = 0; booleans.some((flag) => k <= (flag.aliases?.length ?? 0)); k++) {
        const groups: {flags: ManifestFlag[]; names: string[]}[] = []
        for (const flag of booleans) {
          const name = k === 0 ? flag.name : flag.aliases?.[k - 1]
          if (name === undefined) continue
          const clashes = (other: ManifestFlag) => flag.exclusive?.includes(other.name) || other.exclusive?.includes(flag.name)
          let group = groups.find((each) => !each.flags.some(clashes))
          if (!group) groups.push((group = {flags: [], names: []}))
          group.flags.push(flag)
          group.names.push(name)
        }
        spellings.push(...groups.map((group) => group.names))
      }
      for (const names of spellings) {
        for (const value of ['true', 'false']) {
          // --ccrToTcr=true replaces --ruleFile; a secret file that is not there stops it.
          const ccr = names.includes('ccrToTcr') && value === 'true'
          const args = ccr ? ['--secretFile', '/nonexistent/secret.yaml', '--tcrName', 't'] : base[id]!
          const run = await runCli([id, ...args, ...names.map((name) => `--${name}=${value}`)])
          const said = `${id} ${names.map((name) => `--${name}=${value}`).join(' ')}: ${run.stdout}${run.stderr}`
          assert.equal(run.code, 2, said)
          assert.doesNotMatch(run.stdout + run.stderr, parseErrors, said)
          checked += names.length
        }
      }
    }
    assert.ok(checked >= 60, `only ${checked} boolean spellings checked`)
  })

  test('the flags that did not fit: verify takes no --limit-rate, save and backup no --chunk-size; descriptions say what they do', async () => {
    const {commands} = await manifest()
    assert.equal(commands.verify!.flags['limit-rate'], undefined)
    assert.equal(commands.save!.flags['chunk-size'], undefined)
    assert.equal(commands.backup!.flags['chunk-size'], undefined)
    assert.doesNotMatch(commands.verify!.flags['include-tags']!.description ?? '', /copy/)
    assert.match(commands.transfer!.flags.format!.description ?? '', /skopeo-sync/)
    assert.equal(commands.save!.flags.platform!.multiple, true)
    // --namespace: a registry path wherever a destination namespace is taken (image-syncer's meaning).
    for (const id of ['transfer', 'verify', 'load']) assert.ok(commands[id]!.flags.ns!.aliases?.includes('namespace'), id)
    assert.equal(commands['config:k8s']!.flags.namespace, undefined)
    assert.ok(commands['config:k8s']!.flags['k8s-namespace']!.aliases?.includes('namespace'))
    const run = await runCli(['verify', '--ruleFile', 'rules.yaml', '--limitRate', '1MiB'])
    assert.equal(run.code, 2)
    assert.match(run.stderr, /^Error: unknown flag --limitRate/)
  })
})

describe('cli surface: real copies', () => {
  let src: TestRegistry
  let dst: TestRegistry
  let work: Awaited<ReturnType<typeof workDir>>
  let security: string
  let multi: PushedIndex

  before(async () => {
    ;[src, dst, work] = await Promise.all([startRegistry(), startRegistry(), workDir()])
    security = await work.file('security.yaml', plainEntries(src, dst))
    for (const tag of ['1.0', '2.0', 'dev']) await pushImage(src, 'names/app', tag, {layers: [randomLayer(3000, `names:${tag}`)]})
    multi = await pushIndex(src, 'names/multi', '1.0', ['linux/amd64', 'linux/arm64', 'linux/arm/v7'])
  })
  after(async () => {
    await Promise.all([src?.stop(), dst?.stop(), work?.cleanup()])
  })

  test('kebab and camel spellings copy alike; Go-style booleans take effect', async () => {
    const ruleFile = await work.file('names.yaml', ruleYaml([[`${src.host}/names/app`, `${dst.host}/kebab/app`]]))
    const kebab = await runCli([
      'transfer',
      '--ruleFile',
      ruleFile,
      '--securityFile',
      security,
      '--include-tags',
      '^[0-9]',
      '--exclude-tags',
      '^2',
      '--chunk-size',
      '1000',
      '--limit-rate',
      '100MiB',
      '--dry-run=false',
      '--quiet=true',
    ])
    assert.equal(kebab.code, 0, kebab.stdout + kebab.stderr)
    assert.match(lines(kebab.stdout).at(-1) ?? '', /^Finished, 0 transfer jobs failed, 0 jobs generate failed \(1 copied, 0 skipped/)
    assert.ok(!kebab.stdout.includes('[1/'), 'no progress lines with --quiet=true')
    assert.ok(await skopeoDigest(dst, 'kebab/app:1.0'))
    assert.equal(await skopeoDigest(dst, 'kebab/app:2.0').catch(() => undefined), undefined)

    // The same by the camelCase names; --tag-exist-overridden=false keeps a moved tag where it is.
    const moved = await work.file('moved.yaml', ruleYaml([[`${src.host}/names/app:2.0`, `${dst.host}/kebab/app:1.0`]]))
    const camel = await runCli([
      'transfer',
      '--ruleFile',
      moved,
      '--securityFile',
      security,
      '--chunkSize',
      '1000',
      '--dryRun=0',
      '--tag-exist-overridden=false',
    ])
    assert.equal(camel.code, 0, camel.stdout + camel.stderr)
    assert.match(lines(camel.stdout).at(-1) ?? '', /\(0 copied, 1 skipped/)
    const again = await runCli(['transfer', '--ruleFile', moved, '--securityFile', security, '--includeTags', '.', '--tag-exist-overridden=true', '--quiet'])
    assert.equal(again.code, 0, again.stdout + again.stderr)
    assert.match(lines(again.stdout).at(-1) ?? '', /\(1 copied, 0 skipped/)
  })

  test('save --platform is repeatable: two platforms make a new index of just them', async () => {
    const layout = path.join(work.dir, 'two-platforms')
    const rules = await work.file('multi.yaml', `${src.host}/names/multi:1.0: ""\n`)
    const run = await runCli([
      'save',
      '--ruleFile',
      rules,
      '--securityFile',
      security,
      '--output',
      layout,
      '--platform',
      'linux/amd64',
      '--platform',
      'linux/arm64',
      '--quiet',
    ])
    assert.equal(run.code, 0, run.stdout + run.stderr)
    const [entry, ...others] = JSON.parse(await readFile(path.join(layout, 'index.json'), 'utf8')).manifests as Array<{digest: string}>
    assert.equal(others.length, 0)
    const index = JSON.parse(await readFile(path.join(layout, 'blobs', 'sha256', entry!.digest.slice(7)), 'utf8')) as {manifests: Array<{digest: string}>}
    const wanted = multi.children.filter((child) => child.platform.architecture !== 'arm').map((child) => child.digest)
    assert.deepEqual(index.manifests.map((child) => child.digest).sort(), wanted.sort())
  })
})
