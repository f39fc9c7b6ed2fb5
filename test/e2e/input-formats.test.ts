// Every input format through the CLI against real registries, checked with skopeo: image-syncer's
// --auth/--images pair and --config file, a plain image list, docker's config.json with a
// credential helper, and `ferry config k8s` feeding `ferry transfer`. The source needs a login
// (htpasswd), so each test also shows that the format's credentials reach the registry.
import assert from 'node:assert/strict'
import {chmod, mkdir} from 'node:fs/promises'
import path from 'node:path'
import {after, before, test} from 'node:test'

import {pushImage, randomLayer, skopeo, skopeoDigest, skopeoTags, startRegistry, type PushedImage, type TestRegistry} from '../harness/index.js'
import {startFakeK8s, type FakeK8s} from '../fakes/k8s-api.js'
import {runCli, workDir} from './support.js'

let source: TestRegistry
let destination: TestRegistry
let work: Awaited<ReturnType<typeof workDir>>
const pushed = new Map<string, PushedImage>()
// No developer's ~/.docker/config.json may leak into the runs that do not test it.
const noDocker = () => ({DOCKER_CONFIG: path.join(work.dir, 'no-docker')})

before(async () => {
  ;[source, destination] = await Promise.all([startRegistry({auth: 'htpasswd'}), startRegistry()])
  work = await workDir()
  for (const [repository, tags] of [
    ['team/app', ['v1.0.0', 'v1.1.0', 'v2.0.0', 'latest']],
    ['team/web', ['1.0', '2.0']],
    ['tools/cli', ['3']],
  ] as const) {
    for (const tag of tags) pushed.set(`${repository}:${tag}`, await pushImage(source, repository, tag, {layers: [randomLayer(512, `${repository}:${tag}`)]}))
  }
})

after(async () => {
  await Promise.all([source?.stop(), destination?.stop(), work?.cleanup()])
})

/** The destination has `reference` with the digest the source image was pushed with. */
async function assertCopied(reference: string, from: string): Promise<void> {
  assert.equal(await skopeoDigest(destination, reference), pushed.get(from)!.digest, `${reference} from ${from}`)
}

const pick = ({jobs, copied, failed, generateFailed}: Record<string, number>) => ({jobs, copied, failed, generateFailed})

function authJson(): string {
  return JSON.stringify({[source.host]: {username: source.username, password: source.password, insecure: true}, [destination.host]: {insecure: true}}, null, 2)
}

test('image-syncer --auth/--images (JSON): regex tag, renamed tags, a list of destinations; --proc and --retries', async () => {
  const auth = await work.file('auth.json', authJson())
  const images = await work.file(
    'images.json',
    JSON.stringify(
      {
        [`${source.host}/team/app:/^v1\\./`]: `${destination.host}/syncer/app`,
        [`${source.host}/team/web:1.0,2.0`]: `${destination.host}/syncer/web:one,two`,
        [`${source.host}/tools/cli:3`]: [`${destination.host}/syncer/cli`, `${destination.host}/syncer-copy/cli:three`],
      },
      null,
      2,
    ),
  )
  const run = await runCli(['transfer', '--auth', auth, '--images', images, '--proc', '2', '--retries', '1', '--json'], {env: noDocker()})
  assert.equal(run.code, 0, run.stderr + run.stdout)
  assert.deepEqual((await skopeoTags(destination, 'syncer/app')).sort(), ['v1.0.0', 'v1.1.0'])
  await assertCopied('syncer/app:v1.0.0', 'team/app:v1.0.0')
  await assertCopied('syncer/app:v1.1.0', 'team/app:v1.1.0')
  await assertCopied('syncer/web:one', 'team/web:1.0')
  await assertCopied('syncer/web:two', 'team/web:2.0')
  await assertCopied('syncer/cli:3', 'tools/cli:3')
  await assertCopied('syncer-copy/cli:three', 'tools/cli:3')
  assert.deepEqual(pick(JSON.parse(run.stdout).summary), {jobs: 6, copied: 6, failed: 0, generateFailed: 0})
})

test("image-syncer's --config file (YAML, auth: and images:) with --workers and --namespace defaults", async () => {
  const config = await work.file(
    'config.yaml',
    [
      'auth:',
      `  "${source.host}":`,
      `    username: ${source.username}`,
      `    password: "\${SRC_PASSWORD}"`,
      '    insecure: true',
      `  "http://${destination.host}": {}`,
      'images:',
      `  ${source.host}/team/web:2.0: ${destination.host}/config/web`,
      `  ${source.host}/tools/cli:3:`,
      '',
    ].join('\n'),
  )
  const run = await runCli(['transfer', '--config', config, '--workers', '3', '--registry', destination.host, '--namespace', 'defaults'], {
    env: {...noDocker(), SRC_PASSWORD: source.password},
  })
  assert.equal(run.code, 0, run.stderr)
  await assertCopied('config/web:2.0', 'team/web:2.0')
  await assertCopied('defaults/cli:3', 'tools/cli:3')
  assert.ok(!run.stderr.includes(source.password!), 'the password from the environment is not printed')
})

