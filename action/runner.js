'use strict'
// The GitHub Action's plumbing, with no dependencies: the runner runs this repository at the
// action's tag on its own Node, without node_modules. Inputs arrive as INPUT_* variables; outputs
// and state go through the files GITHUB_OUTPUT and GITHUB_STATE name; the post step gets the
// state back as STATE_* variables. The CLI is daplaya of the same version as the action.
const { spawn } = require('node:child_process')
const crypto = require('node:crypto')
const fs = require('node:fs')
const os = require('node:os')

const VERSION = require('../package.json').version

/** A failure the step reports as one `::error::` line and exit 1. */
class StepFailure extends Error {}

function input(name) {
  return (process.env[`INPUT_${name.toUpperCase()}`] ?? '').trim()
}

/** The envs: one or more, on separate lines or separated by commas. */
function envsInput() {
  return input('env')
    .split(/[\n,]/)
    .map((env) => env.trim())
    .filter(Boolean)
}

/** YAML 1.2 booleans, as the runner's own inputs are read. */
function booleanInput(name) {
  const value = input(name)
  if (['', 'false', 'False', 'FALSE'].includes(value)) return false
  if (['true', 'True', 'TRUE'].includes(value)) return true
  throw new StepFailure(`input ${name} must be true or false, not '${value}'`)
}

/** Appends `name` = `value` to the runner's file command `fileVariable` (GITHUB_OUTPUT, GITHUB_STATE). */
function setFileCommand(fileVariable, name, value) {
  const file = process.env[fileVariable]
  if (!file) throw new StepFailure(`${fileVariable} is not set: run this action from a GitHub Actions runner`)
  const delimiter = `ghadelimiter_${crypto.randomUUID()}`
  fs.appendFileSync(file, `${name}<<${delimiter}${os.EOL}${value}${os.EOL}${delimiter}${os.EOL}`)
}

/**
 * The command that runs daplaya: `npx --yes daplaya@<this version>`, or `node <file>` when
 * DAPLAYA_ACTION_CLI names a daplaya.js (this repository's tests point it at bin/daplaya.js).
 */
function cliCommand(env = process.env) {
  if (env.DAPLAYA_ACTION_CLI) return { command: process.execPath, args: [env.DAPLAYA_ACTION_CLI], shell: false }
  // npx is a .cmd on Windows, which Node only starts through a shell.
  const windows = process.platform === 'win32'
  return { command: windows ? 'npx.cmd' : 'npx', args: ['--yes', `daplaya@${VERSION}`], shell: windows }
}

/**
 * Runs daplaya with `args` and `--json`; its stderr (progress, the error line) goes to the job
 * log. Resolves with its exit code and the JSON document it printed. SIGINT / SIGTERM (the runner
 * cancelling the job) are passed on, so a wait for the lock stops and takes nothing.
 */
function runCli(args) {
  const { command, args: prefix, shell } = cliCommand()
  const child = spawn(command, [...prefix, ...args, '--json'], { stdio: ['ignore', 'pipe', 'inherit'], shell })
  const forward = (signal) => child.kill(signal)
  process.on('SIGINT', forward)
  process.on('SIGTERM', forward)
  let stdout = ''
  child.stdout.on('data', (chunk) => {
    stdout += chunk
  })
  return new Promise((resolve, reject) => {
    child.on('error', (error) => reject(new StepFailure(`cannot run daplaya (${command}): ${error.message}`)))
    child.on('close', (code, signal) => {
      process.off('SIGINT', forward)
      process.off('SIGTERM', forward)
      let document = null
      try {
        document = JSON.parse(stdout)
      } catch {
        // No document (killed, or not daplaya): the exit code and stderr say what happened.
      }
      resolve({ code: code ?? 128, signal, document })
    })
  })
}

/** The one line a failed daplaya run is reported with: its own error message when it gave one. */
function failureLine(result) {
  return result.document?.error?.message ?? `daplaya ${result.signal ? `was killed by ${result.signal}` : `exited with ${result.code}`}`
}

/** A workflow command annotating the step (`error`, `warning`) with one message. */
function annotate(level, message) {
  process.stdout.write(`::${level}::${String(message).replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A')}${os.EOL}`)
}

/** Runs a step: a failure becomes one `::error::` line and exit 1 (never process.exit()). */
function step(body) {
  body().catch((error) => {
    annotate('error', error instanceof StepFailure ? error.message : error.stack)
    process.exitCode = 1
  })
}

module.exports = { StepFailure, VERSION, input, envsInput, booleanInput, setFileCommand, cliCommand, runCli, failureLine, annotate, step }
