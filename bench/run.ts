// ferry vs skopeo sync, registry to registry on loopback.
//
//   npm run bench                       default corpus: 20 repositories × 3 tags, 256 KiB layers
//   npm run bench -- --large 256        plus one image with a 256 MiB layer (also the ceiling size)
//   npm run bench -- --repos 40 --tags 5 --layer-size 1MiB --routines 10
//   npm run bench -- --far              the source across an emulated far link (see "Far link" below)
//
// Every option also reads from the environment: --layer-size ↔ BENCH_LAYER_SIZE, and so on.
//
// One source registry is seeded with a deterministic corpus (shared base layer, per-repository
// layers, multi-arch indexes in Docker and OCI flavours). Each tool gets its own fresh
// destination registry and runs three scenarios: a full copy, a second run with nothing to do,
// and a run after a tenth of the source tags were re-pushed with different images. After every
// run, every source tag is checked at the destination: same manifest digest, every index child
// present by digest, every blob present. Figures: wall time and peak RSS of the tool's process
// (/usr/bin/time -v), requests seen by both registries (their access logs), blob bytes that
// landed at the destination and bytes the source served. The whole pass runs --repeat times
// (default 3) with fresh registries and alternating tool order; the table shows medians and the
// JSON (bench/results/latest.json) keeps every run. A "loopback ceiling" (bench/pipe-blob.mjs:
// one blob, GET piped into PUT, no hashing) gives a figure to read the throughput against, and a
// "no-change floor" (bench/head-floor.mjs: tag lists and one HEAD per tag at each side, nothing
// else) gives one to read the no-op run against: what the registries themselves allow.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, open, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import yaml from 'js-yaml';
import { startLinkEmulator, type LinkEmulator } from '../test/harness/link-emulator.js';
import {
  clientFor,
  fetchManifest,
  pushBlob,
  pushImage,
  pushIndex,
  randomBlob,
  randomLayer,
  seedCorpus,
  sha256,
  skopeo,
  skopeoDigest,
  startRegistry,
  type Corpus,
  type CorpusEntry,
  type RequestLog,
  type TestRegistry,
} from '../test/harness/index.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
// BENCH_FERRY_BIN runs another build (an older checkout's bin/run.js) for a before/after comparison.
const FERRY_BIN = process.env.BENCH_FERRY_BIN ? path.resolve(process.env.BENCH_FERRY_BIN) : path.join(ROOT, 'bin', 'run.js');
// The tool `before` (--tools skopeo,ferry,before): that build's bin/run.js beside this one's, in the same run.
const BEFORE_BIN = process.env.BENCH_BEFORE_BIN ? path.resolve(process.env.BENCH_BEFORE_BIN) : undefined;
const PIPE_BLOB = path.join(ROOT, 'bench', 'pipe-blob.mjs');
const HEAD_FLOOR = path.join(ROOT, 'bench', 'head-floor.mjs');
const TIME_BIN = '/usr/bin/time';
const MiB = 1024 * 1024;
const MB = 1_000_000;

// ---------------------------------------------------------------------------------------------
// Options

interface Options {
  repos: number;
  tags: number;
  layerSize: number;
  indexEvery: number;
  large: number; // MiB, 0 = none
  routines: number;
  qps: number;
  changePercent: number;
  ceilingMiB: number; // 0 = skip
  seed: string;
  /** Whole passes (fresh registries each); the table shows medians. */
  repeat: number;
  tools: Tool[];
  skopeoMode: 'yaml' | 'per-repo';
  preserveDigests: boolean;
  /** Every registry (not the ceiling's) on HTTPS with its own CA, given to both tools. */
  tls: boolean;
  out: string;
  /** Extra arguments for every ferry run (--ferry-args, split on spaces). */
  ferryArgs: string[];
  /** Far-link mode instead of the loopback scenarios. */
  far?: FarOptions;
}

interface FarOptions {
  rttMs: number;
  /** Bytes/s per connection and for the whole link (MB = 10^6 B). */
  connectionRate: number;
  linkRate: number;
  /** MiB of the one-layer image in the large and cut scenarios; 0 skips both. */
  largeMiB: number;
  /** Percent of the layer after which the link is cut once; 0 skips the cut scenario. */
  cutPercent: number;
  /** ferry --routines values run besides the default on the corpus. */
  routines: number[];
  scenarios: FarScenario[];
}

type FarScenario = 'corpus' | 'large' | 'cut';

type Tool = 'skopeo' | 'ferry' | 'before';

function parseSize(text: string, what: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(b|k|kb|kib|m|mb|mib|g|gb|gib)?\s*$/i.exec(text);
  if (!m) throw new Error(`${what}: not a size: ${text}`);
  const unit = (m[2] ?? 'b').toLowerCase();
  const factor = unit.startsWith('k') ? 1024 : unit.startsWith('m') ? MiB : unit.startsWith('g') ? 1024 * MiB : 1;
  return Math.round(Number(m[1]) * factor);
}

/** `--ferry-args "--blob-connections 4"`: parseArgs refuses a value that starts with a dash unless joined by `=`. */
function joinFerryArgs(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--ferry-args' && i + 1 < argv.length) out.push(`--ferry-args=${argv[++i]}`);
    else out.push(argv[i]!);
  }
  return out;
}

/** Bytes per second: 12MB = 12×10^6 (a link's MB), 12MiB = 12×2^20, a bare number is MB. */
function parseRate(text: string, what: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(b|kb|kib|mb|mib|gb|gib)?(?:\/s)?\s*$/i.exec(text);
  if (!m) throw new Error(`${what}: not a rate: ${text}`);
  const unit = (m[2] ?? 'mb').toLowerCase();
  const factor: Record<string, number> = { b: 1, kb: 1e3, kib: 1024, mb: 1e6, mib: MiB, gb: 1e9, gib: 1024 * MiB };
  const rate = Math.round(Number(m[1]) * factor[unit]!);
  if (rate <= 0) throw new Error(`${what}: must be above 0: ${text}`);
  return rate;
}

