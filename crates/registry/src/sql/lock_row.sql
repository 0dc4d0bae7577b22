-- The stored revision of one registration, its row locked until the transaction ends.
SELECT revision FROM trawl_repositories WHERE deployment = $1 AND id = $2 FOR UPDATE