test('a plain image list, to --images and to --ruleFile, goes to --registry/--ns', async () => {
  const auth = await work.file('auth-list.json', authJson())
  const list = await work.file('images.list', `# the images to mirror\n${source.host}/team/app:v2.0.0\n\n${source.host}/team/web:1.0   # pinned\n`)
  for (const [flag, ns] of [
    ['--images', 'list-a'],
    ['--ruleFile', 'list-b'],
  ] as const) {
    const run = await runCli(['transfer', '--auth', auth, flag, list, '--registry', destination.host, '--ns', ns], {env: noDocker()})
    assert.equal(run.code, 0, run.stderr)
    await assertCopied(`${ns}/app:v2.0.0`, 'team/app:v2.0.0')
    await assertCopied(`${ns}/web:1.0`, 'team/web:1.0')
  }
  const bad = await work.file('bad.list', `${source.host}/team/app:v2.0.0\n${source.host}/Team/web:1.0\n`)
  const run = await runCli(['transfer', '--auth', auth, '--images', bad, '--registry', destination.host, '--ns', 'list-c'], {env: noDocker()})
  assert.equal(run.code, 1)
  assert.match(run.stderr, new RegExp(`${bad.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:2: image "${source.host}/Team/web:1.0": .*uppercase`))
})

test("docker's config.json: a credential helper logs in where the security file gives no username; its secret is never printed", async () => {
  const dockerDir = path.join(work.dir, 'docker')
  await mkdir(dockerDir, {recursive: true})
  await work.file('docker/config.json', JSON.stringify({credHelpers: {[source.host]: 'ferrytest'}}))
  await mkdir(path.join(work.dir, 'bin'), {recursive: true})
  const helper = await work.file(
    'bin/docker-credential-ferrytest',
    ['#!/bin/sh', 'read -r server', `printf '{"ServerURL":"%s","Username":"${source.username}","Secret":"${source.password}"}' "$server"`, ''].join('\n'),
  )
  await chmod(helper, 0o755)
  const security = await work.file('security-docker.yaml', `"http://${source.host}": {}\n"http://${destination.host}": {}\n`)
  const rules = await work.file(
    'rules-docker.yaml',
    `${source.host}/team/app:latest: ${destination.host}/docker/app\n${source.host}/team/nope:1: ${destination.host}/docker/nope\n`,
  )
  const env = {DOCKER_CONFIG: dockerDir, PATH: `${path.dirname(helper)}${path.delimiter}${process.env.PATH}`}
  const run = await runCli(['transfer', '--securityFile', security, '--ruleFile', rules, '--json'], {env})
  // One rule names a repository that does not exist, so its error text passes through the output too.
  assert.equal(run.code, 1, run.stderr)
  await assertCopied('docker/app:latest', 'team/app:latest')
  const output = run.stdout + run.stderr
  assert.ok(!output.includes(source.password!), 'the helper secret is not in the output')
  assert.ok(!output.includes(Buffer.from(`${source.username}:${source.password}`).toString('base64')))

  // Without the docker config the same run cannot log in.
  const anonymous = await runCli(['transfer', '--securityFile', security, '--ruleFile', rules], {env: noDocker()})
  assert.equal(anonymous.code, 1)
  assert.match(anonymous.stderr, /registry [^ ]+ refused anonymous access/)
})

test("skopeo sync's YAML file: ferry copies the same tags from it as skopeo sync does, with the login it holds", async () => {
  const lines = (selections: string[]) =>
    [
      `${source.host}:`,
      ...selections,
      '  credentials:',
      `    username: ${source.username}`,
      `    password: ${source.password}`,
      '  tls-verify: false',
      '',
    ].join('\n')
  const common = ['  images:', '    team/web: ["2.0"]', '    tools/cli: []', '  images-by-tag-regex:', "    team/app: '^v1\\.'"]
  const syncFile = await work.file('sync.yaml', lines(common))
  // Plain HTTP is the security file's to say; the login comes from the sync file.
  const security = await work.file('security-sync.yaml', `"http://${source.host}": {}\n"http://${destination.host}": {}\n`)
  const ferry = (file: string, ns: string, ...extra: string[]) =>
    runCli(['transfer', '--images', file, '--securityFile', security, '--registry', destination.host, '--ns', ns, ...extra], {env: noDocker()})
  const run = await ferry(syncFile, 'ferry-sync')
  assert.equal(run.code, 0, run.stderr + run.stdout)
  assert.ok(!(run.stdout + run.stderr).includes(source.password!), 'the password is not in the output')
  await skopeo(['sync', '--src', 'yaml', '--dest', 'docker', '--dest-tls-verify=false', syncFile, `${destination.host}/skopeo-sync`], 120_000)
  const expected: Record<string, string[]> = {web: ['2.0'], cli: ['3'], app: ['v1.0.0', 'v1.1.0']}
  for (const [name, tags] of Object.entries(expected)) {
    assert.deepEqual((await skopeoTags(destination, `skopeo-sync/${name}`)).sort(), tags, `skopeo sync: ${name}`)
    assert.deepEqual((await skopeoTags(destination, `ferry-sync/${name}`)).sort(), tags, `ferry: ${name}`)
  }
  await assertCopied('ferry-sync/cli:3', 'tools/cli:3')

  // images-by-semver came in skopeo 1.14 (Debian's is older), so ferry alone is checked for it.
  const semverFile = await work.file('sync-semver.yaml', lines(['  images-by-semver:', "    team/app: '>= 1.1.0, < 3'"]))
  const semver = await ferry(semverFile, 'ferry-semver', '--format', 'skopeo-sync')
  assert.equal(semver.code, 0, semver.stderr + semver.stdout)
  assert.deepEqual((await skopeoTags(destination, 'ferry-semver/app')).sort(), ['v1.1.0', 'v2.0.0'])
  await assertCopied('ferry-semver/app:v2.0.0', 'team/app:v2.0.0')
})

