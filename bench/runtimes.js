'use strict'
// `npm run bench -- --only runtimes`: whole-process start-up of the CLI on every runtime of
// runtimes/ (Node 20, 22 and 24, Bun, Deno), each next to its own floor: the runtime starting
// and exiting with nothing to do (`node -e 0`, `bun -e 0`, `deno eval 0`). All variants of all
// runtimes interleaved, in a rotating order, so drift on a noisy machine hits each alike.
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { runtimes, platform } = require('../runtimes')
const { baseEnv, runProcess, median, round, fmtMs, fmtRatio, printTable } = require('./lib.js')

const BIN = path.join(__dirname, '..', 'bin', 'daplaya.js')

/**
 * @param {{ startupRuns: number }} mode
 * @param {{ embedded: object, dynamodb: object }} stores the environment of a CLI run on each store
 */
async function benchRuntimes(mode, stores, log) {
  const found = runtimes()
  const here = found.filter((runtime) => !runtime.unavailable)
  // What a runtime spends running any CommonJS file, as bin/daplaya.js is: Deno starts its Node
  // compatibility layer for one, which `deno eval 0` does not.
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'daplaya-bench-runtimes-'))
  const emptyScript = path.join(tmp, 'empty.cjs')
  fs.writeFileSync(emptyScript, "'use strict'\n")
  const variants = here.flatMap((runtime) => {
    const env = { ...baseEnv(), ...runtime.env }
    const list = ['locks', 'list', '--env', 'x']
    return [
      { runtime, key: 'floor', label: `${runtime.floorText} (the floor)`, command: runtime.floor, env },
      { runtime, key: 'emptyScript', label: 'an empty CommonJS file', command: runtime.launch(emptyScript), env },
      { runtime, key: 'version', label: 'daplaya --version', command: runtime.launch(BIN, ['--version']), env },
      { runtime, key: 'listEmbedded', label: 'daplaya locks list --env x, embedded store', command: runtime.launch(BIN, list), env: { ...stores.embedded, ...runtime.env } },
      { runtime, key: 'listDynamo', label: 'daplaya locks list --env x, DynamoDB Local', command: runtime.launch(BIN, list), env: { ...stores.dynamodb, ...runtime.env } },
    ]
  })
  const samples = new Map(variants.map((variant) => [variant, []]))
  async function once(variant) {
    const [command, args] = variant.command
    const result = await runProcess(command, args, { env: variant.env, timeoutMs: 60_000 })
    if (result.code !== 0) throw new Error(`${variant.runtime.label}: ${variant.label} exited ${result.code ?? result.signal}: ${result.stderr.trim()}`)
    return result.ms
  }
  log(`runtimes: ${variants.length} commands on ${here.map((runtime) => runtime.label).join(', ')} x ${mode.startupRuns} runs`)
  try {
    for (const variant of variants) await once(variant) // warm-up: page cache, Deno's code cache, the store's file
    for (let round = 0; round < mode.startupRuns; round += 1) {
      for (let k = 0; k < variants.length; k += 1) {
        const variant = variants[(round + k) % variants.length]
        samples.get(variant).push(await once(variant))
      }
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true })
  }
  const rows = variants.map((variant) => {
    const floor = median(samples.get(variants.find((other) => other.runtime === variant.runtime && other.key === 'floor')))
    const ms = median(samples.get(variant))
    return {
      runtime: variant.runtime.name,
      runtimeLabel: `${variant.runtime.label} (${variant.runtime.version})`,
      key: variant.key,
      label: variant.label,
      runs: samples.get(variant).length,
      medianMs: round(ms),
      minMs: round(Math.min(...samples.get(variant))),
      maxMs: round(Math.max(...samples.get(variant))),
      aboveFloorMs: round(ms - floor),
      ratioToFloor: round(ms / floor, 3),
      samplesMs: samples.get(variant).map((value) => round(value)),
    }
  })
  const unavailable = found.filter((runtime) => runtime.unavailable).map((runtime) => ({ runtime: runtime.name, reason: runtime.unavailable }))
  return { platform: platform(), rows, unavailable }
}

function printRuntimes(results) {
  if (!results.runtimes) return
  const { rows, unavailable, platform: here } = results.runtimes
  printTable(
    '8. Start-up on each runtime, next to its own floor (median wall time of a process run)',
    ['runtime', 'command', 'median', 'above its floor', 'vs its floor', 'runs'],
    rows.map((r) => [r.runtimeLabel, r.label, fmtMs(r.medianMs), fmtMs(r.aboveFloorMs), fmtRatio(r.ratioToFloor), `${r.runs}`]),
  )
  for (const { runtime, reason } of unavailable) process.stdout.write(`   ${runtime}: not measured, not available on ${here}: ${reason}\n`)
}

module.exports = { benchRuntimes, printRuntimes }
