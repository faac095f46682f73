// One executor: a project's database, for one client version, under one configuration.
//
// It runs query plans with Prisma's own building blocks — QueryInterpreter and
// TransactionManager from @prisma/client-engine-runtime over @prisma/adapter-pg — which is what
// @prisma/query-plan-executor does too (its App class), except that here the `pg` pool is ours:
// its size is the project's connection limit, it connects to the address the gateway approved,
// and it serves a read-only variant from the same connections.

import { AsyncLocalStorage } from 'node:async_hooks'
import net from 'node:net'

import { PrismaPg } from '@prisma/adapter-pg'
import {
  QueryInterpreter,
  TransactionManager,
  noopTracingHelper,
  normalizeJsonProtocolValues,
} from '@prisma/client-engine-runtime'
import pg from 'pg'

import { poolConfig, tlsPlan } from './setup.js'

/**
 * Per HTTP request: `{clients: Set, cancelled: boolean}`, the pooled connections it holds, so
 * that they can be cancelled. A connection released by a cancelled request is closed rather than
 * pooled: a cancel request still in flight must never hit another request's statement.
 */
export const requestContext = new AsyncLocalStorage()

export class PoolTimeoutError extends Error {
  constructor(limits) {
    super(
      `Timed out waiting for a database connection: all ${limits.connectionLimit} connections of the ` +
        `pool stayed busy for ${limits.poolTimeoutMs} ms.`,
    )
  }
}

export class QueryTimeoutError extends Error {
  constructor(limits) {
    super(`Query timeout exceeded: the query ran longer than ${limits.queryTimeoutMs} ms and was cancelled.`)
  }
}

/** The database could not be reached or refused us, when the executor was set up. */
export class DatabaseConnectError extends Error {
  constructor(message, { refused, sqlState } = {}) {
    super(message)
    this.refused = Boolean(refused)
    this.sqlState = sqlState
  }
}

// What a pooled connection's default_transaction_read_only currently is: `undefined` (the
// server's default, as connected) or 'on'.
const MODE = Symbol('dpc.readOnly')

/**
 * The pool as one variant (read-write or read-only) sees it. @prisma/adapter-pg takes a pg.Pool
 * (it checks `instanceof`) and uses only `query()`, `connect()`, `on()`/`removeListener()` and
 * `end()` of it, so a view that lends the shared pool's connections in the right mode is a
 * pg.Pool subclass that overrides those. Switching a connection's mode costs one round trip, and
 * only when the connection last served the other variant.
 */
class PoolView extends pg.Pool {
  #shared
  #readOnly
  #limits

  constructor(shared, { readOnly, limits }) {
    super({ max: 1 }) // never used: every method that would touch its own clients is overridden
    this.#shared = shared
    this.#readOnly = readOnly
    this.#limits = limits
  }

