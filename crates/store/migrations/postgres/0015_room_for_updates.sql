-- Room on each page for the next version of rows every heartbeat rewrites (PostgreSQL only).
--
-- A heartbeat rewrites its server's row (status, last seen, the JSON snapshots) and its services'
-- snapshot row. PostgreSQL writes a new version each time; with full pages it must go to another
-- page, and the old versions wait for autovacuum, so at a high rate per machine (a spool replay,
-- the bench's back-fill) these tables of a few rows per machine grew to tens of megabytes. With
-- half of each page free the new version stays on its page (a HOT update: none of the columns a
-- heartbeat sets is indexed) and the page's dead versions are pruned when it fills.
ALTER TABLE servers SET (fillfactor = 50);
ALTER TABLE service_snapshots SET (fillfactor = 50);
