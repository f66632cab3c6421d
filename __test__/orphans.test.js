'use strict'
// The command of `locks run` never outlives its lock unnoticed: it dies with its runner (Linux),
// signals reach its whole process group, SIGKILL follows a SIGTERM it ignores, and at a
// terminal it holds the foreground (Ctrl-C and reading the terminal reach it).
const { describe, it, afterEach } = require('node:test')
const assert = require('node:assert/strict')
const { spawn } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')
const { BIN, ROOT, STORES, baseEnv, hasScript, quote, runJson, sleep, tempDir } = require('./helpers.js')

const SCRIPTS = tempDir()
/** Says `ready <pid> <token>` on stderr, then runs for a minute. On SIGTERM it writes
 * `SIGTERM <token>` to the marker file and exits 0, or with mode `ignore` goes on running. */
const HOLDER = path.join(SCRIPTS, 'holder.js')
fs.writeFileSync(
  HOLDER,
  `const fs = require('node:fs')
const [marker, mode] = process.argv.slice(2)
const token = process.env.DAPLAYA_FENCING_TOKEN
process.on('SIGTERM', () => {
  fs.appendFileSync(marker, \`SIGTERM \${token}\\n\`)
  if (mode !== 'ignore') process.exit(0)
})
process.stderr.write(\`ready \${process.pid} \${token}\\n\`)
setTimeout(() => process.exit(9), 60_000)
`,
)
const READY = /ready (\d+) (\d+)\n/

const started = []
afterEach(() => {
  for (const pid of started.splice(0)) {
    try {
      process.kill(pid, 'SIGKILL')
    } catch {}
  }
})

/** Starts a process (in a session of its own, so signals come only from the test). */
function start(program, args, env) {
  const child = spawn(program, args, { env: { ...baseEnv(), ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true })
  const proc = { child, stderr: '', stdout: '' }
  child.stdout.on('data', (chunk) => (proc.stdout += chunk))
  child.stderr.on('data', (chunk) => (proc.stderr += chunk))
  proc.done = new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout: proc.stdout, stderr: proc.stderr })))
  started.push(child.pid)
  return proc
}

async function until(check, what, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = check()
    if (value) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(20)
  }
}

const alive = (pid) => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}
const read = (file) => (fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '')

async function ready(proc) {
  const match = await until(() => READY.exec(proc.stderr), `ready; stderr: ${proc.stderr}`)
  started.push(Number(match[1]))
  return { pid: Number(match[1]), token: match[2] }
}

const linuxOnly = process.platform !== 'linux' && 'the command dies with its runner on Linux only (PR_SET_PDEATHSIG)'

