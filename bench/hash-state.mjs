// SHA-256 throughput of node:crypto and hash-wasm (whose state can be saved for a resume across
// runs): `node bench/hash-state.mjs [MiB]`. Decides where ResumableVerifier uses hash-wasm.
import {createHash} from 'node:crypto'
import {createSHA256} from 'hash-wasm'

const mib = Number(process.argv[2] ?? 1024)
const piece = Buffer.alloc(1 << 20, 3)
const rate = (start) => `${(mib / ((performance.now() - start) / 1000)).toFixed(0)} MiB/s`

let start = performance.now()
const node = createHash('sha256')
for (let i = 0; i < mib; i++) node.update(piece)
node.digest('hex')
console.log(`node:crypto ${rate(start)}`)

const wasm = await createSHA256()
wasm.init()
start = performance.now()
for (let i = 0; i < mib; i++) wasm.update(piece)
const state = wasm.save()
wasm.digest('hex')
console.log(`hash-wasm   ${rate(start)} (saved state: ${state.length} bytes)`)