test('a file given to the wrong flag names its format and the flag to use; exit 2, one line', async () => {
  const security = await work.file('security-wrong.yaml', `"http://${destination.host}": {}\n${source.host}:\n  username: u\n  password: p\n`)
  const rules = await work.file('rules-wrong.yaml', `${source.host}/team/app:latest: ${destination.host}/wrong/app\n`)
  const cases: [string[], RegExp][] = [
    [['--images', security], /looks like an image-transfer security file \(or image-syncer auth file\); pass it to --securityFile \(or --auth\)$/],
    [
      ['--ruleFile', rules, '--auth', rules],
      /looks like a rule file \(image-transfer rule\.yaml or image-syncer images file\); pass it to --ruleFile or --images$/,
    ],
    [['--config', rules], /--config expects an image-syncer config file \(auth: and images:\), but this looks like a rule file/],
  ]
  for (const [args, want] of cases) {
    const run = await runCli(['transfer', ...args], {env: noDocker()})
    assert.equal(run.code, 2, run.stderr)
    assert.equal(run.stderr.trim().split('\n').length, 1, run.stderr)
    assert.match(run.stderr.trim(), want)
  }
  const both = await runCli(['transfer', '--ruleFile', rules, '--images', rules], {env: noDocker()})
  assert.notEqual(both.code, 0)
  assert.match(both.stderr, /--images|--ruleFile/)
})

test('ferry config k8s writes the rule file that transfer copies', async () => {
  const fake: FakeK8s = await startFakeK8s([
    {
      kind: 'Deployment',
      namespace: 'shop',
      name: 'web',
      spec: {
        template: {
          spec: {containers: [{name: 'web', image: `${source.host}/team/web:2.0`}], initContainers: [{name: 'cli', image: `${source.host}/tools/cli:3`}]},
        },
      },
    },
    {kind: 'Pod', namespace: 'shop', name: 'web-x1', spec: {containers: [{name: 'web', image: `${source.host}/team/web:2.0`}]}},
    {
      kind: 'CronJob',
      namespace: 'ops',
      name: 'report',
      spec: {jobTemplate: {spec: {template: {spec: {containers: [{name: 'r', image: `${source.host}/team/app@${pushed.get('team/app:v1.0.0')!.digest}`}]}}}}},
    },
    {kind: 'Pod', namespace: 'elsewhere', name: 'skip', spec: {containers: [{name: 'x', image: `${source.host}/team/app:v2.0.0`}]}},
  ])
  try {
    const kubeconfig = await fake.writeKubeconfig(path.join(work.dir, 'kubeconfig'))
    const rules = path.join(work.dir, 'k8s-rules.yaml')
    const generated = await runCli(['config', 'k8s', '--kubeconfig', kubeconfig, '-n', 'shop,ops', '-t', `${destination.host}/k8s`, '-o', rules])
    assert.equal(generated.code, 0, generated.stderr)
    const auth = await work.file('auth-k8s.json', authJson())
    const run = await runCli(['transfer', '--auth', auth, '--ruleFile', rules, '--json'], {env: noDocker()})
    assert.equal(run.code, 0, run.stderr)
    assert.deepEqual(pick(JSON.parse(run.stdout).summary), {jobs: 3, copied: 3, failed: 0, generateFailed: 0})
    await assertCopied('k8s/web:2.0', 'team/web:2.0')
    await assertCopied('k8s/cli:3', 'tools/cli:3')
    await assertCopied(`k8s/app@${pushed.get('team/app:v1.0.0')!.digest}`, 'team/app:v1.0.0')
    // The digest-pinned image is pushed by digest: no tag appears at the destination.
    const destinations = JSON.parse(run.stdout).jobs.map((r: {destination: string}) => r.destination.replace(`${destination.host}/`, ''))
    assert.deepEqual(destinations.sort(), [`k8s/app@${pushed.get('team/app:v1.0.0')!.digest}`, 'k8s/cli:3', 'k8s/web:2.0'])
  } finally {
    await fake.stop()
  }
})
