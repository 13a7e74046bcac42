//! The PostgreSQL schema and its versions.
//!
//! The tables are store-sqlite's, in PostgreSQL's types: ids, times and counters are
//! BIGINT (a u64 id or seed is stored as its bits), JSON stays TEXT (history events must
//! come back byte for byte, which JSONB would not do), and an execution's error and cause are
//! BYTEA because they are the caller's text and may hold NUL, which TEXT refuses. The fields
//! of an execution that never change are columns of `execution_bodies`, apart from the
//! small `executions` row every transition rewrites.
//!
//! `schema_version` holds the version (one row). Each entry of [`MIGRATIONS`] takes a schema
//! from one version to the next; [`migrate`] applies the missing ones and records the new
//! version in one transaction, under a transaction-level advisory lock so that stores
//! opening the same schema at once migrate it once. A schema newer than this steppe knows
//! is refused, untouched. Never edit a migration that has shipped: add the next one.

use crate::error::{column, statement_error};
use steppe_store::Error;

/// The schema version this steppe writes and understands: the number of migrations.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// The advisory lock class (first key) steppe's migrations take; the second key is the
/// schema's name hashed. ("SMIG" in ASCII.)
const MIGRATION_LOCK_CLASS: i32 = 0x534D_4947;

/// The migrations, in order: entry `n` takes a schema from version `n` to `n + 1`.
pub(crate) const MIGRATIONS: &[&str] = &[
    VERSION_1, VERSION_2, VERSION_3, VERSION_4, VERSION_5, VERSION_6,
];

