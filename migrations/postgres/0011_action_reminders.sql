-- Reminders sent to action owners, one row per reminder: `due:<action>:<day>`
-- on the day an action falls due, `overdue:<owner>:<ISO week>` for the weekly
-- summary. A reminder is claimed here before it is sent, so restarts and
-- several instances never send it twice.
CREATE TABLE action_reminders (
    key     TEXT PRIMARY KEY,
    sent_at TIMESTAMPTZ NOT NULL
);
