-- Readiness: the server accepts a session and answers a query.
SELECT 1
