import {describe, it, before, after} from 'node:test'
import assert from 'node:assert/strict'
import {mkdir, mkdtemp, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {ConfigError} from '../../src/errors.js'
import {expandEnv, expandUsername} from '../../src/config/env.js'
import {anonymousStore, loadSecurityFile, parseSecurity, type RegistryAccess} from '../../src/config/security.js'
import {lineOfKey, scanKeys} from '../../src/config/yaml.js'

const FILE = 'security.yaml'
const SECRET = 'S3cr3t-Pa55'
const PEM = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n'

describe('CredentialStore.lookup', () => {
  const store = parseSecurity(
    [
      'reg.io:',
      '  username: root',
      `  password: ${SECRET}`,
      'reg.io/ns:',
      '  username: ns-user',
      '  password: ns-pass',
      'reg.io/ns/team/app:',
      '  username: app-user',
      '  password: app-pass',
      'registry.hub.docker.com:',
      '  username: hub',
      '  password: hub-pass',
      'docker.io/library:',
      '  username: official',
      '  password: official-pass',
      'http://plain.local:5000:',
      '  username: p',
      '  password: p',
      'https://Secure.IO/:',
      '  skipTlsVerify: "true"',
      '"[::1]:5000":',
      '  insecure: true',
    ].join('\n'),
    FILE,
    {},
  )
  const cases: [string, string, string, Partial<RegistryAccess> | undefined][] = [
    ['the registry entry', 'reg.io', 'other/app', {username: 'root', entry: 'reg.io'}],
    ['a namespace entry', 'reg.io', 'ns/app', {username: 'ns-user', entry: 'reg.io/ns'}],
    ['the namespace itself', 'reg.io', 'ns', {username: 'ns-user'}],
    ['whole components only', 'reg.io', 'nsx/app', {username: 'root'}],
    ['the longest prefix', 'reg.io', 'ns/team/app', {username: 'app-user', entry: 'reg.io/ns/team/app'}],
    ['deeper than the longest prefix', 'reg.io', 'ns/team/app/sub', {username: 'app-user'}],
    ['a sibling of a deep entry', 'reg.io', 'ns/team/other', {username: 'ns-user'}],
    ['a Hub alias key applies to docker.io', 'docker.io', 'someone/app', {username: 'hub', entry: 'registry.hub.docker.com'}],
    ['and to every alias asked for', 'index.docker.io', 'someone/app', {username: 'hub'}],
    ['a Hub namespace entry', 'registry-1.docker.io', 'library/nginx', {username: 'official'}],
    ['http:// means plain HTTP', 'plain.local:5000', 'a', {username: 'p', insecure: true}],
    ['a port is part of the registry', 'plain.local', 'a', undefined],
    ['https:// and a trailing slash are stripped, host lowercased', 'secure.io', 'a', {skipTlsVerify: true, insecure: false, username: undefined}],
    ['an IPv6 registry', '[::1]:5000', 'a', {insecure: true}],
    ['no entry: anonymous', 'quay.io', 'coreos/etcd', undefined],
  ]
  for (const [name, registry, repository, want] of cases) {
    it(name, () => {
      const got = store.lookup(registry, repository)
      if (want === undefined) {
        assert.deepEqual(got, {insecure: false, skipTlsVerify: false})
        return
      }
      for (const [field, value] of Object.entries(want)) assert.equal(got[field as keyof RegistryAccess], value, field)
    })
  }

  it('hands out copies, so a caller cannot change the store', () => {
    const first = store.lookup('reg.io', 'x')
    first.username = 'changed'
    assert.equal(store.lookup('reg.io', 'x').username, 'root')
  })

  it('anonymousStore and empty files know no one', () => {
    for (const s of [anonymousStore, parseSecurity('', FILE), parseSecurity('# none\n', FILE), parseSecurity('---\n', FILE)]) {
      assert.deepEqual(s.lookup('reg.io', 'a/b'), {insecure: false, skipTlsVerify: false})
    }
  })
})

describe('parseSecurity fields', () => {
  const cases: [string, string, NodeJS.ProcessEnv, Partial<RegistryAccess>][] = [
    ['booleans', 'insecure: true\n  skipTlsVerify: false', {}, {insecure: true, skipTlsVerify: false}],
    ['booleans as strings', 'insecure: "false"\n  skipTlsVerify: "TRUE"', {}, {insecure: false, skipTlsVerify: true}],
    ['booleans from the environment', 'insecure: ${PLAIN}', {PLAIN: 'true'}, {insecure: true}],
    ['${VAR} and $VAR', 'username: ${USER_NAME}\n  password: $PASS_WORD', {USER_NAME: 'u', PASS_WORD: 'p'}, {username: 'u', password: 'p'}],
    ['$$ is a dollar', 'username: u\n  password: "a$$b$$$$"', {}, {password: 'a$b$$'}],
    ['a lone $ stays', 'username: u\n  password: "pa$5word$"', {}, {password: 'pa$5word$'}],
    ['empty values are anonymous', 'username: ${U}\n  password: ${P}', {U: '', P: ''}, {username: undefined, password: undefined}],
    ['a username alone', 'username: robot', {}, {username: 'robot', password: undefined}],
    ['a Harbor project robot as written', 'username: robot$ferry+ci\n  password: $P', {P: 'p'}, {username: 'robot$ferry+ci', password: 'p'}],
    ['a Harbor robot spelt with $$', 'username: robot$$ferry+ci', {}, {username: 'robot$ferry+ci'}],
    ['robot$ in a password is still a variable', 'username: u\n  password: robot$P', {P: 'x'}, {password: 'robotx'}],
    ['null fields are absent', 'username:\n  insecure:', {}, {username: undefined, insecure: false}],
  ]
  for (const [name, body, env, want] of cases) {
    it(name, () => {
      const got = parseSecurity(`reg.io:\n  ${body}\n`, FILE, env).lookup('reg.io', 'a')
      for (const [field, value] of Object.entries(want)) assert.equal(got[field as keyof RegistryAccess], value, field)
    })
  }

  it('an entry with no fields is an anonymous entry', () => {
    assert.deepEqual(parseSecurity('reg.io:\n', FILE).lookup('reg.io', 'a'), {insecure: false, skipTlsVerify: false, entry: 'reg.io', writtenIn: `${FILE}:1`})
  })

  it('reads JSON too', () => {
    const store = parseSecurity('{"reg.io": {"username": "u", "password": "p", "insecure": true}}', 'security.json')
    assert.equal(store.lookup('reg.io', 'a').insecure, true)
  })
})

describe('parseSecurity errors never show values', () => {
  const cases: {name: string; text: string; env?: NodeJS.ProcessEnv; line?: number; message: RegExp}[] = [
    {
      name: 'a misspelt field is named, with the fields allowed',
      text: `reg.io:\n  username: u\n  pasword: ${SECRET}\n`,
      line: 3,
      message:
        /entry "reg\.io": has an unknown field "pasword" \(did you mean password\?\); allowed fields: username, password, insecure, skipTlsVerify, caFile$/,
    },
    {name: 'a field from docker config.json', text: `reg.io:\n  auth: ${SECRET}\n`, line: 2, message: /unknown field "auth" \(did you mean password\?\)/},
    {
      name: 'a field that may be a pasted secret is not quoted',
      text: `reg.io: {username: u, ${SECRET}}\n`,
      line: 1,
      message: /has an unknown field \(not shown, in case it is a secret\)/,
    },
    {
      name: 'a missing variable',
      text: 'reg.io:\n  username: u\n  password: ${REG_PASS}\n',
      line: 3,
      message: /entry "reg\.io": password uses environment variable REG_PASS, which is not set/,
    },
    {name: 'a missing $VAR', text: 'reg.io:\n  username: $REG_USER\n', line: 2, message: /username uses environment variable REG_USER/},
    {name: 'an unclosed ${', text: `reg.io:\n  username: u\n  password: "\${${SECRET}"\n`, line: 3, message: /password has '\$\{' without a closing '\}'/},
    {
      name: 'a ${} around a non-name',
      text: `reg.io:\n  username: u\n  password: "\${${SECRET}-x}"\n`,
      line: 3,
      message: /password has '\$\{…\}' around something that is not a variable name/,
    },
    {
      name: 'a number password',
      text: 'reg.io:\n  username: u\n  password: 123456\n',
      line: 3,
      message: /password must be a string, found a number \(quote it in YAML\)/,
    },
    {name: 'a password without a username', text: `reg.io:\n  password: ${SECRET}\n`, line: 2, message: /has a password but no username/},
    {name: 'a boolean that is not one', text: `reg.io:\n  insecure: ${SECRET}\n`, line: 2, message: /insecure must be true or false$/},
    {name: 'http:// with insecure: false', text: 'http://reg.io:\n  insecure: false\n', line: 2, message: /says http:\/\/ but insecure: false/},
    {name: 'https:// with insecure: true', text: 'https://reg.io:\n  insecure: true\n', line: 2, message: /says https:\/\/ but insecure: true/},
    {
      name: 'an entry that is not a map',
      text: `reg.io: ${SECRET}\n`,
      line: 1,
      message: /entry "reg\.io": must be a map with username, password, insecure, skipTlsVerify, caFile; found a string/,
    },
    {name: 'an entry that is a list', text: `reg.io:\n  - ${SECRET}\n`, line: 1, message: /found a list/},
    {
      name: 'an invalid registry',
      text: 'reg_io.com:\n  username: u\n',
      line: 1,
      message: /entry "reg_io\.com": invalid registry "reg_io\.com": is not a valid host name/,
    },
    {
      name: 'an invalid namespace',
      text: 'reg.io/My-NS:\n  username: u\n',
      line: 1,
      message: /entry "reg\.io\/My-NS": namespace path component "My-NS" has uppercase/,
    },
    {
      name: 'two names for one registry',
      text: 'docker.io:\n  username: a\nindex.docker.io:\n  username: b\n',
      line: 3,
      message: /entry "index\.docker\.io" names the same registry prefix as "docker\.io" \(line 1\); keep one/,
    },
    {
      name: 'the same key twice',
      text: `reg.io:\n  username: a\nreg.io:\n  password: ${SECRET}\n`,
      line: 3,
      message: /entry "reg\.io" appears twice \(lines 1 and 3\)/,
    },
    {
      name: 'a field twice',
      text: `reg.io:\n  password: ${SECRET}\n  password: ${SECRET}\n`,
      line: 3,
      message: /key "password" appears twice \(lines 2 and 3\)/,
    },
    {
      name: 'broken YAML',
      text: `reg.io:\n  username: u\n  password: "${SECRET}\n`,
      line: 4,
      message: /^security\.yaml:4: invalid YAML: unexpected end of the stream within a double quoted scalar$/,
    },
    {name: 'bad indentation', text: `reg.io:\n  username: u\n password: ${SECRET}\n`, message: /^security\.yaml:\d+: invalid YAML: [^\n]+$/},
    {
      name: 'a file that is a list',
      text: `- ${SECRET}\n`,
      message: /^security\.yaml: a security file is a map from registry \(or registry\/namespace\) to credentials; this one is a list$/,
    },
    {
      name: 'a caFile that is missing',
      text: `reg.io:\n  caFile: ./no-such-${SECRET}.pem\n`,
      line: 2,
      message: /entry "reg\.io": cannot read caFile \(ENOENT\)$/,
    },
  ]
  for (const c of cases) {
    it(c.name, () => {
      assert.throws(
        () => parseSecurity(c.text, FILE, {...c.env, [SECRET]: SECRET}),
        (error: unknown) => {
          assert.ok(error instanceof ConfigError)
          assert.match(error.message, c.message)
          assert.ok(error.message.startsWith(`${FILE}:${c.line ?? ''}`), error.message)
          if (c.line !== undefined) assert.equal(error.line, c.line)
          assert.equal(error.file, FILE)
          assert.ok(!error.message.includes('\n'), 'one line')
          assert.ok(!error.message.includes(SECRET), `a secret leaked: ${error.message}`)
          assert.ok(!JSON.stringify(error).includes(SECRET), 'no secret in enumerable fields')
          return true
        },
      )
    })
  }
})

describe('expandEnv', () => {
  const env = {A: 'alpha', B_2: 'beta', EMPTY: ''}
  const cases: [string, string | RegExp][] = [
    ['plain', 'plain'],
    ['${A}', 'alpha'],
    ['$A', 'alpha'],
    ['x${A}y$B_2.z', 'xalphaybeta.z'],
    ['$A$B_2', 'alphabeta'],
    ['$$', '$'],
    ['$$A', '$A'],
    ['$${A}', '${A}'],
    ['a$', 'a$'],
    ['a$-b', 'a$-b'],
    ['pa$5word', 'pa$5word'],
    ['${EMPTY}', ''],
    ['${MISSING}', /MISSING, which is not set/],
    ['$MISSING', /MISSING, which is not set/],
    ['${A', /without a closing/],
    ['${1x}', /not a variable name/],
    ['${}', /not a variable name/],
    ['$MISSING', /; set it, or write \$\$ for a literal \$$/],
  ]
  for (const [text, want] of cases) {
    it(JSON.stringify(text), () => {
      const got = expandEnv(text, env)
      if (typeof want === 'string') assert.deepEqual(got, {ok: true, value: want})
      else assert.ok(!got.ok && want.test(got.problem), JSON.stringify(got))
    })
  }
})

describe('expandUsername', () => {
  // Harbor's robot names (robot$name, robot$project+name; lowercase, digits, . _ -) are taken as
  // written; anything else is read as expandEnv reads it.
  const env = {A: 'alpha', ferry: 'set'}
  const cases: [string, string | RegExp][] = [
    ['robot$ferry+ci', 'robot$ferry+ci'],
    ['robot$migration', 'robot$migration'],
    ['robot$team.a_b-c+push-1', 'robot$team.a_b-c+push-1'],
    ['robot$$ferry+ci', 'robot$ferry+ci'],
    ['$A', 'alpha'],
    ['robot${A}', 'robotalpha'],
    ['robot$A', 'robotalpha'],
    ['robot$PROJECT+ci', /PROJECT, which is not set; set it, or write \$\$ for a literal \$/],
    ['robot$ferry+$MISSING', /MISSING, which is not set/],
    ['robot$ferry+ci+x', 'robotset+ci+x'],
    ['xrobot$ferry', 'xrobotset'],
    ['robot$-ferry', 'robot$-ferry'],
  ]
  for (const [text, want] of cases) {
    it(JSON.stringify(text), () => {
      const got = expandUsername(text, env)
      if (typeof want === 'string') assert.deepEqual(got, {ok: true, value: want})
      else assert.ok(!got.ok && want.test(got.problem), JSON.stringify(got))
    })
  }
})

describe('caFile', () => {
  let dir: string
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-security-'))
    await mkdir(join(dir, 'certs'))
    await writeFile(join(dir, 'certs', 'ca.pem'), PEM)
    await writeFile(join(dir, 'certs', 'not-a-cert.txt'), 'hello')
  })
  after(() => rm(dir, {recursive: true, force: true}))

  it('is read relative to the security file, at parse time', async () => {
    const file = join(dir, 'security.yaml')
    await writeFile(file, 'reg.io:\n  username: u\n  password: p\n  caFile: certs/ca.pem\n')
    const access = (await loadSecurityFile(file, {})).lookup('reg.io', 'a')
    assert.equal(access.ca, PEM)
    assert.equal(access.caFile, join(dir, 'certs', 'ca.pem'))
  })

  it('may come from the environment', () => {
    const access = parseSecurity('reg.io:\n  caFile: ${CERTS}/ca.pem\n', join(dir, 'security.yaml'), {CERTS: join(dir, 'certs')}).lookup('reg.io', 'a')
    assert.equal(access.ca, PEM)
  })

  it('must hold a PEM certificate', () => {
    assert.throws(
      () => parseSecurity('\nreg.io:\n  caFile: certs/not-a-cert.txt\n', join(dir, 's.yaml')),
      /s\.yaml:3: entry "reg\.io": caFile holds no PEM certificate$/,
    )
  })

  it('a security file that cannot be read', async () => {
    await assert.rejects(loadSecurityFile(join(dir, 'missing.yaml')), /missing\.yaml: cannot read security file \(ENOENT\)$/)
  })
})

