#!/usr/bin/env node
// The Accelerate gateway's executor sidecar (docs/accelerate.md, "The executor sidecar").
//
// An HTTP/1.1 server on a Unix socket (mode 0600) and nowhere else. The gateway sets up one
// executor per (project, configuration version, client version) with PUT /executors/{id}, then
// forwards the Prisma Client's own requests under /executors/{id}/... and relays the answers.
//
//   node server.js --socket PATH [--exit-with-stdin] [--idle-timeout SECONDS] [--grace SECONDS]

import fs from 'node:fs'
import http from 'node:http'
import net from 'node:net'
import { parseArgs } from 'node:util'

import { TransactionManagerError, UserFacingError } from '@prisma/client-engine-runtime'

import {
  DatabaseConnectError,
  Executor,
  PoolTimeoutError,
  QueryTimeoutError,
  requestContext,
} from './executor.js'
import { SetupError, parseSetup } from './setup.js'
import { EXECUTOR_VERSION, SUPPORTED_CLIENT_LINES, unsupportedClientVersion } from './versions.js'

// `pg` falls back to PG* environment variables (PGPASSWORD, PGSSLMODE, ...) for anything a
// configuration leaves out; a user's database must only ever get what the gateway sent.
for (const name of Object.keys(process.env)) {
  if (name.startsWith('PG')) delete process.env[name]
}

const { values: args } = parseArgs({
  options: {
    socket: { type: 'string', default: process.env.ACCELERATE_EXECUTOR_SOCKET },
    'exit-with-stdin': { type: 'boolean', default: false },
    'idle-timeout': { type: 'string', default: '300' },
    grace: { type: 'string', default: '5' },
    'max-body-bytes': { type: 'string', default: String(32 * 1024 * 1024) },
  },
})

