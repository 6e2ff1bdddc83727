#!/usr/bin/env python3
"""pandas: quotes joined with the gap rows of the same symbol.

Usage: python3 scripts/examples/quotes_with_gaps.py [DATASET_ROOT]   (default ./data)
Needs pandas and pyarrow (pip install pandas pyarrow).
"""
import json
import sys

import pandas as pd

root = sys.argv[1] if len(sys.argv) > 1 else "./data"

# date and symbol come from the folder names (Hive partitioning).
quotes = pd.read_parquet(f"{root}/quotes")
events = pd.read_parquet(f"{root}/events")
quotes["symbol"] = quotes["symbol"].astype(str)
events["symbol"] = events["symbol"].astype(str)

gaps = events[events["kind"] == "gap"][["symbol", "gap_start", "gap_end", "reason", "detail"]].copy()
gaps["tables"] = gaps["detail"].map(lambda d: json.loads(d).get("tables"))
gaps["length"] = gaps["gap_end"] - gaps["gap_start"]
print("gaps:")
print(gaps.drop(columns="detail").sort_values(["symbol", "gap_start"]).to_string(index=False))

# For each quote, the gap (if any) that ended since the symbol's previous quote:
# an as-of join on gap_end.
quotes = quotes.sort_values(["recv_ts"])
quotes["prev_recv_ts"] = quotes.sort_values("seq").groupby("symbol")["recv_ts"].shift()
joined = pd.merge_asof(
    quotes, gaps.sort_values("gap_end"),
    left_on="recv_ts", right_on="gap_end", by="symbol", direction="backward",
)
after_gap = joined[joined["gap_end"].notna() & (joined["prev_recv_ts"].isna() | (joined["gap_end"] > joined["prev_recv_ts"]))]
print("\nfirst quote after each gap:")
print(after_gap[["symbol", "recv_ts", "bid_price", "ask_price", "reason", "gap_start", "gap_end"]].to_string(index=False))

summary = quotes.groupby("symbol").agg(quotes=("seq", "size"), first=("recv_ts", "min"), last=("recv_ts", "max"))
summary["gaps"] = gaps.groupby("symbol").size()
summary["gap_time"] = gaps.groupby("symbol")["length"].sum()
print("\nper symbol:")
print(summary.fillna(0).to_string())
