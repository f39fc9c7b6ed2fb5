import {describe, it} from 'node:test'
import assert from 'node:assert/strict'
import {FerryError} from '../../src/errors.js'
import {checkDigest, checkRepositoryName, checkTag, nameRefusal, quote, RefusedName, underPrefix} from '../../src/names.js'
import {parseManifest} from '../../src/registry/media-types.js'
import {parseDistributionEnvelope, parseHarborPayload} from '../../src/serve/push-events.js'
import {generateJobs, type RuleItem} from '../../src/pipeline/generate.js'
import {providerRules} from '../../src/providers/migrate.js'
import type {SourceProvider, SourceRepository} from '../../src/providers/provider.js'

const SHA256 = `sha256:${'ab'.repeat(32)}`
const SHA512 = `sha512:${'cd'.repeat(64)}`
const FROM = 'registry 127.0.0.1:5000, tags of team/app'

/** The one line a refusal says, or undefined when the name passes. */
function refusal(check: () => unknown): FerryError | undefined {
  return nameRefusal(check)
}

describe('checkRepositoryName', () => {
  const valid = ['app', 'team/app', 'a/b/c/d', 'a.b/c_d/e__f/g-h/i---j', '0', `${'a'.repeat(127)}/${'b'.repeat(127)}`]
  for (const name of valid) it(`accepts ${JSON.stringify(name)}`, () => assert.equal(checkRepositoryName(name, FROM), name))

  const invalid: [unknown, RegExp][] = [
    ['team/../victim/app', /path component "\.\." is not allowed/],
    ['../x', /"\.\." is not allowed/],
    ['./x', /"\." is not allowed/],
    ['team//app', /empty path component/],
    ['/team/app', /starts with '\/'/],
    ['team/app/', /ends with '\/'/],
    ['', /repository name is empty/],
    ['Team/app', /uppercase/],
    ['team/app\u001b[31m', /invalid character "\\x1b"/],
    ['team/app\ninfo forged', /invalid character "\\n"/],
    ['team/a___b', /separator sequence/],
    ['team/-app', /must start and end/],
    ['team/app%2f..', /invalid character "%"/],
    [`${'a'.repeat(128)}/${'b'.repeat(127)}`, /256 characters long; the limit is 255/],
    [42, /it is not a string/],
    [null, /it is not a string/],
  ]
  for (const [name, reason] of invalid) {
    it(`refuses ${JSON.stringify(name)}`, () => {
      const error = refusal(() => checkRepositoryName(name, 'registry 127.0.0.1:5000, catalog', 'skipped'))
      assert.ok(error instanceof RefusedName)
      assert.equal(error.code, 'INVALID_NAME')
      assert.match(error.message, /^registry 127\.0\.0\.1:5000, catalog: ".*" is not a valid repository name \(.*\); skipped$/)
      assert.match(error.message, reason)
      assert.equal(error.message.split('\n').length, 1, 'one line')
      assert.equal(error.value, name)
      assert.ok(!Object.keys(error).includes('value'), 'the raw name is not an enumerable field')
    })
  }
})

describe('checkTag', () => {
  const valid = ['v1', 'latest', '_x', '1.0.0-rc.1', 'A_b.C-d', 'a'.repeat(128), `sha256-${'a'.repeat(64)}.sig`]
  for (const tag of valid) it(`accepts ${JSON.stringify(tag)}`, () => assert.equal(checkTag(tag, FROM), tag))

  const invalid: [unknown, RegExp][] = [
    ['../../../prod/api/manifests/latest', /must start with a letter, digit or '_'/],
    ['x/../../prod', /may only contain letters, digits/],
    ['.hidden', /must start with a letter, digit or '_'/],
    ['-x', /must start with/],
    ['', /is empty/],
    ['a'.repeat(129), /129 characters long; the limit is 128/],
    ['v1\u001b]0;pwned\u0007', /may only contain/],
    ['v1\r\n2026-01-01 INFO copied', /may only contain/],
    ['v1:latest', /may only contain/],
    ['v1@sha256', /may only contain/],
    ['v1/x', /may only contain/],
    [{}, /it is not a string/],
  ]
  for (const [tag, reason] of invalid) {
    it(`refuses ${JSON.stringify(tag)}`, () => {
      const error = refusal(() => checkTag(tag, FROM, 'skipped'))
      assert.ok(error)
      assert.equal(error.code, 'INVALID_NAME')
      assert.match(error.message, /^registry 127\.0\.0\.1:5000, tags of team\/app: ".*" is not a valid tag \(.*\); skipped$/)
      assert.match(error.message, reason)
      assert.equal(error.message.split(/[\n\r]/).length, 1, 'one line')
      assert.doesNotMatch(error.message, /[\u0000-\u001f\u007f]/, 'no control characters')
    })
  }

  it('shows control characters escaped', () => {
    const error = refusal(() => checkTag('v1\u001b[2J\nforged', FROM))!
    assert.match(error.message, /"v1\\x1b\[2J\\nforged"/)
  })
})

