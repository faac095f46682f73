// The setup call's body, checked field by field, and turned into a `pg` pool configuration.
//
// The gateway resolves the user's database host, checks the address against the SSRF rules
// (DESIGN.md section 6) and sends both: `host` (the name the user wrote) and `hostaddr` (the
// approved IP address). The sidecar connects to `hostaddr` only and never resolves a name, so a
// second DNS answer cannot send it elsewhere; TLS uses `host` as the server name (SNI) and, with
// sslmode=verify-full, checks the certificate against it.

import net from 'node:net'

export class SetupError extends Error {}

const SSL_MODES = new Set(['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'])

// libpq keywords, as `ConnectionString.connect_kwargs()` on the Python side produces them.
// Each either maps to a `pg` option or is meaningless here and accepted as such (see docs).
const CONNECTION_KEYS = new Set([
  'host',
  'hostaddr',
  'port',
  'dbname',
  'user',
  'password',
  'sslmode',
  'sslnegotiation',
  'application_name',
  'options',
  'channel_binding',
  'connect_timeout',
  'keepalives',
  'keepalives_idle',
  // No file or environment is ever read by the sidecar; these libpq switches that say so
  // are accepted so that the gateway can pass libpq's keyword set unchanged.
  'passfile',
  'sslcertmode',
  'gssencmode',
  'sslrootcert',
  // No equivalent in Node's `pg`; accepted and ignored.
  'keepalives_interval',
  'keepalives_count',
  'tcp_user_timeout',
])

const LIMIT_KEYS = {
  connectionLimit: { min: 1, max: 1000 },
  poolTimeoutMs: { min: 1, max: 600_000 },
  queryTimeoutMs: { min: 1, max: 3_600_000 },
  maxResponseBytes: { min: 1, max: 1 << 30 },
  maxTransactionTimeoutMs: { min: 1, max: 3_600_000 },
  maxTransactionWaitMs: { min: 1, max: 600_000 },
}

const DEFAULT_LIMITS = {
  connectionLimit: 10,
  poolTimeoutMs: 10_000,
  queryTimeoutMs: 10_000,
  maxResponseBytes: 5 * 1024 * 1024,
  maxTransactionTimeoutMs: 15_000,
  maxTransactionWaitMs: 5_000,
}

