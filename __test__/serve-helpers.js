'use strict'
// Shared by the server tests (`serve`, `slack serve`): start the real server through bin/daplaya.js, read
// where it listens from its --json line, and stop it with SIGTERM as a user would; and a stand-in
// for Slack's Web API.
const { spawn } = require('node:child_process')
const http = require('node:http')
const { BIN, baseEnv } = require('./helpers.js')

/**
 * Starts the CLI with `argv` (a server command with `--json`); resolves, once it prints where it
 * listens, to that document plus `base`, `stderr()`, `get(path, init)` and `stop(signal)`.
 */
function startServer(argv, env) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...argv], { env: { ...baseEnv(), ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    let server = null
    const exited = new Promise((done) => child.on('close', (code, signal) => done({ code, signal })))
    child.stderr.on('data', (chunk) => {
      stderr += chunk
    })
    child.stdout.on('data', (chunk) => {
      stdout += chunk
      if (stdout.includes('\n') && !server) {
        const listening = JSON.parse(stdout.split('\n')[0])
        const base = `http://127.0.0.1:${listening.port}`
        server = {
          ...listening,
          base,
          stderr: () => stderr,
          /** fetch() against the server, without following redirects. */
          get: (path, init = {}) => fetch(`${base}${path}`, { redirect: 'manual', ...init }),
          async stop(signal = 'SIGTERM') {
            child.kill(signal)
            return exited
          },
        }
        resolve(server)
      }
    })
    exited.then(({ code }) => {
      if (!server) reject(new Error(`${argv.join(' ')} exited ${code}: ${stderr}`))
    })
  })
}

/** Starts `serve --port 0 --json [args]`. */
function startServe(env, args = [], { host = '127.0.0.1' } = {}) {
  return startServer(['serve', '--host', host, '--port', '0', '--json', ...args], env)
}

/** Runs `test(server)` and checks the server then stops cleanly. */
async function withServe(env, args, test) {
  const server = await startServe(env, args)
  try {
    return await test(server)
  } finally {
    const { code } = await server.stop()
    if (code !== 0) throw new Error(`serve did not stop cleanly (exit ${code}): ${server.stderr()}`)
  }
}

/** Reads server-sent events from `response` until `until(event)` is true; resolves with it. */
async function readEvents(response, until, timeoutMs = 15_000) {
  const reader = response.body.getReader()
  const decoder = new TextDecoder()
  let buffer = ''
  const deadline = Date.now() + timeoutMs
  try {
    while (Date.now() < deadline) {
      const { value, done } = await reader.read()
      if (done) break
      buffer += decoder.decode(value, { stream: true })
      let end
      while ((end = buffer.indexOf('\n\n')) !== -1) {
        const block = buffer.slice(0, end)
        buffer = buffer.slice(end + 2)
        const event = { event: 'message', id: null, data: '' }
        for (const line of block.split('\n')) {
          const [field, ...rest] = line.split(':')
          const value = rest.join(':').replace(/^ /, '')
          if (field === 'event') event.event = value
          else if (field === 'id') event.id = value
          else if (field === 'data') event.data += (event.data ? '\n' : '') + value
        }
        if (until(event)) return event
      }
    }
    throw new Error(`no matching event within ${timeoutMs} ms`)
  } finally {
    await reader.cancel()
  }
}

/**
 * A stand-in for Slack's Web API: `users.info` answers as Slack does, from `members` (member id
 * -> email), for the bot token `token` only; `requests` records what it was asked.
 */
async function startSlackApi(members, { token = 'xoxb-test-token' } = {}) {
  const requests = []
  const server = http.createServer((request, response) => {
    const url = new URL(request.url, 'http://stand-in')
    requests.push({ path: url.pathname, user: url.searchParams.get('user'), authorization: request.headers.authorization })
    const answer = (body) => {
      response.writeHead(200, { 'content-type': 'application/json; charset=utf-8' })
      response.end(JSON.stringify(body))
    }
    if (url.pathname !== '/api/users.info') return answer({ ok: false, error: 'unknown_method' })
    if (request.headers.authorization !== `Bearer ${token}`) return answer({ ok: false, error: 'invalid_auth' })
    const member = url.searchParams.get('user')
    if (!(member in members)) return answer({ ok: false, error: 'user_not_found' })
    answer({ ok: true, user: { id: member, team_id: 'T0TEAM', name: member.toLowerCase(), profile: { email: members[member], display_name: 'x' } } })
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${server.address().port}/api`,
    requests,
    stop: () => new Promise((resolve) => server.close(resolve)),
  }
}

module.exports = { startServer, startServe, withServe, readEvents, startSlackApi }