for (const store of STORES) {
  describe(`the command's processes on ${store.name}`, { skip: store.skip }, () => {
    it('a runner killed with SIGKILL: its command gets SIGTERM at once', { skip: linuxOnly }, async () => {
      const { env } = await store.fresh()
      const marker = path.join(tempDir(), 'marker')
      const runner = start(process.execPath, [BIN, 'locks', 'run', '--env', 'prod', '--user', 'alice', '--', process.execPath, HOLDER, marker], env)
      const command = await ready(runner)
      runner.child.kill('SIGKILL')
      await until(() => read(marker), 'the SIGTERM', 5_000)
      assert.equal(read(marker), `SIGTERM ${command.token}\n`)
      await until(() => !alive(command.pid), 'the command to exit')
    })

    it('runLocked in a Node process killed with SIGKILL: its command gets SIGTERM at once', { skip: linuxOnly }, async () => {
      const { env, options } = await store.fresh()
      const marker = path.join(tempDir(), 'marker')
      const script = `require(${JSON.stringify(ROOT)}).runLocked(${JSON.stringify({ ...options, env: 'prod', user: 'alice' })}, ${JSON.stringify([process.execPath, HOLDER, marker])})`
      const runner = start(process.execPath, ['-e', script], env)
      const command = await ready(runner)
      runner.child.kill('SIGKILL')
      await until(() => read(marker), 'the SIGTERM', 5_000)
      assert.equal(read(marker), `SIGTERM ${command.token}\n`)
    })

    it('a command started from the Node API outlives idle worker threads (12 s)', { skip: linuxOnly, timeout: 60_000 }, async () => {
      const { options } = await store.fresh()
      const { runLocked } = require('..')
      // Tokio's idle blocking threads exit after 10 s; the command must not die with one.
      const result = await runLocked({ ...options, env: 'prod', user: 'alice' }, [process.execPath, '-e', 'setTimeout(() => {}, 12_000)'])
      assert.equal(result.exitCode, 0)
    })

    it("a signal passed on reaches the command's whole process group: sh -c stops entirely", async () => {
      const { env } = await store.fresh()
      const marker = path.join(tempDir(), 'marker')
      const shell = `${JSON.stringify(process.execPath)} ${JSON.stringify(HOLDER)} ${JSON.stringify(marker)}; echo step2 >> ${JSON.stringify(marker)}`
      const runner = start(process.execPath, [BIN, 'locks', 'run', '--env', 'prod', '--user', 'alice', '--', 'sh', '-c', shell], env)
      const command = await ready(runner)
      runner.child.kill('SIGTERM')
      const done = await runner.done
      assert.equal(done.code, 143, done.stderr)
      assert.match(done.stderr, /Released prod/)
      assert.equal(read(marker), `SIGTERM ${command.token}\n`, 'the step ran its SIGTERM handler, and the shell went no further')
      await until(() => !alive(command.pid), 'the step to exit')
    })

    it('a command still running --kill-after past a SIGTERM gets SIGKILL; the lock is released', async () => {
      const { env } = await store.fresh()
      const marker = path.join(tempDir(), 'marker')
      const runner = start(
        process.execPath,
        [BIN, 'locks', 'run', '--env', 'prod', '--user', 'alice', '--kill-after', '1s', '--', process.execPath, HOLDER, marker, 'ignore'],
        env,
      )
      const command = await ready(runner)
      runner.child.kill('SIGTERM')
      const done = await runner.done
      assert.equal(done.code, 137, done.stderr)
      assert.match(done.stderr, /^error: the command was still running 1s after SIGTERM; sent SIGKILL$/m)
      assert.match(done.stderr, /Released prod/)
      assert.equal(read(marker), `SIGTERM ${command.token}\n`)
      assert.deepEqual((await runJson(['locks', 'list'], { env })).json, [])
    })

    it('runLocked with killAfter: a command that ignores the SIGTERM of a lost lease gets SIGKILL', async () => {
      const { options } = await store.fresh()
      const { runLocked, lock } = require('..')
      const marker = path.join(tempDir(), 'marker')
      const running = runLocked({ ...options, env: 'prod', user: 'alice', ttl: '3s', killAfter: '500ms' }, [process.execPath, HOLDER, marker, 'ignore'])
      const outcome = running.then(
        () => 'resolved',
        (error) => error,
      )
      await sleep(1500)
      await lock({ ...options, env: 'prod', user: 'bob', uberlock: true })
      const error = await outcome
      assert.equal(error.code, 'LEASE_LOST', String(error))
      assert.match(read(marker), /^SIGTERM \d+\n$/)
    })
  })
}

describe('locks run at a terminal', { skip: (!hasScript && 'no script(1) from util-linux (Debian: apt-get install bsdutils)') || (process.platform === 'win32' && 'no terminals') }, () => {
  /** `locks run` on a pseudo-terminal (util-linux `script`); what we write goes to the terminal. */
  function onTerminal(command) {
    const env = { DAPLAYA_STORE: `sqlite:${path.join(tempDir(), 'locks.db')}`, TERM: 'dumb', NO_COLOR: '1' }
    const line = [process.execPath, BIN, 'locks', 'run', '--env', 'prod', '--user', 'alice', '--', process.execPath, '-e', command].map(quote).join(' ')
    const child = spawn('script', ['-qec', line, '/dev/null'], { env: { ...baseEnv(), ...env }, stdio: ['pipe', 'pipe', 'pipe'] })
    const proc = { child, screen: '' }
    child.stdout.on('data', (chunk) => (proc.screen += chunk))
    proc.done = new Promise((resolve) => child.on('close', (code) => resolve({ code, screen: proc.screen })))
    started.push(child.pid)
    return proc
  }

  it('the command holds the foreground: it reads the terminal, and Ctrl-C reaches it', { timeout: 30_000 }, async () => {
    const reader = onTerminal(`process.stdin.once('data', (d) => { console.log('got ' + String(d).trim()); process.exit(0) }); console.log('ready')`)
    await until(() => reader.screen.includes('ready'), `ready on the terminal: ${JSON.stringify(reader.screen)}`)
    reader.child.stdin.write('hello\n')
    const read = await reader.done
    assert.equal(read.code, 0, read.screen)
    assert.match(read.screen, /got hello/)
    assert.match(read.screen, /Released prod/)

    const waiter = onTerminal(`setTimeout(() => {}, 60_000); console.log('ready')`)
    await until(() => waiter.screen.includes('ready'), `ready on the terminal: ${JSON.stringify(waiter.screen)}`)
    waiter.child.stdin.write('\x03')
    const interrupted = await waiter.done
    assert.equal(interrupted.code, 130, interrupted.screen)
    assert.match(interrupted.screen, /Released prod/)
  })
})
