-- The machine a server depends on (its switch, router or hypervisor), by server id: while that
-- machine is offline, this one's silence is its parent's, not an alert of its own. Keep in step
-- with the other backend's 0009_dependencies.sql.
ALTER TABLE servers ADD COLUMN depends_on TEXT;
CREATE INDEX idx_servers_depends_on ON servers (depends_on);
