-- A version of each tenant's connection list, so a replica can serve a list page it rendered before
-- (connect.Lister) after one cheap read that proves nothing listed has changed since, on any replica.
-- Triggers keep it, so no write path (today's or a later one, or SQL run by hand) can forget to.
-- Keep in step with ../sqlite.

-- +goose Up
-- The version of a tenant's list is the sum of its stripes. A write bumps the stripe of the connection it
-- touches (a hash of its id, 64 stripes), so concurrent writers of one tenant rarely wait on the same row:
-- the bump's row lock is held until the writer commits. A transaction that writes listed columns of
-- several connections of one tenant can deadlock with another doing the same in another order; Store.InTx
-- retries deadlocks, and today every transaction writes one connection. Stripes only grow and rows are
-- never deleted, so the sum can never come back to a value an older list was read at.
CREATE TABLE connection_list_versions (
    tenant_key TEXT COLLATE "C" NOT NULL,
    stripe     SMALLINT NOT NULL,
    version    BIGINT NOT NULL,
    PRIMARY KEY (tenant_key, stripe)
);

-- +goose StatementBegin
CREATE FUNCTION connection_list_bump() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    r record;
    bucket smallint;
BEGIN
    IF TG_OP = 'DELETE' THEN
        r := OLD;
    ELSE
        r := NEW;
    END IF;
    bucket := hashtext(r.id) & 63;
    -- Update first: the row exists for all but a tenant's first write, and a plain update is cheaper than
    -- an upsert's speculative insertion.
    UPDATE connection_list_versions SET version = version + 1 WHERE tenant_key = r.tenant_key AND stripe = bucket;
    IF NOT FOUND THEN
        INSERT INTO connection_list_versions AS v (tenant_key, stripe, version) VALUES (r.tenant_key, bucket, 1)
        ON CONFLICT (tenant_key, stripe) DO UPDATE SET version = v.version + 1;
    END IF;
    IF TG_OP = 'UPDATE' AND OLD.tenant_key IS DISTINCT FROM NEW.tenant_key THEN
        INSERT INTO connection_list_versions AS v (tenant_key, stripe, version)
        VALUES (OLD.tenant_key, hashtext(OLD.id) & 63, 1)
        ON CONFLICT (tenant_key, stripe) DO UPDATE SET version = v.version + 1;
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

CREATE TRIGGER connections_list_insert AFTER INSERT ON connections
    FOR EACH ROW EXECUTE FUNCTION connection_list_bump();
CREATE TRIGGER connections_list_delete AFTER DELETE ON connections
    FOR EACH ROW EXECUTE FUNCTION connection_list_bump();
-- Only the columns a list shows: a lease claim or a key rotation changes none of them.
CREATE TRIGGER connections_list_update AFTER UPDATE ON connections
    FOR EACH ROW WHEN (
        (OLD.id, OLD.tenant_key, OLD.app_key, OLD.name, OLD.auth_type, OLD.input, OLD.disconnected,
         OLD.error_code, OLD.error_message, OLD.created_at, OLD.updated_at, OLD.archived_at,
         OLD.last_refresh_at, OLD.next_refresh_at, OLD.retry_attempts)
        IS DISTINCT FROM
        (NEW.id, NEW.tenant_key, NEW.app_key, NEW.name, NEW.auth_type, NEW.input, NEW.disconnected,
         NEW.error_code, NEW.error_message, NEW.created_at, NEW.updated_at, NEW.archived_at,
         NEW.last_refresh_at, NEW.next_refresh_at, NEW.retry_attempts))
    EXECUTE FUNCTION connection_list_bump();

-- +goose Down
DROP TRIGGER connections_list_update ON connections;
DROP TRIGGER connections_list_delete ON connections;
DROP TRIGGER connections_list_insert ON connections;
DROP FUNCTION connection_list_bump();
DROP TABLE connection_list_versions;
