// Each input format against the rule.yaml that means the same, and each format's errors with
// file and line. Table-driven: one row per form.
import assert from 'node:assert/strict'
import {readFileSync} from 'node:fs'
import {describe, it} from 'node:test'

import {checkFormat, detectFormat, type DetectedFormat} from '../../src/config/formats/detect.js'
import {parseImageList} from '../../src/config/formats/image-list.js'
import {parseImageTransferRules} from '../../src/config/formats/image-transfer.js'
import {parseSyncerAuth, parseSyncerConfig, parseSyncerImages} from '../../src/config/formats/image-syncer.js'
import {parseSkopeoSync} from '../../src/config/formats/skopeo-sync.js'
import {parseSecurity} from '../../src/config/security.js'
import {generateJobs} from '../../src/pipeline/generate.js'
import {sectionText} from '../../src/config/formats/section.js'
import {parseRules, type ParsedRules, type Rule, type RuleDefaults} from '../../src/config/rules.js'

const D1 = `sha256:${'1'.repeat(64)}`
const DEFAULTS: RuleDefaults = {registry: 'reg.io', namespace: 'mirror'}

/** What the engine gets from a rule, without where it was written. */
const jobsOf = (parsed: ParsedRules) => {
  assert.deepEqual(
    parsed.errors.map((e) => e.message),
    [],
  )
  return parsed.rules.map((r: Rule) => ({source: r.source, destination: r.destination}))
}
const messages = (parsed: ParsedRules) => parsed.errors.map((e) => e.message)

