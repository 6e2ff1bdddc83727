// Runs one SQL statement with DuckDB and prints the result as JSON:
//   node duckdb-query.mjs "<sql>"
//   => {"columns":[{"name":…,"type":…}],"rows":[{…},…]}
// Values are DuckDB's JSON forms: BIGINT and TIMESTAMP as strings, lists
// as arrays, NULL as null. Used by mdcap's tests and handy by hand.
import { DuckDBInstance } from '@duckdb/node-api';

const sql = process.argv[2];
if (!sql) {
  console.error('usage: node duckdb-query.mjs "<sql>"');
  process.exit(2);
}
try {
  const instance = await DuckDBInstance.create(':memory:');
  const conn = await instance.connect();
  // Timestamps print in UTC whatever the machine's zone.
  await conn.run("SET TimeZone = 'UTC'");
  const reader = await conn.runAndReadAll(sql);
  const names = reader.columnNames();
  const types = reader.columnTypes();
  const columns = names.map((name, i) => ({ name, type: types[i].toString() }));
  process.stdout.write(JSON.stringify({ columns, rows: reader.getRowObjectsJson() }) + '\n');
  conn.closeSync?.();
} catch (err) {
  console.error(`duckdb: ${err.message}`);
  process.exit(1);
}
