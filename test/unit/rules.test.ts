import {describe, it} from 'node:test'
import assert from 'node:assert/strict'
import {mkdtemp, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {ConfigError} from '../../src/errors.js'
import {defaultsFromEnv, loadRuleFile, parseRules, type Rule, type RuleDefaults} from '../../src/config/rules.js'

const D1 = `sha256:${'1'.repeat(64)}`
const D2 = `sha256:${'2'.repeat(64)}`
const FILE = 'rules.yaml'
const REG_NS: RuleDefaults = {registry: 'reg.io', namespace: 'ns'}

type Expected = Pick<Rule, 'source' | 'destination'> & {line?: number}

/** Parses one file and expects no errors; returns what the tests compare. */
function ok(text: string, defaults: RuleDefaults = {}): Expected[] {
  const {rules, errors} = parseRules(text, FILE, defaults)
  assert.deepEqual(
    errors.map((e) => e.message),
    [],
  )
  return rules.map((r) => ({line: r.line, source: r.source, destination: r.destination}))
}

describe('parseRules: the rule cases', () => {
  const cases: {name: string; text: string; defaults?: RuleDefaults; want: Expected[]}[] = [
    {
      name: '1. a source without a registry is Docker Hub, library/ for single names',
      text: 'nginx: reg.io/ns/nginx\nbitnami/redis: reg.io/ns/redis\n',
      want: [
        {line: 1, source: {registry: 'docker.io', repository: 'library/nginx'}, destination: {registry: 'reg.io', repository: 'ns/nginx'}},
        {line: 2, source: {registry: 'docker.io', repository: 'bitnami/redis'}, destination: {registry: 'reg.io', repository: 'ns/redis'}},
      ],
    },
    {
      name: '1. Docker Hub aliases in sources fold to docker.io',
      text: 'index.docker.io/nginx: reg.io/a/nginx\nregistry.hub.docker.com/x/y: reg.io/a/y\n',
      want: [
        {line: 1, source: {registry: 'docker.io', repository: 'library/nginx'}, destination: {registry: 'reg.io', repository: 'a/nginx'}},
        {line: 2, source: {registry: 'docker.io', repository: 'x/y'}, destination: {registry: 'reg.io', repository: 'a/y'}},
      ],
    },
    {
      name: '2. no source tag: every tag, destination without tag',
      text: 'quay.io/coreos/etcd: reg.io:5000/ns/etcd',
      want: [{line: 1, source: {registry: 'quay.io', repository: 'coreos/etcd'}, destination: {registry: 'reg.io:5000', repository: 'ns/etcd'}}],
    },
    {
      name: '2. a registry port is not a tag',
      text: '127.0.0.1:5000/app: reg.io/ns/app',
      want: [{line: 1, source: {registry: '127.0.0.1:5000', repository: 'app'}, destination: {registry: 'reg.io', repository: 'ns/app'}}],
    },
    {
      name: '3. one tag: destination tag defaults to it',
      text: 'nginx:1.25: reg.io/ns/nginx',
      want: [
        {
          line: 1,
          source: {registry: 'docker.io', repository: 'library/nginx', tags: ['1.25']},
          destination: {registry: 'reg.io', repository: 'ns/nginx', tag: '1.25'},
        },
      ],
    },
    {
      name: '3. one tag renamed',
      text: 'nginx:1.25: reg.io/ns/web:stable',
      want: [
        {
          line: 1,
          source: {registry: 'docker.io', repository: 'library/nginx', tags: ['1.25']},
          destination: {registry: 'reg.io', repository: 'ns/web', tag: 'stable'},
        },
      ],
    },
    {
      name: '3. same repository, another tag',
      text: 'reg.io/ns/app:1.0: reg.io/ns/app:stable',
      want: [
        {line: 1, source: {registry: 'reg.io', repository: 'ns/app', tags: ['1.0']}, destination: {registry: 'reg.io', repository: 'ns/app', tag: 'stable'}},
      ],
    },
    {
      name: '4. several tags, trailing comma and spaces tolerated',
      text: 'redis:6,7: reg.io/ns/redis\n"redis:5, 4 ,": reg.io/ns/old\n',
      want: [
        {line: 1, source: {registry: 'docker.io', repository: 'library/redis', tags: ['6', '7']}, destination: {registry: 'reg.io', repository: 'ns/redis'}},
        {line: 2, source: {registry: 'docker.io', repository: 'library/redis', tags: ['5', '4']}, destination: {registry: 'reg.io', repository: 'ns/old'}},
      ],
    },
    {
      name: '5. digest source to a tag',
      text: `alpine@${D1}: reg.io/ns/alpine:3.19`,
      want: [
        {
          line: 1,
          source: {registry: 'docker.io', repository: 'library/alpine', digest: D1},
          destination: {registry: 'reg.io', repository: 'ns/alpine', tag: '3.19'},
        },
      ],
    },
    {
      name: '5. digest source to the same digest (push by digest)',
      text: `alpine@${D1}: reg.io/ns/alpine@${D1}`,
      want: [
        {
          line: 1,
          source: {registry: 'docker.io', repository: 'library/alpine', digest: D1},
          destination: {registry: 'reg.io', repository: 'ns/alpine', digest: D1},
        },
      ],
    },
    {
      name: '5. a tag written beside the source digest is the default destination tag',
      text: `alpine:3.19@${D1}: reg.io/ns/alpine`,
      want: [
        {
          line: 1,
          source: {registry: 'docker.io', repository: 'library/alpine', digest: D1},
          destination: {registry: 'reg.io', repository: 'ns/alpine', tag: '3.19'},
        },
      ],
    },
    {
      name: '6. empty destination, registry and namespace: the first path component is replaced',
      text: 'nginx:\nquay.io/coreos/etcd: ""\nr.io/a/b/c: ~\nr.io/app: null\nnginx:1.25:\n',
      defaults: REG_NS,
      want: [
        {line: 1, source: {registry: 'docker.io', repository: 'library/nginx'}, destination: {registry: 'reg.io', repository: 'ns/nginx'}},
        {line: 2, source: {registry: 'quay.io', repository: 'coreos/etcd'}, destination: {registry: 'reg.io', repository: 'ns/etcd'}},
        {line: 3, source: {registry: 'r.io', repository: 'a/b/c'}, destination: {registry: 'reg.io', repository: 'ns/b/c'}},
        {line: 4, source: {registry: 'r.io', repository: 'app'}, destination: {registry: 'reg.io', repository: 'ns/app'}},
        {
          line: 5,
          source: {registry: 'docker.io', repository: 'library/nginx', tags: ['1.25']},
          destination: {registry: 'reg.io', repository: 'ns/nginx', tag: '1.25'},
        },
      ],
    },
    {
      name: '6. empty destination keeps a digest',
      text: `alpine@${D1}:\n`,
      defaults: REG_NS,
      want: [
        {
          line: 1,
          source: {registry: 'docker.io', repository: 'library/alpine', digest: D1},
          destination: {registry: 'reg.io', repository: 'ns/alpine', digest: D1},
        },
      ],
    },
    {
      name: '6. registry only: the whole repository path is kept',
      text: 'quay.io/coreos/etcd:\nnginx:\n',
      defaults: {registry: 'reg.io:5000'},
      want: [
        {line: 1, source: {registry: 'quay.io', repository: 'coreos/etcd'}, destination: {registry: 'reg.io:5000', repository: 'coreos/etcd'}},
        {line: 2, source: {registry: 'docker.io', repository: 'library/nginx'}, destination: {registry: 'reg.io:5000', repository: 'library/nginx'}},
      ],
    },
    {
      name: '6. namespace only: Docker Hub',
      text: 'quay.io/coreos/etcd:',
      defaults: {namespace: 'mirror'},
      want: [{line: 1, source: {registry: 'quay.io', repository: 'coreos/etcd'}, destination: {registry: 'docker.io', repository: 'mirror/etcd'}}],
    },
    {
      name: '6. a destination without a registry is Docker Hub',
      text: 'quay.io/coreos/etcd:v3: myuser/etcd\nquay.io/app:1: app\n',
      want: [
        {
          line: 1,
          source: {registry: 'quay.io', repository: 'coreos/etcd', tags: ['v3']},
          destination: {registry: 'docker.io', repository: 'myuser/etcd', tag: 'v3'},
        },
        {line: 2, source: {registry: 'quay.io', repository: 'app', tags: ['1']}, destination: {registry: 'docker.io', repository: 'library/app', tag: '1'}},
      ],
    },
    {
      name: 'JSON as image-transfer generates it, tag lists ending with a comma',
      text: '{\n  "nginx:1.24,1.25,": "reg.io/ns/nginx",\n  "quay.io/coreos/etcd": ""\n}\n',
      defaults: REG_NS,
      want: [
        {
          line: 2,
          source: {registry: 'docker.io', repository: 'library/nginx', tags: ['1.24', '1.25']},
          destination: {registry: 'reg.io', repository: 'ns/nginx'},
        },
        {line: 3, source: {registry: 'quay.io', repository: 'coreos/etcd'}, destination: {registry: 'reg.io', repository: 'ns/etcd'}},
      ],
    },
    {
      name: 'one-line JSON',
      text: '{"nginx:1.25": "reg.io/ns/nginx", "redis": "reg.io/ns/redis"}',
      want: [
        {
          line: 1,
          source: {registry: 'docker.io', repository: 'library/nginx', tags: ['1.25']},
          destination: {registry: 'reg.io', repository: 'ns/nginx', tag: '1.25'},
        },
        {line: 1, source: {registry: 'docker.io', repository: 'library/redis'}, destination: {registry: 'reg.io', repository: 'ns/redis'}},
      ],
    },
    {
      name: 'comments, a document marker, quoted keys and a byte-order mark',
      text: '\uFEFF# mirror list\n---\n\'nginx:1.25\': reg.io/ns/nginx # pinned\n\n"redis": reg.io/ns/redis\n',
      want: [
        {
          line: 3,
          source: {registry: 'docker.io', repository: 'library/nginx', tags: ['1.25']},
          destination: {registry: 'reg.io', repository: 'ns/nginx', tag: '1.25'},
        },
        {line: 5, source: {registry: 'docker.io', repository: 'library/redis'}, destination: {registry: 'reg.io', repository: 'ns/redis'}},
      ],
    },
  ]
  for (const c of cases) {
    it(c.name, () => assert.deepEqual(ok(c.text, c.defaults), c.want))
  }

  it('keeps the source text, file and line on each rule', () => {
    const [rule] = parseRules('\n\nquay.io/coreos/etcd:v1: reg.io/x/etcd\n', 'dir/rules.yaml', {}).rules
    assert.equal(rule?.text, 'quay.io/coreos/etcd:v1')
    assert.equal(rule?.file, 'dir/rules.yaml')
    assert.equal(rule?.line, 3)
  })

  it('an empty or comment-only file has no rules', () => {
    for (const text of ['', '\n\n', '# nothing yet\n', '---\n']) assert.deepEqual(parseRules(text, FILE, {}), {rules: [], errors: [], warnings: []})
  })
})

describe('parseRules: rules that break the cases', () => {
  const cases: {name: string; text: string; defaults?: RuleDefaults; line: number; rule: string; reason: RegExp}[] = [
    {name: '2. all tags to a tagged destination', text: 'nginx: reg.io/ns/nginx:1', line: 1, rule: 'nginx', reason: /every tag is copied under its own name/},
    {name: '2. all tags to a digest', text: `nginx: reg.io/ns/nginx@${D1}`, line: 1, rule: 'nginx', reason: /only a source given by that digest/},
    {name: '3. one tag to a digest', text: `nginx:1: reg.io/ns/nginx@${D1}`, line: 1, rule: 'nginx:1', reason: /only a source given by that digest/},
    {
      name: '4. several tags to a tagged destination',
      text: 'redis:6,7: reg.io/ns/redis:x',
      line: 1,
      rule: 'redis:6,7',
      reason: /several tags, which keep their names/,
    },
    {name: '4. a destination with several tags', text: 'redis:6: reg.io/ns/redis:x,y', line: 1, rule: 'redis:6', reason: /destination names several tags/},
    {
      name: '5. digest to an untagged destination',
      text: `alpine@${D1}: reg.io/ns/alpine`,
      line: 1,
      rule: `alpine@${D1}`,
      reason: /needs a tag \(:tag\) or the same digest/,
    },
    {
      name: '5. digest to another digest',
      text: `alpine@${D1}: reg.io/ns/alpine@${D2}`,
      line: 1,
      rule: `alpine@${D1}`,
      reason: /differs from the source digest/,
    },
    {name: '5. digest with several tags', text: `alpine:1,2@${D1}: reg.io/ns/alpine:1`, line: 1, rule: `alpine:1,2@${D1}`, reason: /a digest and several tags/},
    {
      name: '6. empty destination without defaults',
      text: 'nginx:',
      line: 1,
      rule: 'nginx',
      reason: /give --registry\/--ns or set DEFAULT_REGISTRY\/DEFAULT_NAMESPACE/,
    },
    {name: 'destination is the source', text: 'quay.io/a/b:1: quay.io/a/b', line: 1, rule: 'quay.io/a/b:1', reason: /is the source itself/},
    {
      name: 'default destination is the source',
      text: 'reg.io/app:',
      defaults: {registry: 'reg.io'},
      line: 1,
      rule: 'reg.io/app',
      reason: /is the source itself/,
    },
    {
      name: 'invalid source',
      text: 'ok: reg.io/a/ok\nNginx: reg.io/ns/nginx',
      line: 2,
      rule: 'Nginx',
      reason: /source: invalid image reference "Nginx": .*uppercase/,
    },
    {
      name: 'path traversal in the destination',
      text: 'nginx: reg.io/../../etc',
      line: 1,
      rule: 'nginx',
      reason: /destination: invalid image reference .*"\.\." is not allowed/,
    },
    {name: 'bad digest length', text: 'nginx@sha256:abc: reg.io/a/b:1', line: 1, rule: 'nginx@sha256:abc', reason: /has 3 hex digits; it needs 64/},
    {name: 'a number destination', text: 'nginx: 42', line: 1, rule: 'nginx', reason: /must be a repository name or a map of target, .*; found a number/},
    {name: 'a boolean destination', text: 'nginx: true', line: 1, rule: 'nginx', reason: /found a boolean/},
    {name: 'a list destination', text: 'nginx:\n  - reg.io/a/b\n  - reg.io/c/d\n', line: 1, rule: 'nginx', reason: /found a list \(one destination per rule\)/},
    {
      name: 'a map destination with a key that is not a rule key',
      text: 'a: reg.io/a/a\nnginx:\n  to: reg.io/a/b\n',
      line: 3,
      rule: 'nginx',
      reason: /key "to": not a rule key; the keys are target, includeTags/,
    },
    {name: 'a number source', text: 'nginx: reg.io/a/b\n1.10: reg.io/a/c\n', line: 2, rule: '1.10', reason: /YAML reads this source as a number.*quote it/},
    {name: 'a boolean source', text: 'true: reg.io/a/c\n', line: 1, rule: 'true', reason: /as a boolean/},
  ]
  for (const c of cases) {
    it(c.name, () => {
      const {rules, errors} = parseRules(c.text, FILE, c.defaults ?? {})
      assert.equal(errors.length, 1, errors.map((e) => e.message).join(' | '))
      const [error] = errors
      assert.ok(error instanceof ConfigError)
      assert.equal(error.code, 'INVALID_RULE')
      assert.equal(error.file, FILE)
      assert.equal(error.line, c.line)
      assert.ok(error.message.startsWith(`${FILE}:${c.line}: rule ${JSON.stringify(c.rule)}`), error.message)
      assert.match(error.message, c.reason)
      assert.ok(!error.message.includes('\n'), 'one line')
      assert.equal(rules.length, c.text.split('\n').filter((l) => /^\S.*:/.test(l)).length - 1, 'the other rules still parse')
    })
  }

  it('a key written twice fails that rule, naming both lines, and keeps the rest (YAML)', () => {
    const {rules, errors} = parseRules('nginx: reg.io/a/nginx\nredis: reg.io/a/redis\nnginx: reg.io/b/nginx\n', FILE, {})
    assert.deepEqual(
      rules.map((r) => r.text),
      ['redis'],
    )
    assert.deepEqual(
      errors.map((e) => e.message),
      [`${FILE}:1: rule "nginx" is written twice (lines 1 and 3); a source may appear once, so merge them`],
    )
  })

  it('a key written twice in JSON', () => {
    const text = '{\n  "nginx": "reg.io/a/nginx",\n  "redis": "reg.io/a/redis",\n  "nginx": "reg.io/b/nginx",\n  "nginx": "reg.io/c/nginx"\n}'
    const {rules, errors} = parseRules(text, 'r.json', {})
    assert.deepEqual(
      rules.map((r) => r.text),
      ['redis'],
    )
    assert.equal(errors.length, 1)
    assert.match(errors[0]!.message, /^r\.json:2: rule "nginx" is written 3 times \(lines 2, 4 and 5\)/)
  })

  it('a repeated key inside a map destination is reported once, as that rule', () => {
    const {rules, errors} = parseRules('{"nginx": "reg.io/a/b", "redis": {"latest": 1, "latest": 2}}', 'r.json', {})
    assert.equal(rules.length, 1)
    assert.deepEqual(
      errors.map((e) => e.message),
      ['r.json:1: rule "redis": key "latest" is written twice; each key may appear once'],
    )
    const block = parseRules('nginx:\n  target: reg.io/a/b\n  semver: ^1\n  semver: ^2\nredis: reg.io/a/r\n', FILE, {})
    assert.deepEqual(
      block.rules.map((r) => r.text),
      ['redis'],
    )
    assert.deepEqual(
      block.errors.map((e) => e.message),
      [`${FILE}:4: rule "nginx": key "semver" is written twice; each key may appear once`],
    )
  })

  it('reports errors in line order', () => {
    const {errors} = parseRules('A: x\nnginx: y:1,2\n1.5: z\nB: w\n', FILE, {})
    assert.deepEqual(
      errors.map((e) => e.line),
      [1, 2, 3, 4],
    )
  })
})

describe('parseRules: files that are not rule maps', () => {
  const cases: {name: string; text: string; defaults?: RuleDefaults; message: RegExp; line?: number}[] = [
    {name: 'a list', text: '- nginx\n- redis\n', message: /^rules\.yaml: a rule file is a map from source to destination; this one is a list$/},
    {name: 'a string', text: 'just some text', message: /this one is a string/},
    {
      name: 'broken YAML',
      text: 'nginx: reg.io/a/b\nredis: [reg.io\n',
      message: /^rules\.yaml:3: invalid YAML: unexpected end of the stream within a flow collection$/,
      line: 3,
    },
    {name: 'broken JSON', text: '{\n  "nginx": "a",\n  "redis" "b"\n}', message: /^rules\.yaml:\d+: invalid YAML: /},
    {name: 'two documents', text: 'a: b\n---\nc: d\n', message: /^rules\.yaml: invalid YAML: expected a single document/},
    {
      name: 'a default registry that reads as a namespace',
      text: 'nginx:',
      defaults: {registry: 'myregistry'},
      message: /would be read as a Docker Hub namespace/,
    },
    {
      name: 'an invalid default registry',
      text: 'nginx:',
      defaults: {registry: 'reg io'},
      message: /^default registry \(--registry or DEFAULT_REGISTRY\) "reg io"/,
    },
    {
      name: 'an invalid default namespace',
      text: 'nginx:',
      defaults: {namespace: 'My/NS'},
      message: /^default namespace \(--ns or DEFAULT_NAMESPACE\) "My\/NS": .*uppercase/,
    },
  ]
  for (const c of cases) {
    it(c.name, () => {
      assert.throws(
        () => parseRules(c.text, FILE, c.defaults ?? {}),
        (error: unknown) => {
          assert.ok(error instanceof ConfigError)
          assert.match(error.message, c.message)
          assert.ok(!error.message.includes('\n'), 'one line, no YAML snippet')
          if (c.line) assert.equal(error.line, c.line)
          return true
        },
      )
    })
  }
})

describe('defaultsFromEnv', () => {
  const cases: [string, {registry?: string; ns?: string}, NodeJS.ProcessEnv, RuleDefaults][] = [
    ['nothing', {}, {}, {}],
    ['environment', {}, {DEFAULT_REGISTRY: 'reg.io', DEFAULT_NAMESPACE: 'ns'}, {registry: 'reg.io', namespace: 'ns'}],
    ['flags win', {registry: 'a.io', ns: 'a'}, {DEFAULT_REGISTRY: 'reg.io', DEFAULT_NAMESPACE: 'ns'}, {registry: 'a.io', namespace: 'a'}],
    ['one of each', {ns: 'a'}, {DEFAULT_REGISTRY: 'reg.io'}, {registry: 'reg.io', namespace: 'a'}],
    ['empty counts as unset', {registry: ''}, {DEFAULT_REGISTRY: ' ', DEFAULT_NAMESPACE: 'ns'}, {namespace: 'ns'}],
  ]
  for (const [name, flags, env, want] of cases) {
    it(name, () => assert.deepEqual(defaultsFromEnv(flags, env), want))
  }
})

describe('loadRuleFile', () => {
  it('reads a file and names it in errors', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ferry-rules-'))
    try {
      const file = join(dir, 'rule.yaml')
      await writeFile(file, 'nginx:1.25: reg.io/ns/nginx\nredis: reg.io/ns/redis:7\n')
      const {rules, errors} = await loadRuleFile(file, {})
      assert.equal(rules.length, 1)
      assert.equal(errors[0]?.message.startsWith(`${file}:2: rule "redis"`), true)
      await assert.rejects(loadRuleFile(join(dir, 'missing.yaml'), {}), /missing\.yaml: cannot read rule file \(ENOENT\)/)
    } finally {
      await rm(dir, {recursive: true, force: true})
    }
  })
})

