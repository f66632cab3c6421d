'use strict'
// The CLI's contract and the API on every runtime a pipeline runs daplaya with: Node 20, 22 and
// 24, Bun and Deno, each installed by `npm ci` (runtimes/). Every case of every runtime runs
// side by side, each on a store of its own. A runtime with no build for this platform is skipped,
// saying why, and scripts/test.js names it again in the run's last lines.
const { describe, it } = require('node:test')
const assert = require('node:assert/strict')
const { execFile, spawn } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')
const { promisify } = require('node:util')
const { runtimes } = require('../runtimes')
const { BIN, STORES, baseEnv, hasScript, quote, run, runJson, start, tempDir, uniqueName, until } = require('./helpers.js')

const VERSION = require('../package.json').version
const execFileAsync = promisify(execFile)
const [sqlite, dynamodb] = STORES

/** Runs a fixture script on `runtime`; resolves with the JSON document it prints (rejects, with its stderr, if it fails). */
async function api(runtime, fixture, store) {
  const [command, args] = runtime.launch(path.join(__dirname, 'fixtures', fixture), [store])
  const { stdout } = await execFileAsync(command, args, { env: { ...baseEnv(), ...runtime.env } })
  return JSON.parse(stdout)
}

/**
 * `start` for one test: what is still running when the test ends is killed (the runtimes' tests
 * run side by side, so helpers' stopStarted, which kills every started process, cannot be used).
 */
function startIn(t, args, options) {
  const proc = start(args, { ...options, detached: true })
  t.after(() => {
    if (!proc.exited) proc.child.kill('SIGKILL')
  })
  return proc
}

/** A shell script in a fresh directory, and the file its traps write to. */
function script(body) {
  const dir = tempDir()
  const file = path.join(dir, 'command.sh')
  fs.writeFileSync(file, `#!/bin/sh\nmarks='${path.join(dir, 'marks')}'\n${body}`, { mode: 0o755 })
  const marks = () => (fs.existsSync(path.join(dir, 'marks')) ? fs.readFileSync(path.join(dir, 'marks'), 'utf8').split('\n').filter(Boolean).sort() : [])
  return { file, marks }
}

