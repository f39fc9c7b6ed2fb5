// A fake Kubernetes API server answering the list calls `ferry config k8s` makes: pods,
// deployments, statefulsets, daemonsets, jobs and cronjobs, across all namespaces or in one, with
// limit/continue paging as the real server does. Requests need the bearer token of the kubeconfig
// it writes, so a kubeconfig that is not used fails the test.
import http from 'node:http'
import type {AddressInfo} from 'node:net'
import {writeFile} from 'node:fs/promises'

export interface FakeObject {
  kind: 'Pod' | 'Deployment' | 'StatefulSet' | 'DaemonSet' | 'Job' | 'CronJob'
  namespace: string
  name: string
  /** The object's spec, as the real API would return it. */
  spec: Record<string, unknown>
}

export interface FakeK8s {
  url: string
  token: string
  /** Paths (with query) in order of arrival. */
  requests: string[]
  /** Writes a kubeconfig pointing at this server into `file`. */
  writeKubeconfig(file: string): Promise<string>
  stop(): Promise<void>
}

const ROUTES: Record<string, {kind: FakeObject['kind']; group: string; apiVersion: string}> = {
  pods: {kind: 'Pod', group: '/api/v1', apiVersion: 'v1'},
  deployments: {kind: 'Deployment', group: '/apis/apps/v1', apiVersion: 'apps/v1'},
  statefulsets: {kind: 'StatefulSet', group: '/apis/apps/v1', apiVersion: 'apps/v1'},
  daemonsets: {kind: 'DaemonSet', group: '/apis/apps/v1', apiVersion: 'apps/v1'},
  jobs: {kind: 'Job', group: '/apis/batch/v1', apiVersion: 'batch/v1'},
  cronjobs: {kind: 'CronJob', group: '/apis/batch/v1', apiVersion: 'batch/v1'},
}

export async function startFakeK8s(objects: FakeObject[], options: {pageSize?: number; forbidden?: string[]} = {}): Promise<FakeK8s> {
  const token = `fake-token-${Math.random().toString(36).slice(2)}`
  const requests: string[] = []
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://fake')
    requests.push(`${url.pathname}${url.search}`)
    const send = (status: number, body: unknown) => {
      res.writeHead(status, {'content-type': 'application/json'})
      res.end(JSON.stringify(body))
    }
    if (req.headers.authorization !== `Bearer ${token}`) {
      send(401, {kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'Unauthorized', code: 401})
      return
    }
    const match = /^(\/api\/v1|\/apis\/(?:apps|batch)\/v1)(?:\/namespaces\/([^/]+))?\/([a-z]+)$/.exec(url.pathname)
    const route = match ? ROUTES[match[3]!] : undefined
    if (!match || !route || route.group !== match[1]) {
      send(404, {kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'NotFound', code: 404})
      return
    }
    if (options.forbidden?.includes(match[3]!)) {
      send(403, {kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'Forbidden', code: 403})
      return
    }
    const namespace = match[2]
    const all = objects.filter((o) => o.kind === route.kind && (!namespace || o.namespace === namespace))
    const limit = Number(url.searchParams.get('limit') ?? '0')
    const size = Math.min(limit > 0 ? limit : all.length, options.pageSize ?? Number.POSITIVE_INFINITY)
    const start = Number(url.searchParams.get('continue') ?? '0')
    const page = all.slice(start, start + size)
    const next = start + size < all.length ? String(start + size) : undefined
    send(200, {
      kind: `${route.kind}List`,
      apiVersion: route.apiVersion,
      metadata: {resourceVersion: '1', ...(next ? {continue: next} : {})},
      items: page.map((o) => ({metadata: {name: o.name, namespace: o.namespace, uid: `${o.namespace}-${o.name}`}, spec: o.spec})),
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return {
    url,
    token,
    requests,
    async writeKubeconfig(file) {
      await writeFile(
        file,
        [
          'apiVersion: v1',
          'kind: Config',
          'clusters:',
          // client-node refuses plain http unless TLS verification is off, as for a real http API server.
          `- name: fake\n  cluster:\n    server: ${url}\n    insecure-skip-tls-verify: true`,
          'users:',
          `- name: fake-user\n  user:\n    token: ${token}`,
          'contexts:',
          '- name: fake\n  context:\n    cluster: fake\n    user: fake-user',
          'current-context: fake',
          '',
        ].join('\n'),
      )
      return file
    },
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}
