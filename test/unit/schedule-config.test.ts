import assert from 'node:assert/strict'
import path from 'node:path'
import {test} from 'node:test'

import {parseSchedule} from '../../src/config/schedule.js'

const FILE = '/etc/ferry/schedule.yaml'

test('schedule.yaml: jobs with their own inputs, triggers and engine settings; paths relative to the file', () => {
  const jobs = parseSchedule(
    `# two mirrors
jobs:
  hub:
    ruleFile: rules/hub.yaml
    securityFile: /secrets/security.yaml
    schedule: "0 */6 * * *"
    timezone: Europe/Berlin
    routines: 8
    qps: 20
    includeTags: ["^v"]
    tagExistOverridden: false
  quay:
    ruleFile: quay.yaml
    interval: 15m
    registry: mirror.example.com
    ns: quay
    chunkSize: 16MiB
    excludeTags: rc
`,
    FILE,
  )
  assert.deepEqual(
    jobs.map((job) => ({
      name: job.name,
      line: job.line,
      files: job.files,
      trigger: job.trigger,
      routines: job.engine.routines,
      qps: job.engine.qps,
      chunk: job.engine.chunkSize,
      overwrite: job.engine.overwriteTags,
    })),
    [
      {
        name: 'hub',
        line: 3,
        files: {ruleFile: '/etc/ferry/rules/hub.yaml', securityFile: '/secrets/security.yaml'},
        trigger: {kind: 'cron', pattern: '0 */6 * * *', timezone: 'Europe/Berlin'},
        routines: 8,
        qps: 20,
        chunk: undefined,
        overwrite: false,
      },
      {
        name: 'quay',
        line: 12,
        files: {ruleFile: path.resolve('/etc/ferry', 'quay.yaml'), registry: 'mirror.example.com', ns: 'quay'},
        trigger: {kind: 'interval', ms: 900_000},
        routines: 5,
        qps: undefined,
        chunk: 16 * 1024 * 1024,
        overwrite: true,
      },
    ],
  )
  assert.deepEqual(['v1', 'latest'].filter(jobs[0]!.engine.tagFilter!), ['v1'])
  assert.deepEqual(['1.0', '1.1-rc'].filter(jobs[1]!.engine.tagFilter!), ['1.0'])
})

test('schedule.yaml: each mistake is one line with the file, the line and the job', () => {
  const job = (body: string) => `jobs:\n  mirror:\n${body}`
  const cases: [string, string][] = [
    ['', `${FILE}:1: a schedule file is a map with a "jobs" key; this one is nothing`],
    ['jobs: []\n', `${FILE}:1: "jobs" must be a map from job name to its settings; found a list`],
    ['jobs: {}\nextra: 1\n', `${FILE}:2: unknown key "extra"; a schedule file has one key, "jobs"`],
    [job('    interval: 1m\n'), `${FILE}:2: job "mirror": ruleFile is required (the rule file this job syncs)`],
    [job('    ruleFile: r.yaml\n'), `${FILE}:2: job "mirror": give schedule (a cron expression) or interval (e.g. 15m)`],
    [job('    ruleFile: r.yaml\n    schedule: "* * * * *"\n    interval: 1m\n'), `${FILE}:5: job "mirror": give schedule (cron) or interval, not both`],
    [
      job('    ruleFile: r.yaml\n    interval: 10\n'),
      `${FILE}:4: job "mirror": interval "10" is not a duration; write a number with a unit: 500ms, 30s, 15m, 1h30m, 1d`,
    ],
    [
      job('    ruleFile: r.yaml\n    schedule: "* * *"\n'),
      `${FILE}:4: job "mirror": schedule "* * *" has 3 fields; a cron expression has 5 (minute hour day month weekday) or 6 (seconds first)`,
    ],
    [
      job('    ruleFile: r.yaml\n    schedule: "@daily"\n    timezone: Nowhere/Town\n'),
      `${FILE}:5: job "mirror": timezone "Nowhere/Town" is not an IANA time zone (e.g. Europe/Berlin, UTC)`,
    ],
    [job('    ruleFile: r.yaml\n    interval: 1m\n    timezone: UTC\n'), `${FILE}:5: job "mirror": timezone applies to schedule (cron) only`],
    [job('    ruleFile: r.yaml\n    interval: 1m\n    routines: 0\n'), `${FILE}:5: job "mirror": routines must be a whole number of at least 1`],
    [
      job('    ruleFile: r.yaml\n    interval: 1m\n    rutines: 3\n'),
      `${FILE}:5: job "mirror": unknown setting "rutines"; known: ruleFile, securityFile, registry, ns, schedule, timezone, interval, routines, retry, qps, chunkSize, tagExistOverridden, includeTags, excludeTags, lockFile`,
    ],
    [job('    ruleFile: 42\n    interval: 1m\n'), `${FILE}:3: job "mirror": ruleFile must be text; found a number`],
    [
      job('    ruleFile: r.yaml\n    interval: 1m\n    includeTags: "("\n'),
      `${FILE}:5: job "mirror": includeTags "(" is not a regular expression: /(/: Unterminated group`,
    ],
    [job('    ruleFile: r.yaml\n    interval: 1m\n    tagExistOverridden: "no"\n'), `${FILE}:5: job "mirror": tagExistOverridden must be true or false`],
    [
      'jobs:\n  "bad name":\n    ruleFile: r\n    interval: 1m\n',
      `${FILE}:2: job "bad name": a job name is letters, digits, '.', '_' and '-' (it labels metrics and the state file)`,
    ],
    ['jobs:\n  a: 3\n', `${FILE}:2: job "a": its settings must be a map; found a number`],
    [
      'jobs:\n  a:\n    ruleFile: r\n    interval: 1m\n    lockFile: m.lock.yaml\n  b:\n    ruleFile: s\n    interval: 1m\n    lockFile: ./m.lock.yaml\n',
      `${FILE}:9: job "b": lockFile is job "a"'s too; give each job its own`,
    ],
    ['jobs:\n  a:\n    ruleFile: r\n  a:\n    ruleFile: s\n', `${FILE}:4: key "a" appears twice (lines 2 and 4); each key may appear only once`],
  ]
  for (const [text, message] of cases) {
    assert.throws(
      () => parseSchedule(text, FILE),
      (error: Error & {code?: string}) => {
        assert.equal(error.message, message, text)
        return error.code === 'INVALID_CONFIG'
      },
    )
  }
})

test("schedule.yaml: a job's lockFile, resolved against the schedule file's folder", () => {
  const [job] = parseSchedule('jobs:\n  hub:\n    ruleFile: r.yaml\n    interval: 1h\n    lockFile: locks/hub.lock.yaml\n', FILE)
  assert.equal(job!.lockFile, '/etc/ferry/locks/hub.lock.yaml')
  assert.equal('lockFile' in parseSchedule('jobs:\n  hub:\n    ruleFile: r.yaml\n    interval: 1h\n', FILE)[0]!, false)
})
