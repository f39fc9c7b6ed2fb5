// npm runs `prepare` on `npm ci` / `npm install` in a checkout, on `npm install -g .`, on
// `npm pack` and on installs from git: each needs dist/ built. Without the dev dependencies
// (TypeScript) there is nothing to build with, so say what to run instead of "tsc: not found".
import {execSync} from 'node:child_process'
import {existsSync} from 'node:fs'

if (!existsSync(new URL('../node_modules/typescript/package.json', import.meta.url))) {
  console.error('ferry: dist/ is built with TypeScript, which is not installed here: run `npm ci` in the checkout first, then `npm install -g .`')
  process.exit(1)
}
execSync('npm run build', {stdio: 'inherit'})