describe('scanKeys and lineOfKey', () => {
  const cases: [string, string, string, number | undefined][] = [
    ['block', 'a: 1\nb:\n  c: 2\nd: 3\n', 'd', 4],
    ['nested keys are not top-level', 'a:\n  d: 1\nd: 2\n', 'd', 3],
    ['quoted', '\'x:1\': a\n"y@z": b\n', 'y@z', 2],
    ['keys with colons', 'nginx:1.0,2.0: reg.io/a\n', 'nginx:1.0,2.0', 1],
    ['comments and markers', '# a: 1\n---\nb: 2 # c: 3\n', 'b', 3],
    ['windows line ends', 'a: 1\r\nb: 2\r\n', 'b', 2],
    ['pretty JSON', '{\n  "a": {"b": 1},\n  "b": 2\n}', 'b', 3],
    ['one-line JSON', '{"a": "x:y", "b": "z"}', 'b', 1],
    ['JSON with escapes', '{\n  "a\\"q": 1,\n  "c": 2\n}', 'a"q', 2],
    ['absent', 'a: 1\n', 'b', undefined],
  ]
  for (const [name, text, key, line] of cases) {
    it(name, () => assert.equal(lineOfKey(text, key), line))
  }

  it('marks the nesting level', () => {
    assert.deepEqual(
      scanKeys('{\n  "a": {\n    "b": 1\n  }\n}').map((k) => [k.key, k.line, k.top]),
      [
        ['a', 2, true],
        ['b', 3, false],
      ],
    )
  })
})
