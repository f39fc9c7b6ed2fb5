import {describe, it} from 'node:test'
import assert from 'node:assert/strict'
import {ConfigError} from '../../src/errors.js'
import {
  formatReference,
  formatRepository,
  normalizeRegistry,
  parseReference,
  parseRegistryHost,
  parseRepositoryAndTags,
  registryEndpoint,
  type ImageReference,
} from '../../src/reference.js'

const SHA256 = `sha256:${'ab'.repeat(32)}`
const SHA512 = `sha512:${'cd'.repeat(64)}`

describe('parseReference', () => {
  const valid: [string, ImageReference][] = [
    ['nginx', {registry: 'docker.io', repository: 'library/nginx'}],
    ['nginx:1.25', {registry: 'docker.io', repository: 'library/nginx', tag: '1.25'}],
    ['user/app', {registry: 'docker.io', repository: 'user/app'}],
    ['docker.io/nginx', {registry: 'docker.io', repository: 'library/nginx'}],
    ['index.docker.io/library/nginx:latest', {registry: 'docker.io', repository: 'library/nginx', tag: 'latest'}],
    ['registry-1.docker.io/foo/bar', {registry: 'docker.io', repository: 'foo/bar'}],
    ['registry.hub.docker.com/nginx', {registry: 'docker.io', repository: 'library/nginx'}],
    ['Docker.IO/nginx', {registry: 'docker.io', repository: 'library/nginx'}],
    ['quay.io/coreos/etcd:v3.5.0', {registry: 'quay.io', repository: 'coreos/etcd', tag: 'v3.5.0'}],
    ['quay.io/app', {registry: 'quay.io', repository: 'app'}],
    ['localhost/app', {registry: 'localhost', repository: 'app'}],
    ['localhost:5000/app:v1', {registry: 'localhost:5000', repository: 'app', tag: 'v1'}],
    ['127.0.0.1:5000/app', {registry: '127.0.0.1:5000', repository: 'app'}],
    ['[::1]:5000/ns/app:1', {registry: '[::1]:5000', repository: 'ns/app', tag: '1'}],
    ['[fe80::1]/app', {registry: '[fe80::1]', repository: 'app'}],
    ['REG.IO:5000/app', {registry: 'reg.io:5000', repository: 'app'}],
    ['reg.io/a/b/c/d:tag', {registry: 'reg.io', repository: 'a/b/c/d', tag: 'tag'}],
    ['a__b/c.d/e-f/g--h:_T.a-g', {registry: 'docker.io', repository: 'a__b/c.d/e-f/g--h', tag: '_T.a-g'}],
    [`nginx@${SHA256}`, {registry: 'docker.io', repository: 'library/nginx', digest: SHA256}],
    [`nginx:1.25@${SHA256}`, {registry: 'docker.io', repository: 'library/nginx', tag: '1.25', digest: SHA256}],
    [`reg.io:443/x@${SHA512}`, {registry: 'reg.io:443', repository: 'x', digest: SHA512}],
    // As docker reads them: without a '/', a first component is never a registry.
    ['localhost', {registry: 'docker.io', repository: 'library/localhost'}],
    ['localhost:5000', {registry: 'docker.io', repository: 'library/localhost', tag: '5000'}],
    [`a:${'t'.repeat(128)}`, {registry: 'docker.io', repository: 'library/a', tag: 't'.repeat(128)}],
  ]
  for (const [text, expected] of valid) {
    it(`reads ${text.length > 60 ? `${text.slice(0, 60)}…` : text}`, () => {
      assert.deepEqual(parseReference(text), expected)
    })
  }

  const invalid: [string, RegExp][] = [
    ['', /is empty/],
    ['   ', /is empty/],
    ['Nginx', /"Nginx" has uppercase letters/],
    ['reg.io/Ns/app', /"Ns" has uppercase/],
    ['reg.io/../etc/passwd', /path component "\.\." is not allowed/],
    ['reg.io/ns/../../x', /"\.\." is not allowed/],
    ['reg.io/ns/./x', /"\." is not allowed/],
    ['reg.io/ns//app', /empty path component/],
    ['reg.io/ns/app/', /ends with '\/'/],
    ['/app', /starts with '\/'/],
    ['reg.io/', /repository name is empty/],
    ['-app', /must start and end with a letter or digit/],
    ['app-', /must start and end with a letter or digit/],
    ['a..b', /separator sequence/],
    ['a._b', /separator sequence/],
    ['reg.io/ns/%2e%2e/x', /invalid character "%"/],
    ['reg.io/ns\\x', /invalid character "\\\\"/],
    ['nginx:', /no tag after it/],
    ['nginx:.bad', /must start with a letter, digit or '_'/],
    ['nginx:a b', /may only contain/],
    [`nginx:${'a'.repeat(129)}`, /tag is 129 characters long; the limit is 128/],
    ['nginx:1,2', /several tags/],
    ['nginx@sha256:abc', /sha256 digest has 3 hex digits; it needs 64/],
    [`nginx@sha256:${'a'.repeat(65)}`, /has 65 hex digits; it needs 64/],
    [`nginx@sha256:${'A'.repeat(64)}`, /must be lowercase hex/],
    [`nginx@sha256:${'g'.repeat(64)}`, /not hex digits/],
    [`nginx@sha512:${'a'.repeat(64)}`, /sha512 digest has 64 hex digits; it needs 128/],
    [`nginx@md5:${'a'.repeat(32)}`, /algorithm "md5" is not supported/],
    ['nginx@sha256', /must look like 'sha256:'/],
    ['nginx@', /must look like/],
    [`@${SHA256}`, /has no repository name/],
    ['reg.io:99999/app', /invalid port/],
    ['reg.io:0/app', /invalid port/],
    ['reg.io:/app', /invalid port/],
    ['reg_io.com/app', /not a valid host name/],
    ['-reg.io/app', /not a valid host name/],
    ['[::1/app', /'\[' without '\]'/],
    ['[zz::1]:5000/app', /not a valid IPv6/],
    ['[::1]x/app', /not a port/],
    [`${'a'.repeat(256)}`, /256 characters long; the limit is 255/],
  ]
  for (const [text, reason] of invalid) {
    it(`rejects ${JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text)}`, () => {
      assert.throws(
        () => parseReference(text),
        (error: unknown) => {
          assert.ok(error instanceof ConfigError)
          assert.equal(error.code, 'INVALID_REFERENCE')
          assert.match(error.message, reason)
          assert.match(error.message, /^invalid image reference "/)
          assert.ok(!error.message.includes('\n'), 'one line')
          if (text.length < 100 && text.trim() !== '') assert.ok(error.message.includes(JSON.stringify(text).slice(1, -1)))
          return true
        },
      )
    })
  }

  it('cuts an enormous text short in the message', () => {
    assert.throws(
      () => parseReference('A'.repeat(10_000)),
      (error: Error) => error.message.length < 400,
    )
  })

  it('answers quickly on inputs that make naive repository patterns backtrack', () => {
    const started = performance.now()
    for (const text of [`${'a'.repeat(240)}!`, `${'a-'.repeat(120)}-`, `${'a_'.repeat(120)}.`, `${'a'.repeat(50)}/${'b-'.repeat(90)}_`]) {
      assert.throws(() => parseReference(text))
    }
    assert.ok(performance.now() - started < 200)
  })
})

describe('parseRepositoryAndTags', () => {
  const cases: [string, {registry: string; repository: string; tags: string[]; digest?: string; emptyTags?: number}][] = [
    ['redis', {registry: 'docker.io', repository: 'library/redis', tags: []}],
    ['redis:6', {registry: 'docker.io', repository: 'library/redis', tags: ['6']}],
    ['redis:6,7,8', {registry: 'docker.io', repository: 'library/redis', tags: ['6', '7', '8']}],
    ['redis:6,7,', {registry: 'docker.io', repository: 'library/redis', tags: ['6', '7'], emptyTags: 1}],
    ['redis:6, 7 , ,8', {registry: 'docker.io', repository: 'library/redis', tags: ['6', '7', '8'], emptyTags: 1}],
    ['redis:6,6,7', {registry: 'docker.io', repository: 'library/redis', tags: ['6', '7']}],
    ['127.0.0.1:5000/app', {registry: '127.0.0.1:5000', repository: 'app', tags: []}],
    ['127.0.0.1:5000/app:1,2', {registry: '127.0.0.1:5000', repository: 'app', tags: ['1', '2']}],
    ['[::1]:5000/app', {registry: '[::1]:5000', repository: 'app', tags: []}],
    [`redis@${SHA256}`, {registry: 'docker.io', repository: 'library/redis', tags: [], digest: SHA256}],
    [`redis:7@${SHA256}`, {registry: 'docker.io', repository: 'library/redis', tags: ['7'], digest: SHA256}],
  ]
  for (const [text, expected] of cases) {
    it(`reads ${text.slice(0, 50)}`, () => assert.deepEqual(parseRepositoryAndTags(text), expected))
  }

  const invalid: [string, RegExp][] = [
    ['redis:', /no tag after it/],
    ['redis:,', /no tag after it/],
    ['redis: , ', /no tag after it/],
    ['redis:6,-x', /tag "-x" must start/],
    ['Redis:6', /uppercase/],
  ]
  for (const [text, reason] of invalid) {
    it(`rejects ${text}`, () => assert.throws(() => parseRepositoryAndTags(text), reason))
  }
})

describe('formatReference', () => {
  const cases: [ImageReference, string][] = [
    [{registry: 'docker.io', repository: 'library/nginx'}, 'docker.io/library/nginx'],
    [{registry: 'reg.io:5000', repository: 'a/b', tag: 'v1'}, 'reg.io:5000/a/b:v1'],
    [{registry: 'reg.io', repository: 'a', digest: SHA256}, `reg.io/a@${SHA256}`],
    [{registry: 'reg.io', repository: 'a', tag: 't', digest: SHA256}, `reg.io/a:t@${SHA256}`],
  ]
  for (const [ref, text] of cases) {
    it(`writes ${text.slice(0, 40)} and reads it back`, () => {
      assert.equal(formatReference(ref), text)
      assert.deepEqual(parseReference(text), ref)
    })
  }
})

describe('formatReference of job references', () => {
  // A job's reference may carry both a tag and the digest found for it; an empty one is none
  // (formatReference's rule, which formatReference took over).
  const cases: [string, ImageReference, string][] = [
    ['empty tag', {registry: 'reg.io', repository: 'a', tag: ''}, 'reg.io/a'],
    ['empty digest', {registry: 'reg.io', repository: 'a', tag: 't', digest: ''}, 'reg.io/a:t'],
    ['digest undefined', {registry: 'reg.io', repository: 'a', tag: 't', digest: undefined}, 'reg.io/a:t'],
  ]
  for (const [name, ref, text] of cases) {
    it(name, () => assert.equal(formatReference(ref), text))
  }
})

describe('formatRepository', () => {
  const cases: [ImageReference, string][] = [
    [{registry: 'docker.io', repository: 'library/nginx', tag: 'latest'}, 'docker.io/library/nginx'],
    [{registry: 'reg.io:5000', repository: 'a/b', digest: SHA256}, 'reg.io:5000/a/b'],
  ]
  for (const [ref, text] of cases) {
    it(text, () => assert.equal(formatRepository(ref), text))
  }
})

describe('normalizeRegistry and registryEndpoint', () => {
  const cases: [string, string, string][] = [
    ['docker.io', 'docker.io', 'registry-1.docker.io'],
    ['index.docker.io', 'docker.io', 'registry-1.docker.io'],
    ['registry-1.docker.io', 'docker.io', 'registry-1.docker.io'],
    ['Registry.Hub.Docker.com', 'docker.io', 'registry-1.docker.io'],
    ['Quay.IO', 'quay.io', 'quay.io'],
    ['localhost:5000', 'localhost:5000', 'localhost:5000'],
    ['[::1]:5000', '[::1]:5000', '[::1]:5000'],
  ]
  for (const [host, normalized, endpoint] of cases) {
    it(`${host} → ${normalized} served from ${endpoint}`, () => {
      assert.equal(normalizeRegistry(host), normalized)
      assert.equal(registryEndpoint(normalized), endpoint)
    })
  }
})

describe('parseRegistryHost', () => {
  const cases: [string, string | RegExp][] = [
    ['reg.io', 'reg.io'],
    ['REG.io:5000', 'reg.io:5000'],
    ['10.0.0.1:80', '10.0.0.1:80'],
    ['[2001:db8::1]:5000', '[2001:db8::1]:5000'],
    ['index.docker.io', 'docker.io'],
    ['reg.io:x', /invalid port/],
    ['reg io', /not a valid host name/],
    [':5000', /no host name/],
  ]
  for (const [text, expected] of cases) {
    it(`${text}`, () => {
      if (typeof expected === 'string') assert.equal(parseRegistryHost(text), expected)
      else assert.throws(() => parseRegistryHost(text), expected)
    })
  }
})
