'use strict'
// `npm run bench -- --only queue`: the deploy queue. 16 `locks run` waiters join one env's line
// a moment apart behind a holder; when it releases, each runs a command that holds the lock for a
// fixed time. Reported per place in line: the wait (from the first release to its command's
// start) next to the hold time, and the handover (from the previous command's end to this one's
// start: a release, at most one poll, a take, a process start). With first come, first served,
// the wait of place k is about (k - 1) x (hold + handover), whatever the number of waiters.
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { runProcess, median, round, fmtMs, fmtRatio, printTable } = require('./lib.js')

const NODE = process.execPath
const BIN = path.join(__dirname, '..', 'bin', 'daplaya.js')

/** The command each waiter runs under the lock: records its start and end (epoch ms), holding `hold` ms between. */
const COMMAND = `const fs = require('node:fs')
const [file, user, hold] = process.argv.slice(1)
const started = Date.now()
Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, Number(hold))
fs.appendFileSync(file, JSON.stringify({ user, started, ended: Date.now(), token: Number(process.env.DAPLAYA_FENCING_TOKEN) }) + '\\n')
`

const cli = (args, env) => runProcess(NODE, [BIN, ...args], { env, timeoutMs: 300_000 })

async function cliOk(args, env) {
  const result = await cli(args, env)
  if (result.code !== 0) throw new Error(`daplaya ${args.join(' ')} exited ${result.code ?? result.signal}: ${result.stderr.trim()}`)
  return result
}

/** Waits until `locks list` shows `count` waiters in line for `env`. */
async function untilInLine(env, name, count) {
  const deadline = Date.now() + 60_000
  while (Date.now() < deadline) {
    const [held] = JSON.parse((await cliOk(['locks', 'list', '--env', name, '--json'], env)).stdout)
    if ((held?.queue ?? []).length === count) return
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  throw new Error(`never saw ${count} waiters in line for ${name}`)
}

/**
 * @param {{ waiters: number, holdMs: number, pollInterval: string }} settings
 * @param {{ name: string, env: object }[]} stores
 */
async function benchQueue(settings, stores, log) {
  const { waiters, holdMs, pollInterval } = settings
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'daplaya-bench-queue-'))
  const rows = []
  try {
    for (const store of stores) {
      log(`queue: ${waiters} waiters in line on the ${store.name} store, each holding ${holdMs} ms`)
      const name = `queue-${store.name}`
      const file = path.join(tmp, `${store.name}.jsonl`)
      await cliOk(['locks', 'lock', '--env', name, '--user', 'holder@example.com'], store.env)
      const runs = []
      for (let place = 1; place <= waiters; place += 1) {
        const user = `waiter${place}@example.com`
        const args = ['locks', 'run', '--env', name, '--user', user, '--poll-interval', pollInterval, '--timeout', '5m', '--', NODE, '-e', COMMAND, file, user, String(holdMs)]
        runs.push(cli(args, store.env))
        await untilInLine(store.env, name, place)
      }
      const released = Date.now()
      await cliOk(['locks', 'release', '--env', name, '--user', 'holder@example.com'], store.env)
      for (const result of await Promise.all(runs)) {
        if (result.code !== 0) throw new Error(`a waiter exited ${result.code ?? result.signal}: ${result.stderr.trim()}`)
      }
      const served = fs
        .readFileSync(file, 'utf8')
        .trimEnd()
        .split('\n')
        .map((line) => JSON.parse(line))
      const order = served.map((s) => s.user)
      const expected = Array.from({ length: waiters }, (_, i) => `waiter${i + 1}@example.com`)
      if (order.join() !== expected.join()) throw new Error(`${store.name}: served out of arrival order: ${order.join(', ')}`)
      const tokens = served.map((s) => s.token)
      if (new Set(tokens).size !== tokens.length) throw new Error(`${store.name}: a fencing token was granted twice: ${tokens.join(', ')}`)
      const places = served.map((s, i) => ({
        place: i + 1,
        waitMs: s.started - released,
        handoverMs: i === 0 ? s.started - released : s.started - served[i - 1].ended,
        heldMs: s.ended - s.started,
      }))
      rows.push({
        store: store.name,
        waiters,
        holdMs,
        pollInterval,
        places,
        medianHandoverMs: round(median(places.map((p) => p.handoverMs))),
        longestHandoverMs: Math.max(...places.map((p) => p.handoverMs)),
      })
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true })
  }
  return {
    note: 'wait: from the release of the holder everyone queued behind to the start of this waiter\'s command; handover: from the previous command\'s end to this one\'s start',
    rows,
  }
}

function printQueue(queue) {
  const stores = queue.rows
  const [first] = stores
  const rows = first.places.map((_, i) => [
    `${i + 1}`,
    ...stores.flatMap((store) => {
      const place = store.places[i]
      return [fmtMs(place.waitMs), fmtRatio(place.waitMs / store.holdMs), fmtMs(place.handoverMs)]
    }),
  ])
  const headers = ['place', ...stores.flatMap((store) => [`${store.store}: wait`, 'wait / hold', 'handover'])]
  printTable(
    `7. Deploy queue: ${first.waiters} waiters in line, each holding the lock ${first.holdMs} ms (poll ${first.pollInterval})`,
    headers,
    rows,
  )
  for (const store of stores) {
    process.stdout.write(
      `   ${store.store}: served in arrival order; handover median ${fmtMs(store.medianHandoverMs)}, longest ${fmtMs(store.longestHandoverMs)}\n`,
    )
  }
  process.stdout.write(`   ${queue.note}\n`)
}

module.exports = { benchQueue, printQueue, cliOk, untilInLine }
