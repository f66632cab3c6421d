/**
 * daplaya: deploy locks per environment and a registry of running jobs.
 *
 * The functions, their options and results are generated from the Rust source into
 * `binding.d.ts`. Every function resolves to a plain object with the same fields as the CLI's
 * `--json` output, and rejects with a {@link DaplayaError} whose `code` is stable. This file
 * adds only what generation cannot say.
 */
export * from './binding.js'
import type { Acquisition, DefaultedUser, InitOptions, Lock, LockOptions, ReleaseOptions, ReleaseResult, RunLockedManyResult, RunLockedResult, SlackHandlerOptions, SlackResponse, Waiting } from './binding.js'

/** Stable error codes, the same conditions as the CLI's exit codes. */
export type ErrorCode =
  /** Bad input, an unknown option included (exit 2). */
  | 'INVALID_ARGUMENT'
  /** `CI=true` and no store configured (exit 2). */
  | 'STORE_NOT_CONFIGURED'
  /** `endJob` without `jobname` while the version runs under several jobnames (exit 2). */
  | 'AMBIGUOUS'
  /** Someone else holds the env and the wait ended (exit 3). */
  | 'LOCK_BUSY'
  /** Someone else holds an uberlock on the env (exit 4). */
  | 'UBERLOCKED'
  /** No such job (exit 5). */
  | 'NOT_FOUND'
  /** `supersede: true` and a newer waiter joined the line behind: the call left the line (exit 6). */
  | 'SUPERSEDED'
  /** `release` of an env another run of the same user holds: nothing changed; release it from that run (`holder`) or with `force` (exit 7). */
  | 'HELD_BY_OTHER_RUN'
  /** The DynamoDB tables do not exist: run `init` (exit 1). */
  | 'TABLE_MISSING'
  /** A table of that name exists with another key schema (exit 1). */
  | 'SCHEMA_MISMATCH'
  /** The store cannot be reached or refused the request (exit 1). */
  | 'STORE_UNAVAILABLE'
  /** A row read from the store holds a value no write of daplaya makes (an out-of-range number): nothing was decided on it (exit 1). */
  | 'INVALID_ROW'
  /** A held lock passed to someone else; `locks run` stopped its command (exit 1). */
  | 'LEASE_LOST'
  /** `runLocked`: the command cannot be executed, e.g. not an executable file (exit 126). */
  | 'CANNOT_EXECUTE'
  /** `runLocked`: no such command (exit 127). */
  | 'COMMAND_NOT_FOUND'
  /** `serve`: the server failed while serving (exit 1). */
  | 'SERVER_FAILED'
  /** `require('daplaya')`: no native binary for this platform, or it fails to load (exit 1). */
  | 'UNSUPPORTED_PLATFORM'
  /** Cancelled while waiting (the CLI's exit 130). */
  | 'INTERRUPTED'
  /** The call's `signal` aborted; the error's `name` is `'AbortError'`, its `cause` the signal's reason. */
  | 'ABORT_ERR'

export interface DaplayaError extends Error {
  code: ErrorCode
}

/**
 * `LOCK_BUSY`: someone else holds the env (`noWait`, or `timeout` ran out), or it is free but
 * others in its line go first. The `--json` error document of the CLI has the same fields.
 */
export interface LockBusyError extends DaplayaError {
  code: 'LOCK_BUSY'
  /** The env in the way (the first of several given that is). */
  env: string
  /** The other user's lock on it, as `listLocks` shows it (its `user`, `meta`, `expiresAt`...); `null` when the env is free but others go first. */
  holder: Lock | null
  /** The env's line in serving order, without this call. */
  queue: Waiting[]
  /** How long the call waited before giving up (ms); `null` when it did not wait (`noWait`). */
  waitedMs: number | null
}

/** `UBERLOCKED`: someone else's uberlock is on the env; nobody waits for one. */
export interface UberlockedError extends DaplayaError {
  code: 'UBERLOCKED'
  env: string
  /** The uberlock, as `listLocks` shows it: its `meta` says why. */
  holder: Lock
}

