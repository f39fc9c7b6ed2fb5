// The no-change floor: the least work that can prove a tag unchanged, done as cheaply as Node can.
// Lists each source repository's tags, then HEADs every tag's manifest at the source and at the
// destination (one keep-alive agent, N requests in flight, no auth, no limiter, no retries) and
// counts how many digests match. bench/run.ts runs it under /usr/bin/time after ferry's no-change
// run, so that run's wall time can be read against what the registries themselves allow.
//
//   node bench/head-floor.mjs SRC_URL DST_URL CONCURRENCY SRC_REPOSITORY=DST_REPOSITORY...
import http from 'node:http';

const [srcUrl, dstUrl, concurrencyText, ...pairs] = process.argv.slice(2);
const concurrency = Number(concurrencyText);
const repositories = pairs.map((pair) => pair.split('='));
if (!srcUrl || !dstUrl || !(concurrency > 0) || repositories.length === 0 || repositories.some((pair) => pair.length !== 2)) {
  console.error('usage: head-floor.mjs SRC_URL DST_URL CONCURRENCY SRC_REPOSITORY=DST_REPOSITORY...');
  process.exit(2);
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
const ACCEPT = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');
let requests = 0;

function send(base, path, method) {
  requests++;
  return new Promise((resolve, reject) => {
    const req = http.request(new URL(path, base), { method, agent, headers: { accept: ACCEPT } }, (res) => {
      const chunks = [];
      res.on('data', (chunk) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** Runs `work` over `items` with at most `limit` in flight. */
async function eachLimited(items, limit, work) {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) await work(items[next++]);
    }),
  );
}

const started = performance.now();
const tags = [];
await eachLimited(repositories, concurrency, async ([from, to]) => {
  const listed = await send(srcUrl, `/v2/${from}/tags/list`, 'GET');
  if (listed.status !== 200) throw new Error(`tags of ${from}: HTTP ${listed.status}`);
  for (const tag of JSON.parse(listed.body.toString()).tags ?? []) tags.push({ from, to, tag });
});
let same = 0;
await eachLimited(tags, concurrency, async ({ from, to, tag }) => {
  const [source, destination] = await Promise.all([
    send(srcUrl, `/v2/${from}/manifests/${tag}`, 'HEAD'),
    send(dstUrl, `/v2/${to}/manifests/${tag}`, 'HEAD'),
  ]);
  const digest = source.headers['docker-content-digest'];
  if (digest && digest === destination.headers['docker-content-digest']) same++;
});
console.log(JSON.stringify({ tags: tags.length, same, requests, innerMs: performance.now() - started }));
agent.destroy();
