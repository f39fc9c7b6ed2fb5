/**
 * The README's first command: two throw-away registries on the ports rules/rule.yaml and
 * security.example.yaml name, a small seeded source, one real `ferry transfer`, and an
 * independent check of the result with skopeo. Extra arguments go to `ferry transfer`.
 */
import {spawn} from 'node:child_process'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

import {pushImage, pushIndex, randomLayer} from '../test/harness/images.js'
import {startRegistry, type TestRegistry} from '../test/harness/registry.js'
import {skopeoDigest} from '../test/harness/skopeo.js'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const SOURCE_PORT = 5001
const DESTINATION_PORT = 5002

async function seed(source: TestRegistry): Promise<Map<string, string>> {
  const base = randomLayer(64 * 1024, 'demo-base')
  const expected = new Map<string, string>()
  const image = async (repository: string, tag: string, flavour: 'docker' | 'oci', destination: string) => {
    const pushed = await pushImage(source, repository, tag, {flavour, layers: [base, randomLayer(32 * 1024, `${repository}:${tag}`)]})
    expected.set(destination, pushed.digest)
  }
  await image('demo/hello', '1.0', 'docker', 'mirror/hello:1.0')
  await image('demo/hello', '1.1', 'docker', 'mirror/hello:1.1')
  await image('demo/web', '2.0', 'oci', 'mirror/web:stable')
  await image('demo/tools', '1.0', 'oci', 'mirror/tools:1.0')
  await image('demo/tools', '1.1', 'oci', 'mirror/tools:1.1')
  await image('demo/tools', '1.2', 'oci', 'mirror/tools-not-copied:1.2') // not in the rule: stays behind
  expected.delete('mirror/tools-not-copied:1.2')
  await image('demo/team/api/server', '3.1', 'docker', 'mirror/team/api/server:3.1')
  const index = await pushIndex(source, 'demo/multiarch', 'latest')
  expected.set('mirror/multiarch:latest', index.digest)
  return expected
}

function runFerry(args: string[]): Promise<number> {
  const command = [
    path.join(root, 'bin/run.js'),
    'transfer',
    '--securityFile',
    path.join(root, 'security.example.yaml'),
    '--ruleFile',
    path.join(root, 'rules/rule.yaml'),
    ...args,
  ]
  console.log(`\n$ ferry ${command.slice(1).map((part) => path.relative(root, part) || part).join(' ')}\n`)
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, command, {stdio: 'inherit', cwd: root})
    child.on('error', reject)
    child.on('exit', (code) => resolve(code ?? 1))
  })
}

const registries: TestRegistry[] = []
try {
  const source = await startRegistry({port: SOURCE_PORT})
  registries.push(source)
  const destination = await startRegistry({port: DESTINATION_PORT})
  registries.push(destination)
  console.log(`source registry      ${source.url} (throw-away)`)
  console.log(`destination registry ${destination.url} (throw-away)`)
  const expected = await seed(source)
  console.log(`seeded ${expected.size + 1} tags into the source (Docker and OCI images, a 3-platform index, shared layers)`)

  const code = await runFerry(process.argv.slice(2))

  let same = 0
  for (const [reference, digest] of expected) {
    const actual = await skopeoDigest(destination, reference).catch(() => 'missing')
    if (actual === digest) same++
    else console.log(`  skopeo: ${reference} is ${actual}, expected ${digest}`)
  }
  console.log(`\nskopeo check: ${same} of ${expected.size} destination tags have the source's manifest digest`)
  process.exitCode = code !== 0 ? code : same === expected.size ? 0 : 1
} catch (error) {
  console.error(`demo failed: ${error instanceof Error ? error.message : String(error)}`)
  if (String(error).includes('exited')) console.error(`are ports ${SOURCE_PORT} and ${DESTINATION_PORT} free?`)
  process.exitCode = 1
} finally {
  for (const registry of registries) await registry.stop()
}