describe('image-syncer images file: the same rules as the equivalent rule.yaml', () => {
  const rows: {name: string; syncer: string; json?: string; ruleYaml: string}[] = [
    {
      name: "image-transfer's forms read the same",
      syncer: `src.io/a/app: dst.io/b/app\nsrc.io/a/web:1.0: dst.io/b/web:stable\nsrc.io/a/tools:1,2: dst.io/b/tools\nsrc.io/a/pin@${D1}: dst.io/b/pin:p\nsrc.io/team/empty:3:\n`,
      json: `{\n  "src.io/a/app": "dst.io/b/app",\n  "src.io/a/web:1.0": "dst.io/b/web:stable",\n  "src.io/a/tools:1,2": "dst.io/b/tools",\n  "src.io/a/pin@${D1}": "dst.io/b/pin:p",\n  "src.io/team/empty:3": ""\n}\n`,
      ruleYaml: `src.io/a/app: dst.io/b/app\nsrc.io/a/web:1.0: dst.io/b/web:stable\nsrc.io/a/tools:1,2: dst.io/b/tools\nsrc.io/a/pin@${D1}: dst.io/b/pin:p\nsrc.io/team/empty:3:\n`,
    },
    {
      name: 'a list of destinations is one rule per destination',
      syncer: 'src.io/a/app:1.1:\n  - dst.io/one/app\n  - dst.io/two/app:renamed\n',
      json: '{"src.io/a/app:1.1": ["dst.io/one/app", "dst.io/two/app:renamed"]}',
      ruleYaml: 'src.io/a/app:1.1: dst.io/one/app\nsrc.io/a/app:1.1,: dst.io/two/app:renamed\n',
    },
    {
      name: 'several destination tags rename the source tags left to right',
      syncer: 'src.io/a/app:1,2,3: dst.io/b/app:x,y,z\n',
      json: '{"src.io/a/app:1,2,3": "dst.io/b/app:x,y,z"}',
      ruleYaml: 'src.io/a/app:1: dst.io/b/app:x\nsrc.io/a/app:2: dst.io/b/app:y\nsrc.io/a/app:3: dst.io/b/app:z\n',
    },
  ]
  for (const row of rows) {
    it(row.name, () => {
      // The second rule of a list row uses a trailing comma so rule.yaml can name the source twice.
      const want = jobsOf(parseRules(row.ruleYaml, 'rule.yaml', DEFAULTS))
      assert.deepEqual(jobsOf(parseSyncerImages(row.syncer, 'images.yaml', DEFAULTS)), want)
      if (row.json) assert.deepEqual(jobsOf(parseSyncerImages(row.json, 'images.json', DEFAULTS)), want)
      // rule.yaml reads the extensions too: each is an error in image-transfer's grammar.
      assert.deepEqual(jobsOf(parseImageTransferRules(row.syncer, 'rule.yaml', DEFAULTS)), want)
    })
  }

  it('a regular expression as the tag part lists the tags and keeps the pattern', () => {
    const parsed = parseSyncerImages('src.io/a/app:/^v1\\./: dst.io/b/app\n"src.io/a/web:/(rc|beta)/":\n', 'images.yaml', DEFAULTS)
    assert.deepEqual(jobsOf(parsed), [
      {source: {registry: 'src.io', repository: 'a/app', tagPattern: '^v1\\.'}, destination: {registry: 'dst.io', repository: 'b/app'}},
      {source: {registry: 'src.io', repository: 'a/web', tagPattern: '(rc|beta)'}, destination: {registry: 'reg.io', repository: 'mirror/web'}},
    ])
    assert.equal(parsed.rules[0]!.text, 'src.io/a/app:/^v1\\./')
  })

  it('--format image-transfer keeps to its forms: the extensions are errors there', () => {
    const parsed = parseImageTransferRules('src.io/a/app:1,2: dst.io/b/app:x,y\n', 'rule.yaml', DEFAULTS, {strict: true})
    assert.deepEqual(messages(parsed), ['rule.yaml:1: rule "src.io/a/app:1,2": the destination names several tags; give it one tag or none'])
  })

  const errors: {name: string; text: string; want: string[]}[] = [
    {
      name: 'tag counts that differ name the rule and line',
      text: 'src.io/a/ok: dst.io/b/ok\nsrc.io/a/app:1,2,3: dst.io/b/app:x,y\n',
      want: [
        'images.yaml:2: rule "src.io/a/app:1,2,3": the destination names 2 tags for 3 source tags; tags are renamed left to right, so give as many destination tags as source tags, each once',
      ],
    },
    {
      name: 'a repeated destination tag is not a shorter list',
      text: 'src.io/a/app:1,2: dst.io/b/app:x,x\n',
      want: [
        'images.yaml:1: rule "src.io/a/app:1,2": the destination names 2 tags for 2 source tags; tags are renamed left to right, so give as many destination tags as source tags, each once',
      ],
    },
    {
      name: 'a bad regular expression',
      text: '\nsrc.io/a/app:/(v1/: dst.io/b/app\n',
      want: ['images.yaml:2: rule "src.io/a/app:/(v1/": the tag pattern /(v1/ is not a regular expression: /(v1/: Unterminated group'],
    },
    {
      name: 'a pattern with a destination tag',
      text: 'src.io/a/app:/^v/: dst.io/b/app:latest\n',
      want: ['images.yaml:1: rule "src.io/a/app:/^v/": a tag pattern copies each matching tag under its own name; drop the destination tag'],
    },
    {
      name: 'a list entry that is not a name, and an empty list',
      text: 'src.io/a/app:\n  - dst.io/b/app\n  - {x: 1}\nsrc.io/a/web: []\n',
      want: [
        'images.yaml:1: rule "src.io/a/app": destination 2 of the list must be a repository name; found a map',
        'images.yaml:4: rule "src.io/a/web": has an empty list of destinations',
      ],
    },
    {
      name: 'a destination listed twice',
      text: 'src.io/a/app:\n  - dst.io/b/app\n  - dst.io/b/app\n',
      want: ['images.yaml:1: rule "src.io/a/app": lists the destination "dst.io/b/app" twice'],
    },
    {
      name: 'errors in JSON name the line too',
      text: '{\n  "src.io/a/ok": "dst.io/b/ok",\n  "src.io/a/app:1": ["dst.io/b/app:x,y"]\n}\n',
      want: [
        'images.yaml:3: rule "src.io/a/app:1": the destination names 2 tags for 1 source tag; tags are renamed left to right, so give as many destination tags as source tags, each once',
      ],
    },
  ]
  for (const row of errors) {
    it(`error: ${row.name}`, () => {
      const parsed = parseSyncerImages(row.text, 'images.yaml', DEFAULTS)
      assert.deepEqual(messages(parsed), row.want)
      assert.ok(parsed.errors.every((e) => e.file === 'images.yaml' && typeof e.line === 'number'))
    })
  }
})