function parseOptions(): Options {
  const { values } = parseArgs({
    args: joinFerryArgs(process.argv.slice(2)),
    options: {
      repos: { type: 'string' },
      tags: { type: 'string' },
      'layer-size': { type: 'string' },
      'index-every': { type: 'string' },
      large: { type: 'string' },
      routines: { type: 'string' },
      qps: { type: 'string' },
      'change-percent': { type: 'string' },
      ceiling: { type: 'string' },
      seed: { type: 'string' },
      repeat: { type: 'string' },
      tools: { type: 'string' },
      'skopeo-mode': { type: 'string' },
      'preserve-digests': { type: 'boolean' },
      tls: { type: 'boolean' },
      out: { type: 'string' },
      'ferry-args': { type: 'string' },
      far: { type: 'boolean' },
      rtt: { type: 'string' },
      'conn-rate': { type: 'string' },
      'link-rate': { type: 'string' },
      'far-large': { type: 'string' },
      'far-cut': { type: 'string' },
      'far-routines': { type: 'string' },
      'far-scenarios': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    console.log(`npm run bench -- [options]   (each also as env BENCH_<NAME>, e.g. BENCH_LAYER_SIZE)
  --repos N             repositories in the corpus (20)
  --tags N              tags per repository (3)
  --layer-size SIZE     bytes per generated layer, e.g. 256KiB, 1MiB (256KiB)
  --index-every N       every Nth image is a 3-platform index, 0 = none (3)
  --large N             add one image with an N MiB layer (0 = none)
  --routines N          ferry --routines (5, ferry's default)
  --qps N               ferry --qps (0 = unlimited)
  --change-percent P    share of tags re-pushed before the third scenario (10)
  --ceiling N           MiB for the loopback ceiling blob, 0 skips it (256, or --large if given);
                        run max(3, --repeat) times
  --seed S              corpus seed (ferry-bench)
  --repeat N            whole passes, fresh registries each; the table shows medians (3)
  --tools LIST          skopeo,ferry (env BENCH_FERRY_BIN: the ferry build to run, default this checkout's);
                        before: also the build at env BENCH_BEFORE_BIN, same flags, same run
  --skopeo-mode M       yaml (one skopeo sync for all) or per-repo (one skopeo sync per repository)
  --preserve-digests    pass --preserve-digests to skopeo sync (default: skopeo's defaults)
  --tls                 registries on HTTPS with their own CA (ferry: caFile; skopeo: cert-dir);
                        the no-change floor is skipped (it speaks plain HTTP)
  --out FILE            JSON results (bench/results/latest.json; far-latest.json with --far)
  --ferry-args "ARGS"   extra arguments for every ferry run, split on spaces (e.g. "--blob-connections 4")

  --far                 instead of the loopback scenarios: the source registry behind an emulated far
                        link (test/harness/link-emulator.ts; the destination stays near), skopeo sync
                        and ferry through it: the corpus, one large layer, the large layer with the
                        link cut once. The corpus defaults to --layer-size 1280KiB (about 157 MB).
  --rtt MS              round trip of the far link (60)
  --conn-rate RATE      bytes/s per TCP connection, e.g. 12MB, 500KB (MB = 10^6 B; bare number = MB) (12MB)
  --link-rate RATE      bytes/s for all connections together (60MB)
  --far-large N         MiB of the one-layer image, 0 skips the large and cut scenarios (256)
  --far-cut P           cut the link once after P% of the layer crossed it, 0 skips (60)
  --far-routines LIST   extra ferry rows on the corpus with these --routines (32)
  --far-scenarios LIST  corpus,large,cut (all)`);
    process.exit(0);
  }
  const pick = (name: keyof typeof values, env: string): string | undefined => {
    const v = values[name];
    if (typeof v === 'string') return v;
    return process.env[`BENCH_${env}`];
  };
  const int = (name: keyof typeof values, env: string, fallback: number, min = 0): number => {
    const text = pick(name, env);
    if (text === undefined || text === '') return fallback;
    const n = Number(text);
    if (!Number.isInteger(n) || n < min) throw new Error(`--${String(name)}: expected an integer ≥ ${min}, got ${text}`);
    return n;
  };
  const large = int('large', 'LARGE', 0);
  const tools = (pick('tools', 'TOOLS') ?? 'skopeo,ferry').split(',').map((t) => t.trim()).filter(Boolean);
  for (const t of tools) if (t !== 'skopeo' && t !== 'ferry' && t !== 'before') throw new Error(`--tools: unknown tool ${t}`);
  if (tools.includes('before') && !BEFORE_BIN) throw new Error('--tools before: set BENCH_BEFORE_BIN to the other build\'s bin/run.js');
  const skopeoMode = pick('skopeo-mode', 'SKOPEO_MODE') ?? 'yaml';
  if (skopeoMode !== 'yaml' && skopeoMode !== 'per-repo') throw new Error(`--skopeo-mode: yaml or per-repo, not ${skopeoMode}`);
  const layerSizeText = pick('layer-size', 'LAYER_SIZE');
  const far = values.far === true || process.env.BENCH_FAR === '1';
  const farOptions = far
    ? {
        rttMs: int('rtt', 'RTT', 60),
        connectionRate: parseRate(pick('conn-rate', 'CONN_RATE') ?? '12MB', '--conn-rate'),
        linkRate: parseRate(pick('link-rate', 'LINK_RATE') ?? '60MB', '--link-rate'),
        largeMiB: int('far-large', 'FAR_LARGE', 256),
        cutPercent: int('far-cut', 'FAR_CUT', 60),
        routines: (pick('far-routines', 'FAR_ROUTINES') ?? '32')
          .split(',')
          .map((t) => t.trim())
          .filter(Boolean)
          .map((t) => {
            const n = Number(t);
            if (!Number.isInteger(n) || n < 1) throw new Error(`--far-routines: not a positive integer: ${t}`);
            return n;
          }),
        scenarios: (pick('far-scenarios', 'FAR_SCENARIOS') ?? 'corpus,large,cut').split(',').map((t) => {
          const name = t.trim();
          if (name !== 'corpus' && name !== 'large' && name !== 'cut') throw new Error(`--far-scenarios: corpus, large or cut, not ${name}`);
          return name as FarScenario;
        }),
      }
    : undefined;
  return {
    repos: int('repos', 'REPOS', 20, 1),
    tags: int('tags', 'TAGS', 3, 1),
    layerSize: layerSizeText ? parseSize(layerSizeText, '--layer-size') : far ? 1280 * 1024 : 256 * 1024,
    indexEvery: int('index-every', 'INDEX_EVERY', 3),
    large,
    routines: int('routines', 'ROUTINES', 5, 1),
    qps: int('qps', 'QPS', 0),
    changePercent: int('change-percent', 'CHANGE_PERCENT', 10),
    ceilingMiB: int('ceiling', 'CEILING', large > 0 ? large : 256),
    seed: pick('seed', 'SEED') ?? 'ferry-bench',
    repeat: int('repeat', 'REPEAT', 3, 1),
    tools: tools as Tool[],
    skopeoMode,
    preserveDigests: values['preserve-digests'] === true || process.env.BENCH_PRESERVE_DIGESTS === '1',
    tls: values.tls === true || process.env.BENCH_TLS === '1',
    out: path.resolve(pick('out', 'OUT') ?? path.join(ROOT, 'bench', 'results', far ? 'far-latest.json' : 'latest.json')),
    ferryArgs: (pick('ferry-args', 'FERRY_ARGS') ?? '').split(/\s+/).filter(Boolean),
    far: farOptions,
  };
}

// ---------------------------------------------------------------------------------------------
// Measuring a process

interface Measured {
  wallMs: number;
  peakRssKiB: number;
  exitCode: number;
  /** User + system CPU seconds of the process tree (0 without /usr/bin/time). */
  cpuSeconds: number;
  /** How peak RSS was obtained. */
  rssMethod: 'time -v' | '/proc poll';
}

/**
 * Runs a command with its output in `logFile`; wall time from spawn to exit, peak RSS from GNU
 * time's ru_maxrss (the largest single process of the tree, which for ferry and skopeo is the
 * tool itself) or, without /usr/bin/time, from polling VmRSS of the process tree.
 */
async function measure(cmd: string, args: string[], logFile: string, timeoutMs = 15 * 60_000): Promise<Measured> {
  const useTime = existsSync(TIME_BIN);
  const timeFile = `${logFile}.time`;
  const out = await open(logFile, 'a');
  await out.write(`$ ${cmd} ${args.join(' ')}\n`);
  const started = performance.now();
  const child = spawn(useTime ? TIME_BIN : cmd, useTime ? ['-v', '-o', timeFile, cmd, ...args] : args, {
    stdio: ['ignore', out.fd, out.fd],
    cwd: ROOT,
  });
  let polledPeak = 0;
  const poll = useTime
    ? undefined
    : setInterval(() => {
        if (child.pid !== undefined) polledPeak = Math.max(polledPeak, treeRssKiB(child.pid));
      }, 20);
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const code = await new Promise<number>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (c, signal) => resolve(c ?? (signal ? 128 : 1)));
  });
  const wallMs = performance.now() - started;
  clearTimeout(timer);
  if (poll) clearInterval(poll);
  await out.close();
  if (!useTime) return { wallMs, peakRssKiB: polledPeak, exitCode: code, cpuSeconds: 0, rssMethod: '/proc poll' };
  const report = await readFile(timeFile, 'utf8').catch(() => '');
  const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(report);
  const status = /Exit status: (\d+)/.exec(report);
  const seconds = (label: string) => Number(new RegExp(`${label} time \\(seconds\\): ([\\d.]+)`).exec(report)?.[1] ?? 0);
  return {
    wallMs,
    peakRssKiB: rss ? Number(rss[1]) : 0,
    exitCode: status ? Number(status[1]) : code,
    cpuSeconds: seconds('User') + seconds('System'),
    rssMethod: 'time -v',
  };
}

/** Current RSS of a process and its descendants (fallback without /usr/bin/time). */
function treeRssKiB(pid: number): number {
  let total = 0;
  const stack = [pid];
  while (stack.length > 0) {
    const p = stack.pop()!;
    try {
      const status = readFileSync(`/proc/${p}/status`, 'utf8');
      const m = /VmRSS:\s+(\d+) kB/.exec(status);
      if (m) total += Number(m[1]);
      for (const task of readdirSync(`/proc/${p}/task`)) {
        const children = readFileSync(`/proc/${p}/task/${task}/children`, 'utf8').trim();
        if (children) stack.push(...children.split(/\s+/).map(Number));
      }
    } catch {
      // Gone already.
    }
  }
  return total;
}

// ---------------------------------------------------------------------------------------------
// What the registries saw

/**
 * The harness's RequestLog keeps method, path and status; the access log line also has the
 * response size, which gives the bytes a registry served. This taps the same stdout chunks.
 */
class ByteTap {
  private partial = '';
  served = 0;
  blobGetBytes = 0;

  constructor(log: RequestLog) {
    const original = log.write.bind(log);
    log.write = (chunk: Buffer) => {
      original(chunk);
      this.feed(chunk);
    };
  }

