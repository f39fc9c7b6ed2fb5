import assert from 'node:assert/strict'
import {readFileSync} from 'node:fs'
import path from 'node:path'
import {test} from 'node:test'
import {fileURLToPath} from 'node:url'

import yaml from 'js-yaml'

import {parseRules} from '../../src/config/rules.js'
import {parseSecurity} from '../../src/config/security.js'
import {ConfigError} from '../../src/errors.js'
import {jobIdOf, parseQueueAddress} from '../../src/fleet/connection.js'
import {toQueuedJob} from '../../src/fleet/job-data.js'

test('parseQueueAddress: redis URLs and queue names, one-line errors otherwise', () => {
  const ok: Array<[string, string | undefined, string]> = [
    ['redis://127.0.0.1:6379/0', undefined, 'ferry'],
    ['redis://redis:6379', 'mirror-1', 'mirror-1'],
    ['rediss://user:pass@redis.example.com:6380/2', 'a.b_c', 'a.b_c'],
  ]
  for (const [url, name, expected] of ok) assert.deepEqual(parseQueueAddress(url, name), {url, name: expected}, url)
  const bad: Array<[string, string | undefined, RegExp]> = [
    ['127.0.0.1:6379', undefined, /redis:\/\//],
    ['not a url', undefined, /is not a URL/],
    ['http://redis:6379', undefined, /redis:\/\/ or rediss:\/\//],
    ['redis://redis:6379/zero', undefined, /database must be a number/],
    ['redis://redis:6379/0', 'has:colon', /--queueName/],
    ['redis://redis:6379/0', '', /--queueName/],
  ]
  for (const [url, name, message] of bad) {
    assert.throws(
      () => parseQueueAddress(url, name),
      (error: unknown) => error instanceof ConfigError && message.test(error.message),
      url,
    )
  }
  // A mistyped URL that still holds the Redis password never echoes it.
  assert.throws(
    () => parseQueueAddress('redis//:s3cret-pass@redis:6379'),
    (error: unknown) => error instanceof ConfigError && !error.message.includes('s3cret-pass'),
  )
})

test('jobIdOf: the same digest and destinations give the same id; any change gives another', () => {
  const digest = `sha256:${'a'.repeat(64)}`
  const id = jobIdOf(digest, ['r.example/x:1'])
  assert.match(id, /^[0-9a-f]{64}$/)
  assert.equal(jobIdOf(digest, ['r.example/x:1']), id)
  const others = [
    jobIdOf(`sha256:${'b'.repeat(64)}`, ['r.example/x:1']),
    jobIdOf(digest, ['r.example/x:2']),
    jobIdOf(digest, ['r.example/x:1', 'other.example/x:1']),
    jobIdOf(digest, []),
  ]
  assert.equal(new Set([id, ...others]).size, 5)
})

test('toQueuedJob: references, rule text and platforms only', () => {
  const job = {
    source: {registry: 's.example', repository: 'a', tag: '1', digest: 'sha256:x'},
    destination: {registry: 'd.example', repository: 'a', tag: '1'},
    rule: 's.example/a: d.example/a',
    credentials: {password: 'never'},
  }
  const queued = toQueuedJob(job)
  assert.deepEqual(queued, {source: job.source, destination: job.destination, rule: job.rule})
  assert.ok(!JSON.stringify(queued).includes('never'))
})

// deploy/fleet cannot be applied here (no cluster): checked against the code instead.
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')
type Doc = Record<string, any>
const load = (file: string) => yaml.loadAll(readFileSync(path.join(ROOT, 'deploy', file), 'utf8')) as Doc[]
const shared = [...load('configmap.yaml'), ...load('secret.yaml')]
const fleet = ['fleet/redis.yaml', 'fleet/worker.yaml', 'fleet/enqueue-job.yaml'].flatMap(load)
const manifest = JSON.parse(readFileSync(path.join(ROOT, 'oclif.manifest.json'), 'utf8')) as {commands: Record<string, {flags: Record<string, unknown>}>}

function podFlags(pod: Doc): Map<string, string> {
  const container = pod.containers[0]
  const [command, ...args] = container.args as string[]
  const known = manifest.commands[command!]
  assert.ok(known, `ferry has a "${command}" command`)
  const flags = new Map<string, string>()
  for (const arg of args) {
    const [, name, value] = /^--([^=]+)=(.*)$/.exec(arg)!
    assert.ok(name! in known.flags, `ferry ${command} has --${name}`)
    flags.set(name!, value!)
  }
  // Every file a flag names is mounted from deploy/'s ConfigMap or Secret, and parses.
  for (const flag of ['ruleFile', 'securityFile']) {
    const file = flags.get(flag)
    if (!file) continue
    const mount = (container.volumeMounts as Doc[]).find((m) => file.startsWith(`${m.mountPath}/`))!
    const volume = (pod.volumes as Doc[]).find((v) => v.name === mount.name)!
    const key = file.slice(mount.mountPath.length + 1)
    const source = volume.configMap
      ? shared.find((doc) => doc.kind === 'ConfigMap' && doc.metadata.name === volume.configMap.name)!.data
      : shared.find((doc) => doc.kind === 'Secret' && doc.metadata.name === volume.secret.secretName)!.stringData
    assert.ok(key in source, `${file} is in deploy/`)
    if (flag === 'ruleFile') assert.deepEqual(parseRules(source[key], file, {}).errors, [])
    else parseSecurity(source[key], file, {})
  }
  return flags
}

test('deploy/fleet: a Redis Service, workers and an enqueue Job on the same queue', () => {
  const service = fleet.find((doc) => doc.kind === 'Service')!
  const redis = fleet.find((doc) => doc.kind === 'Deployment' && doc.metadata.name === 'ferry-redis')!
  assert.deepEqual(service.spec.selector, redis.spec.selector.matchLabels)
  const worker = fleet.find((doc) => doc.kind === 'Deployment' && doc.metadata.name === 'ferry-worker')!
  const job = fleet.find((doc) => doc.kind === 'Job')!
  const workerFlags = podFlags(worker.spec.template.spec)
  const jobFlags = podFlags(job.spec.template.spec)
  assert.ok(worker.spec.replicas >= 2)
  for (const flags of [workerFlags, jobFlags]) {
    const url = new URL(parseQueueAddress(flags.get('queue')!).url)
    assert.equal(url.hostname, service.metadata.name)
    assert.equal(Number(url.port), service.spec.ports[0].port)
  }
  assert.ok(workerFlags.has('securityFile') && workerFlags.has('qps'))
  assert.equal(job.spec.template.spec.restartPolicy, 'Never')
})