describe('plain image list: rule case 6 for each line', () => {
  it('yields the rules of the equivalent rule.yaml with empty destinations', () => {
    const list = '# mirror these\nnginx:1.25\n\nquay.io/coreos/etcd:v3.5.9   # pinned\nsrc.io/a/app:/^v1/\nsrc.io/a/pin@' + D1 + '\n'
    const ruleYaml = `nginx:1.25:\nquay.io/coreos/etcd:v3.5.9:\nsrc.io/a/app:/^v1/:\nsrc.io/a/pin@${D1}:\n`
    const parsed = parseImageList(list, 'images.list', DEFAULTS)
    assert.deepEqual(jobsOf(parsed), jobsOf(parseImageTransferRules(ruleYaml, 'rule.yaml', DEFAULTS)))
    assert.deepEqual(
      parsed.rules.map((r) => r.line),
      [2, 4, 5, 6],
    )
    assert.deepEqual(parsed.rules[0]!.destination, {registry: 'reg.io', repository: 'mirror/nginx', tag: '1.25'})
  })

  const rows: {name: string; text: string; defaults?: RuleDefaults; errors?: string[]; warnings?: string[]; throws?: RegExp}[] = [
    {
      name: 'a bad reference names file:line',
      text: 'nginx\nBad/Name:1\n',
      errors: [
        'images.list:2: image "Bad/Name:1": source: invalid image reference "Bad/Name:1": path component "Bad" has uppercase letters; repository names are lowercase',
      ],
    },
    {
      name: 'two words on a line',
      text: 'nginx reg.io/x/nginx\n',
      errors: [
        'images.list:1: "nginx reg.io/x/nginx" is more than one word; an image list takes one source reference a line (for source and destination pairs, write a rule file)',
      ],
    },
    {
      name: 'a repeat is copied once, with a warning',
      text: 'nginx:1\nalpine\nnginx:1\n',
      warnings: ['images.list:3: image "nginx:1" is listed again (first on line 1); copied once'],
    },
    {
      name: 'no destination at all',
      text: 'nginx\n',
      defaults: {},
      throws: /^images\.list: an image list names sources only; give the destination with --registry and --ns/,
    },
  ]
  for (const row of rows) {
    it(row.name, () => {
      if (row.throws) {
        assert.throws(() => parseImageList(row.text, 'images.list', row.defaults ?? DEFAULTS), {message: row.throws})
        return
      }
      const parsed = parseImageList(row.text, 'images.list', row.defaults ?? DEFAULTS)
      assert.deepEqual(messages(parsed), row.errors ?? [])
      assert.deepEqual(parsed.warnings, row.warnings ?? [])
    })
  }
})

