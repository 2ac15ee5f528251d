-- Uploaded executor components: every version of each, with its bytes, so that every
-- node of a cluster can load it; compiled artifacts are kept on each node's disk.
CREATE TABLE executors (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    version INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    size BIGINT NOT NULL,
    imports TEXT NOT NULL,
    wasm BLOB NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (name, version)
);
