-- The version `status` shows, e.g. 15.18.
SELECT current_setting('server_version')
