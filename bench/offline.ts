// ferry save/load vs the skopeo copy loop, on the same images in the same run.
//
//   npm run bench:offline                          12 repositories × 3 tags, 512 KiB layers
//   npm run bench:offline -- --repos 20 --tags 3 --layer-size 1048576 --repeat 3
//
// One source registry is seeded with a deterministic corpus (a base layer in every image,
// per-repository layers, every third image a multi-arch index; Docker and OCI flavours
// alternate). Save: `ferry save --output DIR` against a loop of `skopeo copy --all
// docker://SRC/REPO:TAG oci:DIR:SRC/REPO:TAG`, one image after another, as the shell recipe does.
// Load: `ferry load DIR --registry DST` against a loop of `skopeo copy --all oci:DIR:REF
// docker://DST/REPO:TAG`, each tool into its own empty registry. skopeo runs without
// --preserve-digests, so it rewrites Docker manifests to OCI in the layout: with it, skopeo 1.9
// keeps them but cannot read them back (ferry keeps every digest; checked below). Figures: wall
// time per phase, files and bytes under blobs/ of each layout. Results: bench/results/offline.json.
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { seedCorpus, skopeoDigest, startRegistry, type Corpus, type TestRegistry } from '../test/harness/index.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const FERRY_BIN = path.join(ROOT, 'bin', 'run.js');

const { values } = parseArgs({
  options: {
    repos: { type: 'string', default: process.env.BENCH_REPOS ?? '12' },
    tags: { type: 'string', default: process.env.BENCH_TAGS ?? '3' },
    'layer-size': { type: 'string', default: process.env.BENCH_LAYER_SIZE ?? String(512 * 1024) },
    repeat: { type: 'string', default: process.env.BENCH_REPEAT ?? '1' },
    routines: { type: 'string', default: process.env.BENCH_ROUTINES ?? '5' },
  },
});
const repos = Number(values.repos);
const tags = Number(values.tags);
const layerSize = Number(values['layer-size']);
const repeat = Number(values.repeat);

function exec(file: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, OCLIF_SKIP_NEW_VERSION_CHECK: 'true' } });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.once('error', reject);
    child.once('close', (code) => (code === 0 ? resolve() : reject(new Error(`${path.basename(file)} ${args.slice(0, 2).join(' ')} exited ${code}: ${stderr.slice(-2000)}`))));
  });
}

async function timed(task: () => Promise<void>): Promise<number> {
  const started = process.hrtime.bigint();
  await task();
  return Number(process.hrtime.bigint() - started) / 1e9;
}

async function blobUsage(layout: string): Promise<{ files: number; bytes: number }> {
  const dir = path.join(layout, 'blobs', 'sha256');
  const names = await readdir(dir);
  let bytes = 0;
  for (const name of names) bytes += (await stat(path.join(dir, name))).size;
  return { files: names.length, bytes };
}

const tlsOff = (prefix: string) => [`--${prefix}tls-verify=false`, `--${prefix}no-creds`];

interface ToolResult {
  saveSeconds: number;
  loadSeconds: number;
  blobs: { files: number; bytes: number };
  exactDigests: number;
}
type PassResult = Record<'ferry' | 'skopeo', ToolResult>;

