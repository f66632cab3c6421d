/**
 * daplaya: deploy locks per environment and a registry of running jobs.
 *
 * Every function takes an options object (store options included) and resolves to a plain
 * object with the same fields as the CLI's `--json` output. Failures reject with a
 * {@link DaplayaError} whose `code` is stable.
 */

/** Stable error codes, the same conditions as the CLI's exit codes. */
export type ErrorCode =
  /** Bad input (exit 2). */
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
  /** The DynamoDB tables do not exist: run `init` (exit 1). */
  | 'TABLE_MISSING'
  /** A table of that name exists with another key schema (exit 1). */
  | 'SCHEMA_MISMATCH'
  /** The store cannot be reached or refused the request (exit 1). */
  | 'STORE_UNAVAILABLE'
  /** A held lock passed to someone else; `locks run` stopped its command (exit 1). */
  | 'LEASE_LOST'
  /** `runLocked`: the command cannot be executed, e.g. not an executable file (exit 126). */
  | 'CANNOT_EXECUTE'
  /** `runLocked`: no such command (exit 127). */
  | 'COMMAND_NOT_FOUND'
  /** Cancelled while waiting (exit 130). */
  | 'INTERRUPTED'

export interface DaplayaError extends Error {
  code: ErrorCode
}

/** A duration: milliseconds, or text such as `'500ms'`, `'30s'`, `'20m'`, `'2h'`, `'1d'`. */
export type Duration = number | string

/** Where locks live. Unset fields come from the environment, as for the CLI. */
export interface StoreOptions {
  /** `'dynamodb'` or `'sqlite:<path>'` (else `DAPLAYA_STORE`, else chosen from the environment). */
  store?: string
  /** AWS region for DynamoDB (else `DAPLAYA_AWS_REGION`, else the AWS chain's region). */
  region?: string
  /** DynamoDB endpoint, e.g. DynamoDB Local (else `DAPLAYA_DYNAMODB_ENDPOINT`). */
  endpoint?: string
  /** Locks table name (else `DAPLAYA_LOCKS_TABLE`, else `DaPlayaLocks`). */
  locksTable?: string
  /** Jobs table name (else `DAPLAYA_JOBS_TABLE`, else `DaPlayaRunningJobs`). */
  jobsTable?: string
}

/** A lock row, as stored. */
export interface Lock {
  /** Lock id; kept when the holder renews. */
  id: string
  /** Holder, trimmed and lowercased. */
  user: string
  /** Environment, trimmed and lowercased. */
  env: string
  /** When this acquisition began (epoch ms). */
  createdAt: number
  /** Last renewal or release (epoch ms). */
  updatedAt: number
  /** False once released. */
  active: boolean
  /** Never expires; only `release({ uberlock: true })` ends it. */
  uberlock: boolean
  /** What the lock is for (a CI URL, `Slack`, `CLI`, `API`). */
  meta: string
  /** When the lease runs out (epoch ms); `null` for an uberlock. */
  expiresAt: number | null
  /** Strictly greater for every new acquisition of the env: lets a deploy target refuse a stale holder. */
  fencingToken: number
}

export type LockResult = Lock &
  (
    | { /** The env was free, released or expired. */ outcome: 'acquired' }
    | { /** You held it already; lease renewed, same id. */ outcome: 'renewed' }
    | { /** Your normal lock became an uberlock, same id. */ outcome: 'upgraded' }
    | { /** Your uberlock took the env from another user's normal lock. */ outcome: 'preempted'; preemptedUser: string }
  )

export interface LockOptions extends StoreOptions {
  /** Environment to lock. */
  env: string
  /** Who holds it, e.g. the committer's email. */
  user: string
  /** What the lock is for (default `'API'`). */
  meta?: string
  /** Take an uberlock: never expires, refuses others at once, preempts a normal holder. */
  uberlock?: boolean
  /** Lease length (default 20 minutes). */
  ttl?: Duration
  /** Stop waiting after this long and reject with `LOCK_BUSY` (default: wait forever). */
  timeout?: Duration
  /** Try once; reject with `LOCK_BUSY` if someone else holds the env. */
  noWait?: boolean
  /** How often to retry while waiting (default 5 s). */
  pollInterval?: Duration
}

export interface ReleaseOptions extends StoreOptions {
  env: string
  user: string
  /** Required to release an uberlock. */
  uberlock?: boolean
}

export interface ReleaseResult {
  /** False when you did not hold the env: nothing was changed. */
  released: boolean
  /** Why nothing was released. */
  reason: null | 'notLocked' | 'heldByOther'
  /** The lock row after the call, if the env has one. */
  lock: Lock | null
}

export interface ListLocksOptions extends StoreOptions {
  /** Only this env (default: every env with an active lock). */
  env?: string
}

