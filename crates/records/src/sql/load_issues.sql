-- Issues by id with their project's repository, the author's and assignees' user names;
-- prose cut to $2 characters (the renderer cuts to bytes), with its full size in bytes.
-- Timestamps that are infinite or outside the years 1 to 9999 come back NULL: that row
-- is refused (failed on the queue), the rest of the batch is written.
SELECT i.id,
       i.project_id,
       p.repo_id,
       i.iid,
       left(i.title, $2) AS title,
       left(i.description, $3) AS description,
       octet_length(i.description)::bigint AS description_bytes,
       i.state,
       i.labels,
       u.username AS author,
       i.confidential,
       coalesce((SELECT array_agg(au.username ORDER BY au.username)
                 FROM issue_assignees a
                 JOIN users au ON au.id = a.user_id
                 WHERE a.issue_id = i.id), '{}') AS assignees,
       CASE WHEN i.created_at BETWEEN '0001-01-01' AND '9999-12-31' THEN (extract(epoch FROM i.created_at) * 1000000)::bigint END AS created_us,
       CASE WHEN i.updated_at BETWEEN '0001-01-01' AND '9999-12-31' THEN (extract(epoch FROM i.updated_at) * 1000000)::bigint END AS updated_us
FROM issues i
JOIN projects p ON p.id = i.project_id
JOIN users u ON u.id = i.author_id
WHERE i.id = ANY($1::bigint[])
