-- Projects by id with their repository, visibility and members' user names.
SELECT p.id,
       p.repo_id,
       p.visibility,
       coalesce(array_agg(u.username ORDER BY u.username)
                FILTER (WHERE u.username IS NOT NULL), '{}') AS members
FROM projects p
LEFT JOIN project_members pm ON pm.project_id = p.id
LEFT JOIN users u ON u.id = pm.user_id
WHERE p.id = ANY($1::bigint[])
GROUP BY p.id
