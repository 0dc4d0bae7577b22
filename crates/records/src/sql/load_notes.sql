-- Notes by id with their project's repository and author, whether what they comment on
-- still exists, and for notes on issues that issue's confidentiality, author and
-- assignees; the note cut to $2 characters, with its full size in bytes.
-- Timestamps that are infinite or outside the years 1 to 9999 come back NULL: that row
-- is refused (failed on the queue), the rest of the batch is written.
SELECT n.id,
       n.project_id,
       p.repo_id,
       n.noteable_type,
       n.noteable_id,
       left(n.note, $2) AS note,
       octet_length(n.note)::bigint AS note_bytes,
       u.username AS author,
       (i.id IS NOT NULL OR m.id IS NOT NULL) AS parent_found,
       coalesce(i.confidential, false) AS parent_confidential,
       iu.username AS parent_author,
       coalesce((SELECT array_agg(au.username ORDER BY au.username)
                 FROM issue_assignees a
                 JOIN users au ON au.id = a.user_id
                 WHERE a.issue_id = i.id), '{}') AS parent_assignees,
       CASE WHEN n.created_at BETWEEN '0001-01-01' AND '9999-12-31' THEN (extract(epoch FROM n.created_at) * 1000000)::bigint END AS created_us,
       CASE WHEN n.updated_at BETWEEN '0001-01-01' AND '9999-12-31' THEN (extract(epoch FROM n.updated_at) * 1000000)::bigint END AS updated_us
FROM notes n
JOIN projects p ON p.id = n.project_id
JOIN users u ON u.id = n.author_id
LEFT JOIN issues i ON n.noteable_type = 'issue' AND i.id = n.noteable_id
LEFT JOIN users iu ON iu.id = i.author_id
LEFT JOIN merge_requests m ON n.noteable_type = 'merge_request' AND m.id = n.noteable_id
WHERE n.id = ANY($1::bigint[])
