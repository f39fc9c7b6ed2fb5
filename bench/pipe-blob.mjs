// The loopback ceiling: the simplest possible registry-to-registry blob copy in Node.
// One GET piped straight into one monolithic PUT, no hashing, no retries, no auth,
// plain HTTP only. bench/run.ts runs it under /usr/bin/time and reads the JSON line
// it prints; figures for ferry and skopeo are read against it.
//
//   node bench/pipe-blob.mjs SRC_URL DST_URL REPOSITORY DIGEST
import http from 'node:http';

const [srcUrl, dstUrl, repository, digest] = process.argv.slice(2);
if (!srcUrl || !dstUrl || !repository || !digest) {
  console.error('usage: pipe-blob.mjs SRC_URL DST_URL REPOSITORY DIGEST');
  process.exit(2);
}

function request(url, method, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers }, resolve);
    req.on('error', reject);
    req.end();
  });
}

function drain(res) {
  return new Promise((resolve, reject) => {
    res.on('data', () => {});
    res.on('end', resolve);
    res.on('error', reject);
  });
}

const started = performance.now();

const post = await request(new URL(`/v2/${repository}/blobs/uploads/`, dstUrl), 'POST', { 'content-length': '0' });
await drain(post);
if (post.statusCode !== 202 || !post.headers.location) throw new Error(`POST upload: HTTP ${post.statusCode}`);
const target = new URL(post.headers.location, dstUrl);
target.searchParams.set('digest', digest);

const get = await request(new URL(`/v2/${repository}/blobs/${digest}`, srcUrl), 'GET');
if (get.statusCode !== 200) throw new Error(`GET blob: HTTP ${get.statusCode}`);
const length = get.headers['content-length'];

const put = await new Promise((resolve, reject) => {
  const req = http.request(
    target,
    { method: 'PUT', headers: { 'content-type': 'application/octet-stream', 'content-length': length } },
    resolve,
  );
  req.on('error', reject);
  get.on('error', reject);
  get.pipe(req);
});
await drain(put);
if (put.statusCode !== 201) throw new Error(`PUT blob: HTTP ${put.statusCode}`);

const ms = performance.now() - started;
console.log(JSON.stringify({ ms, bytes: Number(length) }));
