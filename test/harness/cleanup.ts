// Keeps test registries and their temp dirs from outliving the test process.
//
// node:test runs every test file in its own process and may end it with a
// signal on timeout, and a test that throws before calling stop() leaves its
// registry behind. Each entry here is undone synchronously on 'exit' (the
// only place where async work is impossible) and on SIGINT/SIGTERM.
import {rmSync} from 'node:fs'

type Undo = () => void

const pending = new Set<Undo>()
let installed = false

function runAll(): void {
  for (const undo of [...pending]) {
    pending.delete(undo)
    try {
      undo()
    } catch {
      // Best effort: the process is going away anyway.
    }
  }
}

function install(): void {
  if (installed) return
  installed = true
  process.on('exit', runAll)
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    // Listening to a signal replaces Node's default "die"; re-raise after
    // cleaning so the exit status still says which signal ended us.
    const onSignal = (): void => {
      runAll()
      process.removeListener(signal, onSignal)
      process.kill(process.pid, signal)
    }
    process.on(signal, onSignal)
  }
}

/** Registers a synchronous undo step; the returned function unregisters it. */
export function onProcessExit(undo: Undo): () => void {
  install()
  pending.add(undo)
  return () => {
    pending.delete(undo)
  }
}

/** Registers removal of a directory tree at exit. */
export function removeDirOnExit(dir: string): () => void {
  return onProcessExit(() => rmSync(dir, {recursive: true, force: true}))
}
