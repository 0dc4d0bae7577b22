-- Whether the database named by $1 exists.
SELECT 1 FROM pg_database WHERE datname = $1
