-- The readers of one registration, from an array.
INSERT INTO trawl_repository_readers (deployment, repo_id, principal)
SELECT $1, $2, unnest($3::text[])
