-- Marks the repositories $2 as possibly having code documents; rows marked already are
-- left alone (no reader rewrite), ids not registered are skipped.
UPDATE trawl_repositories SET documented = true
 WHERE deployment = $1 AND id = ANY($2::text[]) AND NOT documented
