-- The customer-facing note a PM wrote for a resolved incident: a `fix` entry
-- on the deploy that fixed it. One per incident.
ALTER TABLE incidents ADD COLUMN customer_entry_id INTEGER REFERENCES entries (id) ON DELETE SET NULL;
