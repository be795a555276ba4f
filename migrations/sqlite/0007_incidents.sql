-- Incidents: defects that reached an environment, linked to the entries that
-- caused them and to the deploy that fixed them. Their number (INC-<id>) is
-- the id.
CREATE TABLE incidents (
    id                   INTEGER PRIMARY KEY,
    title                TEXT NOT NULL,
    severity             TEXT NOT NULL CHECK (severity IN ('sev1', 'sev2', 'sev3', 'sev4')),
    environment_id       INTEGER NOT NULL REFERENCES environments (id),
    detected_at          TEXT NOT NULL,
    detected_by          TEXT NOT NULL CHECK (detected_by IN ('monitoring-user', 'monitoring-app',
                             'monitoring-logs', 'test', 'customer', 'team')),
    customer_impact      TEXT NOT NULL,
    customer_impact_html TEXT NOT NULL,
    status               TEXT NOT NULL CHECK (status IN ('open', 'mitigated', 'resolved')),
    mitigated_at         TEXT,
    resolved_at          TEXT,
    fixed_by_deploy_id   INTEGER REFERENCES deploys (id) ON DELETE SET NULL,
    -- Alertmanager's group key, when an alert opened it.
    alert_key            TEXT,
    created_by           TEXT NOT NULL,
    created_at           TEXT NOT NULL,
    updated_at           TEXT NOT NULL
);
CREATE INDEX incidents_status ON incidents (status, detected_at);
-- One unresolved incident per alert group; a group that fires again after
-- its incident was resolved opens a new one.
CREATE UNIQUE INDEX incidents_alert ON incidents (alert_key) WHERE status <> 'resolved';

CREATE TABLE incident_causes (
    incident_id INTEGER NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    entry_id    INTEGER NOT NULL REFERENCES entries (id) ON DELETE CASCADE,
    PRIMARY KEY (incident_id, entry_id)
);
CREATE INDEX incident_causes_entry ON incident_causes (entry_id);