/** `SUPERSEDED`: a `supersede: true` call gave way to a newer waiter, and took nothing. */
export interface SupersededError extends DaplayaError {
  code: 'SUPERSEDED'
  env: string
  /** The newer waiter it gave way to. */
  by: Waiting
}

/** `LEASE_LOST`: `runLocked`'s lock passed to someone else while the command ran. */
export interface LeaseLostError extends DaplayaError {
  code: 'LEASE_LOST'
  env: string
  /** The lock that holds the env now; `null` when nobody does (it was released, or its row is gone). */
  holder: Lock | null
}

/** The refusals of a lock, each with what the caller needs to act on it; tell them apart by `code`. */
export type LockError = LockBusyError | UberlockedError | SupersededError | LeaseLostError

/** What {@link lock} resolves to: the lock row, how it was got, and where a defaulted user came from. */
export type LockResult = Lock & Acquisition & DefaultedUser

/** One result for one env (`env: 'eu'`), a list for a list (`env: ['eu', 'us']`, even of one). */
export type PerEnv<E extends string | string[], T> = [E] extends [string] ? T : [E] extends [string[]] ? T[] : T | T[]

/**
 * Takes the lock on an env, waiting in line (silently, or telling `onWait` at each poll) while
 * someone else holds it. Given several envs (an array), takes all of them at once or none, and
 * resolves to one result per env, in the order given.
 */
export declare function lock<E extends string | string[]>(options: LockOptions & { env: E }): Promise<PerEnv<E, LockResult>>

/** Releases your lock on an env; given an array, on each of those envs at once, resolving to one result per env. */
export declare function release<E extends string | string[]>(options: ReleaseOptions & { env: E }): Promise<PerEnv<E, ReleaseResult & DefaultedUser>>

/**
 * `daplaya locks run` as a function (see `binding.d.ts` for the whole story). Given several envs
 * (an array), the command runs holding all of them, with `DAPLAYA_FENCING_TOKENS`, and the result
 * lists them as `locks`.
 */
export declare function runLocked<E extends string | string[]>(
  options: LockOptions & { env: E },
  command: string[],
): Promise<([E] extends [string] ? RunLockedResult : [E] extends [string[]] ? RunLockedManyResult : RunLockedResult | RunLockedManyResult) & DefaultedUser>

/** Where locks live: the options every function takes (`init` takes only these). */
export type StoreOptions = InitOptions

/** A duration: milliseconds, or text such as `'500ms'`, `'30s'`, `'20m'`, `'2h'`, `'1d'`. */
export type Duration = number | string

/** An HTTP request as Slack sent it. */
export interface SlackRequest {
  /**
   * The request headers, names in any case (`X-Slack-Signature` and
   * `X-Slack-Request-Timestamp` are read); a `Headers` or `Map` works too.
   */
  headers?: Record<string, string | string[] | undefined> | Iterable<[string, string]>
  /** The raw body exactly as received (not parsed): the signature covers its bytes. */
  body: string | Uint8Array
}

/**
 * Answers a Slack slash command (`/daplaya lock <ENV> [META...]`, `uberlock`, `release`,
 * `force-release`, `leases`, `history`, `help`), as `daplaya slack serve` does, for use from a
 * serverless function. Verifies the signature and timestamp first; a refused request touches no
 * store. The member then acts as the user `options.users` maps them to (or their profile's
 * email, with `botToken`; else their handle qualified by workspace); a copy of a request acted on
 * already is answered `409` and changes nothing. Never waits on a lock; telling who the member
 * is and store work are bounded by 2.5 s. Rejects with `INVALID_ARGUMENT` when no signing secret
 * is configured.
 */
export declare function handleSlackCommand(request: SlackRequest, options?: SlackHandlerOptions): Promise<SlackResponse>