describe('checkDigest', () => {
  for (const digest of [SHA256, SHA512]) it(`accepts ${digest.slice(0, 10)}…`, () => assert.equal(checkDigest(digest, FROM), digest))

  const invalid: [unknown, string, RegExp][] = [
    ['sha256:../../x', 'INVALID_DIGEST', /not hex digits/],
    ['sha256:../../../../etc/passwd', 'INVALID_DIGEST', /not hex digits/],
    [`md5:${'a'.repeat(32)}`, 'UNSUPPORTED_DIGEST', /algorithm "md5" is not supported/],
    [`sha384:${'a'.repeat(96)}`, 'UNSUPPORTED_DIGEST', /algorithm "sha384" is not supported/],
    [`blake3:${'a'.repeat(64)}`, 'UNSUPPORTED_DIGEST', /algorithm "blake3"/],
    [`SHA256:${'a'.repeat(64)}`, 'INVALID_DIGEST', /must look like 'sha256:'/],
    [`../x:${'a'.repeat(64)}`, 'INVALID_DIGEST', /must look like 'sha256:'/],
    [`sha256:${'A'.repeat(64)}`, 'INVALID_DIGEST', /lowercase hex/],
    [`sha256:${'a'.repeat(63)}`, 'INVALID_DIGEST', /63 hex digits; it needs 64/],
    [`sha512:${'a'.repeat(64)}`, 'INVALID_DIGEST', /64 hex digits; it needs 128/],
    [`sha256:${'a'.repeat(64)}\n`, 'INVALID_DIGEST', /not hex digits/],
    ['sha256', 'INVALID_DIGEST', /must look like/],
    ['', 'INVALID_DIGEST', /must look like/],
    [7, 'INVALID_DIGEST', /it is not a string/],
  ]
  for (const [digest, code, reason] of invalid) {
    it(`refuses ${JSON.stringify(digest).slice(0, 40)} with ${code}`, () => {
      const error = refusal(() => checkDigest(digest, 'GET manifest r/app:v1: layers[0] digest'))!
      assert.equal(error.code, code)
      assert.match(error.message, /^GET manifest r\/app:v1: layers\[0\] digest: ".*" is not a valid digest \(.*\)$/)
      assert.match(error.message, reason)
      assert.equal(error.message.split('\n').length, 1)
    })
  }
})

describe('underPrefix: whether a refused catalog entry concerns a namespace', () => {
  const table: [unknown, string, boolean][] = [
    ['team/../victim/app', 'team', true],
    ['team/../victim/app', '', true],
    ['team', 'team', true],
    ['teams/../x', 'team', false],
    ['other/../team/x', 'team', false],
    [42, 'team', true],
  ]
  for (const [name, prefix, concerns] of table) {
    it(`${JSON.stringify(name)} under ${JSON.stringify(prefix)}: ${concerns}`, () => {
      const refused = nameRefusal(() => checkRepositoryName(typeof name === 'string' ? `${name}/` : name, 'catalog'))!
      assert.equal(underPrefix(refused, prefix), concerns)
    })
  }
})

describe('quote', () => {
  const table: [string, string][] = [
    ['plain', '"plain"'],
    ['a"b', '"a\\"b"'],
    ['back\\slash', '"back\\\\slash"'],
    ['\u001b[31mred', '"\\x1b[31mred"'],
    ['line\nnext\r', '"line\\nnext\\r"'],
    ['del\u007f c1\u009b', '"del\\x7f c1\\x9b"'],
    ['rtl\u202eevil', '"rtl\\u202eevil"'],
    ['ls\u2028ps\u2029', '"ls\\u2028ps\\u2029"'],
    ['bom\ufeff zw\u200b', '"bom\\ufeff zw\\u200b"'],
    ['日本語 stays', '"日本語 stays"'],
  ]
  for (const [text, shown] of table) it(`shows ${JSON.stringify(text)}`, () => assert.equal(quote(text), shown))
  it('cuts long names short', () => assert.equal(quote('x'.repeat(200)), `"${'x'.repeat(120)}…"`))
})