function contract(runtime) {
  const on = { runtime }

  it('--version prints the version and exits 0', async () => {
    const result = await run(['--version'], on)
    assert.equal(result.code, 0, result.stderr)
    assert.equal(result.stdout, `daplaya ${VERSION}\n`)
  })

  it('without a loadable binary: one line, exit 1', async () => {
    const result = await run(['--version'], { ...on, env: { NAPI_RS_NATIVE_LIBRARY_PATH: path.join(tempDir(), 'missing.node') } })
    assert.equal(result.code, 1, result.stderr)
    assert.equal(result.stdout, '')
    assert.match(result.stderr, /^error: daplaya's native binary for \S+ is missing or fails to load \(package daplaya-/)
    assert.equal(result.stderr.split('\n').length, 2, `one line expected:\n${result.stderr}`)
  })

  it('lock, busy (exit 3), an interrupted wait (exit 130), release, --json', async (t) => {
    const { env } = await sqlite.fresh()
    const opts = { ...on, env }
    const held = await runJson(['locks', 'lock', '--env', 'production', '--user', 'alice'], opts)
    assert.equal(held.code, 0, held.stderr)
    assert.equal(held.json.outcome, 'acquired')
    const busy = await runJson(['locks', 'lock', '--env', 'production', '--user', 'bob', '--no-wait'], opts)
    assert.equal(busy.code, 3, busy.stderr)
    assert.equal(busy.json.error.code, 'LOCK_BUSY')
    assert.equal(busy.json.error.exitCode, 3)
    const busyText = await run(['locks', 'lock', '--env', 'production', '--user', 'bob', '--no-wait'], opts)
    assert.equal(busyText.code, 3)
    assert.match(busyText.stderr, /^error: production is locked by alice/)
    const waiter = startIn(t, ['locks', 'lock', '--env', 'production', '--user', 'bob'], opts)
    await waiter.waitFor(/Still locked at env production by alice/)
    waiter.child.kill('SIGTERM')
    const interrupted = await waiter.done
    assert.equal(interrupted.code, 130, interrupted.stderr)
    assert.match(interrupted.stderr, /error: interrupted/)
    const released = await runJson(['locks', 'release', '--env', 'production', '--user', 'alice'], opts)
    assert.equal(released.code, 0, released.stderr)
    assert.equal(released.json.released, true)
    const listed = await runJson(['locks', 'list'], opts)
    assert.deepEqual(listed.json, [])
  })

  it("locks run: the command's exit code, its fencing token, and --json", async () => {
    const { env } = await sqlite.fresh()
    const command = ['sh', '-c', 'echo "token $DAPLAYA_FENCING_TOKEN"; exit 5']
    const result = await run(['locks', 'run', '--env', 'staging', '--user', 'ci', '--json', '--', ...command], { ...on, env })
    assert.equal(result.code, 5, result.stderr)
    // With --json the command's stdout goes to stderr: stdout is the one document.
    const { exitCode, lock } = JSON.parse(result.stdout)
    assert.equal(exitCode, 5)
    assert.equal(lock.active, false)
    assert.match(result.stderr, new RegExp(`^token ${lock.fencingToken}$`, 'm'))
  })

  it("locks run: SIGTERM reaches the command's whole process group; its exit code is daplaya's", async (t) => {
    const { env } = await sqlite.fresh()
    // A shell that runs a second shell in the background: only a signal to the group reaches it.
    const command = script(`sh -c 'trap "echo inner >> \\"$0\\"; exit 0" TERM; echo inner ready >&2; sleep 30 & wait' "$marks" &
trap 'echo outer >> "$marks"; wait; exit 9' TERM
echo outer ready >&2
wait
`)
    const proc = startIn(t, ['locks', 'run', '--env', 'staging', '--user', 'ci', '--', command.file], { ...on, env })
    await proc.waitFor(/outer ready/)
    await proc.waitFor(/inner ready/)
    proc.child.kill('SIGTERM')
    const result = await proc.done
    assert.equal(result.code, 9, result.stderr)
    assert.deepEqual(command.marks(), ['inner', 'outer'])
    assert.match(result.stderr, /Released staging/)
  })

  it('locks run: a command killed by SIGINT exits 130, and the lock is released', async (t) => {
    const { env } = await sqlite.fresh()
    const proc = startIn(t, ['locks', 'run', '--env', 'staging', '--user', 'ci', '--', 'sh', '-c', 'echo ready >&2; exec sleep 30'], { ...on, env })
    await proc.waitFor(/ready/)
    proc.child.kill('SIGINT')
    const result = await proc.done
    assert.equal(result.code, 130, result.stderr)
    assert.deepEqual((await runJson(['locks', 'list'], { ...on, env })).json, [])
  })

  it('locks run: the command gets SIGTERM when daplaya is killed (Linux)', { skip: process.platform !== 'linux' && 'PR_SET_PDEATHSIG is Linux only' }, async (t) => {
    const { env } = await sqlite.fresh()
    const command = script(`trap 'echo terminated >> "$marks"; exit 0' TERM
echo ready >&2
while :; do sleep 1; done
`)
    const proc = startIn(t, ['locks', 'run', '--env', 'staging', '--user', 'ci', '--', command.file], { ...on, env })
    await proc.waitFor(/ready/)
    proc.child.kill('SIGKILL')
    await proc.done
    await until(command.marks, ['terminated'], 'the orphaned command terminated')
  })

  it('locks run at a terminal: the command reads it, and Ctrl-C reaches it', { skip: !hasScript && 'no script(1)' }, async (t) => {
    const { env } = await sqlite.fresh()
    /** `locks run` of a shell `body` on a pseudo-terminal (util-linux `script`); stdin is the terminal's keyboard. */
    function onTerminal(body) {
      const [command, args] = runtime.launch(BIN, ['locks', 'run', '--env', 'prod', '--user', 'alice', '--', 'sh', '-c', body])
      const line = [command, ...args].map(quote).join(' ')
      const child = spawn('script', ['-qec', line, '/dev/null'], { env: { ...baseEnv(), ...runtime.env, ...env, TERM: 'dumb', NO_COLOR: '1' } })
      const proc = { child, screen: '' }
      child.stdout.on('data', (chunk) => (proc.screen += chunk))
      proc.done = new Promise((resolve) => child.on('close', (code) => resolve({ code, screen: proc.screen })))
      t.after(() => child.kill('SIGKILL'))
      return proc
    }
    const reader = onTerminal('echo ready; read line; echo "got $line"')
    await until(() => reader.screen.includes('ready'), true, 'ready on the terminal')
    reader.child.stdin.write('hello\n')
    const read = await reader.done
    assert.equal(read.code, 0, read.screen)
    assert.match(read.screen, /got hello/)
    const sleeper = onTerminal('echo ready; exec sleep 30')
    await until(() => sleeper.screen.includes('ready'), true, 'ready on the terminal')
    sleeper.child.stdin.write('\x03')
    const interrupted = await sleeper.done
    assert.equal(interrupted.code, 130, interrupted.screen)
    assert.match(interrupted.screen, /Released prod/)
  })

  it('serve: the page, the JSON, and a clean stop on SIGTERM', async (t) => {
    const { env } = await sqlite.fresh()
    await run(['locks', 'lock', '--env', 'production', '--user', 'alice'], { ...on, env })
    const server = startIn(t, ['serve', '--host', '127.0.0.1', '--port', '0', '--json'], { ...on, env })
    await until(() => server.stdout.includes('\n'), true, 'the listening line on stdout')
    const { port } = JSON.parse(server.stdout.split('\n')[0])
    const health = await fetch(`http://127.0.0.1:${port}/healthz`)
    assert.equal(await health.text(), 'ok')
    const locks = await (await fetch(`http://127.0.0.1:${port}/api/locks`)).json()
    assert.deepEqual(
      locks.map((row) => [row.env, row.user]),
      [['production', 'alice']],
    )
    const page = await fetch(`http://127.0.0.1:${port}/`)
    assert.match(await page.text(), /production/)
    server.child.kill('SIGTERM')
    const stopped = await server.done
    assert.equal(stopped.code, 0, stopped.stderr)
  })

  it('the API through require: lock, busy, AbortSignal, refused options, runLocked', async () => {
    const { options } = await sqlite.fresh()
    assert.deepEqual(await api(runtime, 'runtime-api.cjs', options.store), {
      lock: ['acquired', 'number'],
      busy: 'LOCK_BUSY',
      abortedWait: ['AbortError', 'ABORT_ERR', 'pipeline cancelled'],
      unknownOption: 'INVALID_ARGUMENT',
      commandNotAnArray: 'INVALID_ARGUMENT',
      release: true,
      runLocked: [7, false],
      abortedRun: ['AbortError', 'ABORT_ERR'],
      heldAfter: [],
    })
  })

  it('the API through import', async () => {
    const { options } = await sqlite.fresh()
    assert.deepEqual(await api(runtime, 'runtime-api.mjs', options.store), {
      sameFunctions: true,
      lock: 'acquired',
      alreadyAborted: ['AbortError', 'ABORT_ERR'],
      listed: [['esm', 'a']],
      release: true,
    })
  })

  it('lock, busy and release on DynamoDB', { skip: dynamodb.skip }, async () => {
    const { env } = await dynamodb.fresh()
    const envName = uniqueName('prod')
    const opts = { ...on, env }
    assert.equal((await runJson(['locks', 'lock', '--env', envName, '--user', 'alice'], opts)).json.outcome, 'acquired')
    const busy = await runJson(['locks', 'lock', '--env', envName, '--user', 'bob', '--no-wait'], opts)
    assert.equal(busy.code, 3, busy.stderr)
    assert.equal((await runJson(['locks', 'release', '--env', envName, '--user', 'alice'], opts)).json.released, true)
  })
}

describe('every runtime', { concurrency: true }, () => {
  for (const runtime of runtimes()) {
    describe(runtime.unavailable ? runtime.label : `${runtime.label} (${runtime.version})`, { skip: runtime.unavailable ?? false }, () => {
      contract(runtime)
    })
  }
})

it('bin/daplaya.js is also a valid script outside a CommonJS wrapper (no top-level return)', () => {
  // Deno reads it as CommonJS only because package.json says "type": "commonjs"; a runtime or a
  // copy of the file without that hint compiles it as a plain script or module.
  const vm = require('node:vm')
  assert.doesNotThrow(() => new vm.Script(fs.readFileSync(BIN, 'utf8'), { filename: BIN }))
})
