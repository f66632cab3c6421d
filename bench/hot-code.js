#!/usr/bin/env node
'use strict'
// Makes link/hot-code.txt: the functions of the addon that CLI runs execute, which the release
// link on linux-x64-gnu places first and together in .text (build.rs). The kernel maps 64 KiB
// of a file's code around every page a process touches, so the fewer windows the executed
// functions are spread over, the less of the addon is resident (docs/benchmark.md).
//
//   DAPLAYA_LINK_MAP=/tmp/addon.map npm run build    the release addon, and where each function is
//   node bench/hot-code.js /tmp/addon.map            runs the commands below under valgrind's
//                                                    callgrind (apt-get install valgrind)
//
// Each run lists the instructions it executed by address (the addon is stripped); the link map
// turns addresses into the functions holding them. Regenerate after dependency updates: names that no longer exist
// are skipped by the linker, so a stale list packs less but never breaks the build.
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { execFileSync } = require('node:child_process')
const { startDynamoDbLocal } = require('../scripts/dynamodb-local.js')
const { baseEnv } = require('./lib.js')

const ROOT = path.join(__dirname, '..')
const BIN = path.join(ROOT, 'bin', 'daplaya.js')
const ADDON = path.join(ROOT, 'daplaya.linux-x64-gnu.node')
const OUT = path.join(ROOT, 'link', 'hot-code.txt')

/** What CLI users run most, on both stores: each a command line and the exit codes it may end with. */
function commands(node) {
  const sleep = [node, '-e', 'setTimeout(() => {}, 2500)']
  return [
    [['--version'], [0]],
    [['locks', 'list', '--env', 'hot'], [0]],
    [['locks', 'lock', '--env', 'hot', '--user', 'alice'], [0]],
    [['locks', 'lock', '--env', 'hot', '--user', 'alice', '--json'], [0]],
    [['locks', 'lock', '--env', 'hot', '--user', 'bob', '--no-wait'], [3]],
    // Waits, polling, then gives up: the loop a waiting process spends its time in.
    [['locks', 'lock', '--env', 'hot', '--user', 'bob', '--timeout', '2s', '--poll-interval', '300ms'], [3]],
    [['locks', 'list'], [0]],
    [['locks', 'list', '--json'], [0]],
    [['locks', 'release', '--env', 'hot', '--user', 'alice'], [0]],
    [['locks', 'history', '--env', 'hot'], [0]],
    [['locks', 'run', '--env', 'ran', '--user', 'alice', '--ttl', '3s', '--', ...sleep], [0]],
    [['jobs', 'start', '--jobname', 'deploy', '--user', 'alice', '--gitversion', 'v1'], [0]],
    [['jobs', 'get', '--jobname', 'deploy', '--gitversion', 'v1'], [0]],
    [['jobs', 'active', '--jobname', 'deploy'], [0]],
    [['jobs', 'end', '--gitversion', 'v1'], [0]],
  ]
}

/**
 * Every instruction address of `object` a callgrind output file holds (run with --dump-instr=yes
 * --compress-pos=no --compress-strings=no). Instructions, not the functions callgrind names: in
 * a stripped object it only knows a function by a call to it, and misses every tail call.
 */
function executedAddresses(file, object) {
  const addresses = []
  let current = null
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    if (line.startsWith('ob=')) current = line.slice(3)
    else if (current === object && line.startsWith('0x')) addresses.push(parseInt(line, 16))
  }
  return addresses
}

/**
 * The functions in .text of an lld link map: each input section's address range and the symbol
 * it holds, read off the section's name (`.text.<mangled symbol>`: code is built with one
 * section per function), which is the name the linker's ordering file takes.
 */
