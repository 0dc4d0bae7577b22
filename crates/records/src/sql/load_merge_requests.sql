-- Merge requests by id with their project's repository and the author's user name;
-- prose cut to $2/$3 characters (the renderer cuts to bytes), with the full size in bytes.
-- Timestamps that are infinite or outside the years 1 to 9999 come back NULL: that row
-- is refused (failed on the queue), the rest of the batch is written.
SELECT m.id,
       m.project_id,
       p.repo_id,
       m.iid,
       left(m.title, $2) AS title,
       left(m.description, $3) AS description,
       octet_length(m.description)::bigint AS description_bytes,
       left(m.source_branch, $2) AS source_branch,
       left(m.target_branch, $2) AS target_branch,
       m.state,
       m.labels,
       u.username AS author,
       CASE WHEN m.created_at BETWEEN '0001-01-01' AND '9999-12-31' THEN (extract(epoch FROM m.created_at) * 1000000)::bigint END AS created_us,
       CASE WHEN m.updated_at BETWEEN '0001-01-01' AND '9999-12-31' THEN (extract(epoch FROM m.updated_at) * 1000000)::bigint END AS updated_us
FROM merge_requests m
JOIN projects p ON p.id = m.project_id
JOIN users u ON u.id = m.author_id
WHERE m.id = ANY($1::bigint[])
