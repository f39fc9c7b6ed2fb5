/**
 * Lists a cluster's workloads with @kubernetes/client-node: a kubeconfig file, $KUBECONFIG,
 * ~/.kube/config or the in-cluster service account, page by page.
 */
import {AppsV1Api, BatchV1Api, CoreV1Api, KubeConfig} from '@kubernetes/client-node'

import {ConfigError, FerryError} from '../../errors.js'
import type {Workload, WorkloadKind} from './k8s.js'

export interface ClusterOptions {
  kubeconfig?: string
  context?: string
  /** Empty or absent: every namespace. */
  namespaces?: string[]
}

const PAGE = 500

type ListPage = {items: unknown[]; metadata?: {_continue?: string}}
type Lister = (request: {namespace?: string; limit: number; _continue?: string}) => Promise<ListPage>

export function loadKubeConfig(options: ClusterOptions, env: NodeJS.ProcessEnv = process.env): KubeConfig {
  const config = new KubeConfig()
  try {
    if (options.kubeconfig) config.loadFromFile(options.kubeconfig)
    else config.loadFromDefault()
  } catch (error) {
    throw new ConfigError(`cannot load kubeconfig: ${(error as Error).message.split('\n')[0]}`, {file: options.kubeconfig ?? env.KUBECONFIG})
  }
  if (options.context) {
    if (!config.getContextObject(options.context))
      throw new ConfigError(`kubeconfig has no context ${JSON.stringify(options.context)}`, {file: options.kubeconfig})
    config.setCurrentContext(options.context)
  }
  const cluster = config.getCurrentCluster()
  // client-node falls back to http://localhost:8080 when it finds nothing at all.
  if (
    !cluster ||
    (!options.kubeconfig && !env.KUBECONFIG && !env.KUBERNETES_SERVICE_HOST && cluster.name === 'cluster' && cluster.server === 'http://localhost:8080')
  ) {
    throw new ConfigError('no kubeconfig: give --kubeconfig, set KUBECONFIG, or run inside a cluster')
  }
  return config
}

export async function* listWorkloads(config: KubeConfig, options: ClusterOptions = {}): AsyncGenerator<Workload> {
  const core = config.makeApiClient(CoreV1Api)
  const apps = config.makeApiClient(AppsV1Api)
  const batch = config.makeApiClient(BatchV1Api)
  const listers: Record<WorkloadKind, {all: Lister; namespaced: Lister}> = {
    Pod: {all: (r) => core.listPodForAllNamespaces(r), namespaced: (r) => core.listNamespacedPod(r as {namespace: string})},
    Deployment: {all: (r) => apps.listDeploymentForAllNamespaces(r), namespaced: (r) => apps.listNamespacedDeployment(r as {namespace: string})},
    StatefulSet: {all: (r) => apps.listStatefulSetForAllNamespaces(r), namespaced: (r) => apps.listNamespacedStatefulSet(r as {namespace: string})},
    DaemonSet: {all: (r) => apps.listDaemonSetForAllNamespaces(r), namespaced: (r) => apps.listNamespacedDaemonSet(r as {namespace: string})},
    Job: {all: (r) => batch.listJobForAllNamespaces(r), namespaced: (r) => batch.listNamespacedJob(r as {namespace: string})},
    CronJob: {all: (r) => batch.listCronJobForAllNamespaces(r), namespaced: (r) => batch.listNamespacedCronJob(r as {namespace: string})},
  }
  const namespaces = options.namespaces?.length ? options.namespaces : [undefined]
  for (const [kind, lister] of Object.entries(listers) as [WorkloadKind, {all: Lister; namespaced: Lister}][]) {
    for (const namespace of namespaces) {
      let next: string | undefined
      do {
        const request = {limit: PAGE, ...(namespace ? {namespace} : {}), ...(next ? {_continue: next} : {})}
        let page: ListPage
        try {
          page = await (namespace ? lister.namespaced : lister.all)(request)
        } catch (error) {
          throw listError(kind, namespace, error)
        }
        for (const item of page.items) {
          const metadata = (item as {metadata?: {name?: string; namespace?: string}}).metadata
          yield {kind, namespace: metadata?.namespace ?? namespace ?? '', name: metadata?.name ?? '?', object: item}
        }
        next = page.metadata?._continue || undefined
      } while (next)
    }
  }
}

function listError(kind: WorkloadKind, namespace: string | undefined, error: unknown): FerryError {
  const where = `listing ${kind.toLowerCase()}s ${namespace ? `in namespace ${namespace}` : 'in all namespaces'}`
  const code = (error as {code?: unknown}).code
  if (typeof code === 'number') {
    const hint =
      code === 401
        ? ': not authorized (check the kubeconfig user)'
        : code === 403
          ? ': forbidden (the account needs list on this kind)'
          : code === 404
            ? ': not found (no such namespace or API)'
            : ''
    return new FerryError('K8S_LIST_FAILED', `${where}: HTTP ${code}${hint}`)
  }
  const cause = (error as {cause?: {code?: string}; code?: string}).cause?.code ?? (typeof code === 'string' ? code : undefined)
  return new FerryError('K8S_LIST_FAILED', `${where}: ${cause ?? (error as Error).message?.split('\n')[0] ?? String(error)}`)
}
