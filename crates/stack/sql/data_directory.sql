-- Where the server keeps its data: tells the server trawl started from any other one that
-- answers on the same port (needs a superuser, which the local provider's `trawl` is).
SELECT current_setting('data_directory')
