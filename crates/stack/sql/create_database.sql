-- The database trawl keeps its registry in (CREATE DATABASE takes no parameters).
CREATE DATABASE trawl
