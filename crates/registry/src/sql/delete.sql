-- One registration (its readers go with it).
DELETE FROM trawl_repositories WHERE deployment = $1 AND id = $2 RETURNING id
