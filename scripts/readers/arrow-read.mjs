// Reads a Hive-partitioned Parquet dataset folder (or one file) with
// parquet-wasm into Apache Arrow tables, as pandas/pyarrow would, and
// prints a JSON summary:
//   node arrow-read.mjs <dir-or-file> [rows]
//   => {"files":N,"rows":N,"schema":[{"name","type","nullable"}],
//       "nulls":{col:N},"partitions":{"date":[…],"symbol":[…]},"head":[…]}
// Files whose names start with "." or "_" are skipped (pyarrow's rule);
// partition values come from "key=value" folders, percent-decoded.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, basename, sep } from 'node:path';
import { readParquet } from 'parquet-wasm/node';
import { tableFromIPC } from 'apache-arrow';

const root = process.argv[2];
const headN = Number(process.argv[3] ?? 3);
if (!root) {
  console.error('usage: node arrow-read.mjs <dir-or-file> [rows]');
  process.exit(2);
}

function walk(p, out) {
  const st = statSync(p);
  if (st.isFile()) {
    out.push(p);
    return;
  }
  for (const name of readdirSync(p).sort()) {
    if (name.startsWith('.') || name.startsWith('_')) continue;
    const q = join(p, name);
    if (statSync(q).isDirectory()) walk(q, out);
    else if (name.endsWith('.parquet')) out.push(q);
  }
}

function partitionsOf(file) {
  const parts = {};
  for (const seg of file.split(sep)) {
    const i = seg.indexOf('=');
    if (i > 0) parts[seg.slice(0, i)] = decodeURIComponent(seg.slice(i + 1));
  }
  return parts;
}

function plain(v) {
  if (typeof v === 'bigint') return v.toString();
  if (v && typeof v.toArray === 'function') return Array.from(v.toArray(), plain);
  if (ArrayBuffer.isView(v)) return Array.from(v, plain);
  return v ?? null;
}

try {
  const files = [];
  walk(root, files);
  let rows = 0;
  let schema = null;
  const nulls = {};
  const partitions = {};
  const head = [];
  for (const f of files) {
    const wasmTable = readParquet(new Uint8Array(readFileSync(f)));
    const table = tableFromIPC(wasmTable.intoIPCStream());
    rows += table.numRows;
    if (!schema) {
      schema = table.schema.fields.map((fl) => ({ name: fl.name, type: String(fl.type), nullable: fl.nullable }));
    }
    for (const fl of table.schema.fields) {
      nulls[fl.name] = (nulls[fl.name] ?? 0) + table.getChild(fl.name).nullCount;
    }
    const parts = partitionsOf(f);
    for (const [k, v] of Object.entries(parts)) {
      partitions[k] ??= [];
      if (!partitions[k].includes(v)) partitions[k].push(v);
    }
    for (let i = 0; i < table.numRows && head.length < headN; i++) {
      const row = {};
      for (const fl of table.schema.fields) row[fl.name] = plain(table.getChild(fl.name).get(i));
      Object.assign(row, parts);
      head.push(row);
    }
  }
  process.stdout.write(JSON.stringify({ files: files.length, rows, schema, nulls, partitions, head }) + '\n');
} catch (err) {
  console.error(`arrow: ${err.message}`);
  process.exit(1);
}