function isObject(value) {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function text(connection, key, { required = false } = {}) {
  const value = connection[key]
  if (value === undefined || value === null) {
    if (required) throw new SetupError(`connection.${key} is required`)
    return undefined
  }
  if (typeof value !== 'string') throw new SetupError(`connection.${key} must be a string`)
  if (value.includes('\0')) throw new SetupError(`connection.${key} must not contain NUL`)
  return value
}

function integer(value, name, { min, max }) {
  const number = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value
  if (!Number.isInteger(number) || number < min || number > max) {
    throw new SetupError(`${name} must be an integer from ${min} to ${max}`)
  }
  return number
}

/**
 * Check a setup body; answer `{clientVersion, schema, limits, connection}` with `connection`
 * normalised (libpq keywords, validated) or throw SetupError with a message safe to show
 * (it never contains the password).
 */
export function parseSetup(body) {
  if (!isObject(body)) throw new SetupError('the body must be a JSON object')
  const unknown = Object.keys(body).filter(
    (key) => !['clientVersion', 'connection', 'schema', 'limits'].includes(key),
  )
  if (unknown.length) throw new SetupError(`unknown field(s): ${unknown.join(', ')}`)
  if (typeof body.clientVersion !== 'string' || !body.clientVersion) {
    throw new SetupError('clientVersion is required (the Prisma-Engine-Hash the client sent)')
  }
  if (body.schema !== undefined && body.schema !== null && typeof body.schema !== 'string') {
    throw new SetupError('schema must be a string or null')
  }

  const limits = { ...DEFAULT_LIMITS }
  if (body.limits !== undefined) {
    if (!isObject(body.limits)) throw new SetupError('limits must be an object')
    for (const [key, value] of Object.entries(body.limits)) {
      if (!(key in LIMIT_KEYS)) throw new SetupError(`unknown limit: ${key}`)
      limits[key] = integer(value, `limits.${key}`, LIMIT_KEYS[key])
    }
  }

  const connection = body.connection
  if (!isObject(connection)) throw new SetupError('connection must be an object of libpq keywords')
  const unknownKeys = Object.keys(connection).filter((key) => !CONNECTION_KEYS.has(key))
  if (unknownKeys.length) {
    throw new SetupError(`unsupported connection keyword(s): ${unknownKeys.join(', ')}`)
  }
  const host = text(connection, 'host', { required: true })
  if (host.includes(',') || host.startsWith('/')) {
    throw new SetupError('connection.host must be one host name or address (no lists, no socket paths)')
  }
  const hostaddr = text(connection, 'hostaddr', { required: true })
  if (net.isIP(hostaddr) === 0) {
    throw new SetupError('connection.hostaddr must be the IP address the gateway approved')
  }
  const user = text(connection, 'user', { required: true })
  if (!user) throw new SetupError('connection.user must not be empty')
  const sslmode = text(connection, 'sslmode') ?? 'prefer'
  if (!SSL_MODES.has(sslmode)) throw new SetupError(`connection.sslmode must be one of ${[...SSL_MODES].join(', ')}`)
  const sslrootcert = text(connection, 'sslrootcert')
  if (sslrootcert !== undefined && sslrootcert !== 'system') {
    throw new SetupError('connection.sslrootcert may only be "system" (the sidecar reads no certificate files)')
  }
  const sslnegotiation = text(connection, 'sslnegotiation')
  if (sslnegotiation !== undefined && !['postgres', 'direct'].includes(sslnegotiation)) {
    throw new SetupError('connection.sslnegotiation must be postgres or direct')
  }
  if (sslnegotiation === 'direct' && ['disable', 'allow', 'prefer'].includes(sslmode)) {
    throw new SetupError('connection.sslnegotiation=direct needs sslmode require, verify-ca or verify-full')
  }
  const channelBinding = text(connection, 'channel_binding')
  if (channelBinding !== undefined && !['disable', 'prefer', 'require'].includes(channelBinding)) {
    throw new SetupError('connection.channel_binding must be disable, prefer or require')
  }
  if (channelBinding === 'require') {
    // Node's pg offers SCRAM-SHA-256-PLUS when the server does, but cannot refuse a server that
    // does not: saying "require" and not enforcing it would be worse than refusing.
    throw new SetupError('connection.channel_binding=require cannot be enforced by the executor (use prefer)')
  }
  const keepalives = connection.keepalives === undefined ? 1 : integer(connection.keepalives, 'connection.keepalives', { min: 0, max: 1 })
  const keepalivesIdle =
    connection.keepalives_idle === undefined
      ? undefined
      : integer(connection.keepalives_idle, 'connection.keepalives_idle', { min: 0, max: 86_400 })
  const connectTimeout =
    connection.connect_timeout === undefined
      ? undefined
      : integer(connection.connect_timeout, 'connection.connect_timeout', { min: 0, max: 3_600 })

  return {
    clientVersion: body.clientVersion,
    schema: body.schema ?? undefined,
    limits,
    connection: {
      host,
      hostaddr,
      port: connection.port === undefined ? 5432 : integer(connection.port, 'connection.port', { min: 1, max: 65535 }),
      dbname: text(connection, 'dbname') || user,
      user,
      password: text(connection, 'password') ?? '',
      sslmode,
      sslnegotiation,
      channelBinding: channelBinding ?? 'prefer',
      applicationName: text(connection, 'application_name'),
      options: text(connection, 'options'),
      keepalives,
      keepalivesIdle,
      connectTimeout,
    },
  }
}

/**
 * TLS options for `pg` (false: no TLS). `servername` is the user's host name, since the socket
 * goes to the pinned IP address: SNI and the certificate check must still see the name.
 * Certificates are checked against Node's bundled CAs (plus NODE_EXTRA_CA_CERTS), the
 * counterpart of libpq's sslrootcert=system.
 */
export function tlsOptions(connection, { tls }) {
  if (!tls) return false
  const servername = net.isIP(connection.host) === 0 ? connection.host : undefined
  switch (connection.sslmode) {
    case 'verify-full':
      return { servername, rejectUnauthorized: true }
    case 'verify-ca':
      // The chain must be trusted; the name is not checked (libpq's verify-ca).
      return { servername, rejectUnauthorized: true, checkServerIdentity: () => undefined }
    default:
      // allow, prefer, require: encrypted, certificate not checked (libpq without a root certificate).
      return { servername, rejectUnauthorized: false }
  }
}

/** A `pg.Pool` configuration for the parsed setup. `tls` says whether to use TLS at all. */
export function poolConfig(setup, { tls }) {
  const { connection, limits } = setup
  const password = connection.password
  const config = {
    host: connection.hostaddr,
    port: connection.port,
    database: connection.dbname,
    user: connection.user,
    // A function, so that `pg` never falls back to PGPASSWORD or ~/.pgpass.
    password: () => password,
    ssl: tlsOptions(connection, { tls }),
    max: limits.connectionLimit,
    // pg-pool uses this both to wait for a free connection and to open a new one.
    connectionTimeoutMillis: limits.poolTimeoutMs,
    idleTimeoutMillis: 30_000,
    // Every statement is cancelled by the server once the query timeout has passed.
    statement_timeout: limits.queryTimeoutMs,
    keepAlive: connection.keepalives === 1,
    keepAliveInitialDelayMillis: (connection.keepalivesIdle ?? 0) * 1000,
    application_name: connection.applicationName ?? 'dpc-accelerate',
    options: connection.options,
    enableChannelBinding: Boolean(tls) && connection.channelBinding !== 'disable',
  }
  if (connection.sslnegotiation) config.sslnegotiation = connection.sslnegotiation
  return config
}

/** Whether to try TLS first for this sslmode, and whether plain TCP is an acceptable fallback. */
export function tlsPlan(sslmode) {
  switch (sslmode) {
    case 'disable':
      return { first: false, fallback: false }
    case 'allow':
    case 'prefer':
      return { first: true, fallback: true }
    default:
      return { first: true, fallback: false }
  }
}