describe("skopeo sync's YAML source file: an image list by registry, with selections and logins", () => {
  const file = [
    'src.io:',
    '  images:',
    '    team/app: []',
    '    team/web:',
    '      - "1.0"',
    '      - "2.0"',
    `      - ${D1}`,
    '  images-by-tag-regex:',
    '    team/cli: ^v1\\.',
    '  images-by-semver:',
    '    team/db: ">= 1.2.0, < 2"',
    '  credentials:',
    '    username: u',
    '    password: p-secret',
    '  tls-verify: false',
    'quay.io:',
    '    images:',
    '      coreos/etcd: [v3.5.9]',
    '',
  ].join('\n')

  it('yields the rules of the equivalent image list and rule maps, with their lines', () => {
    const parsed = parseSkopeoSync(file, 'sync.yaml', DEFAULTS)
    const list = `src.io/team/app\nsrc.io/team/web:1.0,2.0\nsrc.io/team/web@${D1}\nsrc.io/team/cli:/^v1\\./\nquay.io/coreos/etcd:v3.5.9\n`
    const semverRule = parseImageTransferRules('src.io/team/db: {semver: ">= 1.2.0  < 2"}\n', 'r.yaml', DEFAULTS)
    const expected = [...jobsOf(parseImageList(list, 'images.list', DEFAULTS))]
    expected.splice(4, 0, ...jobsOf(semverRule))
    assert.deepEqual(jobsOf(parsed), expected)
    assert.deepEqual(
      parsed.rules.map((r) => r.line),
      [3, 4, 4, 9, 11, 18],
    )
    assert.deepEqual(parsed.rules[4]!.selection, {tags: {semver: '>= 1.2.0  < 2'}})
    const access = parsed.credentials!.lookup('src.io', 'team/app')
    assert.deepEqual([access.username, access.password, access.skipTlsVerify, access.insecure], ['u', 'p-secret', true, false])
    assert.deepEqual(parsed.credentials!.secrets(), ['p-secret', 'u:p-secret'])
    assert.equal(parsed.credentials!.lookup('quay.io', 'coreos/etcd').username, undefined)
    assert.equal(detectFormat(file), 'skopeo-sync')
  })

  const rows: [string, string, RegExp][] = [
    ['no destination', 'src.io:\n  images:\n    a/b: []\n', /^s\.yaml: a skopeo sync file names sources only; give the destination with --registry and --ns/],
    ['an unknown key', 'src.io:\n  images:\n    a/b: []\n  tls_verify: false\n', /^s\.yaml:4: registry "src\.io": "tls_verify" is not a skopeo sync key/],
    [
      'credentials without a password',
      'src.io:\n  images:\n    a/b: []\n  credentials:\n    username: u\n',
      /^s\.yaml:4: registry "src\.io": credentials needs a username and a password/,
    ],
    [
      'tls-verify that is not a boolean',
      'src.io:\n  images:\n    a/b: []\n  tls-verify: "no"\n',
      /^s\.yaml:4: registry "src\.io": tls-verify must be true or false/,
    ],
    [
      'a cert-dir that does not exist',
      'src.io:\n  images:\n    a/b: []\n  cert-dir: /nonexistent/ferry-certs\n',
      /^s\.yaml:4: registry "src\.io": cert-dir cannot be read \(ENOENT\)/,
    ],
  ]
  for (const [name, text, want] of rows) {
    it(`error: ${name}`, () => assert.throws(() => parseSkopeoSync(text, 's.yaml', name === 'no destination' ? {} : DEFAULTS), {message: want}))
  }
  it('a bad repository, tag list or constraint fails its image with file:line, the rest stand', () => {
    const parsed = parseSkopeoSync(
      'src.io:\n  images:\n    Bad/Name: []\n    a/ok: []\n    a/tags: latest\n  images-by-semver:\n    a/db: "not a range"\n',
      's.yaml',
      DEFAULTS,
    )
    assert.equal(parsed.rules.length, 1)
    assert.deepEqual(
      messages(parsed).map((m) => m.replace(/:.*$/s, '')),
      ['s.yaml', 's.yaml', 's.yaml'],
    )
    assert.deepEqual(
      parsed.errors.map((e) => e.line),
      [3, 5, 7],
    )
    assert.ok(!messages(parsed).join('\n').includes('p-secret'))
  })
})

describe("image-syncer's config file: auth: and images: sections", () => {
  const yamlConfig = [
    'auth:',
    '  src.io:',
    '    username: u',
    '    password: p4ssword',
    '  "http://dst.io/b":',
    '    insecure: true',
    'images:',
    '  src.io/a/app: dst.io/b/app',
    '  src.io/a/web:1,2: dst.io/b/web:x,y',
    '',
  ].join('\n')
  const jsonConfig = `{\n  "images": {\n    "src.io/a/app": "dst.io/b/app",\n    "src.io/a/web:1,2": "dst.io/b/web:x,y"\n  },\n  "auth": {"src.io": {"username": "u", "password": "p4ssword"}, "http://dst.io/b": {"insecure": true}}\n}\n`

  for (const [name, text] of [
    ['YAML', yamlConfig],
    ['JSON', jsonConfig],
  ] as const) {
    it(`${name}: the rules and credentials of the two files`, () => {
      const parsed = parseSyncerConfig(text, 'config', DEFAULTS, {})
      assert.deepEqual(
        jobsOf(parsed),
        jobsOf(parseRules('src.io/a/app: dst.io/b/app\nsrc.io/a/web:1: dst.io/b/web:x\nsrc.io/a/web:2: dst.io/b/web:y\n', 'r', DEFAULTS)),
      )
      assert.deepEqual(
        parsed.rules.map((r) => r.line),
        name === 'YAML' ? [8, 9, 9] : [3, 4, 4],
      )
      const credentials = parsed.credentials!
      assert.equal(credentials.lookup('src.io', 'a/app').username, 'u')
      assert.equal(credentials.lookup('dst.io', 'b/app').insecure, true)
      assert.equal(credentials.lookup('dst.io', 'c/app').insecure, false)
    })
  }

  it('errors keep the lines of the whole file', () => {
    const text = yamlConfig.replace('dst.io/b/web:x,y', 'dst.io/b/web:x').replace('password: p4ssword', 'pasword: p4ssword')
    assert.throws(() => parseSyncerConfig(text, 'config.yaml', DEFAULTS, {}), {
      message: /^config\.yaml:4: entry "src\.io": has an unknown field "pasword" \(did you mean password\?\)/,
    })
    const rulesOnly = text.replace(/^auth:[\s\S]*?(?=images:)/m, '')
    const parsed = parseSyncerConfig(rulesOnly, 'config.yaml', DEFAULTS, {})
    assert.deepEqual(messages(parsed), [
      'config.yaml:3: rule "src.io/a/web:1,2": the source names several tags, which keep their names; drop the destination tag',
    ])
  })

  it('an unknown section or no images section', () => {
    assert.throws(() => parseSyncerConfig('images: {}\nextra: 1\n', 'c.yaml', DEFAULTS, {}), {
      message: /^c\.yaml:2: unknown section "extra"; an image-syncer config file has auth: and images:$/,
    })
    assert.throws(() => parseSyncerConfig('auth:\n  src.io: {}\n', 'c.yaml', DEFAULTS, {}), {
      message: /^c\.yaml: has no images: section, so there is nothing to copy$/,
    })
  })

  it('sectionText blanks everything else and keeps newlines', () => {
    assert.equal(sectionText('a: 1\nimages:\n  x: y\nb: 2\n', 'images'), '    \n       \n  x: y\n    \n')
    const json = '{"auth": {"a": "}"}, "images": {"x": "y"}}'
    const start = json.indexOf('{"a"')
    const end = start + '{"a": "}"}'.length
    assert.equal(sectionText(json, 'auth'), ' '.repeat(start) + json.slice(start, end) + ' '.repeat(json.length - end))
  })
})

