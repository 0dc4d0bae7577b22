-- Every pending row of a deployment.
DELETE FROM trawl_access_pending WHERE deployment = $1
