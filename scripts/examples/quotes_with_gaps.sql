-- DuckDB: quotes next to the gaps that may hide missing data.
-- Run: duckdb -c ".read scripts/examples/quotes_with_gaps.sql"  (from the folder holding ./data)
-- or set the root: sed 's#./data#/var/lib/mdcap/data#g' ... | duckdb

-- 1. Rows per symbol and day.
SELECT symbol, date, count(*) AS quotes, min(recv_ts) AS first, max(recv_ts) AS last
FROM read_parquet('./data/quotes/**/*.parquet', hive_partitioning = true)
GROUP BY ALL ORDER BY ALL;

-- 2. Every gap with its reason, length and the tables it concerns.
SELECT symbol, reason, gap_start, gap_end, gap_end - gap_start AS length,
       json_extract_string(detail, '$.tables') AS tables
FROM read_parquet('./data/events/**/*.parquet', hive_partitioning = true)
WHERE kind = 'gap'
ORDER BY symbol, gap_start;

-- 3. Quotes joined with gap rows: for each quote, whether the stretch of
--    time before it (since the previous quote) crosses a recorded gap.
WITH q AS (
    SELECT symbol, recv_ts, bid_price, ask_price, seq,
           lag(recv_ts) OVER (PARTITION BY symbol ORDER BY seq) AS prev_recv_ts
    FROM read_parquet('./data/quotes/**/*.parquet', hive_partitioning = true)
), g AS (
    SELECT symbol, gap_start, gap_end, reason
    FROM read_parquet('./data/events/**/*.parquet', hive_partitioning = true)
    WHERE kind = 'gap'
)
SELECT q.symbol, q.recv_ts, q.bid_price, q.ask_price,
       g.reason AS gap_reason, g.gap_start, g.gap_end
FROM q LEFT JOIN g
  ON g.symbol = q.symbol AND g.gap_end <= q.recv_ts AND g.gap_end > coalesce(q.prev_recv_ts, g.gap_start)
ORDER BY q.symbol, q.recv_ts;

-- 4. Best bid/offer of the DOM, and the DOM rows that follow a gap.
SELECT symbol, recv_ts, bid_prices[1] AS best_bid, ask_prices[1] AS best_ask,
       len(bid_prices) AS bid_levels
FROM read_parquet('./data/dom/**/*.parquet', hive_partitioning = true)
ORDER BY symbol, seq
LIMIT 20;
