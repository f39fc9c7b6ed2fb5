// CPU and wall of ResumableVerifier with savable states (an upload journal), one blob streamed
// through it: `npm run build && node bench/resumable-hash.mjs [MiB] [pace MB/s, 0 = as fast as
// it goes] [dist folder of the build to measure]`. CPU is the whole process's (the hash-wasm
// worker included). Compare two builds by passing an older checkout's dist/.
import {createHash} from 'node:crypto'
import path from 'node:path'
import {Readable, Writable} from 'node:stream'
import {pipeline} from 'node:stream/promises'
import {pathToFileURL} from 'node:url'

const mib = Number(process.argv[2] ?? 512)
const pace = Number(process.argv[3] ?? 0)
const dist = path.resolve(process.argv[4] ?? 'dist')
const {ResumableVerifier} = await import(pathToFileURL(path.join(dist, 'registry', 'resumable-verifier.js')).href)

const piece = Buffer.alloc(64 * 1024)
for (let i = 0; i < piece.length; i++) piece[i] = (i * 31) % 251
const count = mib * 16
const whole = createHash('sha256')
for (let i = 0; i < count; i++) whole.update(piece)
const expected = {digest: `sha256:${whole.digest('hex')}`, size: count * piece.length}
const verifier = await ResumableVerifier.create(expected, 'bench', {interval: 32 * 1024 * 1024, savable: true})

async function* bytes() {
  for (let i = 0; i < count; i++) {
    // One MiB per tick at the pace asked for.
    if (pace > 0 && i % 16 === 0) await new Promise((resolve) => setTimeout(resolve, 1048.576 / pace))
    yield piece
  }
}
const cpu = process.cpuUsage()
const started = performance.now()
await pipeline(Readable.from(bytes()), verifier.stream(0), new Writable({write: (_chunk, _encoding, callback) => callback()}))
const wall = (performance.now() - started) / 1000
const used = process.cpuUsage(cpu)
await verifier.statesSettled?.()
const saved = verifier.savedState(expected.size - 1)
const state = saved === undefined ? 'none' : saved instanceof Uint8Array ? 'n/a (older build)' : `at ${saved.offset / 1048576} MiB`
console.log(
  `${mib} MiB${pace ? ` at ${pace} MB/s` : ''}: ${wall.toFixed(2)} s wall, ${((used.user + used.system) / 1e6).toFixed(2)} s CPU; newest savable state ${state}`,
)
verifier.close?.()
