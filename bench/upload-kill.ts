// After SIGKILL in the middle of a large layer's upload, the same command again: what crossed to the
// destination. `node --import tsx bench/upload-kill.ts [MiB=1024] [kill at share=0.6]`. ferry → link
// emulator (60 MB/s) → a front that buffers request bodies (nginx's default) → Distribution.
import {spawn} from 'node:child_process'
import {mkdtemp, writeFile, readdir} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'
import {pushImage, randomBlob, skopeoDigest, startRegistry} from '../test/harness/index.js'
import {startFaultProxy} from '../test/harness/fault-proxy.js'
import {startLinkEmulator} from '../test/harness/link-emulator.js'

const ROOT = path.resolve('.')
const size = Number(process.argv[2] ?? 1024) * 1024 * 1024
const killAt = Number(process.argv[3] ?? 0.6)
const [src, dst] = await Promise.all([startRegistry(), startRegistry()])
const proxy = await startFaultProxy(dst, {bufferRequests: true})
const link = await startLinkEmulator(proxy, {linkRate: 60e6})
const dir = await mkdtemp(path.join(os.tmpdir(), 'kill1g-'))
let t = Date.now()
const layer = randomBlob(size, 'kill1g')
const image = await pushImage(src, 'huge/app', '1', {layers: [layer]})
console.log(`seeded ${size} bytes in ${((Date.now() - t) / 1000).toFixed(1)} s`)
await writeFile(path.join(dir, 'rules.yaml'), `${src.host}/huge/app:1: ${link.host}/kill\n`)
await writeFile(path.join(dir, 'security.yaml'), `"http://${src.host}": {}\n"http://${link.host}": {}\n`)
const uploaded = () =>
  proxy.requests
    .filter((r) => (r.method === 'PATCH' || r.method === 'PUT') && r.path.startsWith('/v2/kill/blobs/uploads/'))
    .reduce((s, r) => s + r.bodyBytes, 0)
const run = () => {
  const child = spawn(
    process.execPath,
    [path.join(ROOT, 'bin', 'run.js'), 'transfer', '--ruleFile', path.join(dir, 'rules.yaml'), '--securityFile', path.join(dir, 'security.yaml')],
    {cwd: ROOT, env: {...process.env, FERRY_RESUME_DIR: path.join(dir, 'resume')}, stdio: ['ignore', 'inherit', 'inherit']},
  )
  return {child, exited: new Promise<number | null>((r) => child.once('exit', (code) => r(code)))}
}
t = Date.now()
const first = run()
while (uploaded() < killAt * size) await sleep(20)
first.child.kill('SIGKILL')
await first.exited
const before = uploaded()
console.log(
  `killed after ${((Date.now() - t) / 1000).toFixed(1)} s; ${before} bytes had reached the destination front; journal: ${await readdir(path.join(dir, 'resume'))}`,
)
t = Date.now()
const second = run()
console.log('second run exit', await second.exited, `in ${((Date.now() - t) / 1000).toFixed(1)} s`)
const total = uploaded()
console.log(
  `layer ${size} B; sent in all ${total} B; sent again ${total - size} B = ${(((total - size) / size) * 100).toFixed(1)}% of the layer; second run sent ${total - before} B`,
)
console.log('digest ok:', (await skopeoDigest(dst, 'kill:1')) === image.digest)
await Promise.all([link.stop(), proxy.stop(), src.stop(), dst.stop()])
process.exit(0)
