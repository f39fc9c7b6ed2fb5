// The fleet's speed-up from 1 to 3 workers on one machine. On loopback every worker shares one
// machine's network and CPU, so each worker gets a bandwidth cap (--limitRate) that stands in for
// its own network card; the figure then says how well the queue spreads the work, not how fast
// loopback is.
//
//   npm run bench:fleet -- [--repos 12] [--tags 2] [--layer-mib 2] [--limit 8MiB] [--workers 1,3]
import { spawn } from 'node:child_process';
import { writeFile, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { pushImage, randomLayer, startRedis, startRegistry, skopeoDigest, type TestRegistry } from '../test/harness/index.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BIN = path.join(ROOT, 'bin', 'run.js');
const { values } = parseArgs({
  options: {
    repos: { type: 'string', default: '12' },
    tags: { type: 'string', default: '2' },
    'layer-mib': { type: 'string', default: '2' },
    limit: { type: 'string', default: '8MiB' },
    workers: { type: 'string', default: '1,3' },
    routines: { type: 'string', default: '4' },
  },
});
const repos = Number(values.repos);
const tags = Number(values.tags);
const layerMiB = Number(values['layer-mib']);
const workerCounts = values.workers!.split(',').map(Number);

function ferry(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, CI: '1' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

const work = await mkdtemp(path.join(os.tmpdir(), 'ferry-bench-fleet-'));
const redis = await startRedis();
const source = await startRegistry();
const images: Array<{ repository: string; tag: string; digest: string }> = [];
for (let r = 0; r < repos; r++) {
  for (let t = 0; t < tags; t++) {
    const repository = `fleet/app${r}`;
    const tag = `v${t}`;
    const image = await pushImage(source, repository, tag, { layers: [randomLayer(layerMiB * 1024 * 1024, `${repository}:${tag}`)] });
    images.push({ repository, tag, digest: image.digest });
  }
}
const totalMiB = images.length * layerMiB;
console.log(`corpus: ${images.length} images of one ${layerMiB} MiB layer (${totalMiB} MiB); cap --limitRate ${values.limit} per worker, --routines ${values.routines}`);

const rows: Array<{ workers: number; seconds: number; ok: number }> = [];
for (const count of workerCounts) {
  const destination: TestRegistry = await startRegistry();
  try {
    const security = path.join(work, `security-${count}.yaml`);
    await writeFile(security, `${source.host}:\n  insecure: true\n${destination.host}:\n  insecure: true\n`);
    const rules = path.join(work, `rules-${count}.yaml`);
    await writeFile(rules, [...new Set(images.map((i) => i.repository))].map((r) => `${source.host}/${r}: ${destination.host}/${r}`).join('\n') + '\n');
    const queueName = `bench-${count}-${Date.now()}`;
    const enqueue = await ferry(['transfer', '--ruleFile', rules, '--securityFile', security, '--queue', redis.url, '--queueName', queueName]);
    if (enqueue.code !== 0) throw new Error(`enqueue failed: ${enqueue.stderr}`);
    const started = performance.now();
    const workers = Array.from({ length: count }, () => spawn(process.execPath, [BIN, 'worker', '--queue', redis.url, '--queueName', queueName, '--securityFile', security, '--routines', values.routines!, '--limitRate', values.limit!, '--quiet'], { stdio: 'ignore', env: { ...process.env, CI: '1' } }));
    const wait = await ferry(['status', '--queue', redis.url, '--queueName', queueName, '--wait']);
    const seconds = (performance.now() - started) / 1000;
    for (const worker of workers) worker.kill('SIGTERM');
    await Promise.all(workers.map((worker) => new Promise((resolve) => (worker.exitCode !== null ? resolve(null) : worker.once('exit', resolve)))));
    if (wait.code !== 0) throw new Error(`status --wait: ${wait.stdout}${wait.stderr}`);
    let ok = 0;
    for (const image of images) if ((await skopeoDigest(destination, `${image.repository}:${image.tag}`)) === image.digest) ok++;
    rows.push({ workers: count, seconds, ok });
    console.log(`  ${count} worker(s): ${seconds.toFixed(2)} s, ${(totalMiB / seconds).toFixed(1)} MiB/s, digests ${ok}/${images.length}`);
  } finally {
    await destination.stop();
  }
}
const base = rows[0]!;
console.log('\nworkers  wall s  MiB/s  speed-up  digests');
for (const row of rows) {
  console.log(`${String(row.workers).padEnd(7)}  ${row.seconds.toFixed(2).padStart(6)}  ${(totalMiB / row.seconds).toFixed(1).padStart(5)}  ${(base.seconds / row.seconds).toFixed(2).padStart(7)}×  ${row.ok}/${images.length}`);
}
await source.stop();
await redis.stop();
await rm(work, { recursive: true, force: true });
