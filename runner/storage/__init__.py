"""Run directories and their tables: the run format and its lock and ledger (rundir), reading tables (store), the result schema (schema) and SQL queries (query)."""