  reset(): void {
    this.served = 0;
    this.blobGetBytes = 0;
  }

  private feed(chunk: Buffer): void {
    const lines = (this.partial + chunk.toString('utf8')).split('\n');
    this.partial = lines.pop() ?? '';
    for (const line of lines) {
      const m = /"(\S+) (\S+) [^"]*" (\d{3}) (\d+|-)/.exec(line);
      if (!m || m[2]!.includes('ferry-harness-marker')) continue;
      const size = m[4] === '-' ? 0 : Number(m[4]);
      this.served += size;
      if (m[1] === 'GET' && /\/blobs\/sha256:/.test(m[2]!)) this.blobGetBytes += size;
    }
  }
}

interface Counted {
  total: number;
  byMethod: Record<string, number>;
  /** e.g. "HEAD blob", "GET manifest", "PUT upload", "GET ping". */
  byRoute: Record<string, number>;
  errors: number;
}

function route(method: string, uri: string): string {
  const p = uri.split('?')[0]!;
  const kind =
    p === '/v2/' || p === '/v2'
      ? 'ping'
      : /\/manifests\//.test(p)
        ? 'manifest'
        : /\/blobs\/uploads\//.test(p)
          ? uri.includes('mount=')
            ? 'mount'
            : 'upload'
          : /\/blobs\//.test(p)
            ? 'blob'
            : /\/tags\/list$/.test(p)
              ? 'tags'
              : 'other';
  return `${method} ${kind}`;
}

function countRequests(log: RequestLog): Counted {
  const byMethod: Record<string, number> = {};
  const byRoute: Record<string, number> = {};
  let errors = 0;
  for (const e of log.entries) {
    byMethod[e.method] = (byMethod[e.method] ?? 0) + 1;
    const r = route(e.method, e.path);
    byRoute[r] = (byRoute[r] ?? 0) + 1;
    if (e.status >= 500) errors++;
  }
  return { total: log.entries.length, byMethod, byRoute, errors };
}

/** Bytes of every blob the registry stores (filesystem driver layout). */
async function storedBlobBytes(registry: TestRegistry): Promise<{ bytes: number; count: number }> {
  const root = path.join(registry.storageDir, 'docker', 'registry', 'v2', 'blobs');
  if (!existsSync(root)) return { bytes: 0, count: 0 };
  const files = (await readdir(root, { recursive: true })) as string[];
  let bytes = 0;
  let count = 0;
  for (const f of files) {
    if (path.basename(f) !== 'data') continue;
    bytes += (await stat(path.join(root, f))).size;
    count++;
  }
  return { bytes, count };
}

// ---------------------------------------------------------------------------------------------
// Verifying a copy

interface VerifyResult {
  ok: boolean;
  tags: number;
  matched: number;
  mismatched: string[];
  missing: string[];
  extraTags: string[];
  missingChildren: number;
  missingBlobs: number;
  /** skopeo inspect --raw digests of a few tags, compared with the source: a second opinion. */
  skopeoSample: { reference: string; ok: boolean }[];
}

async function listTags(registry: TestRegistry, repository: string): Promise<string[]> {
  const res = await clientFor(registry).request('GET', `/v2/${repository}/tags/list`, {
    scope: `repository:${repository}:pull`,
  });
  if (res.status === 404) return [];
  if (res.status !== 200) throw new Error(`list tags ${repository}: HTTP ${res.status}`);
  return (JSON.parse(res.body.toString('utf8')) as { tags: string[] | null }).tags ?? [];
}

async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        results[i] = await fn(items[i]!);
      }
    }),
  );
  return results;
}

async function verifyCopy(
  source: TestRegistry,
  destination: TestRegistry,
  mapping: readonly RepoMapping[],
  sample: readonly { repository: string; tag: string }[],
): Promise<VerifyResult> {
  const result: VerifyResult = {
    ok: false,
    tags: 0,
    matched: 0,
    mismatched: [],
    missing: [],
    extraTags: [],
    missingChildren: 0,
    missingBlobs: 0,
    skopeoSample: [],
  };
  const work: { from: string; to: string; tag: string }[] = [];
  for (const { from, to } of mapping) {
    const [srcTags, dstTags] = await Promise.all([listTags(source, from), listTags(destination, to)]);
    for (const t of dstTags) if (!srcTags.includes(t)) result.extraTags.push(`${to}:${t}`);
    for (const tag of srcTags) work.push({ from, to, tag });
  }
  result.tags = work.length;
  const blobsChecked = new Set<string>();

  const checkTree = async (repository: string, bytes: Buffer): Promise<void> => {
    const doc = JSON.parse(bytes.toString('utf8')) as {
      manifests?: { digest: string }[];
      config?: { digest: string };
      layers?: { digest: string }[];
    };
    if (doc.manifests) {
      for (const child of doc.manifests) {
        try {
          const got = await fetchManifest(destination, repository, child.digest);
          if (got.digest !== child.digest) result.missingChildren++;
          else await checkTree(repository, got.bytes);
        } catch {
          result.missingChildren++;
        }
      }
      return;
    }
    for (const d of [doc.config, ...(doc.layers ?? [])]) {
      if (!d) continue;
      const key = `${repository}@${d.digest}`;
      if (blobsChecked.has(key)) continue;
      blobsChecked.add(key);
      const res = await clientFor(destination).request('HEAD', `/v2/${repository}/blobs/${d.digest}`, {
        scope: `repository:${repository}:pull`,
      });
      if (res.status !== 200) result.missingBlobs++;
    }
  };

  await mapLimit(work, 8, async ({ from, to, tag }) => {
    const src = await fetchManifest(source, from, tag);
    let dst: Awaited<ReturnType<typeof fetchManifest>>;
    try {
      dst = await fetchManifest(destination, to, tag);
    } catch {
      result.missing.push(`${to}:${tag}`);
      return;
    }
    if (dst.digest !== src.digest) {
      result.mismatched.push(`${to}:${tag} ${dst.digest} ≠ source ${src.digest}`);
      return;
    }
    result.matched++;
    await checkTree(to, dst.bytes);
  });

  for (const { repository, tag } of sample) {
    const to = mapping.find((m) => m.from === repository)?.to;
    if (!to) continue;
    const [a, b] = await Promise.all([
      skopeoDigest(source, `${repository}:${tag}`),
      skopeoDigest(destination, `${to}:${tag}`).catch(() => 'missing'),
    ]);
    result.skopeoSample.push({ reference: `${to}:${tag}`, ok: a === b });
  }

  result.ok =
    result.matched === result.tags &&
    result.tags > 0 &&
    result.extraTags.length === 0 &&
    result.missingChildren === 0 &&
    result.missingBlobs === 0 &&
    result.skopeoSample.every((s) => s.ok);
  return result;
}

/** "60/60 ok ×3", or what failed in which pass. */
function describePasses(runs: readonly { pass: number; exitCode: number; verify: VerifyResult }[]): string {
  const failed = runs.filter((r) => r.exitCode !== 0 || !r.verify.ok);
  if (failed.length === 0) return `${runs[0]!.verify.matched}/${runs[0]!.verify.tags} ok${runs.length > 1 ? ` ×${runs.length}` : ''}`;
  return failed.map((r) => `pass ${r.pass + 1}: ${r.exitCode === 0 ? '' : `exit ${r.exitCode}, `}${describeVerify(r.verify)}`).join('; ');
}

function describeVerify(v: VerifyResult): string {
  if (v.ok) return `${v.matched}/${v.tags} ok`;
  const parts = [`${v.matched}/${v.tags}`];
  if (v.mismatched.length) parts.push(`${v.mismatched.length} digest≠`);
  if (v.missing.length) parts.push(`${v.missing.length} missing`);
  if (v.extraTags.length) parts.push(`${v.extraTags.length} extra`);
  if (v.missingChildren) parts.push(`${v.missingChildren} children missing`);
  if (v.missingBlobs) parts.push(`${v.missingBlobs} blobs missing`);
  if (v.skopeoSample.some((s) => !s.ok)) parts.push('skopeo sample ≠');
  return `FAIL ${parts.join(', ')}`;
}

// ---------------------------------------------------------------------------------------------
// The tools

interface RepoMapping {
  /** Source repository. */
  from: string;
  /** Destination repository: mirror/<last path component>, which is where skopeo sync puts it. */
  to: string;
}

interface ToolRun extends Measured {
  processes: number;
}