function textSections(mapFile) {
  const sections = []
  let inText = false
  for (const line of fs.readFileSync(mapFile, 'utf8').split('\n')) {
    const fields = line.trim().split(/\s+/)
    if (fields.length < 5 || !/^[0-9a-f]+$/.test(fields[0])) continue
    const [vma, , size, , ...rest] = fields
    const name = rest.join(' ')
    if (name.startsWith('.') && !name.includes(':(')) inText = name === '.text'
    if (!inText) continue
    const input = /:\(\.text\.(?:(?:unlikely|hot|startup|exit)\.)?(.+)\)$/.exec(name)
    if (input) sections.push({ start: parseInt(vma, 16), end: parseInt(vma, 16) + parseInt(size, 16), symbol: input[1] })
  }
  return sections.sort((a, b) => a.start - b.start)
}

function sectionOf(sections, address) {
  let low = 0
  let high = sections.length - 1
  while (low <= high) {
    const middle = (low + high) >> 1
    const section = sections[middle]
    if (address < section.start) high = middle - 1
    else if (address >= section.end) low = middle + 1
    else return section
  }
  return null
}

async function main() {
  const mapFile = process.argv[2]
  if (!mapFile || !fs.existsSync(mapFile)) throw new Error('usage: node bench/hot-code.js <link map of the built addon> (see the header)')
  const sections = textSections(mapFile)
  if (!sections.length) throw new Error(`${mapFile}: no .text input sections found (an lld -Map file of the release addon?)`)
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'daplaya-hot-'))
  const dynamo = await startDynamoDbLocal()
  try {
    const stores = [
      { DAPLAYA_STORE: `sqlite:${path.join(tmp, 'hot.db')}` },
      {
        DAPLAYA_STORE: 'dynamodb',
        DAPLAYA_DYNAMODB_ENDPOINT: dynamo.endpoint,
        DAPLAYA_AWS_REGION: 'us-east-1',
        AWS_ACCESS_KEY_ID: 'daplayatest',
        AWS_SECRET_ACCESS_KEY: 'daplayatest',
        AWS_EC2_METADATA_DISABLED: 'true',
      },
    ]
    const seen = new Set()
    const symbols = []
    for (const store of stores) {
      const env = { ...baseEnv(), ...store }
      execFileSync(process.execPath, [BIN, 'init'], { env, stdio: 'ignore' })
      for (const [args, codes] of commands(process.execPath)) {
        const out = path.join(tmp, `callgrind.${symbols.length}.${seen.size}`)
        const valgrind = ['--tool=callgrind', '--dump-instr=yes', '--compress-pos=no', '--compress-strings=no', `--callgrind-out-file=${out}`]
        valgrind.push(process.execPath, BIN, ...args)
        let code = 0
        try {
          // Output to pipes, as when a CI runner or a script reads it.
          execFileSync('valgrind', valgrind, { env, stdio: ['ignore', 'pipe', 'pipe'], timeout: 300_000, maxBuffer: 1 << 26 })
        } catch (error) {
          code = error.status
        }
        if (!codes.includes(code)) throw new Error(`daplaya ${args.join(' ')} under valgrind exited ${code}`)
        let found = 0
        for (const address of executedAddresses(out, ADDON)) {
          const section = sectionOf(sections, address)
          if (section && !seen.has(section.symbol)) {
            seen.add(section.symbol)
            symbols.push(section.symbol)
            found += 1
          }
        }
        process.stderr.write(`${store.DAPLAYA_STORE.split(':')[0]}: daplaya ${args.join(' ')}: ${found} new functions\n`)
        fs.rmSync(out, { force: true })
      }
    }
    fs.mkdirSync(path.dirname(OUT), { recursive: true })
    fs.writeFileSync(OUT, `${symbols.join('\n')}\n`)
    const bytes = symbols.reduce((sum, symbol) => {
      const section = sections.find((s) => s.symbol === symbol)
      return sum + (section.end - section.start)
    }, 0)
    process.stderr.write(`${symbols.length} functions, ${(bytes / 1024).toFixed(0)} KiB of code, written to ${path.relative(ROOT, OUT)}\n`)
  } finally {
    await dynamo.stop()
    fs.rmSync(tmp, { recursive: true, force: true })
  }
}

main().catch((error) => {
  process.stderr.write(`hot-code: ${error.message}\n`)
  process.exitCode = 1
})
