-- Issues by id with their project's repository, the author's and assignees' user names;
-- prose cut to $2 characters (the renderer cuts to bytes), with its full size in bytes.
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
       (extract(epoch FROM i.created_at) * 1000000)::bigint AS created_us,
       (extract(epoch FROM i.updated_at) * 1000000)::bigint AS updated_us
FROM issues i
JOIN projects p ON p.id = i.project_id
JOIN users u ON u.id = i.author_id
WHERE i.id = ANY($1::bigint[])