async function runSkopeo(
  options: Options,
  source: TestRegistry,
  destination: TestRegistry,
  mapping: readonly RepoMapping[],
  work: string,
  logFile: string,
  extraArgs: readonly string[] = [],
): Promise<ToolRun> {
  const common = [
    '--insecure-policy',
    'sync',
    ...extraArgs,
    '--dest',
    'docker',
    ...(options.tls ? ['--dest-cert-dir', destination.certDir!] : ['--dest-tls-verify=false']),
    '--dest-no-creds',
    '--all',
    ...(options.preserveDigests ? ['--preserve-digests'] : []),
  ];
  if (options.skopeoMode === 'yaml') {
    const file = path.join(work, 'skopeo-sync.yaml');
    const images: Record<string, string[]> = {};
    for (const { from } of mapping) images[from] = []; // [] = every tag, like ferry's tagless rule
    const tls = options.tls ? { 'cert-dir': source.certDir! } : { 'tls-verify': false };
    await writeFile(file, yaml.dump({ [source.host]: { ...tls, images } }));
    const run = await measure('skopeo', [...common, '--src', 'yaml', file, `${destination.host}/mirror`], logFile);
    return { ...run, processes: 1 };
  }
  const total: ToolRun = { wallMs: 0, peakRssKiB: 0, exitCode: 0, cpuSeconds: 0, rssMethod: 'time -v', processes: 0 };
  for (const { from } of mapping) {
    const run = await measure(
      'skopeo',
      [
        ...common,
        '--src',
        'docker',
        ...(options.tls ? ['--src-cert-dir', source.certDir!] : ['--src-tls-verify=false']),
        '--src-no-creds',
        `${source.host}/${from}`,
        `${destination.host}/mirror`,
      ],
      logFile,
    );
    total.wallMs += run.wallMs;
    total.cpuSeconds += run.cpuSeconds;
    total.peakRssKiB = Math.max(total.peakRssKiB, run.peakRssKiB);
    total.exitCode ||= run.exitCode;
    total.rssMethod = run.rssMethod;
    total.processes++;
  }
  return total;
}

async function runFerry(
  options: Options,
  source: TestRegistry,
  destination: TestRegistry,
  mapping: readonly RepoMapping[],
  work: string,
  logFile: string,
  routines = options.routines,
  bin = FERRY_BIN,
): Promise<ToolRun> {
  const securityFile = path.join(work, 'security.yaml');
  const ruleFile = path.join(work, 'rules.yaml');
  const access = (registry: TestRegistry) => (options.tls ? { caFile: registry.caFile! } : { insecure: true });
  await writeFile(securityFile, yaml.dump({ [source.host]: access(source), [destination.host]: access(destination) }));
  const rules: Record<string, string> = {};
  for (const { from, to } of mapping) rules[`${source.host}/${from}`] = `${destination.host}/${to}`;
  await writeFile(ruleFile, yaml.dump(rules));
  const args = [bin, 'transfer', '--securityFile', securityFile, '--ruleFile', ruleFile, '--routines', String(routines)];
  if (options.qps > 0) args.push('--qps', String(options.qps));
  args.push(...options.ferryArgs);
  const run = await measure(process.execPath, args, logFile);
  return { ...run, processes: 1 };
}

/** ferry's own closing line, e.g. "(60 copied, 0 skipped, 30.1 MiB moved, 812 requests, 2.1s)". */
async function ferrySelfReport(logFile: string): Promise<string | undefined> {
  const text = await readFile(logFile, 'utf8').catch(() => '');
  const lines = text.split('\n').filter((l) => l.startsWith('Finished,'));
  return lines[lines.length - 1];
}

// ---------------------------------------------------------------------------------------------
// Corpus changes

/** Re-pushes `count` evenly spaced tags with different images (new top layer / new index). */
async function changeTags(
  source: TestRegistry,
  corpus: Corpus,
  options: Options,
): Promise<CorpusEntry[]> {
  const entries = corpus.entries;
  const count = options.changePercent <= 0 ? 0 : Math.max(1, Math.round((entries.length * options.changePercent) / 100));
  const step = count === 0 ? 1 : Math.max(1, Math.floor(entries.length / count));
  const chosen: CorpusEntry[] = [];
  for (let i = 0; i < entries.length && chosen.length < count; i += step) chosen.push(entries[i]!);
  const size = options.layerSize;
  const base = randomLayer(size, `${options.seed}:base`);
  for (const entry of chosen) {
    const seed = `${options.seed}:changed:${entry.repository}:${entry.tag}`;
    if (entry.kind === 'index') {
      await pushIndex(source, entry.repository, entry.tag, undefined, entry.flavour, { layerSize: size, seed, sharedLayer: base });
    } else {
      await pushImage(source, entry.repository, entry.tag, {
        flavour: entry.flavour,
        layers: [base, randomLayer(size, `${options.seed}:${entry.repository}`), randomLayer(size, seed)],
        labels: { 'org.ferry.test.ref': `${entry.repository}:${entry.tag}`, 'org.ferry.bench.changed': 'yes' },
      });
    }
  }
  return chosen;
}

// ---------------------------------------------------------------------------------------------
// Loopback ceiling

interface CeilingRun {
  innerMs: number;
  wallMs: number;
  peakRssKiB: number;
  mbPerSec: number;
  verified: boolean;
}

interface Ceiling {
  bytes: number;
  runs: CeilingRun[];
  medianMbPerSec: number;
  bestMbPerSec: number;
}

/** GET piped into PUT by bench/pipe-blob.mjs, `times` times, each into a fresh registry. */
async function loopbackCeiling(sizeMiB: number, times: number, work: string): Promise<Ceiling> {
  const a = await startRegistry();
  const stops: Array<() => Promise<void>> = [() => a.stop()];
  try {
    const bytes = randomBlob(sizeMiB * MiB, 'ferry-bench:ceiling');
    const digest = sha256(bytes);
    await pushBlob(a, 'ceiling/blob', { digest, size: bytes.length, mediaType: 'application/octet-stream', bytes });
    const runs: CeilingRun[] = [];
    for (let i = 0; i < times; i++) {
      const b = await startRegistry();
      stops.push(() => b.stop());
      const logFile = path.join(work, `ceiling-${i}.log`);
      const run = await measure(process.execPath, [PIPE_BLOB, a.url, b.url, 'ceiling/blob', digest], logFile);
      if (run.exitCode !== 0) throw new Error(`pipe-blob failed; see ${logFile}`);
      const line = (await readFile(logFile, 'utf8')).split('\n').find((l) => l.startsWith('{'));
      const inner = line ? (JSON.parse(line) as { ms: number }).ms : run.wallMs;
      const head = await clientFor(b).request('HEAD', `/v2/ceiling/blob/blobs/${digest}`);
      runs.push({
        innerMs: inner,
        wallMs: run.wallMs,
        peakRssKiB: run.peakRssKiB,
        mbPerSec: bytes.length / MB / (inner / 1000),
        verified: head.status === 200 && Number(head.headers['content-length']) === bytes.length,
      });
      await b.stop();
      stops.pop();
    }
    const rates = runs.map((r) => r.mbPerSec);
    return { bytes: bytes.length, runs, medianMbPerSec: median(rates), bestMbPerSec: Math.max(...rates) };
  } finally {
    await Promise.all(stops.map((stop) => stop()));
  }
}

// ---------------------------------------------------------------------------------------------
// No-change floor

interface FloorRun {
  wallMs: number;
  innerMs: number;
  requests: number;
  tags: number;
  same: number;
}

/**
 * bench/head-floor.mjs on ferry's destination right after ferry's no-op run: the tag lists and the
 * two HEADs per tag that any tool needs to prove nothing changed, with nothing else around them.
 */
async function noChangeFloor(
  options: Options,
  source: TestRegistry,
  destination: TestRegistry,
  mapping: readonly RepoMapping[],
  logFile: string,
): Promise<FloorRun> {
  const pairs = mapping.map((m) => `${m.from}=${m.to}`);
  const run = await measure(process.execPath, [HEAD_FLOOR, source.url, destination.url, String(options.routines), ...pairs], logFile);
  if (run.exitCode !== 0) throw new Error(`head-floor failed; see ${logFile}`);
  const line = (await readFile(logFile, 'utf8')).split('\n').find((l) => l.startsWith('{'));
  if (!line) throw new Error(`head-floor printed no result; see ${logFile}`);
  const result = JSON.parse(line) as { innerMs: number; requests: number; tags: number; same: number };
  return { wallMs: run.wallMs, ...result };
}

// ---------------------------------------------------------------------------------------------
// One pass: fresh registries, three scenarios per tool

