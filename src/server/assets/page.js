// daplaya serve: keeps the page current. The server renders everything; this only swaps in
// the board fragment it sends on /events (server-sent events), shows times in the reader's
// zone, and says when it last heard from the server. Without JavaScript the page still reads.
'use strict'
;(() => {
  const board = document.getElementById('board')
  const updated = document.getElementById('updated')
  const live = document.getElementById('live')

  const pad = (n) => String(n).padStart(2, '0')
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']
  // The same forms as the server: 14:02:11 today, Nov 21 14:02 on another day.
  function clock(time) {
    const at = new Date(Number(time.dataset.at))
    const hms = `${pad(at.getHours())}:${pad(at.getMinutes())}:${pad(at.getSeconds())}`
    const today = at.toDateString() === new Date().toDateString()
    time.textContent = today ? hms : `${months[at.getMonth()]} ${pad(at.getDate())} ${hms.slice(0, 5)}`
    time.title = at.toString()
  }
  const localize = (root) => root.querySelectorAll('time[data-at]').forEach(clock)

  function heard(readAt) {
    updated.dataset.at = readAt
    updated.dateTime = new Date(Number(readAt)).toISOString()
    clock(updated)
  }

  localize(document)
  if (!('EventSource' in window)) return
  const events = new EventSource(`events${location.search}`)
  events.addEventListener('open', () => {
    live.hidden = false
    live.textContent = 'live'
    live.classList.remove('offline')
  })
  events.addEventListener('error', () => {
    live.hidden = false
    live.textContent = 'reconnecting'
    live.classList.add('offline')
  })
  events.addEventListener('board', (event) => {
    live.textContent = 'live'
    live.classList.remove('offline')
    board.innerHTML = event.data
    localize(board)
    heard(event.lastEventId)
    const summary = board.querySelector('[data-title]')
    if (summary) document.title = summary.dataset.title
  })
  events.addEventListener('checked', (event) => heard(event.data))
  events.addEventListener('failed', (event) => {
    live.textContent = 'store unreachable'
    live.title = event.data
    live.classList.add('offline')
  })
})()
