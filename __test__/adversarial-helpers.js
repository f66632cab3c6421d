'use strict'
// Shared by the adversarial tests (`attack: ...`): raw HTTP a browser or fetch() would not send
// (any Host, any method, pipelined or trickled bytes), and Slack requests signed as Slack signs
// them.
const crypto = require('node:crypto')
const http = require('node:http')
const net = require('node:net')

/** One request with exactly these headers and path; resolves with { status, headers, body }. */
function request(port, path, { method = 'GET', headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const sent = http.request({ host: '127.0.0.1', port, path, method, headers, agent: false }, (response) => {
      let text = ''
      response.setEncoding('utf8')
      response.on('data', (chunk) => {
        text += chunk
      })
      response.on('end', () => resolve({ status: response.statusCode, headers: response.headers, body: text }))
    })
    sent.on('error', reject)
    sent.end(body)
  })
}

/**
 * Writes `bytes` on a fresh connection and resolves with everything the server sent until it
 * closed the connection (after a `Connection: close` request, an error, or its timeout): the
 * client never closes first, so no request is cut short by it.
 */
function exchange(port, bytes) {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(bytes))
    let received = ''
    socket.setEncoding('latin1')
    socket.on('data', (chunk) => {
      received += chunk
    })
    socket.on('error', () => {})
    socket.on('close', () => resolve(received))
  })
}

const SLACK_SECRET = crypto.randomBytes(16).toString('hex')

const nowSecs = () => Math.floor(Date.now() / 1000)

function slackSign(body, { secret = SLACK_SECRET, timestamp = String(nowSecs()) } = {}) {
  return {
    'content-type': 'application/x-www-form-urlencoded',
    'x-slack-request-timestamp': timestamp,
    'x-slack-signature': `v0=${crypto.createHmac('sha256', secret).update(`v0:${timestamp}:${body}`).digest('hex')}`,
  }
}

/** A slash-command body from `user`, unique as Slack's are (its trigger_id). */
function slackForm(user, text, extra = {}) {
  return new URLSearchParams({
    team_id: 'T0TEAM',
    user_id: `U0${user.toUpperCase()}`,
    user_name: user,
    command: '/daplaya',
    text,
    trigger_id: `${Date.now()}.${crypto.randomBytes(6).toString('hex')}`,
    ...extra,
  }).toString()
}

module.exports = { request, exchange, SLACK_SECRET, slackSign, slackForm, nowSecs }
