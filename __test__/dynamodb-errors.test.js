'use strict'
// DynamoDB failures a user meets: each is one clear line, exit 1 (or 2 for configuration),
// a stable JS code, never a debug dump, never a credential.
const { describe, it } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const tls = require('node:tls')
const daplaya = require('..')
const { STORES, run, runJson, uniqueName } = require('./helpers.js')

const dynamodb = STORES.find((s) => s.name === 'dynamodb')
const SECRET = 'daplayatestsecretvalue'

function assertOneLine(result, pattern) {
  const lines = result.stderr.trimEnd().split('\n')
  assert.match(lines[0], pattern, result.stderr)
  assert.ok(lines.length <= 2, result.stderr)
  assert.ok(!/Error \{|ServiceError|ErrorMetadata|panicked/.test(result.stderr), result.stderr)
  assert.ok(!result.stderr.includes(SECRET), 'never print a credential')
}

describe('DynamoDB errors', { skip: dynamodb.skip }, () => {
  it('a missing table says to run init (exit 1, TABLE_MISSING)', async () => {
    const { env, options } = await dynamodb.fresh()
    const missing = { ...env, DAPLAYA_LOCKS_TABLE: uniqueName('Missing') }
    const result = await run(['locks', 'lock', '--env', 'prod', '--user', 'u'], { env: missing })
    assert.equal(result.code, 1)
    assertOneLine(result, new RegExp(`^error: table ${missing.DAPLAYA_LOCKS_TABLE} does not exist$`))
    assert.match(result.stderr, /hint: run `daplaya init`/)
    await assert.rejects(daplaya.listLocks({ ...options, locksTable: missing.DAPLAYA_LOCKS_TABLE }), { code: 'TABLE_MISSING' })
  })

  it('init refuses a table of that name with another key schema (exit 1, SCHEMA_MISMATCH)', async () => {
    const { env } = await dynamodb.fresh()
    // The jobs table is keyed by version + id, not by env.
    const wrong = { ...env, DAPLAYA_LOCKS_TABLE: env.DAPLAYA_JOBS_TABLE }
    const result = await runJson(['init'], { env: wrong })
    assert.equal(result.code, 1)
    assert.equal(result.json.error.code, 'SCHEMA_MISMATCH')
    assertOneLine(result, new RegExp(`^error: table ${env.DAPLAYA_JOBS_TABLE} exists with another key schema: .*expected env \\(HASH\\)`))
  })

  it('an unreachable endpoint fails in bounded time (exit 1, STORE_UNAVAILABLE)', async () => {
    const { env } = await dynamodb.fresh()
    const started = Date.now()
    const result = await runJson(['locks', 'list'], { env: { ...env, DAPLAYA_DYNAMODB_ENDPOINT: 'http://127.0.0.1:1' } })
    assert.equal(result.code, 1)
    assert.equal(result.json.error.code, 'STORE_UNAVAILABLE')
    assertOneLine(result, /^error: cannot reach DynamoDB at http:\/\/127\.0\.0\.1:1: /)
    assert.ok(Date.now() - started < 30_000)
  })

  it('credentials DynamoDB rejects are named, never printed (exit 1)', async () => {
    const { env } = await dynamodb.fresh()
    // DynamoDB Local accepts only letters and digits in an access key id.
    const bad = { ...env, AWS_ACCESS_KEY_ID: 'not-a-valid-key!', AWS_SECRET_ACCESS_KEY: SECRET }
    const result = await run(['locks', 'list'], { env: bad })
    assert.equal(result.code, 1)
    assertOneLine(result, /^error: DynamoDB rejected the credentials/)
  })

  it('no credentials at all says how to provide them (exit 1)', async () => {
    const { env } = await dynamodb.fresh()
    const { AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, ...rest } = env
    const result = await run(['locks', 'list'], { env: { ...rest, HOME: '/nonexistent' } })
    assert.equal(result.code, 1)
    assertOneLine(result, /^error: no AWS credentials found: set AWS_PROFILE or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY/)
  })

  it('DynamoDB without any region is a configuration error (exit 2)', async () => {
    const result = await run(['locks', 'list'], {
      env: { DAPLAYA_STORE: 'dynamodb', AWS_ACCESS_KEY_ID: 'x', AWS_SECRET_ACCESS_KEY: SECRET, AWS_EC2_METADATA_DISABLED: 'true', HOME: '/nonexistent' },
    })
    assert.equal(result.code, 2)
    assertOneLine(result, /DAPLAYA_AWS_REGION/)
  })

  it('an endpoint without a region is refused (exit 2), never defaulted, before any request', async () => {
    let connections = 0
    const server = require('node:net').createServer((socket) => {
      connections += 1
      socket.destroy()
    })
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
    try {
      const endpoint = `http://127.0.0.1:${server.address().port}`
      const env = { DAPLAYA_DYNAMODB_ENDPOINT: endpoint, AWS_ACCESS_KEY_ID: 'x', AWS_SECRET_ACCESS_KEY: SECRET, AWS_EC2_METADATA_DISABLED: 'true', HOME: '/nonexistent' }
      const result = await runJson(['locks', 'list'], { env })
      assert.equal(result.code, 2)
      assert.equal(result.json.error.code, 'STORE_NOT_CONFIGURED')
      assertOneLine(result, new RegExp(`^error: no AWS region configured for the DynamoDB endpoint ${endpoint}: set DAPLAYA_AWS_REGION or AWS_REGION`))
      assert.equal(connections, 0, 'nothing was sent')
    } finally {
      server.close()
    }
  })

  it('an endpoint that is not a URL is a configuration error (exit 2)', async () => {
    const { env } = await dynamodb.fresh()
    const result = await run(['locks', 'list'], { env: { ...env, DAPLAYA_DYNAMODB_ENDPOINT: 'localhost:8000' } })
    assert.equal(result.code, 2)
    assertOneLine(result, /^error: .*localhost:8000/)
  })
})

// Real DynamoDB is HTTPS: the addon's one TLS stack (rustls with ring) must get as far as a
// handshake and judge the certificate. A loopback TLS server with a self-signed certificate
// stands in for an endpoint the system's roots do not trust.
describe('HTTPS endpoints', () => {
  it('an https endpoint is reached over TLS and an untrusted certificate is refused (exit 1)', async () => {
    const fixture = (name) => fs.readFileSync(path.join(__dirname, 'fixtures', name))
    const handshakes = []
    const server = tls.createServer({ key: fixture('self-signed.key'), cert: fixture('self-signed.crt') })
    server.on('tlsClientError', (error) => handshakes.push(error.code))
    server.on('secureConnection', (socket) => socket.destroy())
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
    try {
      const endpoint = `https://127.0.0.1:${server.address().port}`
      const env = {
        DAPLAYA_STORE: 'dynamodb',
        DAPLAYA_DYNAMODB_ENDPOINT: endpoint,
        DAPLAYA_AWS_REGION: 'us-east-1',
        AWS_ACCESS_KEY_ID: 'daplayatest',
        AWS_SECRET_ACCESS_KEY: SECRET,
        AWS_EC2_METADATA_DISABLED: 'true',
      }
      const result = await runJson(['locks', 'list', '--env', 'prod'], { env })
      assert.equal(result.code, 1)
      assert.equal(result.json.error.code, 'STORE_UNAVAILABLE')
      assertOneLine(result, new RegExp(`^error: cannot reach DynamoDB at ${endpoint}: invalid peer certificate: UnknownIssuer$`))
      assert.doesNotMatch(result.stderr, /scheme/i)
      assert.ok(handshakes.length >= 1, 'the server saw a TLS handshake')
    } finally {
      await new Promise((resolve) => server.close(resolve))
    }
  })
})
