// `ferry config k8s` against a fake Kubernetes API (real @kubernetes/client-node, real HTTP), and
// the pure collection and rule-file writing.
import assert from 'node:assert/strict'
import {mkdtemp, readFile, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {after, before, describe, it} from 'node:test'

import {collectImages, imagesOf, k8sRuleFile, parseTarget, type Workload} from '../../src/config/formats/k8s.js'
import {listWorkloads, loadKubeConfig} from '../../src/config/formats/k8s-cluster.js'
import {parseRules} from '../../src/config/rules.js'
import {startFakeK8s, type FakeK8s, type FakeObject} from '../fakes/k8s-api.js'
import {runCli} from '../e2e/support.js'

const DIGEST = `sha256:${'a'.repeat(64)}`
const template = (...images: string[]) => ({template: {spec: {containers: images.map((image, i) => ({name: `c${i}`, image}))}}})

const OBJECTS: FakeObject[] = [
  {
    kind: 'Pod',
    namespace: 'default',
    name: 'web-1',
    spec: {
      containers: [{name: 'web', image: 'nginx'}],
      initContainers: [{name: 'init', image: 'busybox:1.36'}],
      ephemeralContainers: [{name: 'debug', image: 'registry.example.com/tools/debug:2'}],
    },
  },
  {kind: 'Pod', namespace: 'default', name: 'web-2', spec: {containers: [{name: 'web', image: 'docker.io/library/nginx:latest'}]}},
  {kind: 'Deployment', namespace: 'default', name: 'web', spec: template('nginx:latest')},
  {kind: 'StatefulSet', namespace: 'data', name: 'db', spec: template('postgres:16.2')},
  {kind: 'DaemonSet', namespace: 'kube-system', name: 'agent', spec: template(`quay.io/agent/node@${DIGEST}`)},
  {kind: 'Job', namespace: 'data', name: 'migrate', spec: template('postgres:16.2', 'registry.example.com/team/migrate:1.0@' + DIGEST)},
  {kind: 'CronJob', namespace: 'data', name: 'backup', spec: {jobTemplate: {spec: template('registry.example.com/team/backup:3')}}},
]

describe('config k8s: collecting images', () => {
  it('reads containers, init and ephemeral containers of each kind', () => {
    const w = (o: FakeObject): Workload => ({kind: o.kind, namespace: o.namespace, name: o.name, object: {spec: o.spec}})
    assert.deepEqual(imagesOf(w(OBJECTS[0]!)), ['busybox:1.36', 'nginx', 'registry.example.com/tools/debug:2'])
    assert.deepEqual(imagesOf(w(OBJECTS[6]!)), ['registry.example.com/team/backup:3'])
    assert.deepEqual(imagesOf({kind: 'Deployment', namespace: 'x', name: 'broken', object: {spec: {}}}), [])
  })

  it('de-duplicates by what the kubelet pulls, keeps digests, names bad images', () => {
    const workloads: Workload[] = OBJECTS.map((o) => ({kind: o.kind, namespace: o.namespace, name: o.name, object: {spec: o.spec}}))
    workloads.push({kind: 'Pod', namespace: 'x', name: 'bad', object: {spec: {containers: [{image: 'Not/Valid'}]}}})
    const collected = collectImages(workloads)
    assert.deepEqual(
      collected.images.map((i) => i.reference),
      [
        'docker.io/library/busybox:1.36',
        'docker.io/library/nginx:latest',
        'docker.io/library/postgres:16.2',
        `quay.io/agent/node@${DIGEST}`,
        'registry.example.com/team/backup:3',
        `registry.example.com/team/migrate:1.0@${DIGEST}`,
        'registry.example.com/tools/debug:2',
      ],
    )
    assert.deepEqual(collected.images[1]!.usedBy, ['default/Deployment/web', 'default/Pod/web-1', 'default/Pod/web-2'])
    assert.equal(collected.problems.length, 1)
    assert.match(collected.problems[0]!, /^x\/Pod\/bad: image "Not\/Valid" left out: /)
  })

  it('writes a rule file that parses into one rule per image, case-6 destinations', () => {
    const workloads: Workload[] = OBJECTS.map((o) => ({kind: o.kind, namespace: o.namespace, name: o.name, object: {spec: o.spec}}))
    const text = k8sRuleFile(collectImages(workloads), parseTarget('reg.io/mirror'), ['header'])
    const {rules, errors} = parseRules(text, 'k8s.yaml', {})
    assert.deepEqual(
      errors.map((e) => e.message),
      [],
    )
    const pairs = rules.map((r) => [r.text, r.destination])
    assert.deepEqual(pairs, [
      ['docker.io/library/busybox:1.36', {registry: 'reg.io', repository: 'mirror/busybox', tag: '1.36'}],
      ['docker.io/library/nginx:latest', {registry: 'reg.io', repository: 'mirror/nginx', tag: 'latest'}],
      ['docker.io/library/postgres:16.2', {registry: 'reg.io', repository: 'mirror/postgres', tag: '16.2'}],
      [`quay.io/agent/node@${DIGEST}`, {registry: 'reg.io', repository: 'mirror/node', digest: DIGEST}],
      ['registry.example.com/team/backup:3', {registry: 'reg.io', repository: 'mirror/backup', tag: '3'}],
      [`registry.example.com/team/migrate:1.0@${DIGEST}`, {registry: 'reg.io', repository: 'mirror/migrate', tag: '1.0', digest: DIGEST}],
      ['registry.example.com/tools/debug:2', {registry: 'reg.io', repository: 'mirror/debug', tag: '2'}],
    ])
  })

  it('checks the target', () => {
    assert.deepEqual(parseTarget('reg.io:5000/a/b/'), {registry: 'reg.io:5000', namespace: 'a/b'})
    assert.throws(() => parseTarget('mirror'), /not a host name/)
    assert.throws(() => parseTarget('reg.io/Upper'), /uppercase/)
  })
})

describe('config k8s: against a fake API server', () => {
  let fake: FakeK8s
  let dir: string
  let kubeconfig: string

  before(async () => {
    fake = await startFakeK8s(OBJECTS, {pageSize: 1})
    dir = await mkdtemp(join(tmpdir(), 'ferry-k8s-'))
    kubeconfig = await fake.writeKubeconfig(join(dir, 'kubeconfig'))
  })
  after(async () => {
    await fake?.stop()
    await rm(dir, {recursive: true, force: true})
  })

  it('lists every kind in all namespaces, page by page', async () => {
    const seen: string[] = []
    for await (const w of listWorkloads(loadKubeConfig({kubeconfig}))) seen.push(`${w.namespace}/${w.kind}/${w.name}`)
    assert.deepEqual(seen.sort(), OBJECTS.map((o) => `${o.namespace}/${o.kind}/${o.name}`).sort())
    // Page size 1 on the server: two pods need a continue token.
    assert.ok(
      fake.requests.some((r) => r.startsWith('/api/v1/pods?') && r.includes('continue=1')),
      fake.requests.join('\n'),
    )
  })

  it('ferry config k8s -n writes the rule file of those namespaces (-o) and it parses', async () => {
    const out = join(dir, 'rules.yaml')
    const run = await runCli(['config', 'k8s', '--kubeconfig', kubeconfig, '-n', 'data,kube-system', '-t', 'reg.io/mirror', '-o', out])
    assert.equal(run.code, 0, run.stderr)
    assert.match(run.stderr, /^4 images from 4 workloads in namespaces data, kube-system written to /m)
    const text = await readFile(out, 'utf8')
    const {rules, errors} = parseRules(text, out, {})
    assert.deepEqual(errors, [])
    assert.deepEqual(
      rules.map((r) => r.text),
      [
        'docker.io/library/postgres:16.2',
        `quay.io/agent/node@${DIGEST}`,
        'registry.example.com/team/backup:3',
        `registry.example.com/team/migrate:1.0@${DIGEST}`,
      ],
    )
    assert.match(text, /# data\/Job\/migrate, data\/StatefulSet\/db\ndocker\.io\/library\/postgres:16\.2: reg\.io\/mirror\/postgres:16\.2\n/)
    assert.ok(fake.requests.some((r) => r.startsWith('/apis/batch/v1/namespaces/data/cronjobs')))
  })

  it('writes to standard output via $KUBECONFIG; a refused list is one line, exit 1', async () => {
    const run = await runCli(['config', 'k8s', '-t', 'reg.io/m'], {env: {KUBECONFIG: kubeconfig}})
    assert.equal(run.code, 0, run.stderr)
    assert.equal(parseRules(run.stdout, 'stdout', {}).rules.length, 7)

    const forbidden = await startFakeK8s(OBJECTS, {forbidden: ['daemonsets']})
    try {
      const file = await forbidden.writeKubeconfig(join(dir, 'kubeconfig-forbidden'))
      const refused = await runCli(['config', 'k8s', '--kubeconfig', file, '-t', 'reg.io/m'])
      assert.equal(refused.code, 1)
      assert.equal(refused.stderr.trim(), 'Error: listing daemonsets in all namespaces: HTTP 403: forbidden (the account needs list on this kind)')
    } finally {
      await forbidden.stop()
    }
  })

  it('a wrong token or a missing kubeconfig says so', async () => {
    const bad = join(dir, 'kubeconfig-bad')
    await (await import('node:fs/promises')).writeFile(bad, (await readFile(kubeconfig, 'utf8')).replace(fake.token, 'wrong'))
    const run = await runCli(['config', 'k8s', '--kubeconfig', bad, '-t', 'reg.io/m'])
    assert.equal(run.code, 1)
    assert.match(run.stderr, /^Error: listing pods in all namespaces: HTTP 401: not authorized/)
    const none = await runCli(['config', 'k8s', '-t', 'reg.io/m'], {env: {KUBECONFIG: '', HOME: dir, KUBERNETES_SERVICE_HOST: ''}})
    assert.equal(none.code, 2)
    assert.match(none.stderr, /^Error: no kubeconfig: give --kubeconfig, set KUBECONFIG, or run inside a cluster/)
  })
})