describe('parseRules on a large file', () => {
  it('stays linear', () => {
    const lines: string[] = []
    for (let i = 0; i < 20_000; i++) lines.push(`"quay.io/ns${i}/app:1.0,2.0,": "reg.io/mirror/app${i}"`)
    const started = performance.now()
    const {rules, errors} = parseRules(`{\n${lines.join(',\n')}\n}\n`, 'big.json', {})
    assert.equal(errors.length, 0)
    assert.equal(rules.length, 20_000)
    assert.equal(rules[19_999]?.line, 20_001)
    assert.ok(performance.now() - started < 5_000)
  })
})

describe('parseRules: warnings', () => {
  it('an empty tag in a list (image-transfer JSON) is read past with a warning naming file and line', () => {
    const cases: [string, string[]][] = [
      ['a.io/x/app:1.0,2.0: b.io/y/app\n', []],
      ['a.io/x/app:1.0,2.0,: b.io/y/app\n', ['rules.yaml:1: rule "a.io/x/app:1.0,2.0,": an empty tag in the tag list ignored']],
      ['\n"a.io/x/app:1.0,,2.0,": b.io/y/app\n', ['rules.yaml:2: rule "a.io/x/app:1.0,,2.0,": 2 empty tags in the tag list ignored']],
    ]
    for (const [text, expected] of cases) {
      const parsed = parseRules(text, 'rules.yaml', {})
      assert.deepEqual(parsed.warnings, expected, text)
      assert.deepEqual(parsed.rules[0]?.source.tags, ['1.0', '2.0'], text)
    }
  })
})