describe('names from outside, where they enter', () => {
  const manifest = (layerDigest: string) =>
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: {mediaType: 'application/vnd.oci.image.config.v1+json', digest: SHA256, size: 2},
        layers: [{mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: layerDigest, size: 3}],
      }),
    )
  const table: [string, string | undefined][] = [
    [SHA256, undefined],
    [SHA512, undefined],
    ['sha256:../../x', 'INVALID_DIGEST'],
    [`md5:${'a'.repeat(32)}`, 'UNSUPPORTED_DIGEST'],
  ]
  for (const [digest, code] of table) {
    it(`parseManifest: a layer digest ${digest.slice(0, 16)}… ${code ? `fails with ${code}` : 'passes'}`, () => {
      if (!code) {
        assert.equal(parseManifest(manifest(digest), undefined, 'r/app@x').kind, 'image')
        return
      }
      assert.throws(
        () => parseManifest(manifest(digest), undefined, 'r/app@x'),
        (error: FerryError) => error.code === code && /^r\/app@x: layers\[0\] digest: ".*" is not a valid digest/.test(error.message),
      )
    })
  }

  it('push events: an invalid repository or tag is refused with one line; the others go on', () => {
    const push = (repository: string, tag: string, id: string) => ({
      id,
      action: 'push',
      target: {mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: 'sha256:../x', repository, tag, url: 'http://reg.example:5000/v2/x'},
      request: {host: 'reg.example:5000'},
    })
    const parsed = parseDistributionEnvelope({
      events: [push('team/app', '../../prod/api/manifests/latest', 'a'), push('team/../victim/app', 'v1', 'b'), push('team/app', 'v2', 'c')],
    })
    assert.deepEqual(
      parsed.pushes.map((p) => `${p.repository}:${p.tag}`),
      ['team/app:v2'],
    )
    assert.equal(parsed.pushes[0]!.digest, undefined, 'a digest that is no digest is left out')
    assert.equal(parsed.refused.length, 2)
    assert.match(parsed.refused[0]!, /^registry push event to team\/app, tag: "\.\.\/\.\.\/prod\/api\/manifests\/latest" is not a valid tag .*; refused$/)
    assert.match(parsed.refused[1]!, /^registry push event, repository: "team\/\.\.\/victim\/app" is not a valid repository name .*; refused$/)
    const harbor = parseHarborPayload({
      type: 'PUSH_ARTIFACT',
      occur_at: 1,
      event_data: {resources: [{tag: 'v1\nforged', resource_url: 'h.example/library/app:v1'}], repository: {repo_full_name: 'library/app'}},
    })
    assert.deepEqual(harbor.pushes, [])
    assert.match(harbor.refused[0]!, /"v1\\nforged" is not a valid tag/)
  })

  it('generateJobs: a refused listed tag is one failure of its rule; the valid tags still become jobs', async () => {
    const rules: RuleItem[] = [
      {text: 'src/team/app', source: {registry: 'src', repository: 'team/app'}, destination: {registry: 'dst', repository: 'team/app'}},
    ]
    const listTags = async function* () {
      yield 'v1'
      yield nameRefusal(() => checkTag('../../x', FROM, 'skipped'))!
      yield 'v2'
    }
    const out = []
    for await (const item of generateJobs(rules, {listTags, listers: 1})) out.push(item)
    assert.deepEqual(
      out.map((item) => (item.kind === 'job' ? `job ${item.job.source.tag}` : `error ${item.rule}: ${item.error.message}`)),
      ['job v1', `error src/team/app: ${FROM}: "../../x" is not a valid tag (a tag must start with a letter, digit or '_'); skipped`, 'job v2'],
    )
  })

  it('providerRules: an invalid repository or tag a provider lists is a refusal; the rest are rules', async () => {
    const listed: (SourceRepository | RefusedName)[] = [
      {repository: 'team/app', tags: ['v1', '../x']},
      {repository: 'team/../victim/app', tags: ['v1']},
      nameRefusal(() => checkRepositoryName('a//b', 'registry r, catalog', 'skipped'))!,
    ]
    const from: SourceProvider = {
      name: 'harbor',
      registry: 'src.example',
      async *repositories() {
        yield* listed
      },
    }
    const out: RuleItem[] = []
    for await (const item of providerRules(from, {name: 'registry', registry: 'dst.example', prepare: async () => undefined}, {toNamespace: 'whole'}))
      out.push(item)
    const shown = out.map((item) =>
      'refused' in item
        ? `refused ${item.rule}: ${item.refused.message}`
        : `rule ${item.source.repository} ${item.source.tags} -> ${item.destination.repository}`,
    )
    assert.equal(shown.length, 4)
    assert.match(shown[0]!, /^refused harbor:src\.example\/team\/app: harbor provider at src\.example, tags of team\/app: "\.\.\/x" is not a valid tag/)
    assert.equal(shown[1], 'rule team/app v1 -> whole/app')
    assert.match(
      shown[2]!,
      /^refused harbor:src\.example: harbor provider at src\.example, repositories: "team\/\.\.\/victim\/app" is not a valid repository name/,
    )
    assert.match(shown[3]!, /^refused harbor:src\.example: registry r, catalog: "a\/\/b"/)
  })
})
