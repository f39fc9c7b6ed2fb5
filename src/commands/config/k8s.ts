import {writeFile} from 'node:fs/promises'

import {Flags} from '@oclif/core'

import {collectImages, k8sRuleFile, parseTarget, type Workload} from '../../config/formats/k8s.js'
import {listWorkloads, loadKubeConfig} from '../../config/formats/k8s-cluster.js'
import {FerryCommand} from '../../cli/ferry-command.js'
import {exitWithUserError} from '../../cli/user-error.js'
import {ConfigError, FerryError} from '../../errors.js'

export default class ConfigK8s extends FerryCommand {
  static override summary = "Write a rule file of the images a Kubernetes cluster's workloads use (image-migrator's config)."

  static override description = `Lists pods, deployments, statefulsets, daemonsets, jobs and cronjobs (containers, init and
ephemeral containers), de-duplicates their images (a digest stays a digest; no tag means :latest)
and writes an image-transfer rule file copying each to --target registry/namespace, ready for
"ferry transfer --ruleFile". The cluster is read from --kubeconfig, $KUBECONFIG, ~/.kube/config,
or the service account when run inside a cluster.`

  static override examples = [
    '<%= config.bin %> config k8s -t registry.example.com/mirror -o rules.yaml',
    '<%= config.bin %> config k8s --kubeconfig ~/.kube/prod --k8s-namespace default,payments -t registry.example.com/mirror',
  ]

  static override flags = {
    target: Flags.string({char: 't', description: 'destination registry/namespace for every image', required: true}),
    output: Flags.string({char: 'o', description: 'write the rule file here (default: standard output)'}),
    // Elsewhere --namespace is a registry path (image-syncer's); here it is kubectl's, kept as an alias so command lines still work.
    'k8s-namespace': Flags.string({
      char: 'n',
      description: 'only these Kubernetes namespaces, comma-separated (default: all); -n as in kubectl',
      aliases: ['k8sNamespace', 'namespace'],
    }),
    kubeconfig: Flags.string({char: 'k', description: 'kubeconfig file (default: $KUBECONFIG, ~/.kube/config, or in-cluster)'}),
    context: Flags.string({description: 'kubeconfig context (default: its current context)'}),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(ConfigK8s)
    try {
      const target = parseTarget(flags.target)
      const namespaces = (flags['k8s-namespace'] ?? '')
        .split(',')
        .map((n) => n.trim())
        .filter((n) => n !== '')
      const config = loadKubeConfig({kubeconfig: flags.kubeconfig, context: flags.context})
      const workloads: Workload[] = []
      for await (const workload of listWorkloads(config, {namespaces})) workloads.push(workload)
      const collected = collectImages(workloads)
      const scope = namespaces.length > 0 ? `namespaces ${namespaces.join(', ')}` : 'all namespaces'
      const header = [
        `Images used by ${workloads.length} workloads in ${scope} of cluster ${config.getCurrentCluster()?.name ?? '?'}, written by ferry config k8s.`,
        `Copy them with: ferry transfer --ruleFile FILE`,
      ]
      const text = k8sRuleFile(collected, target, header)
      if (flags.output) await writeFile(flags.output, text)
      else process.stdout.write(text)
      for (const problem of collected.problems) this.logToStderr(`warning: ${problem}`)
      this.logToStderr(`${collected.images.length} images from ${workloads.length} workloads in ${scope}${flags.output ? ` written to ${flags.output}` : ''}`)
    } catch (error) {
      if (!FerryError.is(error)) throw error
      // A file or flag to fix is 2, as in transfer; a cluster that did not answer is 1.
      exitWithUserError(this, error.message, error instanceof ConfigError ? 2 : 1)
    }
  }
}