async function pass(src: TestRegistry, corpus: Corpus, work: string): Promise<PassResult> {
  const [ferryDst, skopeoDst] = await Promise.all([startRegistry(), startRegistry()]);
  try {
    const security = path.join(work, 'security.yaml');
    await writeFile(security, [src, ferryDst, skopeoDst].map((r) => `"http://${r.host}": {}\n`).join(''));
    const rules = path.join(work, 'rules.yaml');
    await writeFile(rules, corpus.repositories.map((r) => `${src.host}/${r}: ""\n`).join(''));
    const ferryLayout = path.join(work, 'ferry-layout');
    const skopeoLayout = path.join(work, 'skopeo-layout');
    const engine = ['--securityFile', security, '--routines', values.routines!, '--quiet'];

    const ferrySave = await timed(() => exec(process.execPath, [FERRY_BIN, 'save', '--ruleFile', rules, '--output', ferryLayout, ...engine]));
    const skopeoSave = await timed(async () => {
      for (const entry of corpus.entries) {
        const reference = `${src.host}/${entry.repository}:${entry.tag}`;
        await exec('skopeo', ['--insecure-policy', 'copy', '--all', ...tlsOff('src-'), `docker://${reference}`, `oci:${skopeoLayout}:${reference}`]);
      }
    });
    const ferryLoad = await timed(() => exec(process.execPath, [FERRY_BIN, 'load', ferryLayout, '--registry', ferryDst.host, ...engine]));
    const skopeoLoad = await timed(async () => {
      for (const entry of corpus.entries) {
        const reference = `${src.host}/${entry.repository}:${entry.tag}`;
        await exec('skopeo', ['--insecure-policy', 'copy', '--all', ...tlsOff('dest-'), `oci:${skopeoLayout}:${reference}`, `docker://${skopeoDst.host}/${entry.repository}:${entry.tag}`]);
      }
    });
    // ferry's copy is exact; skopeo's has every tag but new digests for Docker-typed images.
    let ferryExact = 0;
    let skopeoExact = 0;
    for (const entry of corpus.entries) {
      if ((await skopeoDigest(ferryDst, `${entry.repository}:${entry.tag}`)) === entry.digest) ferryExact++;
      if ((await skopeoDigest(skopeoDst, `${entry.repository}:${entry.tag}`)) === entry.digest) skopeoExact++;
    }
    return {
      ferry: { saveSeconds: ferrySave, loadSeconds: ferryLoad, blobs: await blobUsage(ferryLayout), exactDigests: ferryExact },
      skopeo: { saveSeconds: skopeoSave, loadSeconds: skopeoLoad, blobs: await blobUsage(skopeoLayout), exactDigests: skopeoExact },
    };
  } finally {
    await Promise.all([ferryDst.stop(), skopeoDst.stop()]);
  }
}

const src = await startRegistry();
const work = await mkdtemp(path.join(os.tmpdir(), 'ferry-bench-offline-'));
try {
  const corpus = await seedCorpus(src, { repositories: repos, tagsPerRepo: tags, layerSize, seed: 'bench-offline' });
  const runs: PassResult[] = [];
  for (let k = 0; k < repeat; k++) {
    const dir = await mkdtemp(path.join(work, 'pass-'));
    runs.push(await pass(src, corpus, dir));
    await rm(dir, { recursive: true, force: true });
  }
  const median = (pick: (run: PassResult) => number) => {
    const sorted = runs.map(pick).sort((a, b) => a - b);
    return sorted[Math.floor(sorted.length / 2)]!;
  };
  const images = corpus.entries.length;
  console.log(`${images} images (${repos} repositories × ${tags} tags, ${layerSize} B layers, ${corpus.blobDigests.length} distinct blobs), median of ${repeat}`);
  console.log('tool    save s   load s   blob files   blob MiB   exact digests');
  for (const tool of ['ferry', 'skopeo'] as const) {
    console.log(
      `${tool.padEnd(7)} ${median((r) => r[tool].saveSeconds).toFixed(2).padStart(6)}   ${median((r) => r[tool].loadSeconds).toFixed(2).padStart(6)}   ${String(runs[0]![tool].blobs.files).padStart(10)}   ${(runs[0]![tool].blobs.bytes / 1048576).toFixed(1).padStart(8)}   ${runs[0]![tool].exactDigests}/${images}`,
    );
  }
  await writeFile(path.join(ROOT, 'bench', 'results', 'offline.json'), `${JSON.stringify({ images, repos, tags, layerSize, repeat, runs }, null, 2)}\n`);
} finally {
  await src.stop();
  await rm(work, { recursive: true, force: true });
}