type Scenario = 'full copy' | 'no-op rerun' | 'after change';
const SCENARIOS: readonly Scenario[] = ['full copy', 'no-op rerun', 'after change'];

interface RowResult {
  pass: number;
  scenario: Scenario;
  tool: Tool;
  wallSeconds: number;
  exitCode: number;
  processes: number;
  peakRssMiB: number;
  cpuSeconds: number;
  rssMethod: string;
  requests: { total: number; source: Counted; destination: Counted };
  bytes: {
    /** Blob bytes newly stored at the destination (its blob store grew by this much). */
    stored: number;
    /** Files added to the destination blob store (layers, configs and manifests). */
    blobsStored: number;
    /** Blob bytes the source served (GET /v2/…/blobs/…). */
    pulledBlobs: number;
    /** Every response byte the source served (blobs, manifests, tag lists). */
    sourceServed: number;
  };
  /** stored bytes ÷ wall time, MB = 10^6 bytes. */
  mbPerSec: number;
  verify: VerifyResult;
  ferrySays?: string;
  log: string;
}

interface CorpusInfo {
  repositories: number;
  tags: number;
  indexes: number;
  /** Files in the source blob store: layers, configs and manifests. */
  blobs: number;
  blobBytes: number;
  changedTags: string[];
}

async function onePass(
  options: Options,
  pass: number,
  work: string,
  say: (text: string) => void,
): Promise<{ rows: RowResult[]; corpus: CorpusInfo; floor?: FloorRun }> {
  const registries: TestRegistry[] = [];
  // Alternate which tool goes first, so neither always meets a colder or warmer machine.
  const tools = pass % 2 === 0 ? options.tools : [...options.tools].reverse();
  try {
    const source = await startRegistry({ tls: options.tls });
    registries.push(source);
    const sourceTap = new ByteTap(source.requestLog);
    let t = performance.now();
    const corpus = await seedCorpus(source, {
      repositories: options.repos,
      tagsPerRepo: options.tags,
      layerSize: options.layerSize,
      seed: options.seed,
      indexEvery: options.indexEvery,
    });
    const repositories = [...corpus.repositories];
    if (options.large > 0) {
      await pushImage(source, 'big/large', '1.0.0', {
        flavour: 'docker',
        layers: [randomLayer(options.large * MiB, `${options.seed}:large`)],
        labels: { 'org.ferry.bench': 'large' },
      });
      repositories.push('big/large');
    }
    const seeded = await storedBlobBytes(source);
    const info: CorpusInfo = {
      repositories: repositories.length,
      tags: corpus.entries.length + (options.large > 0 ? 1 : 0),
      indexes: corpus.entries.filter((e) => e.kind === 'index').length,
      blobs: seeded.count,
      blobBytes: seeded.bytes,
      changedTags: [],
    };
    if (pass === 0) {
      say(
        `corpus: ${info.repositories} repositories, ${info.tags} tags (${info.indexes} of them 3-platform indexes), ` +
          `${info.blobs} blobs incl. manifests, ${(info.blobBytes / MiB).toFixed(1)} MiB ` +
          `(layers of ${(options.layerSize / 1024).toFixed(0)} KiB${options.large > 0 ? `, plus one ${options.large} MiB layer` : ''}); ` +
          `seeded in ${((performance.now() - t) / 1000).toFixed(1)} s`,
      );
    }

    const mapping: RepoMapping[] = repositories.map((from) => ({ from, to: `mirror/${path.posix.basename(from)}` }));
    if (new Set(mapping.map((m) => m.to)).size !== mapping.length) {
      throw new Error('two source repositories share a last path component; skopeo sync would merge them');
    }

    const destinations = new Map<Tool, { registry: TestRegistry; tap: ByteTap }>();
    for (const tool of tools) {
      const registry = await startRegistry({ tls: options.tls });
      registries.push(registry);
      destinations.set(tool, { registry, tap: new ByteTap(registry.requestLog) });
    }

    // skopeo's second opinion on a few tags: a Docker image, an OCI image, an index.
    const sample = [
      corpus.entries.find((e) => e.kind === 'image' && e.flavour === 'docker'),
      corpus.entries.find((e) => e.kind === 'image' && e.flavour === 'oci'),
      corpus.entries.find((e) => e.kind === 'index'),
    ].filter((e): e is CorpusEntry => e !== undefined);

    const rows: RowResult[] = [];
    let floor: FloorRun | undefined;
    let changed: CorpusEntry[] = [];
    for (const scenario of SCENARIOS) {
      if (scenario === 'after change') {
        t = performance.now();
        changed = await changeTags(source, corpus, options);
        info.changedTags = changed.map((e) => `${e.repository}:${e.tag}`);
        if (pass === 0) {
          say(
            `  (re-pushed ${changed.length} of ${corpus.entries.length} source tags with different images, ` +
              `${changed.filter((e) => e.kind === 'index').length} of them indexes, in ${((performance.now() - t) / 1000).toFixed(1)} s)`,
          );
        }
      }
      for (const tool of tools) {
        const { registry: destination, tap } = destinations.get(tool)!;
        await Promise.all([source.requestLog.settle(), destination.requestLog.settle()]);
        source.requestLog.clear();
        destination.requestLog.clear();
        sourceTap.reset();
        tap.reset();
        const before = await storedBlobBytes(destination);
        const logFile = path.join(work, `pass${pass}-${tool}-${scenario.replace(/\W+/g, '-')}.log`);

        const run =
          tool === 'skopeo'
            ? await runSkopeo(options, source, destination, mapping, work, logFile)
            : await runFerry(options, source, destination, mapping, work, logFile, options.routines, tool === 'before' ? BEFORE_BIN : FERRY_BIN);

        await Promise.all([source.requestLog.settle(), destination.requestLog.settle()]);
        const srcCount = countRequests(source.requestLog);
        const dstCount = countRequests(destination.requestLog);
        const after = await storedBlobBytes(destination);
        const verify = await verifyCopy(source, destination, mapping, scenario === 'after change' ? [...sample, ...changed.slice(0, 2)] : sample);
        const stored = after.bytes - before.bytes;
        const row: RowResult = {
          pass,
          scenario,
          tool,
          wallSeconds: run.wallMs / 1000,
          exitCode: run.exitCode,
          processes: run.processes,
          peakRssMiB: run.peakRssKiB / 1024,
          cpuSeconds: run.cpuSeconds,
          rssMethod: run.rssMethod,
          requests: { total: srcCount.total + dstCount.total, source: srcCount, destination: dstCount },
          bytes: {
            stored,
            blobsStored: after.count - before.count,
            pulledBlobs: sourceTap.blobGetBytes,
            sourceServed: sourceTap.served,
          },
          mbPerSec: stored / MB / (run.wallMs / 1000),
          verify,
          log: logFile,
        };
        if (tool === 'ferry') row.ferrySays = await ferrySelfReport(logFile);
        rows.push(row);
        say(
          `  pass ${pass + 1}  ${scenario.padEnd(12)} ${tool.padEnd(6)} ${row.wallSeconds.toFixed(2).padStart(6)} s, exit ${row.exitCode}, ` +
            `${row.requests.total} requests, ${(stored / MiB).toFixed(1)} MiB stored, digests ${describeVerify(verify)}`,
        );
        if (run.exitCode !== 0) {
          const text = await readFile(logFile, 'utf8').catch(() => '');
          say(`    ${tool} failed; last lines of ${logFile}:\n${text.split('\n').slice(-15).map((l) => `      ${l}`).join('\n')}`);
        }
        for (const line of [...verify.mismatched, ...verify.missing, ...verify.extraTags].slice(0, 5)) say(`    ${line}`);
        if (tool === 'ferry' && scenario === 'no-op rerun' && !options.tls) {
          floor = await noChangeFloor(options, source, destination, mapping, path.join(work, `pass${pass}-floor.log`));
          say(
            `  pass ${pass + 1}  no-op floor         ${(floor.wallMs / 1000).toFixed(2).padStart(6)} s, ${floor.requests} requests, ` +
              `${floor.same}/${floor.tags} tags at the same digest (bench/head-floor.mjs)`,
          );
        }
      }
    }
    return { rows, corpus: info, floor };
  } finally {
    await Promise.all(registries.map((r) => r.stop()));
  }
}

// ---------------------------------------------------------------------------------------------
// Summary

function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

