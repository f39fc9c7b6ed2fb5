// deploy/ and the Dockerfile cannot be applied or built here (no cluster, no docker), so they are
// checked against the code instead: every flag they pass exists, every ConfigMap and Secret key
// they mount is there and parses with ferry's own parsers, and the probes hit the listener.
import assert from 'node:assert/strict'
import {readFileSync} from 'node:fs'
import path from 'node:path'
import {test} from 'node:test'
import {fileURLToPath} from 'node:url'

import yaml from 'js-yaml'

import {parseRules} from '../../src/config/rules.js'
import {parseSchedule} from '../../src/config/schedule.js'
import {parseSecurity} from '../../src/config/security.js'
import {parseListenAddress} from '../../src/serve/listener.js'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')
type Doc = Record<string, any>
const docs: Doc[] = ['configmap.yaml', 'secret.yaml', 'cronjob.yaml', 'deployment.yaml'].flatMap(
  (file) => yaml.loadAll(readFileSync(path.join(ROOT, 'deploy', file), 'utf8')) as Doc[],
)
const manifest = JSON.parse(readFileSync(path.join(ROOT, 'oclif.manifest.json'), 'utf8')) as {commands: Record<string, {flags: Record<string, unknown>}>}
const find = (kind: string, name?: string) => {
  const found = docs.find((doc) => doc.kind === kind && (name === undefined || doc.metadata.name === name))
  assert.ok(found, `deploy/ has a ${kind}${name ? ` ${name}` : ''}`)
  return found
}
const configMap = find('ConfigMap', 'ferry-rules')
const secret = find('Secret', 'ferry-credentials')

/** The file a container path names, looked up in the volumes the pod mounts. */
function mountedFile(pod: Doc, container: Doc, file: string): string {
  const mount = (container.volumeMounts as Doc[]).find((m) => file.startsWith(`${m.mountPath}/`))
  assert.ok(mount, `${file} is under a mounted volume`)
  const volume = (pod.volumes as Doc[]).find((v) => v.name === mount.name)!
  const key = file.slice(mount.mountPath.length + 1)
  if (volume.configMap) {
    assert.equal(volume.configMap.name, configMap.metadata.name)
    assert.ok(key in configMap.data, `ConfigMap key ${key}`)
    return configMap.data[key]
  }
  assert.equal(volume.secret?.secretName, secret.metadata.name, `${file} comes from the Secret`)
  assert.ok((volume.secret.items as Doc[]).some((item) => item.path === key) && key in secret.stringData, `Secret key ${key}`)
  return secret.stringData[key]
}

function checkContainer(pod: Doc, container: Doc): Map<string, string> {
  const [command, ...args] = container.args as string[]
  const known = manifest.commands[command!]
  assert.ok(known, `ferry has a "${command}" command`)
  const flags = new Map<string, string>()
  for (const arg of args) {
    const [, name, value] = /^--([^=]+)(?:=(.*))?$/.exec(arg)!
    assert.ok(name! in known.flags, `ferry ${command} has --${name}`)
    flags.set(name!, value ?? '')
  }
  for (const variable of container.env ?? []) {
    const ref = variable.valueFrom?.secretKeyRef
    if (ref) assert.ok(ref.name === secret.metadata.name && ref.key in secret.stringData, `env ${variable.name} from the Secret`)
  }
  for (const flag of ['ruleFile', 'securityFile', 'config']) {
    if (!flags.has(flag)) continue
    const file = flags.get(flag)!
    const text = mountedFile(pod, container, file)
    if (flag === 'ruleFile') assert.deepEqual(parseRules(text, file, {}).errors, [])
    if (flag === 'securityFile') parseSecurity(text, file, {})
    if (flag === 'config') {
      for (const job of parseSchedule(text, file)) {
        const ruleFile = job.files.ruleFile
        assert.ok(ruleFile, `${job.name}: a ruleFile`)
        assert.deepEqual(parseRules(mountedFile(pod, container, ruleFile), ruleFile, {}).errors, [])
        if (job.files.securityFile) parseSecurity(mountedFile(pod, container, job.files.securityFile), job.files.securityFile, {})
      }
    }
  }
  return flags
}

test('deploy/cronjob.yaml: a one-shot transfer with rules from the ConfigMap and credentials from the Secret', () => {
  const cronJob = find('CronJob')
  assert.equal(cronJob.spec.concurrencyPolicy, 'Forbid')
  const pod = cronJob.spec.jobTemplate.spec.template.spec
  assert.equal(pod.restartPolicy, 'Never')
  const flags = checkContainer(pod, pod.containers[0])
  assert.ok(flags.has('ruleFile') && flags.has('securityFile'))
  assert.ok(!flags.has('interval') && !flags.has('schedule') && !flags.has('listen'), 'one-shot: Kubernetes schedules it')
})

test('deploy/deployment.yaml: ferry schedule with a state volume, a Service, and liveness on /healthz', () => {
  const deployment = find('Deployment', 'ferry')
  assert.equal(deployment.spec.replicas, 1)
  const pod = deployment.spec.template.spec
  const container = pod.containers[0]
  const flags = checkContainer(pod, container)
  const {port} = parseListenAddress(flags.get('listen')!)
  assert.equal(container.ports[0].containerPort, port)
  assert.equal(container.livenessProbe.httpGet.path, '/healthz')
  assert.equal(container.livenessProbe.httpGet.port, container.ports[0].name)
  assert.ok(
    container.env.some((e: Doc) => e.name === 'FERRY_EVENT_TOKEN'),
    'the event endpoints require a token',
  )
  const stateDir = path.dirname(flags.get('state-file')!)
  const stateMount = (container.volumeMounts as Doc[]).find((m) => m.mountPath === stateDir)!
  const claim = (pod.volumes as Doc[]).find((v) => v.name === stateMount.name)!.persistentVolumeClaim.claimName
  find('PersistentVolumeClaim', claim)
  const grace = flags.get('grace-period')!
  assert.ok(pod.terminationGracePeriodSeconds > Number.parseInt(grace, 10), "Kubernetes waits longer than ferry's grace period")
  const service = find('Service', 'ferry')
  assert.deepEqual(service.spec.selector, deployment.spec.selector.matchLabels)
  assert.equal(service.spec.ports[0].targetPort, container.ports[0].name)
})

// Node 20 reached end of life in April 2026: the image is built on a supported LTS line.
test('Dockerfile: multi-stage on a supported Node LTS (node:22-slim or node:24-slim), running bin/run.js as a non-root user', () => {
  const text = readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8')
  const stages = [...text.matchAll(/^FROM (\S+)/gm)].map((m) => m[1])
  assert.ok(stages.length >= 2 && stages.every((image) => /^node:(22|24)-slim$/.test(image!)), stages.join(', '))
  assert.match(text, /^USER node$/m)
  assert.match(text, /^ENTRYPOINT \["node", "\/app\/bin\/run\.js"\]$/m)
  assert.match(text, /npm run build/)
})
