'use strict'
// Small helpers for the benchmark: running processes with timing, statistics, tables, and a
// look inside the addon's ELF file (debug info, symbols) to tell which build profile it is.
const { spawn } = require('node:child_process')
const crypto = require('node:crypto')
const fs = require('node:fs')

/**
 * Variables the spawned processes start without: CI and daplaya's own settings, stray AWS
 * settings, and what changes how Node itself starts (NODE_OPTIONS; NODE_EXTRA_CA_CERTS, which
 * some machines point at the whole system bundle: Node then parses every certificate in it
 * before running anything, tens of milliseconds added to every process, the floor included).
 */
const DROPPED = /^(CI|DAPLAYA_|AWS_|NO_COLOR|NODE_OPTIONS$|NODE_EXTRA_CA_CERTS$)/

/** Node's own settings are kept (`npm run bench -- --keep-node-env`): to see what they cost here. */
const NODE_SETTINGS = /^(NODE_OPTIONS|NODE_EXTRA_CA_CERTS)$/
let keepNodeSettings = false

/** The environment every spawned process starts from (see DROPPED). */
function baseEnv() {
  const env = {}
  for (const [key, value] of Object.entries(process.env)) {
    if (!DROPPED.test(key) || (keepNodeSettings && NODE_SETTINGS.test(key))) env[key] = value
  }
  return env
}

function keepNodeEnv() {
  keepNodeSettings = true
}

/** Which of the variables that change Node's own start this machine sets and the runs drop. */
function droppedNodeSettings() {
  return keepNodeSettings ? [] : ['NODE_OPTIONS', 'NODE_EXTRA_CA_CERTS'].filter((key) => process.env[key])
}

const now = () => Number(process.hrtime.bigint()) / 1e6

/** Every process runProcess started that has not exited yet, so a failure can end them all. */
const live = new Set()

function killAll(signal = 'SIGKILL') {
  for (const child of live) child.kill(signal)
}

/**
 * Spawns a process and resolves (never rejects) with { code, signal, stdout, stderr, ms, pid };
 * `ms` runs from just before spawn to the exit event.
 */
function runProcess(command, args, { env, timeoutMs = 120_000, onStderr, onSpawn } = {}) {
  return new Promise((resolve) => {
    const started = now()
    const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] })
    live.add(child)
    let stdout = ''
    let stderr = ''
    let ms = null
    child.stdout.on('data', (chunk) => {
      stdout += chunk
    })
    child.stderr.on('data', (chunk) => {
      stderr += chunk
      onStderr?.(stderr, child)
    })
    onSpawn?.(child)
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    child.on('exit', () => {
      ms = now() - started
      live.delete(child)
    })
    child.on('error', (error) => {
      clearTimeout(timer)
      live.delete(child)
      resolve({ code: null, signal: null, stdout, stderr: `${stderr}${error.message}`, ms: now() - started, pid: child.pid })
    })
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, stdout, stderr, ms: ms ?? now() - started, pid: child.pid })
    })
  })
}

function sorted(values) {
  return [...values].sort((a, b) => a - b)
}

/** Nearest-rank percentile (p in 0..100) of a list of numbers. */
function percentile(values, p) {
  if (!values.length) return null
  const list = sorted(values)
  const rank = Math.max(1, Math.ceil((p / 100) * list.length))
  return list[rank - 1]
}

function median(values) {
  if (!values.length) return null
  const list = sorted(values)
  const middle = list.length >> 1
  return list.length % 2 ? list[middle] : (list[middle - 1] + list[middle]) / 2
}

function round(value, digits = 2) {
  if (value == null || !Number.isFinite(value)) return value
  const factor = 10 ** digits
  return Math.round(value * factor) / factor
}

function fmtMs(value) {
  if (value == null) return '-'
  const abs = Math.abs(value)
  const text = abs < 10 ? value.toFixed(2) : abs < 100 ? value.toFixed(1) : value.toFixed(0)
  return `${text} ms`
}

function fmtRatio(value) {
  return value == null ? '-' : `${value.toFixed(2)}x`
}