interface Summary {
  scenario: Scenario;
  tool: Tool;
  passes: number;
  /** Medians over the passes. */
  wallSeconds: number;
  wallMin: number;
  wallMax: number;
  mbPerSec: number;
  peakRssMiB: number;
  cpuSeconds: number;
  requests: number;
  sourceRequests: number;
  destinationRequests: number;
  storedBytes: number;
  pulledBlobBytes: number;
  /** Every pass exited 0 and verified. */
  ok: boolean;
  digests: string;
  /** ferry's median wall ÷ skopeo's median wall for this scenario (ferry rows only). */
  ferryOverSkopeo?: number;
}

function summarise(rows: readonly RowResult[], options: Options): Summary[] {
  const out: Summary[] = [];
  for (const scenario of SCENARIOS) {
    for (const tool of options.tools) {
      const mine = rows.filter((r) => r.scenario === scenario && r.tool === tool);
      if (mine.length === 0) continue;
      const m = (f: (r: RowResult) => number) => median(mine.map(f));
      const failed = mine.filter((r) => r.exitCode !== 0 || !r.verify.ok);
      const walls = mine.map((r) => r.wallSeconds);
      out.push({
        scenario,
        tool,
        passes: mine.length,
        wallSeconds: m((r) => r.wallSeconds),
        wallMin: Math.min(...walls),
        wallMax: Math.max(...walls),
        mbPerSec: m((r) => r.mbPerSec),
        peakRssMiB: m((r) => r.peakRssMiB),
        cpuSeconds: m((r) => r.cpuSeconds),
        requests: m((r) => r.requests.total),
        sourceRequests: m((r) => r.requests.source.total),
        destinationRequests: m((r) => r.requests.destination.total),
        storedBytes: m((r) => r.bytes.stored),
        pulledBlobBytes: m((r) => r.bytes.pulledBlobs),
        ok: failed.length === 0,
        digests: describePasses(mine),
      });
    }
    const f = out.find((s) => s.scenario === scenario && s.tool === 'ferry');
    const k = out.find((s) => s.scenario === scenario && s.tool === 'skopeo');
    if (f && k) f.ferryOverSkopeo = f.wallSeconds / k.wallSeconds;
    const b = out.find((s) => s.scenario === scenario && s.tool === 'before');
    if (b && k) b.ferryOverSkopeo = b.wallSeconds / k.wallSeconds;
  }
  return out;
}

