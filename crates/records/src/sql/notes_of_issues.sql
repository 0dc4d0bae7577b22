-- The ids of the notes on the given issues.
SELECT id FROM notes WHERE noteable_type = 'issue' AND noteable_id = ANY($1::bigint[])