  async connect() {
    let client
    try {
      client = await this.#shared.connect()
    } catch (error) {
      if (error instanceof Error && error.message === 'timeout exceeded when trying to connect') {
        throw new PoolTimeoutError(this.#limits)
      }
      throw error
    }
    const context = requestContext.getStore()
    if (context) {
      context.clients.add(client)
      const release = client.release
      client.release = (error) => {
        context.clients.delete(client)
        client.release = release
        return release(error ?? (context.cancelled ? new Error('released by a cancelled request') : undefined))
      }
    }
    const wanted = this.#readOnly ? 'on' : undefined
    if (client[MODE] !== wanted) {
      try {
        await client.query(this.#readOnly ? 'SET default_transaction_read_only = on' : 'RESET default_transaction_read_only')
        client[MODE] = wanted
      } catch (error) {
        client.release(error)
        throw error
      }
    }
    return client
  }

  async query(config, values) {
    if (typeof config === 'function' || typeof values === 'function') {
      throw new TypeError('PoolView.query: callbacks are not supported')
    }
    const client = await this.connect()
    let broken
    try {
      return await client.query(config, values)
    } catch (error) {
      // An error the server reported leaves the connection usable; anything else may not.
      if (!(error instanceof pg.DatabaseError)) broken = error
      throw error
    } finally {
      client.release(broken)
    }
  }

  async end() {
    // The shared pool belongs to the executor, which ends it once for both views.
  }
}

async function probe(pool) {
  const client = await pool.connect()
  client.release()
}

function describeConnectError(error, connection) {
  const where = `${connection.host}:${connection.port}`
  if (error instanceof pg.DatabaseError) {
    return new DatabaseConnectError(`The database at ${where} refused the connection: ${error.message}`, {
      refused: true,
      sqlState: error.code,
    })
  }
  const detail = error?.code ?? error?.cause?.code ?? error?.message ?? String(error)
  return new DatabaseConnectError(`Could not connect to the database at ${where} (${detail}).`)
}

export class Executor {
  #pool
  #cancelConfig
  #interpreter
  #variants
  #closing = null

  constructor(id, setup, pool, config) {
    this.id = id
    this.setup = setup
    this.createdAt = Date.now()
    this.lastUsed = this.createdAt
    this.inFlight = 0
    this.#pool = pool
    this.#cancelConfig = config
    // As in @prisma/query-plan-executor's App: one interpreter, no tracing.
    this.#interpreter = QueryInterpreter.forSql({ tracingHelper: noopTracingHelper })
  }

  /**
   * Build an executor and open its first connection (which also settles TLS for
   * sslmode=prefer/allow). Throws DatabaseConnectError when the database cannot be used.
   */
  static async create(id, setup, { onPoolError } = {}) {
    const plan = tlsPlan(setup.connection.sslmode)
    let tls = plan.first
    let config = poolConfig(setup, { tls })
    let pool = new pg.Pool(config)
    pool.on('error', (error) => onPoolError?.(error))
    try {
      await probe(pool)
    } catch (error) {
      await pool.end().catch(() => {})
      if (!(tls && plan.fallback && error?.message === 'The server does not support SSL connections')) {
        throw describeConnectError(error, setup.connection)
      }
      tls = false
      config = poolConfig(setup, { tls })
      pool = new pg.Pool(config)
      pool.on('error', (fallbackError) => onPoolError?.(fallbackError))
      try {
        await probe(pool)
      } catch (fallbackError) {
        await pool.end().catch(() => {})
        throw describeConnectError(fallbackError, setup.connection)
      }
    }
    const executor = new Executor(id, setup, pool, config)
    executor.tls = tls
    await executor.#connectVariants()
    return executor
  }

  async #connectVariants() {
    const { limits, schema } = this.setup
    const variant = async (readOnly) => {
      const view = new PoolView(this.#pool, { readOnly, limits })
      const adapter = await new PrismaPg(view, { schema }).connect()
      const transactionManager = new TransactionManager({
        driverAdapter: adapter,
        transactionOptions: { timeout: limits.maxTransactionTimeoutMs, maxWait: limits.maxTransactionWaitMs },
        tracingHelper: noopTracingHelper,
      })
      return { adapter, transactionManager }
    }
    this.#variants = { readWrite: await variant(false), readOnly: await variant(true) }
  }

  get closing() {
    return this.#closing !== null
  }

  get openTransactions() {
    return this.#variants.readWrite.transactionManager.transactions.size
  }

  poolStats() {
    return { total: this.#pool.totalCount, idle: this.#pool.idleCount, waiting: this.#pool.waitingCount }
  }

  connectionInfo() {
    const adapter = this.#variants.readWrite.adapter
    return { provider: adapter.provider, connectionInfo: adapter.getConnectionInfo() }
  }

  /**
   * Run a plan, as @prisma/query-plan-executor's App.query does: in the transaction `transactionId`
   * or, without one, on the pool (read-only connections when `readOnly`), under the query timeout.
   */
  async query({ plan, params, comments }, { transactionId = null, readOnly = false } = {}) {
    const { limits } = this.setup
    const variant = readOnly ? this.#variants.readOnly : this.#variants.readWrite
    const queryable =
      transactionId !== null ? await variant.transactionManager.getTransaction({ id: transactionId }, 'query') : variant.adapter
    const sqlCommenter =
      comments && Object.keys(comments).length > 0
        ? { plugins: [() => comments], queryInfo: { type: 'single', action: 'queryRaw', query: {} } }
        : undefined
    let timer
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new QueryTimeoutError(limits)), limits.queryTimeoutMs)
    })
    try {
      const result = await Promise.race([
        this.#interpreter.run(plan, {
          queryable,
          transactionManager:
            transactionId === null ? { enabled: true, manager: variant.transactionManager } : { enabled: false },
          scope: params,
          sqlCommenter,
        }),
        timeout,
      ])
      return normalizeJsonProtocolValues(result)
    } catch (error) {
      if (error instanceof QueryTimeoutError) this.cancel(requestContext.getStore())
      throw error
    } finally {
      clearTimeout(timer)
    }
  }

  startTransaction(options) {
    const { limits } = this.setup
    return this.#variants.readWrite.transactionManager.startTransaction({
      ...options,
      timeout: Math.min(options.timeout ?? Infinity, limits.maxTransactionTimeoutMs),
      maxWait: Math.min(options.maxWait ?? Infinity, limits.maxTransactionWaitMs),
    })
  }

  commitTransaction(transactionId) {
    return this.#variants.readWrite.transactionManager.commitTransaction(transactionId)
  }

  rollbackTransaction(transactionId) {
    return this.#variants.readWrite.transactionManager.rollbackTransaction(transactionId)
  }

  /**
   * Ask the server to cancel whatever the request's connections are running: a PostgreSQL
   * CancelRequest (on a new connection to the same approved address, as libpq sends it), which the
   * server ignores for a connection that is not running a statement.
   */
  cancel(context) {
    if (!context) return
    context.cancelled = true
    for (const client of context.clients) {
      if (client.processID == null || typeof client.secretKey !== 'number') continue
      const request = Buffer.alloc(16)
      request.writeInt32BE(16, 0)
      request.writeInt32BE(80877102, 4) // the CancelRequest code
      request.writeInt32BE(client.processID, 8)
      request.writeInt32BE(client.secretKey, 12)
      const socket = net.connect({ host: this.#cancelConfig.host, port: this.#cancelConfig.port })
      socket.setNoDelay(true)
      socket.on('error', () => {})
      socket.end(request)
    }
  }

  /** Roll back open transactions and close every connection. Idempotent. */
  close() {
    this.#closing ??= (async () => {
      await Promise.allSettled([
        this.#variants.readWrite.transactionManager.cancelAllTransactions(),
        this.#variants.readOnly.transactionManager.cancelAllTransactions(),
      ])
      await this.#pool.end()
    })()
    return this.#closing
  }
}
