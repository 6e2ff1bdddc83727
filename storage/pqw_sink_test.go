package storage

// batchRows was the row batch of the parquet-go sink pqw replaced; the
// boundary tests keep it as one more row count to survive.
const batchRows = 256
