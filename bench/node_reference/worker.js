// The worker process: a BullMQ Worker running ORDER_CONCURRENCY orders at
// once. Each status is one statement (the order's UPDATE and its history row
// together) and one PUBLISH. The two pools live in this process's memory.
import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import bs58 from "bs58";
import { Worker } from "bullmq";
import Redis from "ioredis";
import { config, db, QUEUE, STATUS_CHANNEL } from "./common.js";

const redis = new Redis(config.redisUrl);

// Constant-product pools quoted in USDC and USDT per SOL; a swap moves them.
const POOLS = {
  raydium: { feeBps: 25, reserves: { SOL: 200_000, USDC: 30_000_000, USDT: 30_000_000 } },
  meteora: { feeBps: 20, reserves: { SOL: 120_000, USDC: 18_030_000, USDT: 18_010_000 } },
};

function quote(dex, tokenIn, tokenOut, amount) {
  const pool = POOLS[dex];
  const reserveIn = pool.reserves[tokenIn];
  const reserveOut = pool.reserves[tokenOut];
  const afterFee = amount * (1 - pool.feeBps / 10_000);
  const amountOut = (reserveOut * afterFee) / (reserveIn + afterFee);
  const spot = reserveOut / reserveIn;
  const priceImpactBps = Math.round((1 - amountOut / amount / spot) * 10_000);
  return { dex, amountOut, priceImpactBps, feeBps: pool.feeBps };
}

function swap(dex, tokenIn, tokenOut, amount) {
  const { amountOut } = quote(dex, tokenIn, tokenOut, amount);
  POOLS[dex].reserves[tokenIn] += amount;
  POOLS[dex].reserves[tokenOut] -= amountOut;
  return amountOut;
}

function swapLatency() {
  const [low, high] = config.swapLatencyMs;
  return low + Math.random() * (high - low);
}

const fixed = (value) => value.toFixed(6);

// One statement a status: it moves the order unless it has ended already.
async function transition(orderId, attempt, status, fields = {}) {
  const at = new Date();
  await db.query({
    name: "transition",
    text: `WITH moved AS (
             UPDATE orders SET status = $2, updated_at = $3, attempt = $4,
               dex = COALESCE($5, dex), quotes = COALESCE($6, quotes),
               expected_amount_out = COALESCE($7, expected_amount_out),
               min_amount_out = COALESCE($8, min_amount_out), tx_hash = COALESCE($9, tx_hash),
               amount_out = COALESCE($10, amount_out), executed_price = COALESCE($11, executed_price),
               error = COALESCE($12, error), error_code = COALESCE($13, error_code)
             WHERE id = $1 AND status NOT IN ('confirmed', 'failed', 'cancelled') RETURNING id)
           INSERT INTO order_events (order_id, status, at) SELECT id, $2, $3 FROM moved`,
    values: [
      orderId, status, at, attempt, fields.dex ?? null,
      fields.quotes ? JSON.stringify(fields.quotes) : null, fields.expectedAmountOut ?? null,
      fields.minAmountOut ?? null, fields.txHash ?? null, fields.amountOut ?? null,
      fields.executedPrice ?? null, fields.error ?? null, fields.errorCode ?? null,
    ],
  });
  const message = { type: "status", orderId, status, at: at.toISOString(), attempt, ...fields };
  await redis.publish(STATUS_CHANNEL, JSON.stringify(message));
}

async function execute(job) {
  const { orderId, tokenIn, tokenOut, slippageBps } = job.data;
  const amount = Number(job.data.amount);
  const attempt = job.attemptsMade + 1;
  try {
    await transition(orderId, attempt, "routing");
    if (config.quoteLatencyMs > 0) await sleep(config.quoteLatencyMs);
    const quotes = Object.keys(POOLS).map((dex) => quote(dex, tokenIn, tokenOut, amount));
    const best = quotes.reduce((a, b) => (b.amountOut > a.amountOut ? b : a));
    const minAmountOut = best.amountOut * (1 - slippageBps / 10_000);
    await transition(orderId, attempt, "building", {
      dex: best.dex,
      quotes: quotes.map((q) => ({ ...q, amountOut: fixed(q.amountOut) })),
      expectedAmountOut: fixed(best.amountOut),
      minAmountOut: fixed(minAmountOut),
    });
    const txHash = bs58.encode(randomBytes(64));
    await transition(orderId, attempt, "submitted", { txHash });
    const latency = swapLatency();
    if (latency > 0) await sleep(latency);
    const amountOut = swap(best.dex, tokenIn, tokenOut, amount);
    if (amountOut < minAmountOut) {
      const error = `Price moved beyond ${slippageBps} bps of slippage.`;
      await transition(orderId, attempt, "failed", { error, errorCode: "slippage_exceeded" });
      return;
    }
    await transition(orderId, attempt, "confirmed", {
      txHash,
      dex: best.dex,
      amountOut: fixed(amountOut),
      executedPrice: fixed(amountOut / amount),
    });
  } catch (error) {
    if (attempt < job.opts.attempts) throw error;
    await transition(orderId, attempt, "failed", { error: String(error), errorCode: "dex_unavailable" });
  }
}

const worker = new Worker(QUEUE, execute, {
  connection: new Redis(config.redisUrl, { maxRetriesPerRequest: null }),
  concurrency: config.concurrency,
});

for (const signal of ["SIGINT", "SIGTERM"]) {
  process.once(signal, async () => {
    await worker.close();
    process.exit(0);
  });
}
