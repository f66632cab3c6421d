#!/usr/bin/env node
'use strict'
// Takes the pictures of `daplaya serve` in docs/serve.md (docs/serve-light.png, docs/serve-dark.png):
// a throwaway embedded store gets a few locks and jobs from the CLI, the server runs on a free
// loopback port, and Chromium from npm (see __test__/browser.js) photographs the page in both
// colour schemes.
//
//   node scripts/screenshot-serve.js
const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { startServe } = require('../__test__/serve-helpers.js')
const { BIN, baseEnv } = require('../__test__/helpers.js')
const { findChromium, launch } = require('../__test__/browser.js')

const ROOT = path.join(__dirname, '..')

function cli(env, ...args) {
  const result = spawnSync(process.execPath, [BIN, ...args], { env: { ...baseEnv(), ...env }, encoding: 'utf8' })
  if (result.status !== 0) throw new Error(`daplaya ${args.join(' ')}: ${result.stderr}`)
}

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'daplaya-shot-'))
  const env = { DAPLAYA_STORE: `sqlite:${path.join(dir, 'locks.db')}` }
  cli(env, 'locks', 'lock', '--env', 'qa', '--user', 'carol@example.com', '--meta', 'https://ci.example.com/pipelines/4711')
  cli(env, 'locks', 'release', '--env', 'qa', '--user', 'carol@example.com')
  cli(env, 'locks', 'lock', '--env', 'production', '--user', 'alice@example.com', '--meta', 'https://ci.example.com/pipelines/4812', '--ttl', '30m')
  cli(env, 'locks', 'lock', '--env', 'staging', '--user', 'bob@example.com', '--uberlock', '--meta', 'INC-42: payments incident, hands off')
  cli(env, 'locks', 'lock', '--env', 'eu-sandbox', '--user', 'dora@example.com', '--meta', 'CLI')
  cli(env, 'jobs', 'start', '--jobname', 'deploy-prod', '--user', 'alice@example.com', '--gitversion', 'v2.14.0')
  cli(env, 'jobs', 'start', '--jobname', 'deploy-prod', '--user', 'erin@example.com', '--gitversion', 'v2.13.9')
  cli(env, 'jobs', 'end', '--gitversion', 'v2.13.9', '--skipped')
  const chromium = await findChromium()
  if (chromium.missing) throw new Error(chromium.missing)
  const server = await startServe(env, ['--jobname', 'deploy-prod'])
  try {
    for (const scheme of ['light', 'dark']) {
      const { browser, missing } = await launch(chromium, { viewport: { width: 1100, height: 640 }, colorScheme: scheme })
      if (missing) throw new Error(missing)
      const page = await browser.newPage()
      await page.goto(server.url)
      await page.locator('#live:not([hidden])').waitFor()
      const file = path.join(ROOT, 'docs', `serve-${scheme}.png`)
      fs.mkdirSync(path.dirname(file), { recursive: true })
      await page.screenshot({ path: file, fullPage: true })
      await browser.close()
      process.stdout.write(`${path.relative(ROOT, file)}\n`)
    }
  } finally {
    await server.stop()
  }
}

main().catch((error) => {
  process.stderr.write(`${error.stack}\n`)
  process.exitCode = 1
})