/// Version 1: the tables, indexes, the execution id sequence, and `steppe_transition`, which
/// records a transition after checking its order. Statuses are [`steppe_store::ExecutionStatus::as_str`] text;
/// `'RUNNING'` is spelled as a literal so that the partial indexes apply.
pub(crate) const VERSION_1: &str = "
CREATE TABLE resources (key TEXT PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE executions (
    id BIGINT PRIMARY KEY,
    arn TEXT NOT NULL UNIQUE,
    state_machine_arn TEXT NOT NULL,
    version_arn TEXT,
    alias_arn TEXT,
    status TEXT NOT NULL,
    start_millis BIGINT NOT NULL,
    stop_millis BIGINT,
    output TEXT,
    error BYTEA,
    cause BYTEA,
    redrive_count BIGINT NOT NULL,
    redrive_millis BIGINT,
    next_seq BIGINT NOT NULL,
    pending TEXT NOT NULL
);
CREATE TABLE execution_bodies (
    id BIGINT PRIMARY KEY,
    name TEXT NOT NULL,
    revision_id TEXT NOT NULL,
    seed BIGINT NOT NULL,
    input TEXT NOT NULL,
    trace_header TEXT,
    test_case TEXT
);
CREATE INDEX executions_by_machine ON executions (state_machine_arn, start_millis, id);
CREATE INDEX executions_running ON executions (id) WHERE status = 'RUNNING';
CREATE INDEX executions_closed ON executions (stop_millis, id) WHERE status <> 'RUNNING';
CREATE TABLE inputs (
    execution_id BIGINT NOT NULL, seq BIGINT NOT NULL, now_millis BIGINT NOT NULL, body TEXT NOT NULL,
    PRIMARY KEY (execution_id, seq));
CREATE TABLE events (
    execution_id BIGINT NOT NULL, id BIGINT NOT NULL, body TEXT NOT NULL,
    PRIMARY KEY (execution_id, id));
CREATE TABLE timers (
    execution_id BIGINT NOT NULL, timer_id BIGINT NOT NULL, fire_at_millis BIGINT NOT NULL,
    PRIMARY KEY (execution_id, timer_id));
CREATE TABLE tasks (
    execution_id BIGINT NOT NULL, task_id BIGINT NOT NULL, body TEXT NOT NULL,
    PRIMARY KEY (execution_id, task_id));
CREATE TABLE redrive_tokens (
    execution_id BIGINT NOT NULL, client_token TEXT NOT NULL, redrive_millis BIGINT NOT NULL,
    PRIMARY KEY (execution_id, client_token));
-- Execution ids (Store::allocate_execution_id), shared by every store on the schema: each
-- nextval reserves a block of 64 ids (the increment) that a store hands out from memory.
CREATE SEQUENCE execution_ids INCREMENT BY 64;
-- One transition, in one call (one statement in the writer's pipeline instead of one per row
-- kind). The order check comes first and is in the database, so that two writers can never
-- both commit the same transition: the row lock makes the second wait for the first, which
-- then fails the check. Raising (instead of updating no row) aborts the transaction, so
-- nothing pipelined after it can commit. Timers and tasks are upserted one by one, as
-- store-sqlite's INSERT OR REPLACE does (a later duplicate replaces an earlier one).
CREATE FUNCTION steppe_transition(
    p_id BIGINT, p_seq BIGINT, p_pending TEXT, p_now_millis BIGINT, p_input TEXT,
    p_event_ids BIGINT[], p_event_bodies TEXT[],
    p_end BOOLEAN, p_status TEXT, p_stop_millis BIGINT, p_output TEXT, p_error BYTEA, p_cause BYTEA,
    p_timer_ids BIGINT[], p_timer_fire_at_millis BIGINT[], p_timers_cleared BIGINT[],
    p_task_ids BIGINT[], p_task_bodies TEXT[], p_tasks_cleared BIGINT[]
) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF p_end THEN
        UPDATE executions SET next_seq = next_seq + 1, pending = '', status = p_status,
            stop_millis = p_stop_millis, output = p_output, error = p_error, cause = p_cause
        WHERE id = p_id AND next_seq = p_seq;
    ELSE
        UPDATE executions SET next_seq = next_seq + 1, pending = p_pending
        WHERE id = p_id AND next_seq = p_seq;
    END IF;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'ST001',
            MESSAGE = format('execution %s: input %s does not follow the last committed one', p_id, p_seq);
    END IF;
    INSERT INTO inputs (execution_id, seq, now_millis, body) VALUES (p_id, p_seq, p_now_millis, p_input);
    INSERT INTO events (execution_id, id, body)
        SELECT p_id, event.id, event.body FROM UNNEST(p_event_ids, p_event_bodies) AS event (id, body);
    IF p_end THEN
        DELETE FROM timers WHERE execution_id = p_id;
        DELETE FROM tasks WHERE execution_id = p_id;
        RETURN;
    END IF;
    FOR i IN 1 .. coalesce(array_length(p_timer_ids, 1), 0) LOOP
        INSERT INTO timers (execution_id, timer_id, fire_at_millis)
        VALUES (p_id, p_timer_ids[i], p_timer_fire_at_millis[i])
        ON CONFLICT (execution_id, timer_id) DO UPDATE SET fire_at_millis = EXCLUDED.fire_at_millis;
    END LOOP;
    IF coalesce(array_length(p_timers_cleared, 1), 0) > 0 THEN
        DELETE FROM timers WHERE execution_id = p_id AND timer_id = ANY (p_timers_cleared);
    END IF;
    FOR i IN 1 .. coalesce(array_length(p_task_ids, 1), 0) LOOP
        INSERT INTO tasks (execution_id, task_id, body) VALUES (p_id, p_task_ids[i], p_task_bodies[i])
        ON CONFLICT (execution_id, task_id) DO UPDATE SET body = EXCLUDED.body;
    END LOOP;
    IF coalesce(array_length(p_tasks_cleared, 1), 0) > 0 THEN
        DELETE FROM tasks WHERE execution_id = p_id AND task_id = ANY (p_tasks_cleared);
    END IF;
END $$;
";

/// Version 2: several servers on one schema (a cluster). `nodes` holds each server's lease
/// (in the database's clock); `executions.owner` names the node that runs an execution, and
/// `steppe_transition` commits only for the owner (fencing). `tasks` gains the columns that
/// let any node find an open task by its token and claim an activity task no worker took:
/// `token`, `activity_arn` (set while the task waits for a worker), `claimed_until`; a
/// task queued for a worker is announced on the channel `steppe_tasks_<schema>` (at commit).
/// Rows written before keep working: their columns are filled from their bodies, and their
/// executions (owner 0, a node that never holds a lease) are taken over by the first node.
/// `cluster_key` holds a secret the nodes show each other on requests they make themselves
/// (a forwarded client request carries its client's signature instead): 244 random bits
/// from `gen_random_uuid` (PostgreSQL's strong random source).
pub(crate) const VERSION_2: &str = "
CREATE TABLE cluster_key (key TEXT NOT NULL);
INSERT INTO cluster_key SELECT replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', '');
CREATE SEQUENCE node_ids;
CREATE TABLE nodes (id BIGINT PRIMARY KEY, address TEXT NOT NULL, lease_until TIMESTAMPTZ NOT NULL);
ALTER TABLE executions ADD COLUMN owner BIGINT NOT NULL DEFAULT 0;
CREATE INDEX executions_running_by_owner ON executions (owner, id) WHERE status = 'RUNNING';
ALTER TABLE tasks ADD COLUMN token TEXT, ADD COLUMN activity_arn TEXT, ADD COLUMN claimed_until TIMESTAMPTZ;
UPDATE tasks SET token = body::json->>'task_token',
    activity_arn = CASE WHEN coalesce((body::json->>'started')::boolean, false) THEN NULL
                        WHEN body::json->>'resource' ~ '^arn:[^:]+:states:[^:]*:[^:]*:activity:.'
                        THEN body::json->>'resource' END;
CREATE INDEX tasks_by_token ON tasks (token) WHERE token IS NOT NULL;
-- Tokens of tasks that closed, so that any node answers a late SendTask* with TaskTimedOut
-- (as AWS does) rather than InvalidToken; deleted with their execution.
CREATE TABLE closed_tokens (token TEXT PRIMARY KEY, execution_id BIGINT NOT NULL);
CREATE INDEX closed_tokens_by_execution ON closed_tokens (execution_id);
CREATE INDEX tasks_waiting ON tasks (activity_arn, execution_id, task_id) WHERE activity_arn IS NOT NULL;
DROP FUNCTION steppe_transition(BIGINT, BIGINT, TEXT, BIGINT, TEXT, BIGINT[], TEXT[], BOOLEAN, TEXT,
    BIGINT, TEXT, BYTEA, BYTEA, BIGINT[], BIGINT[], BIGINT[], BIGINT[], TEXT[], BIGINT[]);
-- Version 1's function, fenced by the owner, and keeping the task columns.
CREATE FUNCTION steppe_transition(
    p_owner BIGINT, p_id BIGINT, p_seq BIGINT, p_pending TEXT, p_now_millis BIGINT, p_input TEXT,
    p_event_ids BIGINT[], p_event_bodies TEXT[],
    p_end BOOLEAN, p_status TEXT, p_stop_millis BIGINT, p_output TEXT, p_error BYTEA, p_cause BYTEA,
    p_timer_ids BIGINT[], p_timer_fire_at_millis BIGINT[], p_timers_cleared BIGINT[],
    p_task_ids BIGINT[], p_task_bodies TEXT[], p_task_tokens TEXT[], p_task_activities TEXT[],
    p_tasks_cleared BIGINT[]
) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF p_end THEN
        UPDATE executions SET next_seq = next_seq + 1, pending = '', status = p_status,
            stop_millis = p_stop_millis, output = p_output, error = p_error, cause = p_cause
        WHERE id = p_id AND next_seq = p_seq AND owner = p_owner;
    ELSE
        UPDATE executions SET next_seq = next_seq + 1, pending = p_pending
        WHERE id = p_id AND next_seq = p_seq AND owner = p_owner;
    END IF;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'ST001',
            MESSAGE = format('execution %s: input %s does not follow the last committed one, or node %s does not own it',
                             p_id, p_seq, p_owner);
    END IF;
    INSERT INTO inputs (execution_id, seq, now_millis, body) VALUES (p_id, p_seq, p_now_millis, p_input);
    INSERT INTO events (execution_id, id, body)
        SELECT p_id, event.id, event.body FROM UNNEST(p_event_ids, p_event_bodies) AS event (id, body);
    IF p_end THEN
        DELETE FROM timers WHERE execution_id = p_id;
        INSERT INTO closed_tokens (token, execution_id)
            SELECT token, execution_id FROM tasks WHERE execution_id = p_id AND token IS NOT NULL
            ON CONFLICT DO NOTHING;
        DELETE FROM tasks WHERE execution_id = p_id;
        RETURN;
    END IF;
    -- One statement per kind (the writer sends each timer and task once: the last of any
    -- repeated id, as a replacement would leave it).
    IF coalesce(array_length(p_timer_ids, 1), 0) > 0 THEN
        INSERT INTO timers (execution_id, timer_id, fire_at_millis)
        SELECT p_id, timer.id, timer.fire_at FROM UNNEST(p_timer_ids, p_timer_fire_at_millis) AS timer (id, fire_at)
        ON CONFLICT (execution_id, timer_id) DO UPDATE SET fire_at_millis = EXCLUDED.fire_at_millis;
    END IF;
    IF coalesce(array_length(p_timers_cleared, 1), 0) > 0 THEN
        DELETE FROM timers WHERE execution_id = p_id AND timer_id = ANY (p_timers_cleared);
    END IF;
    IF coalesce(array_length(p_task_ids, 1), 0) > 0 THEN
        INSERT INTO tasks (execution_id, task_id, body, token, activity_arn, claimed_until)
        SELECT p_id, task.id, task.body, task.token, task.activity, NULL
        FROM UNNEST(p_task_ids, p_task_bodies, p_task_tokens, p_task_activities) AS task (id, body, token, activity)
        ON CONFLICT (execution_id, task_id) DO UPDATE SET body = EXCLUDED.body,
            token = EXCLUDED.token, activity_arn = EXCLUDED.activity_arn, claimed_until = NULL;
        PERFORM pg_notify(left('steppe_tasks_' || current_schema(), 63), activity)
        FROM (SELECT DISTINCT activity FROM UNNEST(p_task_activities) AS queued (activity)
              WHERE activity IS NOT NULL) AS queued;
    END IF;
    IF coalesce(array_length(p_tasks_cleared, 1), 0) > 0 THEN
        INSERT INTO closed_tokens (token, execution_id)
            SELECT token, execution_id FROM tasks
            WHERE execution_id = p_id AND task_id = ANY (p_tasks_cleared) AND token IS NOT NULL
            ON CONFLICT DO NOTHING;
        DELETE FROM tasks WHERE execution_id = p_id AND task_id = ANY (p_tasks_cleared);
    END IF;
END $$;
";

/// Version 3: every node's resources stay true (`steppe_store::Store::resources_version`,
/// `watch_resources`). A trigger on `resources` counts each row written in
/// `resources_version` (one row, whose lock also orders resource writes, so versions follow
/// commit order) and announces `VERSION KEY` on the channel `steppe_resources_<schema>`
/// (cut to 63 bytes, as PostgreSQL cuts `LISTEN`'s name), delivered at commit. A trigger
/// rather than statements in the writer: any write to `resources` is counted, whoever makes
/// it.
pub(crate) const VERSION_3: &str = "
CREATE TABLE resources_version (version BIGINT NOT NULL);
INSERT INTO resources_version (version) VALUES (0);
CREATE FUNCTION steppe_resource_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v_version BIGINT;
BEGIN
    UPDATE resources_version SET version = version + 1 RETURNING version INTO v_version;
    PERFORM pg_notify(left('steppe_resources_' || current_schema(), 63),
        v_version || ' ' || CASE WHEN TG_OP = 'DELETE' THEN OLD.key ELSE NEW.key END);
    RETURN NULL;
END $$;
CREATE TRIGGER resources_changed AFTER INSERT OR UPDATE OR DELETE ON resources
    FOR EACH ROW EXECUTE FUNCTION steppe_resource_changed();
";

/// Version 4: each logged input keeps the running hash of the history once it was applied
/// (`steppe_store::history_hash`, stored as its 64 bits in a BIGINT), which a replay must
/// reach; inputs logged before have none (NULL), and a replay checks the rest.
/// `steppe_transition` takes it as its last parameter.
pub(crate) const VERSION_4: &str = "
ALTER TABLE inputs ADD COLUMN history_hash BIGINT;
DROP FUNCTION steppe_transition(BIGINT, BIGINT, BIGINT, TEXT, BIGINT, TEXT, BIGINT[], TEXT[], BOOLEAN,
    TEXT, BIGINT, TEXT, BYTEA, BYTEA, BIGINT[], BIGINT[], BIGINT[], BIGINT[], TEXT[], TEXT[], TEXT[],
    BIGINT[]);
-- Version 2's function, storing the input's running history hash too.
CREATE FUNCTION steppe_transition(
    p_owner BIGINT, p_id BIGINT, p_seq BIGINT, p_pending TEXT, p_now_millis BIGINT, p_input TEXT,
    p_event_ids BIGINT[], p_event_bodies TEXT[],
    p_end BOOLEAN, p_status TEXT, p_stop_millis BIGINT, p_output TEXT, p_error BYTEA, p_cause BYTEA,
    p_timer_ids BIGINT[], p_timer_fire_at_millis BIGINT[], p_timers_cleared BIGINT[],
    p_task_ids BIGINT[], p_task_bodies TEXT[], p_task_tokens TEXT[], p_task_activities TEXT[],
    p_tasks_cleared BIGINT[], p_history_hash BIGINT
) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF p_end THEN
        UPDATE executions SET next_seq = next_seq + 1, pending = '', status = p_status,
            stop_millis = p_stop_millis, output = p_output, error = p_error, cause = p_cause
        WHERE id = p_id AND next_seq = p_seq AND owner = p_owner;
    ELSE
        UPDATE executions SET next_seq = next_seq + 1, pending = p_pending
        WHERE id = p_id AND next_seq = p_seq AND owner = p_owner;
    END IF;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'ST001',
            MESSAGE = format('execution %s: input %s does not follow the last committed one, or node %s does not own it',
                             p_id, p_seq, p_owner);
    END IF;
    INSERT INTO inputs (execution_id, seq, now_millis, body, history_hash)
    VALUES (p_id, p_seq, p_now_millis, p_input, p_history_hash);
    INSERT INTO events (execution_id, id, body)
        SELECT p_id, event.id, event.body FROM UNNEST(p_event_ids, p_event_bodies) AS event (id, body);
    IF p_end THEN
        DELETE FROM timers WHERE execution_id = p_id;
        INSERT INTO closed_tokens (token, execution_id)
            SELECT token, execution_id FROM tasks WHERE execution_id = p_id AND token IS NOT NULL
            ON CONFLICT DO NOTHING;
        DELETE FROM tasks WHERE execution_id = p_id;
        RETURN;
    END IF;
    -- One statement per kind (the writer sends each timer and task once: the last of any
    -- repeated id, as a replacement would leave it).
    IF coalesce(array_length(p_timer_ids, 1), 0) > 0 THEN
        INSERT INTO timers (execution_id, timer_id, fire_at_millis)
        SELECT p_id, timer.id, timer.fire_at FROM UNNEST(p_timer_ids, p_timer_fire_at_millis) AS timer (id, fire_at)
        ON CONFLICT (execution_id, timer_id) DO UPDATE SET fire_at_millis = EXCLUDED.fire_at_millis;
    END IF;
    IF coalesce(array_length(p_timers_cleared, 1), 0) > 0 THEN
        DELETE FROM timers WHERE execution_id = p_id AND timer_id = ANY (p_timers_cleared);
    END IF;
    IF coalesce(array_length(p_task_ids, 1), 0) > 0 THEN
        INSERT INTO tasks (execution_id, task_id, body, token, activity_arn, claimed_until)
        SELECT p_id, task.id, task.body, task.token, task.activity, NULL
        FROM UNNEST(p_task_ids, p_task_bodies, p_task_tokens, p_task_activities) AS task (id, body, token, activity)
        ON CONFLICT (execution_id, task_id) DO UPDATE SET body = EXCLUDED.body,
            token = EXCLUDED.token, activity_arn = EXCLUDED.activity_arn, claimed_until = NULL;
        PERFORM pg_notify(left('steppe_tasks_' || current_schema(), 63), activity)
        FROM (SELECT DISTINCT activity FROM UNNEST(p_task_activities) AS queued (activity)
              WHERE activity IS NOT NULL) AS queued;
    END IF;
    IF coalesce(array_length(p_tasks_cleared, 1), 0) > 0 THEN
        INSERT INTO closed_tokens (token, execution_id)
            SELECT token, execution_id FROM tasks
            WHERE execution_id = p_id AND task_id = ANY (p_tasks_cleared) AND token IS NOT NULL
            ON CONFLICT DO NOTHING;
        DELETE FROM tasks WHERE execution_id = p_id AND task_id = ANY (p_tasks_cleared);
    END IF;
END $$;
";

/// Version 5: `steppe_transitions`, the transitions of many executions in one call (the
/// writer's set-based batches, `batch.rs`): each argument is an array with one entry per
/// transition (at most one per execution), per event, timer or task, and every kind of row
/// is written by one statement for them all, as `steppe_transition` writes one
/// transition's (each input with its running history hash, as version 4 keeps it). The order check is the same, for all at once: a transition whose execution
/// is not at its `seq`, or not owned by `p_owner`, raises `ST001` naming it, and the whole
/// call (and the writer's transaction) fails. An ending transition's timers and tasks are
/// not passed (they are dropped with the execution's).
/// `executions` leaves half of each new page free, so that a transition's update of its row
/// (`next_seq`, `pending`: no indexed column) fits on the row's page and is a HOT update,
/// which writes none of the table's six indexes; a full page made most updates write all of
/// them (measured under the transitions benchmark: 10% of the updates were HOT).
/// `steppe_expect_resource` is `Write::ExpectResource`: it locks the resource's row and
/// raises `ST002` unless its body is the expected one (compared as JSON values; both absent
/// is a match), so of two nodes' racing writes from one stale copy the second fails.
pub(crate) const VERSION_5: &str = "
ALTER TABLE executions SET (fillfactor = 50);
CREATE FUNCTION steppe_expect_resource(p_key TEXT, p_body TEXT) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_body TEXT;
BEGIN
    SELECT body INTO v_body FROM resources WHERE key = p_key FOR UPDATE;
    IF v_body::jsonb IS DISTINCT FROM p_body::jsonb THEN
        RAISE EXCEPTION USING ERRCODE = 'ST002', MESSAGE = format('resource %s changed', p_key);
    END IF;
END $$;
CREATE FUNCTION steppe_transitions(
    p_owner BIGINT, p_ids BIGINT[], p_seqs BIGINT[], p_pending TEXT[], p_now_millis BIGINT[],
    p_inputs TEXT[], p_history_hashes BIGINT[], p_ends BOOLEAN[], p_statuses TEXT[], p_stop_millis BIGINT[], p_outputs TEXT[],
    p_errors BYTEA[], p_causes BYTEA[],
    p_event_executions BIGINT[], p_event_ids BIGINT[], p_event_bodies TEXT[],
    p_timer_executions BIGINT[], p_timer_ids BIGINT[], p_timer_fire_at_millis BIGINT[],
    p_cleared_timer_executions BIGINT[], p_cleared_timer_ids BIGINT[],
    p_task_executions BIGINT[], p_task_ids BIGINT[], p_task_bodies TEXT[], p_task_tokens TEXT[],
    p_task_activities TEXT[], p_cleared_task_executions BIGINT[], p_cleared_task_ids BIGINT[]
) RETURNS void
-- Planned at every call, with the arrays' lengths and the tables' sizes as they are then: a
-- generic plan cached while the tables were small scans them whole once they are not.
SET plan_cache_mode = force_custom_plan
LANGUAGE plpgsql AS $$
DECLARE
    v_updated BIGINT[];
    v_ended BIGINT[];
    v_refused INT;
BEGIN
    WITH updated AS (
        UPDATE executions AS e SET next_seq = e.next_seq + 1,
            pending = CASE WHEN t.ended THEN '' ELSE t.pending END,
            status = CASE WHEN t.ended THEN t.status ELSE e.status END,
            stop_millis = CASE WHEN t.ended THEN t.stop_millis ELSE e.stop_millis END,
            output = CASE WHEN t.ended THEN t.output ELSE e.output END,
            error = CASE WHEN t.ended THEN t.error ELSE e.error END,
            cause = CASE WHEN t.ended THEN t.cause ELSE e.cause END
        FROM UNNEST(p_ids, p_seqs, p_pending, p_ends, p_statuses, p_stop_millis, p_outputs,
                    p_errors, p_causes)
            AS t (id, seq, pending, ended, status, stop_millis, output, error, cause)
        WHERE e.id = t.id AND e.next_seq = t.seq AND e.owner = p_owner
        RETURNING e.id)
    SELECT array_agg(id) INTO v_updated FROM updated;
    IF coalesce(cardinality(v_updated), 0) <> cardinality(p_ids) THEN
        SELECT min(i) INTO v_refused FROM generate_subscripts(p_ids, 1) AS i
        WHERE NOT p_ids[i] = ANY (coalesce(v_updated, '{}'));
        RAISE EXCEPTION USING ERRCODE = 'ST001',
            MESSAGE = format('execution %s: input %s does not follow the last committed one, or node %s does not own it',
                             p_ids[v_refused], p_seqs[v_refused], p_owner);
    END IF;
    INSERT INTO inputs (execution_id, seq, now_millis, body, history_hash)
        SELECT * FROM UNNEST(p_ids, p_seqs, p_now_millis, p_inputs, p_history_hashes);
    INSERT INTO events (execution_id, id, body)
        SELECT * FROM UNNEST(p_event_executions, p_event_ids, p_event_bodies);
    SELECT array_agg(t.id) INTO v_ended FROM UNNEST(p_ids, p_ends) AS t (id, ended) WHERE t.ended;
    IF v_ended IS NOT NULL THEN
        DELETE FROM timers WHERE execution_id = ANY (v_ended);
        INSERT INTO closed_tokens (token, execution_id)
            SELECT token, execution_id FROM tasks WHERE execution_id = ANY (v_ended) AND token IS NOT NULL
            ON CONFLICT DO NOTHING;
        DELETE FROM tasks WHERE execution_id = ANY (v_ended);
    END IF;
    IF cardinality(p_timer_ids) > 0 THEN
        INSERT INTO timers (execution_id, timer_id, fire_at_millis)
            SELECT * FROM UNNEST(p_timer_executions, p_timer_ids, p_timer_fire_at_millis)
        ON CONFLICT (execution_id, timer_id) DO UPDATE SET fire_at_millis = EXCLUDED.fire_at_millis;
    END IF;
    IF cardinality(p_cleared_timer_ids) > 0 THEN
        DELETE FROM timers USING UNNEST(p_cleared_timer_executions, p_cleared_timer_ids)
            AS cleared (execution_id, timer_id)
        WHERE timers.execution_id = cleared.execution_id AND timers.timer_id = cleared.timer_id;
    END IF;
    IF cardinality(p_task_ids) > 0 THEN
        INSERT INTO tasks (execution_id, task_id, body, token, activity_arn, claimed_until)
            SELECT task.execution_id, task.id, task.body, task.token, task.activity, NULL
            FROM UNNEST(p_task_executions, p_task_ids, p_task_bodies, p_task_tokens, p_task_activities)
                AS task (execution_id, id, body, token, activity)
        ON CONFLICT (execution_id, task_id) DO UPDATE SET body = EXCLUDED.body,
            token = EXCLUDED.token, activity_arn = EXCLUDED.activity_arn, claimed_until = NULL;
        PERFORM pg_notify(left('steppe_tasks_' || current_schema(), 63), activity)
        FROM (SELECT DISTINCT activity FROM UNNEST(p_task_activities) AS queued (activity)
              WHERE activity IS NOT NULL) AS queued;
    END IF;
    IF cardinality(p_cleared_task_ids) > 0 THEN
        INSERT INTO closed_tokens (token, execution_id)
            SELECT tasks.token, tasks.execution_id
            FROM tasks JOIN UNNEST(p_cleared_task_executions, p_cleared_task_ids)
                AS cleared (execution_id, task_id)
                ON tasks.execution_id = cleared.execution_id AND tasks.task_id = cleared.task_id
            WHERE tasks.token IS NOT NULL
            ON CONFLICT DO NOTHING;
        DELETE FROM tasks USING UNNEST(p_cleared_task_executions, p_cleared_task_ids)
            AS cleared (execution_id, task_id)
        WHERE tasks.execution_id = cleared.execution_id AND tasks.task_id = cleared.task_id;
    END IF;
END $$;
";

/// Version 6: the conditions a start and a version's deletion commit under.
/// `steppe_expect_active` is `Write::ExpectActive` for several keys at once (a batch's
/// starts): it locks their rows for share, in key order (two groups locking several rows in
/// one order cannot deadlock each other), so that a deletion's write (an exclusive lock)
/// waits for the start's commit, and a start that waited for one reads the row it left; then
/// it raises `ST002` naming the first key that is absent or a state machine being deleted.
/// `steppe_expect_unaliased` is `Write::ExpectUnaliased`: it raises `ST002` when an alias
/// among the keys starting with `p_prefix` (the version's machine's ARN and `:`) routes to
/// `p_version`. A version's deletion locks the version's row first (`steppe_expect_resource`),
/// so an alias write expecting the version active either committed before this reads
/// (and is seen: each statement of a function reads what committed before it began) or
/// waits and finds the version gone.
pub(crate) const VERSION_6: &str = "
CREATE FUNCTION steppe_expect_active(p_keys TEXT[]) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_inactive TEXT;
BEGIN
    PERFORM 1 FROM resources WHERE key = ANY (p_keys) ORDER BY key FOR SHARE;
    SELECT k.key INTO v_inactive FROM unnest(p_keys) AS k (key)
        LEFT JOIN resources AS r ON r.key = k.key
        WHERE r.key IS NULL OR (r.body::jsonb ->> 'deleting')::boolean IS TRUE
        LIMIT 1;
    IF v_inactive IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'ST002',
            MESSAGE = format('resource %s is not active', v_inactive);
    END IF;
END $$;
CREATE FUNCTION steppe_expect_unaliased(p_prefix TEXT, p_version TEXT) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_alias TEXT;
BEGIN
    SELECT key INTO v_alias FROM resources
        WHERE starts_with(key, p_prefix) AND body::jsonb ->> 'kind' = 'Alias'
        AND EXISTS (SELECT 1 FROM jsonb_array_elements(body::jsonb -> 'routing') AS route
                    WHERE route ->> 0 = p_version)
        LIMIT 1;
    IF v_alias IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'ST002',
            MESSAGE = format('alias %s routes to %s', v_alias, p_version);
    END IF;
END $$;
";

/// Creates the schema `schema` (when named) and brings it to [`SCHEMA_VERSION`], or refuses
/// one that is newer. `place` names the database and schema in errors.
pub(crate) async fn migrate(
    client: &mut tokio_postgres::Client,
    schema: Option<&str>,
    place: &str,
) -> Result<(), Error> {
    let transaction = client
        .transaction()
        .await
        .map_err(|e| statement_error(&e))?;
    let lock_name = schema.unwrap_or("");
    transaction
        .execute(
            "SELECT pg_advisory_xact_lock($1, hashtext($2))",
            &[&MIGRATION_LOCK_CLASS, &lock_name],
        )
        .await
        .map_err(|e| statement_error(&e))?;
    if let Some(schema) = schema {
        // The name was checked to be a plain identifier (`PostgresOptions::schema`).
        transaction
            .batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS {schema}"))
            .await
            .map_err(|e| statement_error(&e))?;
    }
    transaction
        .batch_execute("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)")
        .await
        .map_err(|e| statement_error(&e))?;
    let rows = transaction
        .query("SELECT version FROM schema_version", &[])
        .await
        .map_err(|e| statement_error(&e))?;
    let version = match rows.as_slice() {
        [] => 0,
        [row] => column::<i64>(row, 0)?,
        _ => {
            return Err(Error::Corrupt(format!(
                "{place}: schema_version holds {} rows, not one",
                rows.len()
            )))
        }
    };
    if !(0..=SCHEMA_VERSION).contains(&version) {
        return Err(Error::DataDir(format!(
            "{place} has schema version {version}, newer than this steppe knows ({SCHEMA_VERSION}): run the steppe that wrote it, or a newer one"
        )));
    }
    if version == SCHEMA_VERSION {
        return Ok(());
    }
    for migration in &MIGRATIONS[version as usize..] {
        transaction
            .batch_execute(migration)
            .await
            .map_err(|e| statement_error(&e))?;
    }
    let recorded = if rows.is_empty() {
        "INSERT INTO schema_version (version) VALUES ($1)"
    } else {
        "UPDATE schema_version SET version = $1"
    };
    transaction
        .execute(recorded, &[&SCHEMA_VERSION])
        .await
        .map_err(|e| statement_error(&e))?;
    transaction.commit().await.map_err(|e| statement_error(&e))
}