/** Columns padded to their widest cell; the `numeric` ones right-aligned. */
function printAligned(header: string[], body: string[][], numeric: ReadonlySet<number>): void {
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const fmt = (cells: string[]) =>
    cells.map((c, i) => (numeric.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd();
  console.log(fmt(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const b of body) console.log(fmt(b));
}

function printTable(summary: readonly Summary[], options: Options): void {
  const header = [
    'scenario',
    'tool',
    'wall s',
    'min–max',
    'MB/s',
    'peak RSS MiB',
    'CPU s',
    'requests (src+dst)',
    'stored MiB',
    'pulled MiB',
    'digests = source',
    'time ferry/skopeo',
  ];
  const body = summary.map((s) => [
    s.scenario,
    s.tool,
    s.wallSeconds.toFixed(2),
    s.passes > 1 ? `${s.wallMin.toFixed(2)}–${s.wallMax.toFixed(2)}` : '',
    s.storedBytes > 0 ? s.mbPerSec.toFixed(1) : '-',
    s.peakRssMiB.toFixed(0),
    s.cpuSeconds.toFixed(2),
    `${s.requests} (${s.sourceRequests}+${s.destinationRequests})`,
    (s.storedBytes / MiB).toFixed(1),
    (s.pulledBlobBytes / MiB).toFixed(1),
    s.digests,
    s.ferryOverSkopeo === undefined ? '' : `${s.ferryOverSkopeo.toFixed(2)}×`,
  ]);
  printAligned(header, body, new Set([2, 3, 4, 5, 6, 8, 9]));
  console.log(
    `${options.repeat > 1 ? `median of ${options.repeat} passes (fresh registries each, tool order alternating); ` : ''}` +
      `wall = process start to exit; MB/s = blob bytes newly stored at the destination ÷ wall (MB = 10^6 B); ` +
      `peak RSS and CPU from /usr/bin/time -v.\n` +
      `ferry transfer --routines ${options.routines}${options.qps ? ` --qps ${options.qps}` : ''}; ` +
      `skopeo sync ${options.skopeoMode === 'yaml' ? '--src yaml (one process)' : '--src docker (one process per repository)'} --all` +
      `${options.preserveDigests ? ' --preserve-digests' : ' (default options, no --preserve-digests)'}.` +
      `${options.tls ? '\nAll registries on HTTPS with their own CA (ferry caFile, skopeo cert-dir).' : ''}`,
  );
}

// ---------------------------------------------------------------------------------------------
// Far link: the source registry across an emulated long link, the destination near
//
// Both tools reach the source only through test/harness/link-emulator.ts (its port is the source
// registry's address for them); seeding and checking go to the registry directly. Each tool run gets
// a fresh destination registry and zeroed link counters. Figures per run: wall time, bytes that
// crossed the link (server→client: what the source sent; the link's cap is per direction), and the
// link floor = the image bytes (the source's blob store: layers, configs, manifests) ÷ link rate,
// the least time any tool could take.

interface FarRow {
  pass: number;
  scenario: FarScenario;
  /** 'skopeo', 'ferry', 'ferry --routines 32'. */
  variant: string;
  tool: Tool;
  wallSeconds: number;
  exitCode: number;
  peakRssMiB: number;
  cpuSeconds: number;
  /** CPU this bench process (the link emulator, in the main) used while the tool ran: on a small machine the tool shares the cores with it and the two registries. */
  emulatorCpuSeconds: number;
  imageBytes: number;
  /** Bytes the source sent across the link to the tool, and the tool's requests/uploads to it. */
  linkDown: number;
  linkUp: number;
  connections: number;
  cuts: number;
  verify: VerifyResult;
}

function farLabel(scenario: FarScenario, far: FarOptions, options: Options): string {
  if (scenario === 'corpus') return `${options.repos} repos × ${options.tags} tags`;
  if (scenario === 'large') return `one ${far.largeMiB} MiB layer`;
  return `${far.largeMiB} MiB layer, cut at ${far.cutPercent}%`;
}

async function farPass(options: Options, far: FarOptions, pass: number, work: string, say: (text: string) => void): Promise<FarRow[]> {
  const rows: FarRow[] = [];
  const stops: Array<() => Promise<void>> = [];
  const linkOptions = { rttMs: far.rttMs, connectionRate: far.connectionRate, linkRate: far.linkRate };
  const runVariants = async (
    scenario: FarScenario,
    source: TestRegistry,
    link: LinkEmulator,
    mapping: RepoMapping[],
    sample: { repository: string; tag: string }[],
    imageBytes: number,
    variants: { variant: string; tool: Tool; routines?: number }[],
  ): Promise<void> => {
    // The tools see the link's port as the source registry.
    const farSource: TestRegistry = { ...source, host: link.host, url: `${new URL(source.url).protocol}//${link.host}` };
    const ordered = pass % 2 === 0 ? variants : [...variants].reverse();
    for (const { variant, tool, routines } of ordered) {
      const destination = await startRegistry({ tls: options.tls });
      try {
        link.resetCounters();
        if (scenario === 'cut') link.cutOnceAt(Math.round((far.largeMiB * MiB * far.cutPercent) / 100), { across: 'link' });
        const logFile = path.join(work, `far-pass${pass}-${scenario}-${variant.replace(/\W+/g, '-')}.log`);
        const emulatorCpu = process.cpuUsage();
        const run =
          tool === 'skopeo'
            ? await runSkopeo(options, farSource, destination, mapping, work, logFile, ['--retry-times', '3'])
            : await runFerry(options, farSource, destination, mapping, work, logFile, routines, tool === 'before' ? BEFORE_BIN : FERRY_BIN);
        const emulatorUsed = process.cpuUsage(emulatorCpu);
        const stats = link.stats;
        const verify = await verifyCopy(source, destination, mapping, sample);
        const row: FarRow = {
          pass,
          scenario,
          variant,
          tool,
          wallSeconds: run.wallMs / 1000,
          exitCode: run.exitCode,
          peakRssMiB: run.peakRssKiB / 1024,
          cpuSeconds: run.cpuSeconds,
          emulatorCpuSeconds: (emulatorUsed.user + emulatorUsed.system) / 1e6,
          imageBytes,
          linkDown: stats.serverToClient,
          linkUp: stats.clientToServer,
          connections: stats.connections,
          cuts: stats.cuts,
          verify,
        };
        rows.push(row);
        say(
          `  pass ${pass + 1}  ${farLabel(scenario, far, options).padEnd(26)} ${variant.padEnd(20)} ${row.wallSeconds.toFixed(2).padStart(6)} s, exit ${row.exitCode}, ` +
            `${(row.linkDown / MB).toFixed(1)} MB across the link (${(row.linkDown / imageBytes).toFixed(2)}× the image bytes), ` +
            `${row.connections} connections, ${row.cuts} cut, CPU ${row.cpuSeconds.toFixed(2)} s (emulator ${row.emulatorCpuSeconds.toFixed(2)} s), digests ${describeVerify(verify)}`,
        );
        if (run.exitCode !== 0) {
          const text = await readFile(logFile, 'utf8').catch(() => '');
          say(`    ${variant} failed; last lines of ${logFile}:\n${text.split('\n').slice(-15).map((l) => `      ${l}`).join('\n')}`);
        }
      } finally {
        await destination.stop();
      }
    }
  };

  try {
    if (far.scenarios.includes('corpus')) {
      const source = await startRegistry({ tls: options.tls });
      stops.push(() => source.stop());
      const t = performance.now();
      const corpus = await seedCorpus(source, {
        repositories: options.repos,
        tagsPerRepo: options.tags,
        layerSize: options.layerSize,
        seed: options.seed,
        indexEvery: options.indexEvery,
      });
      const seeded = await storedBlobBytes(source);
      if (pass === 0) {
        say(
          `corpus: ${corpus.repositories.length} repositories, ${corpus.entries.length} tags, ${seeded.count} blobs incl. manifests, ` +
            `${(seeded.bytes / MB).toFixed(1)} MB (layers of ${(options.layerSize / 1024).toFixed(0)} KiB); seeded in ${((performance.now() - t) / 1000).toFixed(1)} s`,
        );
      }
      const link = await startLinkEmulator(source, linkOptions);
      stops.push(() => link.stop());
      const mapping = corpus.repositories.map((from) => ({ from, to: `mirror/${path.posix.basename(from)}` }));
      const sample = [corpus.entries.find((e) => e.kind === 'image'), corpus.entries.find((e) => e.kind === 'index')].filter(
        (e): e is CorpusEntry => e !== undefined,
      );
      await runVariants('corpus', source, link, mapping, sample, seeded.bytes, [
        ...(options.tools.includes('skopeo') ? [{ variant: 'skopeo', tool: 'skopeo' as Tool }] : []),
        ...(['ferry', 'before'] as const)
          .filter((tool) => options.tools.includes(tool))
          .flatMap((tool) => [
            { variant: tool, tool: tool as Tool },
            ...far.routines.filter((r) => r !== options.routines).map((r) => ({ variant: `${tool} --routines ${r}`, tool: tool as Tool, routines: r })),
          ]),
      ]);
      await link.stop();
      await source.stop();
      stops.length = 0;
    }
    const wantLarge = far.largeMiB > 0 && far.scenarios.includes('large');
    const wantCut = far.largeMiB > 0 && far.cutPercent > 0 && far.scenarios.includes('cut');
    if (wantLarge || wantCut) {
      const source = await startRegistry({ tls: options.tls });
      stops.push(() => source.stop());
      const t = performance.now();
      await pushImage(source, 'big/large', '1.0.0', {
        flavour: 'docker',
        layers: [randomLayer(far.largeMiB * MiB, `${options.seed}:large`)],
        labels: { 'org.ferry.bench': 'large' },
      });
      const seeded = await storedBlobBytes(source);
      if (pass === 0) {
        say(`large image: one ${far.largeMiB} MiB layer, ${(seeded.bytes / MB).toFixed(1)} MB in all; seeded in ${((performance.now() - t) / 1000).toFixed(1)} s`);
      }
      const link = await startLinkEmulator(source, linkOptions);
      stops.push(() => link.stop());
      const mapping = [{ from: 'big/large', to: 'mirror/large' }];
      const sample = [{ repository: 'big/large', tag: '1.0.0' }];
      const variants = options.tools.map((tool) => ({ variant: tool, tool }));
      if (wantLarge) await runVariants('large', source, link, mapping, sample, seeded.bytes, variants);
      if (wantCut) await runVariants('cut', source, link, mapping, sample, seeded.bytes, variants);
    }
  } finally {
    await Promise.all(stops.map((stop) => stop()));
  }
  return rows;
}

interface FarSummary {
  scenario: FarScenario;
  variant: string;
  passes: number;
  wallSeconds: number;
  /** Link floor: image bytes ÷ link rate. */
  floorSeconds: number;
  linkDown: number;
  imageBytes: number;
  connections: number;
  cuts: number;
  peakRssMiB: number;
  cpuSeconds: number;
  emulatorCpuSeconds: number;
  ok: boolean;
  digests: string;
  /** This variant's wall ÷ skopeo's, same scenario. */
  overSkopeo?: number;
}

function summariseFar(rows: readonly FarRow[], far: FarOptions): FarSummary[] {
  const out: FarSummary[] = [];
  const keys = [...new Map(rows.map((r) => [`${r.scenario}\u0000${r.variant}`, r])).values()];
  for (const scenario of ['corpus', 'large', 'cut'] as const) {
    for (const key of keys.filter((k) => k.scenario === scenario)) {
      const mine = rows.filter((r) => r.scenario === scenario && r.variant === key.variant);
      const m = (f: (r: FarRow) => number) => median(mine.map(f));
      const failed = mine.filter((r) => r.exitCode !== 0 || !r.verify.ok);
      out.push({
        scenario,
        variant: key.variant,
        passes: mine.length,
        wallSeconds: m((r) => r.wallSeconds),
        floorSeconds: key.imageBytes / far.linkRate,
        linkDown: m((r) => r.linkDown),
        imageBytes: key.imageBytes,
        connections: m((r) => r.connections),
        cuts: m((r) => r.cuts),
        peakRssMiB: m((r) => r.peakRssMiB),
        cpuSeconds: m((r) => r.cpuSeconds),
        emulatorCpuSeconds: m((r) => r.emulatorCpuSeconds),
        ok: failed.length === 0,
        digests: describePasses(mine),
      });
    }
    const skopeoRow = out.find((s) => s.scenario === scenario && s.variant === 'skopeo');
    if (skopeoRow) for (const s of out) if (s.scenario === scenario && s !== skopeoRow) s.overSkopeo = s.wallSeconds / skopeoRow.wallSeconds;
  }
  return out;
}

function printFarTable(summary: readonly FarSummary[], far: FarOptions, options: Options): void {
  const header = ['scenario', 'tool', 'wall s', '÷ skopeo', 'link floor s', 'wall ÷ floor', 'MB across', 'across ÷ image', 'conns', 'cuts', 'peak RSS MiB', 'CPU s', 'emulator CPU s', 'digests = source'];
  const body = summary.map((s) => [
    farLabel(s.scenario, far, options),
    s.variant,
    s.wallSeconds.toFixed(2),
    s.overSkopeo === undefined ? '' : `${s.overSkopeo.toFixed(2)}× (${(1 / s.overSkopeo).toFixed(1)}× faster)`,
    s.floorSeconds.toFixed(2),
    `${(s.wallSeconds / s.floorSeconds).toFixed(2)}×`,
    (s.linkDown / MB).toFixed(1),
    `${(s.linkDown / s.imageBytes).toFixed(2)}×`,
    String(s.connections),
    String(s.cuts),
    s.peakRssMiB.toFixed(0),
    s.cpuSeconds.toFixed(2),
    s.emulatorCpuSeconds.toFixed(2),
    s.digests,
  ]);
  printAligned(header, body, new Set([2, 4, 5, 6, 7, 8, 9, 10, 11, 12]));
  console.log(
    `${options.repeat > 1 ? `median of ${options.repeat} passes; ` : ''}link: ${far.rttMs} ms round trip, ${(far.connectionRate / MB).toFixed(1)} MB/s per connection, ` +
      `${(far.linkRate / MB).toFixed(1)} MB/s for the link (MB = 10^6 B), source far, destination near.\n` +
      `link floor = image bytes (source blob store: layers, configs, manifests) ÷ link rate; MB across = bytes the source sent over the link; ` +
      `the cut resets the connection carrying the byte at ${far.cutPercent}% of the layer, counted across the link; ` +
      `CPU s = the tool's user + system, emulator CPU s = this process's while the tool ran (the link emulator; both registries use CPU beside them).\n` +
      `ferry transfer --routines ${options.routines}${options.ferryArgs.length ? ` ${options.ferryArgs.join(' ')}` : ''}; ` +
      `skopeo sync --retry-times 3 ${options.skopeoMode === 'yaml' ? '--src yaml' : '--src docker (one process per repository)'} --all.`,
  );
}

async function farMain(options: Options, far: FarOptions): Promise<void> {
  const startedAt = new Date();
  if (!existsSync(path.join(ROOT, 'dist', 'commands', 'transfer.js'))) throw new Error('dist/ is missing: run `npm run build` first (npm run bench does)');
  const skopeoVersion = (await skopeo(['--version'])).toString('utf8').trim();
  const loadBefore = os.loadavg();
  const work = await mkdtemp(path.join(os.tmpdir(), 'ferry-bench-far-'));
  const say = (text: string) => console.log(text);
  let keepWork = true;
  try {
    const rows: FarRow[] = [];
    for (let pass = 0; pass < options.repeat; pass++) rows.push(...(await farPass(options, far, pass, work, say)));
    const summary = summariseFar(rows, far);
    console.log('');
    printFarTable(summary, far, options);
    const loadAfter = os.loadavg();
    console.log(
      `load average (1/5/15 min) before: ${loadBefore.map((l) => l.toFixed(2)).join(' ')}, after: ${loadAfter.map((l) => l.toFixed(2)).join(' ')} (${os.cpus().length} CPUs)`,
    );
    const allOk = summary.every((s) => s.ok);
    console.log(allOk ? 'every run exited 0 and every destination tag has the source digest' : 'SOME RUNS FAILED OR COPIED WRONG: see above');
    await mkdir(path.dirname(options.out), { recursive: true });
    await writeFile(
      options.out,
      `${JSON.stringify(
        {
          startedAt: startedAt.toISOString(),
          environment: { node: process.version, skopeo: skopeoVersion, cpus: os.cpus().length, loadAverageBefore: loadBefore, loadAverageAfter: loadAfter },
          options: { ...options, out: path.relative(ROOT, options.out) },
          summary,
          runs: rows,
        },
        null,
        2,
      )}\n`,
    );
    keepWork = !allOk || process.env.BENCH_KEEP_LOGS === '1';
    console.log(`results: ${path.relative(process.cwd(), options.out)}${keepWork ? `; tool logs kept in ${work}` : ''}`);
    if (!allOk) process.exitCode = 1;
  } catch (error) {
    console.error(`bench failed; tool logs kept in ${work}`);
    throw error;
  } finally {
    if (!keepWork) await rm(work, { recursive: true, force: true }).catch(() => undefined);
  }
}

// ---------------------------------------------------------------------------------------------
// Main

async function main(): Promise<void> {
  const options = parseOptions();
  if (options.far) return farMain(options, options.far);
  const startedAt = new Date();
  if (!existsSync(path.join(ROOT, 'dist', 'commands', 'transfer.js'))) {
    throw new Error('dist/ is missing: run `npm run build` first (npm run bench does)');
  }
  if (!existsSync(TIME_BIN)) {
    console.warn(`note: ${TIME_BIN} not found (apt-get install time); peak RSS falls back to polling /proc, CPU s reads 0`);
  }
  const skopeoVersion = (await skopeo(['--version'])).toString('utf8').trim();
  // Everything here shares the CPUs with the registries; other work on the machine skews it.
  const loadBefore = os.loadavg();
  if (loadBefore[0]! > os.cpus().length / 2) {
    console.warn(
      `warning: load average ${loadBefore.map((l) => l.toFixed(2)).join(' ')} on ${os.cpus().length} CPUs before starting; ` +
        'timings will be skewed by whatever else is running',
    );
  }
  const work = await mkdtemp(path.join(os.tmpdir(), 'ferry-bench-'));
  const say = (text: string) => console.log(text);
  let keepWork = false;
  try {
    const rows: RowResult[] = [];
    const floors: FloorRun[] = [];
    let corpus: CorpusInfo | undefined;
    for (let pass = 0; pass < options.repeat; pass++) {
      const result = await onePass(options, pass, work, say);
      rows.push(...result.rows);
      if (result.floor) floors.push(result.floor);
      corpus ??= result.corpus;
    }
    let ceiling: Ceiling | undefined;
    if (options.ceilingMiB > 0) ceiling = await loopbackCeiling(options.ceilingMiB, Math.max(3, options.repeat), work);

    const summary = summarise(rows, options);
    console.log('');
    printTable(summary, options);
    if (ceiling) {
      const rss = median(ceiling.runs.map((r) => r.peakRssKiB / 1024));
      console.log(
        `loopback ceiling: one ${(ceiling.bytes / MiB).toFixed(0)} MiB blob, Node GET piped into one PUT (no hashing), ` +
          `${ceiling.runs.length} runs: median ${ceiling.medianMbPerSec.toFixed(0)} MB/s, best ${ceiling.bestMbPerSec.toFixed(0)} MB/s ` +
          `(${ceiling.runs.map((r) => (r.innerMs / 1000).toFixed(2)).join(' / ')} s; peak RSS ${rss.toFixed(0)} MiB; ` +
          `${ceiling.runs.every((r) => r.verified) ? 'landed intact' : 'NOT VERIFIED'})`,
      );
    }
    if (floors.length > 0) {
      const floorWall = median(floors.map((f) => f.wallMs / 1000));
      const wallOf = (tool: Tool) => summary.find((s) => s.scenario === 'no-op rerun' && s.tool === tool)?.wallSeconds;
      const ferryWall = wallOf('ferry');
      const skopeoWall = wallOf('skopeo');
      console.log(
        `no-change floor (bench/head-floor.mjs: list tags, HEAD each tag at both sides, ${options.routines} in flight, plain node:http): ` +
          `median ${floorWall.toFixed(2)} s wall for ${floors[0]!.requests} requests` +
          (ferryWall ? `; ferry's no-op run = ${(ferryWall / floorWall).toFixed(2)}× the floor` : '') +
          (skopeoWall ? `; the floor ÷ skopeo's no-op run = ${(floorWall / skopeoWall).toFixed(2)}×` : ''),
      );
    }
    for (const r of rows.filter((x) => x.ferrySays && x.pass === 0)) console.log(`ferry's own summary, ${r.scenario}: ${r.ferrySays}`);
    const allOk = summary.every((s) => s.ok);
    const loadAfter = os.loadavg();
    console.log(
      `load average (1/5/15 min) before: ${loadBefore.map((l) => l.toFixed(2)).join(' ')}, ` +
        `after: ${loadAfter.map((l) => l.toFixed(2)).join(' ')} (${os.cpus().length} CPUs; the bench itself keeps 1–2 busy)`,
    );
    console.log(
      allOk
        ? 'every run exited 0 and every destination tag has the source digest (children and blobs present)'
        : 'SOME RUNS FAILED OR COPIED WRONG: see above',
    );

    const results = {
      startedAt: startedAt.toISOString(),
      environment: {
        node: process.version,
        skopeo: skopeoVersion,
        registry: `docker-registry (Debian, CNCF Distribution 2.8), filesystem storage, no blob descriptor cache, 127.0.0.1${options.tls ? ', HTTPS' : ''}`,
        cpus: os.cpus().length,
        cpuModel: os.cpus()[0]?.model,
        memoryMiB: Math.round(os.totalmem() / MiB),
        rssMethod: rows[0]?.rssMethod,
        loadAverageBefore: loadBefore,
        loadAverageAfter: loadAfter,
      },
      options: { ...options, out: path.relative(ROOT, options.out) },
      corpus,
      units: {
        wallSeconds: 's, process start to exit',
        mbPerSec: 'blob bytes newly stored at the destination / wall, MB = 10^6 B',
        peakRssMiB: 'MiB, ru_maxrss from /usr/bin/time -v',
        cpuSeconds: 'user + system s',
      },
      summary,
      runs: rows.map(({ log: _log, ...r }) => r),
      ceiling,
      noChangeFloor: floors,
    };
    await mkdir(path.dirname(options.out), { recursive: true });
    await writeFile(options.out, `${JSON.stringify(results, null, 2)}\n`);
    keepWork = !allOk;
    console.log(`results: ${path.relative(process.cwd(), options.out)}${keepWork ? `; tool logs kept in ${work}` : ''}`);
    if (!allOk) process.exitCode = 1;
  } catch (error) {
    keepWork = true;
    console.error(`bench failed; tool logs kept in ${work}`);
    throw error;
  } finally {
    if (!keepWork) await rm(work, { recursive: true, force: true }).catch(() => undefined);
  }
}

await main();