/** A running-job record. */
export interface Job {
  /** Time-ordered id (UUIDv7). */
  id: string
  user: string
  jobname: string
  /** Git version the job runs. */
  version: string
  /** Start time (epoch ms). */
  started: number
  /** End time (epoch ms); `null` while running. */
  ended: number | null
  /** Ended as skipped. */
  skipped: boolean
}

export interface StartJobOptions extends StoreOptions {
  jobname: string
  user: string
  gitversion: string
}

export interface GetJobOptions extends StoreOptions {
  jobname: string
  gitversion: string
}

export interface EndJobOptions extends StoreOptions {
  gitversion: string
  /** Needed when the version runs under several jobnames. */
  jobname?: string
  /** Only a job started by this user. */
  user?: string
  /** Mark the job skipped. */
  skipped?: boolean
}

export interface EndJobResult {
  /** False when the job had ended already: nothing was changed. */
  changed: boolean
  job: Job
}

export interface JobWindowOptions extends StoreOptions {
  jobname: string
  /** How far back to look (default 50 minutes). */
  ttl?: Duration
}

export interface InitResult {
  /** The store, described without credentials. */
  store: string
  tables: { name: string; created: boolean }[]
}

/** Creates the tables (safe to run again). */
export function init(options?: StoreOptions): Promise<InitResult>
/** Active locks, sorted by env. */
export function listLocks(options?: ListLocksOptions): Promise<Lock[]>
/** Takes the lock on an env, waiting (silently) while someone else holds it. */
export function lock(options: LockOptions): Promise<LockResult>
/** Releases your lock on an env. */
export function release(options: ReleaseOptions): Promise<ReleaseResult>

/** What {@link runLocked} resolves to once the command has exited under the lock. */
export interface RunLockedResult {
  /** The command's exit code; 128 + N when signal N ended it. */
  exitCode: number
  /** The lock as released (`active: false`), with the `fencingToken` the command was given. */
  lock: Lock
}

/**
 * `daplaya locks run` as a function: takes the lock (waiting silently, as {@link lock} does),
 * runs `command` (`[program, ...args]`, no shell; stdio inherited) with `DAPLAYA_LOCK_ID`,
 * `DAPLAYA_ENV` and `DAPLAYA_FENCING_TOKEN` in its environment, renews the lease every third of
 * `ttl` while it runs, and releases the lock when it exits. Rejects with `LEASE_LOST` (or
 * `STORE_UNAVAILABLE` when no renewal got through before the lease ran out) after sending the
 * command SIGTERM, and with the errors of {@link lock} before the command starts
 * (`COMMAND_NOT_FOUND` or `CANNOT_EXECUTE` when it cannot start; nothing stays locked). Signals to this Node process are not forwarded.
 */
export function runLocked(options: LockOptions, command: string[]): Promise<RunLockedResult>
/** Records a running job. */
export function startJob(options: StartJobOptions): Promise<Job>
/** The most recent job of a jobname at a version; rejects with `NOT_FOUND`. */
export function getJob(options: GetJobOptions): Promise<Job>
/** Ends the most recent running job of a version. */
export function endJob(options: EndJobOptions): Promise<EndJobResult>
/** Jobs of a jobname not ended, started within `ttl`, newest first. */
export function activeJobs(options: JobWindowOptions): Promise<Job[]>
/** Skipped jobs of a jobname started within `ttl`, newest first. */
export function skippedJobs(options: JobWindowOptions): Promise<Job[]>

/** Options of {@link handleSlackCommand}; unset fields come from the environment. */
export interface SlackHandlerOptions extends StoreOptions {
  /** The Slack app's signing secret (else `DAPLAYA_SLACK_SIGNING_SECRET`); required. */
  signingSecret?: string
  /** Accept only requests whose `api_app_id` is this (else `DAPLAYA_SLACK_APP_ID`; unset: any app). */
  appId?: string
}

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

/** What to answer Slack with. */
export interface SlackResponse {
  /** 200, or 401 (bad signature or timestamp), 403 (another Slack app), 413 (body too large). */
  status: number
  /** `content-type` of the body. */
  headers: Record<string, string>
  /** A Slack message as JSON (`response_type` and `text`) for 200; a short word otherwise. */
  body: string
}

/**
 * Answers a Slack slash command (`/daplaya lock <ENV> [META...]`, `uberlock`, `release`,
 * `leases`, `help`), as `daplaya slack serve` does, for use from a serverless function.
 * Verifies the signature and timestamp first; a refused request touches no store. Never waits
 * on a lock; store work is bounded by 2.5 s. Rejects with `INVALID_ARGUMENT` when no signing
 * secret is configured.
 */
export function handleSlackCommand(request: SlackRequest, options?: SlackHandlerOptions): Promise<SlackResponse>