function log(fields) {
  process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), ...fields })}\n`)
}

function fail(message) {
  log({ level: 'error', msg: message })
  process.exit(2)
}

function positive(name) {
  const value = Number(args[name])
  if (!Number.isFinite(value) || value <= 0) fail(`--${name} must be a positive number, not ${args[name]}`)
  return value
}

const IDLE_TIMEOUT_MS = positive('idle-timeout') * 1000
const GRACE_MS = positive('grace') * 1000
const MAX_BODY_BYTES = positive('max-body-bytes')
const EXECUTOR_ID = /^[A-Za-z0-9._:-]{1,200}$/

/** An error the sidecar itself answers: `reason` goes into the body and the Executor-Error header. */
class SidecarError extends Error {
  constructor(status, reason, code, message, extra = {}) {
    super(message)
    this.status = status
    this.reason = reason
    this.code = code
    this.extra = extra
  }
}

// ---------------------------------------------------------------------------------------------
// Executors

const executors = new Map() // id -> {fingerprint, ready: Promise<Executor>, executor?: Executor}

function fingerprint(body) {
  // Setup bodies are small; key order is the gateway's, so compare a canonical form.
  const canonical = (value) =>
    value && typeof value === 'object' && !Array.isArray(value)
      ? Object.fromEntries(Object.keys(value).sort().map((key) => [key, canonical(value[key])]))
      : value
  return JSON.stringify(canonical(body))
}

async function setupExecutor(id, body) {
  let setup
  try {
    setup = parseSetup(body)
  } catch (error) {
    if (error instanceof SetupError) throw new SidecarError(400, 'invalid-setup', 'P6005', error.message)
    throw error
  }
  const unsupported = unsupportedClientVersion(setup.clientVersion)
  if (unsupported) {
    throw new SidecarError(400, 'unsupported-client-version', 'P6005', unsupported, {
      supportedClientVersions: SUPPORTED_CLIENT_LINES.map((line) => `${line}.x`),
    })
  }
  const print = fingerprint(body)
  const existing = executors.get(id)
  if (existing) {
    if (existing.fingerprint !== print) {
      throw new SidecarError(
        409,
        'executor-exists',
        'P6000',
        `Executor ${id} exists with another setup; executor ids are immutable (close it first, or use a new id).`,
      )
    }
    return { executor: await existing.ready, created: false }
  }
  const entry = { fingerprint: print }
  entry.ready = Executor.create(id, setup, {
    onPoolError: (error) => log({ level: 'warn', msg: 'idle connection lost', executor: id, error: error?.code ?? 'error' }),
  }).then(
    (executor) => {
      entry.executor = executor
      log({
        level: 'info',
        msg: 'executor created',
        executor: id,
        clientVersion: setup.clientVersion,
        host: setup.connection.host,
        hostaddr: setup.connection.hostaddr,
        port: setup.connection.port,
        tls: executor.tls,
        connectionLimit: setup.limits.connectionLimit,
      })
      return executor
    },
    (error) => {
      executors.delete(id)
      if (error instanceof DatabaseConnectError) {
        throw new SidecarError(
          502,
          error.refused ? 'database-refused' : 'database-unreachable',
          'P6008',
          error.message,
          error.sqlState ? { sqlState: error.sqlState } : {},
        )
      }
      throw error
    },
  )
  executors.set(id, entry)
  return { executor: await entry.ready, created: true }
}

async function closeExecutor(id, why) {
  const entry = executors.get(id)
  if (!entry) return false
  executors.delete(id)
  const executor = await entry.ready.catch(() => null)
  if (executor) {
    await executor.close()
    log({ level: 'info', msg: 'executor closed', executor: id, why })
  }
  return true
}

function readyExecutor(id) {
  const entry = executors.get(id)
  if (!entry?.executor || entry.executor.closing) {
    throw new SidecarError(
      404,
      'unknown-executor',
      'P6000',
      `No executor ${id} on this sidecar (it was never set up, was closed, or the sidecar restarted): set it up with PUT /executors/${id}.`,
    )
  }
  return entry.executor
}

// Executors nobody used for a while close by themselves: old configuration versions and client
// versions do not keep connections to a user's database open. The gateway re-creates on 404.
const sweeper = setInterval(
  () => {
    const now = Date.now()
    for (const [id, entry] of executors) {
      const executor = entry.executor
      if (executor && executor.inFlight === 0 && executor.openTransactions === 0 && now - executor.lastUsed > IDLE_TIMEOUT_MS) {
        void closeExecutor(id, 'idle')
      }
    }
  },
  Math.min(30_000, Math.max(1_000, IDLE_TIMEOUT_MS / 2)),
)
sweeper.unref()

// ---------------------------------------------------------------------------------------------
// HTTP

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = []
    let size = 0
    req.on('data', (chunk) => {
      size += chunk.length
      if (size > MAX_BODY_BYTES) {
        reject(new SidecarError(413, 'request-too-large', 'P6009', `The request body exceeds ${MAX_BODY_BYTES} bytes.`))
        req.destroy()
        return
      }
      chunks.push(chunk)
    })
    req.on('end', () => resolve(Buffer.concat(chunks)))
    req.on('error', reject)
  })
}

async function jsonBody(req, { optional = false } = {}) {
  const raw = await readBody(req)
  if (raw.length === 0 && optional) return {}
  try {
    return JSON.parse(raw.toString('utf8'))
  } catch {
    throw new SidecarError(400, 'invalid-request', 'P6005', 'The request body is not JSON.')
  }
}

function isObject(value) {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** The body of /query and /transaction/{id}/query, checked as @prisma/query-plan-executor checks it. */
function queryBody(body) {
  const problems = []
  if (!isObject(body)) throw new SidecarError(400, 'invalid-request', 'P6005', 'The body must be a JSON object.')
  if (typeof body.operation !== 'string') problems.push('operation must be a string')
  if (!isObject(body.plan)) problems.push('plan must be an object')
  if (!isObject(body.params)) problems.push('params must be an object')
  if (body.model !== undefined && typeof body.model !== 'string') problems.push('model must be a string')
  if (
    body.comments !== undefined &&
    !(isObject(body.comments) && Object.values(body.comments).every((value) => typeof value === 'string'))
  ) {
    problems.push('comments must be an object of strings')
  }
  if (problems.length) {
    throw new SidecarError(400, 'invalid-request', 'P6005', `Not a query plan request: ${problems.join('; ')}.`)
  }
  return body
}

const ISOLATION_LEVELS = new Set(['READ UNCOMMITTED', 'READ COMMITTED', 'REPEATABLE READ', 'SNAPSHOT', 'SERIALIZABLE'])

function transactionBody(body) {
  if (!isObject(body)) throw new SidecarError(400, 'invalid-request', 'P6005', 'The body must be a JSON object.')
  const options = {}
  for (const key of ['timeout', 'maxWait']) {
    if (body[key] === undefined) continue
    if (typeof body[key] !== 'number' || !Number.isFinite(body[key])) {
      throw new SidecarError(400, 'invalid-request', 'P6005', `${key} must be a number of milliseconds.`)
    }
    options[key] = body[key]
  }
  if (body.isolationLevel !== undefined) {
    if (!ISOLATION_LEVELS.has(body.isolationLevel)) {
      throw new SidecarError(400, 'invalid-request', 'P6005', 'isolationLevel is not an isolation level.')
    }
    options.isolationLevel = body.isolationLevel
  }
  if (body.newTxId !== undefined) {
    if (typeof body.newTxId !== 'string') throw new SidecarError(400, 'invalid-request', 'P6005', 'newTxId must be a string.')
    options.newTxId = body.newTxId
  }
  return options
}

function checkEngineHash(req, executor) {
  const hash = req.headers['prisma-engine-hash']
  if (hash !== undefined && hash !== executor.setup.clientVersion) {
    throw new SidecarError(
      400,
      'client-version-mismatch',
      'P6005',
      `Executor ${executor.id} serves Prisma Client ${executor.setup.clientVersion}; the request says ${hash}.`,
    )
  }
}

function send(res, status, body, headers = {}) {
  const payload = typeof body === 'string' ? body : JSON.stringify(body)
  res.writeHead(status, {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(payload),
    ...headers,
  })
  res.end(payload)
}

// Prisma's codes for a database that cannot be reached or used (auth failed, unreachable,
// database missing, socket timeout, access denied, TLS, connection closed, too many connections).
const CONNECTION_ERROR_CODES = new Set(['P1000', 'P1001', 'P1003', 'P1008', 'P1010', 'P1011', 'P1017', 'P2037'])

/** Prisma's executor's error answers (getErrorResponse), plus the sidecar's own. */
function errorAnswer(error) {
  if (error instanceof SidecarError) {
    return {
      status: error.status,
      reason: error.reason,
      body: { code: error.code, error: error.message, reason: error.reason, ...error.extra },
    }
  }
  if (error instanceof PoolTimeoutError) {
    return { status: 504, reason: 'pool-timeout', body: { code: 'P6004', error: error.message, reason: 'pool-timeout' } }
  }
  if (error instanceof QueryTimeoutError) {
    return { status: 504, reason: 'query-timeout', body: { code: 'P6004', error: error.message, reason: 'query-timeout' } }
  }
  if (error instanceof UserFacingError) {
    const sqlState = error.meta?.driverAdapterError?.cause?.originalCode
    if (sqlState === '57014') {
      // statement_timeout (the query timeout) or our own cancel request.
      return {
        status: 504,
        reason: 'query-timeout',
        body: { code: 'P6004', error: 'Query timeout exceeded: the query was cancelled on the database.', reason: 'query-timeout' },
      }
    }
    // Unchanged from Prisma's executor: 409 for transaction errors, 400 for the others. The
    // Executor-Error header only names what the gateway may want to treat on its own.
    let reason
    if (sqlState === '25006') reason = 'read-only-violation'
    else if (CONNECTION_ERROR_CODES.has(error.code)) reason = 'database-unreachable'
    return {
      status: error instanceof TransactionManagerError ? 409 : 400,
      reason,
      body: { code: error.code, error: error.message, meta: error.meta },
    }
  }
  return { status: 500, reason: 'executor-error', body: { error: error instanceof Error ? error.message : String(error) } }
}

const ROUTES = [
  ['GET', /^\/health$/, 'health'],
  ['GET', /^\/executors$/, 'list'],
  ['PUT', /^\/executors\/([^/]+)$/, 'setup'],
  ['DELETE', /^\/executors\/([^/]+)$/, 'close'],
  ['GET', /^\/executors\/([^/]+)\/connection-info$/, 'connection-info'],
  ['POST', /^\/executors\/([^/]+)\/query$/, 'query'],
  ['POST', /^\/executors\/([^/]+)\/transaction\/start$/, 'transaction-start'],
  ['POST', /^\/executors\/([^/]+)\/transaction\/([^/]+)\/query$/, 'transaction-query'],
  ['POST', /^\/executors\/([^/]+)\/transaction\/([^/]+)\/commit$/, 'transaction-commit'],
  ['POST', /^\/executors\/([^/]+)\/transaction\/([^/]+)\/rollback$/, 'transaction-rollback'],
]

function route(method, pathname) {
  let pathMatched = false
  for (const [routeMethod, pattern, name] of ROUTES) {
    const match = pattern.exec(pathname)
    if (!match) continue
    pathMatched = true
    if (routeMethod === method) {
      try {
        const [executorId, transactionId] = match.slice(1).map((part) => decodeURIComponent(part))
        return { name, executorId, transactionId }
      } catch {
        throw new SidecarError(400, 'invalid-request', 'P6005', 'The path is not validly percent-encoded.')
      }
    }
  }
  if (pathMatched) throw new SidecarError(405, 'method-not-allowed', 'P6005', `${method} is not allowed on ${pathname}.`)
  throw new SidecarError(404, 'unknown-route', 'P6005', `No route ${method} ${pathname} on the executor sidecar.`)
}

async function handle(req, res, context) {
  const pathname = new URL(req.url, 'http://sidecar').pathname
  const { name, executorId, transactionId } = route(req.method, pathname)
  context.route = name
  if (executorId !== undefined) {
    if (!EXECUTOR_ID.test(executorId)) {
      throw new SidecarError(400, 'invalid-request', 'P6005', 'Executor ids are 1 to 200 characters of A-Z a-z 0-9 . _ : -')
    }
    context.executor = executorId
  }
  if (transactionId !== undefined) context.transaction = transactionId

  switch (name) {
    case 'health':
      return send(res, 200, {
        status: shuttingDown ? 'shutting-down' : 'ok',
        executorVersion: EXECUTOR_VERSION,
        supportedClientVersions: SUPPORTED_CLIENT_LINES.map((line) => `${line}.x`),
        executors: executors.size,
      })
    case 'list':
      return send(res, 200, {
        executors: [...executors.entries()].map(([id, entry]) => ({
          id,
          ready: Boolean(entry.executor),
          clientVersion: entry.executor?.setup.clientVersion,
          host: entry.executor?.setup.connection.host,
          createdAt: entry.executor ? new Date(entry.executor.createdAt).toISOString() : undefined,
          lastUsed: entry.executor ? new Date(entry.executor.lastUsed).toISOString() : undefined,
          openTransactions: entry.executor?.openTransactions,
          pool: entry.executor?.poolStats(),
        })),
      })
    case 'setup': {
      const body = await jsonBody(req)
      const { executor, created } = await setupExecutor(executorId, body)
      return send(res, created ? 201 : 200, {
        id: executor.id,
        created,
        clientVersion: executor.setup.clientVersion,
        executorVersion: EXECUTOR_VERSION,
        tls: executor.tls,
      })
    }
    case 'close': {
      if (!(await closeExecutor(executorId, 'closed by the gateway'))) readyExecutor(executorId)
      return send(res, 200, { id: executorId, closed: true })
    }
    default:
      break
  }

  // The Prisma routes, under /executors/{id}.
  const executor = readyExecutor(executorId)
  checkEngineHash(req, executor)
  executor.inFlight += 1
  executor.lastUsed = Date.now()
  try {
    switch (name) {
      case 'connection-info':
        return send(res, 200, executor.connectionInfo())
      case 'query':
      case 'transaction-query': {
        const readOnly = req.headers['executor-read-only'] === 'true'
        if (readOnly && name === 'transaction-query') {
          throw new SidecarError(400, 'invalid-request', 'P6005', 'Executor-Read-Only applies to /query only.')
        }
        const body = queryBody(await jsonBody(req))
        const data = await executor.query(body, { transactionId: transactionId ?? null, readOnly })
        const payload = JSON.stringify({ data })
        const limit = executor.setup.limits.maxResponseBytes
        if (Buffer.byteLength(payload) > limit) {
          throw new SidecarError(413, 'response-too-large', 'P6009', `The query result exceeds the response size limit of ${limit} bytes.`)
        }
        return send(res, 200, payload)
      }
      case 'transaction-start': {
        const options = transactionBody(await jsonBody(req, { optional: true }))
        const result = await executor.startTransaction(options)
        context.transaction = result.id
        return send(res, 200, result, { 'Prisma-Transaction-Id': result.id })
      }
      case 'transaction-commit':
        await readBody(req)
        await executor.commitTransaction(transactionId)
        return send(res, 200, {})
      case 'transaction-rollback':
        await readBody(req)
        await executor.rollbackTransaction(transactionId)
        return send(res, 200, {})
      default:
        throw new Error(`unhandled route ${name}`)
    }
  } finally {
    executor.inFlight -= 1
    executor.lastUsed = Date.now()
  }
}

let shuttingDown = false
let inFlight = 0

const server = http.createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
  const started = process.hrtime.bigint()
  const context = { clients: new Set(), cancelled: false, route: undefined, executor: undefined, transaction: undefined }
  inFlight += 1
  let reason
  let code
  // The gateway went away (its client disconnected): stop the query on the database too.
  let gone = false
  res.on('close', () => {
    if (!res.writableFinished) {
      gone = true
      const executor = context.executor && executors.get(context.executor)?.executor
      executor?.cancel(context)
    }
  })
  requestContext.run(context, () => {
    const work = shuttingDown
      ? Promise.reject(new SidecarError(503, 'shutting-down', 'P6000', 'The executor sidecar is shutting down.'))
      : handle(req, res, context)
    work
      .catch((error) => {
        const answer = errorAnswer(error)
        reason = gone ? 'client-gone' : answer.reason
        code = answer.body.code
        if (answer.status === 500) log({ level: 'error', msg: 'executor error', executor: context.executor, route: context.route, error: error?.stack ?? String(error) })
        if (!res.headersSent && !res.destroyed) {
          send(res, answer.status, answer.body, answer.reason ? { 'Executor-Error': answer.reason } : {})
        }
      })
      .finally(() => {
        inFlight -= 1
        if (gone) reason = 'client-gone'
        // One line per request: never the body, parameters, results or connection details.
        log({
          msg: 'request',
          method: req.method,
          route: context.route ?? 'unknown',
          executor: context.executor,
          transaction: context.transaction,
          status: res.statusCode,
          code,
          reason,
          ms: Number(process.hrtime.bigint() - started) / 1e6,
        })
      })
  })
})

// ---------------------------------------------------------------------------------------------
// Socket and lifecycle

async function removeStaleSocket(path) {
  let stat
  try {
    stat = fs.lstatSync(path)
  } catch (error) {
    if (error.code === 'ENOENT') return
    throw error
  }
  if (!stat.isSocket()) fail(`${path} exists and is not a socket; not touching it`)
  const alive = await new Promise((resolve) => {
    const probe = net.connect(path)
    probe.on('connect', () => {
      probe.destroy()
      resolve(true)
    })
    probe.on('error', () => resolve(false))
  })
  if (alive) fail(`another process is listening on ${path}`)
  fs.unlinkSync(path)
}

async function shutdown(why) {
  if (shuttingDown) return
  shuttingDown = true
  log({ level: 'info', msg: 'shutting down', why })
  server.close()
  server.closeIdleConnections()
  const deadline = Date.now() + GRACE_MS
  while (inFlight > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))
  server.closeAllConnections()
  await Promise.allSettled([...executors.keys()].map((id) => closeExecutor(id, 'shutdown')))
  try {
    fs.unlinkSync(args.socket)
  } catch {
    // already gone
  }
  log({ level: 'info', msg: 'stopped' })
  process.exit(0)
}

async function main() {
  if (!args.socket) fail('--socket PATH (or ACCELERATE_EXECUTOR_SOCKET) is required')
  await removeStaleSocket(args.socket)
  // Created 0600 from the start (no window in which others could connect), then checked.
  const umask = process.umask(0o177)
  await new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(args.socket, resolve)
  }).finally(() => process.umask(umask))
  fs.chmodSync(args.socket, 0o600)

  for (const signal of ['SIGTERM', 'SIGINT']) {
    process.on(signal, () => void shutdown(signal))
  }
  if (args['exit-with-stdin']) {
    // The gateway keeps our stdin open; when it dies, the pipe closes and so do we.
    process.stdin.on('end', () => void shutdown('stdin closed'))
    process.stdin.on('error', () => void shutdown('stdin closed'))
    process.stdin.resume()
  }
  log({ level: 'info', msg: 'listening', socket: args.socket, executorVersion: EXECUTOR_VERSION, pid: process.pid })
  process.stdout.write(`listening ${args.socket}\n`)
}

// Node's own warnings (e.g. a dependency's deprecation notice) become log lines like the others,
// instead of free text on stderr: removing the default listener stops Node printing them.
process.removeAllListeners('warning')
process.on('warning', (warning) => {
  log({ level: 'warn', msg: 'node warning', warning: warning.name, detail: warning.message })
})

process.on('unhandledRejection', (error) => {
  log({ level: 'error', msg: 'unhandled rejection', error: error?.stack ?? String(error) })
})

await main()
