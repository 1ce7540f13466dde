// The API process: Fastify for REST, @fastify/websocket for the order feeds.
// Placing an order is one INSERT, one BullMQ job and one PUBLISH; the worker
// process does the rest. Status messages arrive on one Redis subscription.
import { randomUUID } from "node:crypto";
import websocket from "@fastify/websocket";
import { Queue } from "bullmq";
import Fastify from "fastify";
import Redis from "ioredis";
import { config, db, orderJson, QUEUE, SCHEMA, STATUS_CHANNEL, TERMINAL } from "./common.js";

const TOKENS = { SOL: 9, USDC: 6, USDT: 6 };
const MAX_AMOUNT = 1_000_000;
const ORDER_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const redis = new Redis(config.redisUrl);
const subscriber = new Redis(config.redisUrl);
const queue = new Queue(QUEUE, {
  connection: new Redis(config.redisUrl, { maxRetriesPerRequest: null }),
  defaultJobOptions: {
    attempts: 3,
    backoff: { type: "exponential", delay: 100 },
    removeOnComplete: true,
    removeOnFail: 1000,
  },
});

// orderId -> the sockets following it; and the sockets following every order.
const watchers = new Map();
const feed = new Set();

subscriber.subscribe(STATUS_CHANNEL);
subscriber.on("message", (_channel, raw) => {
  const message = JSON.parse(raw);
  for (const socket of feed) socket.send(raw);
  const following = watchers.get(message.orderId);
  if (following) for (const watcher of following) watcher.deliver(message, raw);
});

function invalid(reply, fields) {
  const names = Object.keys(fields).join(", ");
  return reply.code(400).send({ error: `Invalid order: ${names}.`, fields });
}

function validate(body) {
  const fields = {};
  const tokenIn = body.tokenIn ?? "SOL";
  const tokenOut = body.tokenOut ?? "USDC";
  const amountText = typeof body.amount === "number" ? String(body.amount) : body.amount;
  if (!(tokenIn in TOKENS)) fields.tokenIn = ["Unknown token."];
  if (!(tokenOut in TOKENS)) fields.tokenOut = ["Unknown token."];
  if (tokenIn === tokenOut) fields.tokenOut = ["Must differ from tokenIn."];
  if (typeof amountText !== "string" || !/^\d+(\.\d+)?$/.test(amountText)) {
    fields.amount = ["A positive decimal number is required."];
  } else {
    const decimals = (amountText.split(".")[1] ?? "").length;
    const amount = Number(amountText);
    if (!(amount > 0)) fields.amount = ["Must be greater than 0."];
    else if (amount > MAX_AMOUNT) fields.amount = [`At most ${MAX_AMOUNT}.`];
    else if (tokenIn in TOKENS && decimals > TOKENS[tokenIn]) fields.amount = ["Too many decimals."];
  }
  const slippageBps = body.slippageBps ?? 50;
  if (!Number.isInteger(slippageBps) || slippageBps < 0 || slippageBps > 10000) {
    fields.slippageBps = ["An integer from 0 to 10000."];
  }
  if ((body.type ?? "market") !== "market") fields.type = ["Only market orders are supported."];
  return { fields, order: { tokenIn, tokenOut, amount: amountText, slippageBps } };
}

async function readOrder(orderId) {
  const { rows } = await db.query({
    name: "order-with-history",
    text: `SELECT o.*, e.status AS event_status, e.at AS event_at
           FROM orders o LEFT JOIN order_events e ON e.order_id = o.id
           WHERE o.id = $1 ORDER BY e.id`,
    values: [orderId],
  });
  if (rows.length === 0) return null;
  const history = rows.filter((row) => row.event_status).map((row) => ({ status: row.event_status, at: row.event_at }));
  return orderJson(rows[0], history);
}

const app = Fastify({ logger: false, bodyLimit: 64 * 1024 });
await app.register(websocket);

app.post("/api/orders/execute", async (request, reply) => {
  const { fields, order } = validate(request.body ?? {});
  if (Object.keys(fields).length) return invalid(reply, fields);
  const orderId = randomUUID();
  const at = new Date();
  await db.query({
    name: "place-order",
    text: `WITH placed AS (
             INSERT INTO orders (id, type, token_in, token_out, amount, slippage_bps, status, created_at, updated_at)
             VALUES ($1, 'market', $2, $3, $4, $5, 'pending', $6, $6) RETURNING id)
           INSERT INTO order_events (order_id, status, at) SELECT id, 'pending', $6 FROM placed`,
    values: [orderId, order.tokenIn, order.tokenOut, order.amount, order.slippageBps, at],
  });
  await queue.add("execute", { orderId, ...order }, { jobId: orderId });
  const message = { type: "status", orderId, status: "pending", at: at.toISOString(), attempt: 1, ...order };
  redis.publish(STATUS_CHANNEL, JSON.stringify(message));
  const wsUrl = `ws://${request.headers.host}/ws/orders/${orderId}`;
  return reply.code(202).send({ orderId, status: "pending", wsUrl });
});

app.get("/api/orders/:orderId", async (request, reply) => {
  const { orderId } = request.params;
  const order = ORDER_ID.test(orderId) ? await readOrder(orderId) : null;
  if (!order) return reply.code(404).send({ error: "No such order." });
  return order;
});

app.get("/api/health", async (_request, reply) => {
  const [database, cache, workers] = await Promise.all([
    db.query("SELECT 1").then(() => "ok", () => "down"),
    redis.ping().then(() => "ok", () => "down"),
    queue.getWorkersCount().catch(() => 0),
  ]);
  const healthy = database === "ok" && cache === "ok" && workers > 0;
  return reply.code(healthy ? 200 : 503).send({ database, redis: cache, workers });
});

app.get("/ws/orders", { websocket: true }, (socket) => {
  feed.add(socket);
  socket.on("close", () => feed.delete(socket));
});

// A snapshot first, then each status as it comes, then close after the
// terminal one. Statuses published while the snapshot is read are held back,
// and dropped when the snapshot already has them.
app.get("/ws/orders/:orderId", { websocket: true }, async (socket, request) => {
  const { orderId } = request.params;
  if (!ORDER_ID.test(orderId)) return socket.close(4404, "unknown order");
  const held = [];
  const watcher = { deliver: (message, raw) => held.push([message, raw]) };
  let following = watchers.get(orderId);
  if (!following) watchers.set(orderId, (following = new Set()));
  following.add(watcher);
  const forget = () => {
    following.delete(watcher);
    if (following.size === 0 && watchers.get(orderId) === following) watchers.delete(orderId);
  };
  socket.on("close", forget);
  const snapshot = await readOrder(orderId);
  if (!snapshot) {
    forget();
    return socket.close(4404, "unknown order");
  }
  socket.send(JSON.stringify({ ...snapshot, type: "snapshot" }));
  const finish = () => {
    forget();
    socket.close(1000);
  };
  if (TERMINAL.has(snapshot.status)) return finish();
  const known = new Set(snapshot.history.map((entry) => `${entry.status}@${entry.at}`));
  watcher.deliver = (message, raw) => {
    if (known.has(`${message.status}@${message.at}`)) return;
    socket.send(raw);
    if (TERMINAL.has(message.status)) finish();
  };
  for (const [message, raw] of held) watcher.deliver(message, raw);
});

await db.query(SCHEMA);
await app.listen({ host: config.host, port: config.port });
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.once(signal, async () => {
    await app.close();
    await queue.close();
    process.exit(0);
  });
}
