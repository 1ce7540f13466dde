// What the API and the worker share: configuration (the engine's variable
// names and defaults), the database, the status channel and the wire shape.
import pg from "pg";

export const config = {
  host: process.env.HOST ?? "127.0.0.1",
  port: Number(process.env.PORT ?? 8000),
  databaseUrl: process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/node_reference",
  redisUrl: process.env.REDIS_URL ?? "redis://127.0.0.1:6379/13",
  concurrency: Number(process.env.ORDER_CONCURRENCY ?? 10),
  quoteLatencyMs: Number(process.env.MOCK_QUOTE_LATENCY_MS ?? 200),
  swapLatencyMs: parseRange(process.env.MOCK_SWAP_LATENCY_MS ?? "2000-3000"),
};

function parseRange(text) {
  const [low, high] = text.split("-").map(Number);
  return [low, high ?? low];
}

export const QUEUE = "orders";
// One channel for every status change: the API is one process, so it
// subscribes once and hands each message to the sockets of its order.
export const STATUS_CHANNEL = "order-status";
export const TERMINAL = new Set(["confirmed", "failed", "cancelled"]);

// Numeric columns come back as strings, which is what the wire wants.
export const db = new pg.Pool({ connectionString: config.databaseUrl, max: 10 });

export const SCHEMA = `
CREATE TABLE IF NOT EXISTS orders (
  id uuid PRIMARY KEY,
  type text NOT NULL,
  token_in text NOT NULL,
  token_out text NOT NULL,
  amount numeric NOT NULL,
  slippage_bps integer NOT NULL,
  status text NOT NULL,
  dex text,
  quotes jsonb,
  expected_amount_out numeric,
  min_amount_out numeric,
  amount_out numeric,
  executed_price numeric,
  tx_hash text,
  attempt integer NOT NULL DEFAULT 1,
  error text,
  error_code text,
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL
);
CREATE TABLE IF NOT EXISTS order_events (
  id bigserial PRIMARY KEY,
  order_id uuid NOT NULL REFERENCES orders (id),
  status text NOT NULL,
  at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS order_events_order ON order_events (order_id, id);
`;

export function orderJson(row, history) {
  return {
    orderId: row.id,
    type: row.type,
    tokenIn: row.token_in,
    tokenOut: row.token_out,
    amount: row.amount,
    slippageBps: row.slippage_bps,
    status: row.status,
    dex: row.dex,
    quotes: row.quotes,
    expectedAmountOut: row.expected_amount_out,
    minAmountOut: row.min_amount_out,
    amountOut: row.amount_out,
    executedPrice: row.executed_price,
    txHash: row.tx_hash,
    attempt: row.attempt,
    error: row.error,
    errorCode: row.error_code,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
    history: history.map((event) => ({ status: event.status, at: event.at.toISOString() })),
  };
}