describe('detection from the contents', () => {
  const rows: [string, string, DetectedFormat][] = [
    ['rule.yaml', 'src.io/a/app: dst.io/b/app\n', 'rules'],
    ['images.json', '{"src.io/a/app": ["dst.io/b/app"]}', 'rules'],
    ['case-6 only: ambiguous', 'src.io/a/app:\n', 'unknown'],
    ['image list', '# list\nnginx:1.25\nlocalhost:5000/a/b@' + D1 + '\n', 'image-list'],
    ['security.yaml', '"http://reg.io": {}\nsrc.io:\n  username: u\n  password: p\n', 'credentials'],
    ['security.yaml with a typo in one field', 'src.io:\n  username: u\n  passwrd: p\n', 'credentials'],
    ['rules whose values are objects', 'src.io/a/app:\n  destination: dst.io/b/app\n', 'unknown'],
    ['auth.json', '{"quay.io": {"username": "u", "password": "p", "insecure": true}}', 'credentials'],
    ['image-syncer config', 'auth: {}\nimages:\n  a/b: c.io/d/e\n', 'syncer-config'],
    ['docker config.json', '{"auths": {"https://index.docker.io/v1/": {"auth": "dTpw"}}}', 'docker-config'],
    ['kubeconfig', 'apiVersion: v1\nkind: Config\nclusters: []\n', 'kubeconfig'],
    ['empty', '# nothing\n\n', 'empty'],
    ['a list of things', '- a\n- b\n', 'unknown'],
  ]
  for (const [name, text, want] of rows) it(name, () => assert.equal(detectFormat(text), want))

  it('a file given to the wrong flag says what it looks like and where it goes', () => {
    assert.throws(() => checkFormat('"http://reg.io": {}\n', 'security.yaml', '--images', ['rules', 'image-list']), {
      message:
        'security.yaml: --images expects a rule file (image-transfer rule.yaml or image-syncer images file) or a plain image list, but this looks like an image-transfer security file (or image-syncer auth file); pass it to --securityFile (or --auth)',
    })
    assert.throws(
      () => checkFormat('src.io/a: dst.io/b\n', 'rules.yaml', '--securityFile', ['credentials']),
      /looks like a rule file \(image-transfer rule\.yaml or image-syncer images file\); pass it to --ruleFile or --images$/,
    )
    assert.throws(
      () => checkFormat('apiVersion: v1\nclusters: []\n', 'kc', '--ruleFile', ['rules', 'image-list']),
      /looks like a kubeconfig; run `ferry config k8s --kubeconfig FILE/,
    )
    assert.equal(checkFormat('src.io/a: dst.io/b\n', 'rules.yaml', '--ruleFile', ['rules', 'image-list']), 'rules')
  })
})

describe('the examples in rules/ read without errors', () => {
  const read = (name: string) => readFileSync(new URL(`../../rules/${name}`, import.meta.url), 'utf8')
  it('images.list', () => {
    assert.equal(detectFormat(read('images.list')), 'image-list')
    assert.equal(jobsOf(parseImageList(read('images.list'), 'images.list', DEFAULTS)).length, 6)
  })
  it('image-syncer.yaml', () => {
    assert.equal(detectFormat(read('image-syncer.yaml')), 'rules')
    assert.equal(jobsOf(parseSyncerImages(read('image-syncer.yaml'), 'image-syncer.yaml', DEFAULTS)).length, 7)
  })
  it('skopeo-sync.yaml', () => {
    assert.equal(detectFormat(read('skopeo-sync.yaml')), 'skopeo-sync')
    const parsed = parseSkopeoSync(read('skopeo-sync.yaml'), 'skopeo-sync.yaml', DEFAULTS)
    assert.equal(jobsOf(parsed).length, 6)
    assert.equal(parsed.credentials!.lookup('registry.example.com', 'library/redis').username, 'mirror-bot')
  })
  it('image-syncer-config.yaml', () => {
    assert.equal(detectFormat(read('image-syncer-config.yaml')), 'syncer-config')
    const parsed = parseSyncerConfig(read('image-syncer-config.yaml'), 'c.yaml', DEFAULTS, {MIRROR_PASSWORD: 'm-secret', QUAY_PASSWORD: 'q-secret'})
    assert.equal(jobsOf(parsed).length, 2)
    assert.equal(parsed.credentials!.lookup('quay.io', 'coreos/etcd').password, 'q-secret')
  })
})

describe('image-syncer auth file: the credentials of the equivalent security file', () => {
  it('JSON auth.json and security.yaml answer every lookup alike', () => {
    const auth = parseSyncerAuth(
      JSON.stringify({
        'quay.io': {username: 'u', password: '${PW}', insecure: true},
        'quay.io/coreos': {username: 'c', password: 'cp'},
        'registry.hub.docker.com': {username: 'h', password: 'hp'},
      }),
      'auth.json',
      {PW: 'from-env'},
    )
    const security = parseSecurity(
      'quay.io:\n  username: u\n  password: from-env\n  insecure: true\nquay.io/coreos: {username: c, password: cp}\ndocker.io: {username: h, password: hp}\n',
      'security.yaml',
      {},
    )
    for (const [registry, repository] of [
      ['quay.io', 'coreos/etcd'],
      ['quay.io', 'other/x'],
      ['docker.io', 'library/nginx'],
      ['reg.io', 'a/b'],
    ]) {
      // Where each was written differs by file and line; the access itself is the same.
      const strip = ({entry: _entry, writtenIn: _writtenIn, ...access}: ReturnType<typeof auth.lookup>) => access
      assert.deepEqual(strip(auth.lookup(registry!, repository!)), strip(security.lookup(registry!, repository!)), `${registry}/${repository}`)
    }
  })
})

describe('generateJobs: a rule tag pattern filters the listed tags', () => {
  const listTags = async function* () {
    yield* ['v1.0', 'v1.1', 'v2.0', 'latest']
  }
  const rule = (tagPattern: string): Rule => ({
    text: `src.io/a/app:/${tagPattern}/`,
    source: {registry: 'src.io', repository: 'a/app', tagPattern},
    destination: {registry: 'dst.io', repository: 'b/app'},
  })
  const run = async (rules: Rule[], tagFilter?: (tag: string) => boolean) => {
    const out: string[] = []
    for await (const item of generateJobs(rules, {listTags, listers: 2, tagFilter})) {
      out.push(
        item.kind === 'job'
          ? `${item.job.source.tag} → ${item.job.destination.repository}:${item.job.destination.tag}`
          : `error ${item.error.code}: ${item.error.message}`,
      )
    }
    return out
  }
  it('keeps the tags the pattern finds, then applies the run-wide filter', async () => {
    assert.deepEqual(await run([rule('^v1\\.')]), ['v1.0 → b/app:v1.0', 'v1.1 → b/app:v1.1'])
    assert.deepEqual(await run([rule('^v')], (tag) => tag !== 'v1.1'), ['v1.0 → b/app:v1.0', 'v2.0 → b/app:v2.0'])
  })
  it('a pattern that finds nothing is a failed rule, not a silent skip', async () => {
    assert.deepEqual(await run([rule('^v9')]), ['error NO_TAGS: rule src.io/a/app:/^v9/: none of the 4 tags of the source repository matches /^v9/'])
  })
})
