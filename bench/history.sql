-- A history of :n market orders, placed (pending) and confirmed as the engine
-- does it (an insert, then an update of the status), for a PostgreSQL
-- database that is not vacuumed afterwards: what admission and the backlog
-- count read through on a server with autovacuum off, or behind.
--   psql -h 127.0.0.1 -U postgres -d bench -v n=300000 -f bench/history.sql
-- after `manage.py migrate` on that database, before `python -m bench`.
insert into orders_order (
    id, type, token_in, token_out, amount, slippage_bps, status, dex, quotes, route,
    tx_hash, attempt, error, error_code, request_fingerprint, created_at, updated_at
)
select gen_random_uuid(), 'market', 'SOL', 'USDC', 1, 50, 'pending', '', '[]', '{}',
       '', 1, '', '', '', now() - interval '1 day' + g * interval '1 ms', now()
from generate_series(1, :n) as g;
update orders_order set status = 'confirmed', dex = 'raydium' where status = 'pending';
