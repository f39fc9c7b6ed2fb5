/**
 * Imports point down only (ARCHITECTURE.md, "The next shape"). Each layer lists the layers it may
 * import; anything else under src/ is an upward or sideways import and fails `npm test`. Type-only
 * imports count: a type two layers share belongs in the lower one. No cycles anywhere.
 *
 * Layers, lowest first:
 *   bottom     pure modules with no layer of their own (errors, names, reference, retry, abort, …)
 *   registry   Docker Registry v2 / OCI client: knows nothing of rules or jobs
 *   select     tag filters, platforms, repository paths: pure
 *   report     summary, report files, logger, redactor
 *   rule       the engine's input: src/rule.ts (one rule as every input format yields it) and
 *              src/settings.ts (the settings a user chooses: selection, limits, job retry)
 *   config     files users write → typed values (and src/inputs.ts, which loads them)
 *   pipeline   the engine: generator, channel, routines; nothing of HTTP
 *   transfer   copying one image between two endpoints
 *   layout     an OCI image layout as one more endpoint
 *   engine     the engine session: one per run, produce / copy / consume (src/engine/)
 *   providers  whole-registry enumeration and destination preparation
 *   offline, serve, fleet   modes of running the engine
 *   api        src/index.ts, verify.ts, from-files.ts and offline-files.ts (inputs read from files): the public library
 *   cli, commands   on top; nothing imports them but commands
 */
const BOTTOM = ['errors', 'control-chars', 'names', 'reference', 'retry', 'abort', 'atomic-file', 'keyed-lock', 'digest', 'pull-quota', 'lock']

const layers = {
  bottom: [`^src/(${BOTTOM.join('|')})\\.ts$`],
  registry: ['^src/registry/'],
  select: ['^src/select/'],
  report: ['^src/report/'],
  rule: ['^src/rule\\.ts$', '^src/settings\\.ts$'],
  config: ['^src/config/', '^src/inputs\\.ts$'],
  pipeline: ['^src/pipeline/'],
  transfer: ['^src/transfer/'],
  layout: ['^src/layout/'],
  engine: ['^src/engine/'],
  providers: ['^src/providers/'],
  offline: ['^src/offline/'],
  serve: ['^src/serve/'],
  fleet: ['^src/fleet/'],
  api: ['^src/(index|verify|from-files|offline-files|lock-files)\\.ts$'],
  cli: ['^src/cli/'],
  commands: ['^src/commands/'],
}

/** What each layer may import besides itself. */
const mayImport = {
  bottom: [],
  registry: ['bottom'],
  select: ['bottom'],
  report: ['bottom'],
  rule: ['bottom', 'select'],
  // RegistryAccess, what the security file fills, is declared once in the registry layer that uses it.
  config: ['bottom', 'registry', 'select', 'rule'],
  pipeline: ['bottom', 'select', 'rule'],
  transfer: ['bottom', 'registry', 'select', 'report', 'rule', 'config', 'pipeline'],
  layout: ['bottom', 'registry', 'pipeline', 'transfer'],
  engine: ['bottom', 'registry', 'select', 'report', 'rule', 'config', 'pipeline', 'transfer'],
  providers: ['bottom', 'registry', 'select', 'report', 'rule', 'config', 'pipeline', 'transfer', 'engine'],
  offline: ['bottom', 'registry', 'select', 'report', 'rule', 'config', 'pipeline', 'transfer', 'layout', 'engine', 'providers'],
  serve: ['bottom', 'registry', 'select', 'report', 'rule', 'config', 'pipeline', 'transfer', 'engine'],
  fleet: ['bottom', 'registry', 'select', 'report', 'rule', 'config', 'pipeline', 'transfer', 'engine'],
  api: ['bottom', 'registry', 'select', 'report', 'rule', 'config', 'pipeline', 'transfer', 'layout', 'engine', 'providers', 'offline', 'serve', 'fleet'],
  cli: ['bottom', 'registry', 'select', 'report', 'rule', 'config', 'pipeline', 'transfer', 'layout', 'engine', 'providers', 'offline', 'serve', 'fleet', 'api'],
  commands: Object.keys(layers),
}

/**
 * Imports that break a rule today, each removed by the part of issue 16 that rewrites its file:
 * `file` may still import what `to` matches (path patterns); its other imports are checked as usual.
 */
const knownExceptions = [
  // None left: the engine session moved file reading to src/from-files.ts and broke verify ↔ index.
]

const pathsOf = (names) => names.flatMap((name) => layers[name])
const exactly = (file) => `^${file.replace(/[.]/g, '\\.')}$`
const exceptionFiles = knownExceptions.map((e) => exactly(e.file))

function layerRules() {
  const rules = []
  for (const [name, own] of Object.entries(layers)) {
    const allowed = [...own, ...pathsOf(mayImport[name])]
    const comment = `${name} may import only ${mayImport[name].join(', ') || 'other bottom modules'}`
    const excepted = knownExceptions.filter((e) => own.some((p) => new RegExp(p).test(e.file)))
    rules.push({
      name: `layer-${name}`,
      comment,
      severity: 'error',
      from: {path: own, pathNot: excepted.map((e) => exactly(e.file))},
      to: {path: '^src/', pathNot: allowed},
    })
    for (const exception of excepted) {
      rules.push({
        name: `layer-${name}`,
        comment: `${comment} (known exception of ${exception.file}, see knownExceptions)`,
        severity: 'error',
        from: {path: exactly(exception.file)},
        to: {path: '^src/', pathNot: [...allowed, ...exception.to]},
      })
    }
  }
  return rules
}

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'a cycle means two modules are one concept or one of them is in the wrong layer',
      severity: 'error',
      from: {pathNot: exceptionFiles},
      to: {circular: true},
    },
    ...knownExceptions.map((exception) => ({
      name: 'no-circular',
      comment: `known exception of ${exception.file}, see knownExceptions`,
      severity: 'error',
      from: {path: exactly(exception.file)},
      to: {circular: true, pathNot: exception.to},
    })),
    ...layerRules(),
    {
      name: 'engine-reads-no-files',
      comment: 'commands load input files and hand rules to the engine (src/inputs.ts is the loader)',
      severity: 'error',
      from: {path: pathsOf(['registry', 'select', 'report', 'pipeline', 'transfer', 'layout', 'engine', 'providers']), pathNot: exceptionFiles},
      to: {path: '^src/inputs\\.ts$'},
    },
    {
      name: 'modes-read-no-files',
      comment:
        'save, load, backup and the standing mirror take rules and credentials as values: the commands and the api layer (from-files.ts, offline-files.ts) read the files (inputs.ts, config/rules.ts, security.ts, secrets.ts, schedule.ts); types may be shared',
      severity: 'error',
      from: {path: pathsOf(['offline', 'serve'])},
      to: {path: ['^src/inputs\\.ts$', '^src/config/(rules|security|secrets|schedule)\\.ts$'], dependencyTypesNot: ['type-only']},
    },
    {
      name: 'modes-read-no-files',
      comment: 'the fleet gets rules and credentials as values (its credentials as text from the queue, parsed in fleet/credentials.ts)',
      severity: 'error',
      from: {path: pathsOf(['fleet'])},
      to: {path: ['^src/inputs\\.ts$', '^src/config/(rules|secrets|schedule)\\.ts$'], dependencyTypesNot: ['type-only']},
    },
  ],
  options: {
    doNotFollow: {path: 'node_modules'},
    includeOnly: '^src/',
    tsPreCompilationDeps: true,
    tsConfig: {fileName: 'tsconfig.json'},
  },
}