function fmtBytes(bytes) {
  if (bytes == null) return '-'
  if (bytes >= 1024 * 1024) return `${(bytes / 1024 / 1024).toFixed(1)} MiB`
  if (bytes >= 1024) return `${(bytes / 1024).toFixed(0)} KiB`
  return `${bytes} B`
}

/** Prints rows (arrays of cells) under a title, columns padded; numbers-looking cells right-aligned. */
function printTable(title, headers, rows, write = (text) => process.stdout.write(text)) {
  const cells = [headers, ...rows].map((row) => row.map((cell) => String(cell ?? '-')))
  const widths = headers.map((_, i) => Math.max(...cells.map((row) => row[i].length)))
  const numeric = (text) => /^[-+]?[\d.,]+( ?[a-zA-Z/%]+)?$/.test(text) || /^\d+(\.\d+)?x$/.test(text)
  const line = (row) =>
    row
      .map((cell, i) => (i > 0 && numeric(cell) ? cell.padStart(widths[i]) : cell.padEnd(widths[i])))
      .join('  ')
      .trimEnd()
  write(`\n${title}\n`)
  write(`${line(cells[0])}\n`)
  write(`${widths.map((w) => '-'.repeat(w)).join('  ')}\n`)
  for (const row of cells.slice(1)) write(`${line(row)}\n`)
}

/** Section names of an ELF64 little-endian file (enough to spot .debug_info and .symtab). */
function elfSections(file) {
  const fd = fs.openSync(file, 'r')
  try {
    const header = Buffer.alloc(64)
    fs.readSync(fd, header, 0, 64, 0)
    if (header.readUInt32BE(0) !== 0x7f454c46 || header[4] !== 2 || header[5] !== 1) return null
    const shoff = Number(header.readBigUInt64LE(0x28))
    const shentsize = header.readUInt16LE(0x3a)
    const shnum = header.readUInt16LE(0x3c)
    const shstrndx = header.readUInt16LE(0x3e)
    const table = Buffer.alloc(shentsize * shnum)
    fs.readSync(fd, table, 0, table.length, shoff)
    const strings = table.subarray(shstrndx * shentsize)
    const stringsOffset = Number(strings.readBigUInt64LE(0x18))
    const stringsSize = Number(strings.readBigUInt64LE(0x20))
    const names = Buffer.alloc(stringsSize)
    fs.readSync(fd, names, 0, stringsSize, stringsOffset)
    const sections = []
    for (let i = 0; i < shnum; i += 1) {
      const entry = table.subarray(i * shentsize)
      const nameOffset = entry.readUInt32LE(0)
      const end = names.indexOf(0, nameOffset)
      sections.push({ name: names.toString('utf8', nameOffset, end), size: Number(entry.readBigUInt64LE(0x20)) })
    }
    return sections
  } finally {
    fs.closeSync(fd)
  }
}

function sha256(file) {
  return crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex')
}

/** Where /proc says a process is: resident set (VmRSS) and its peak (VmHWM), in bytes. */
function memoryOf(pid) {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8')
  const field = (name) => {
    const match = new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)
    return match ? Number(match[1]) * 1024 : null
  }
  return { rss: field('VmRSS'), peak: field('VmHWM') }
}

/**
 * How much of `file`'s code a process has resident (the Rss of its executable mappings, from
 * /proc/<pid>/smaps), in bytes; null when the process has not mapped it. When this grows while
 * the addon does not, link/hot-code.txt has gone stale (docs/benchmark.md).
 */
function residentCodeOf(pid, file) {
  let total = null
  let executable = false
  for (const line of fs.readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const mapping = /^[0-9a-f]+-[0-9a-f]+ (\S+) \S+ \S+ \S+\s+(.*)$/.exec(line)
    if (mapping) executable = mapping[1].includes('x') && mapping[2] === file
    else if (executable && line.startsWith('Rss:')) total = (total ?? 0) + Number(/(\d+) kB/.exec(line)[1]) * 1024
  }
  return total
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

module.exports = {
  baseEnv,
  keepNodeEnv,
  droppedNodeSettings,
  now,
  runProcess,
  killAll,
  percentile,
  median,
  round,
  fmtMs,
  fmtRatio,
  fmtBytes,
  printTable,
  elfSections,
  sha256,
  memoryOf,
  residentCodeOf,
  sleep,
}
