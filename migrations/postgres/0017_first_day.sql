-- What a new team and its customers meet first.

-- Production exists from the first start, with the README's deploy nights
-- (Monday to Friday at 21:00), so a first CI run's gate step and anyone's
-- block work before the first deploy.
INSERT INTO environments (slug, created_at, kind, schedule_days, schedule_time)
VALUES ('production', now(), 'production', '1,2,3,4,5', '21:00')
ON CONFLICT (slug) DO NOTHING;

-- Settings an admin changes in the app: one row.
CREATE TABLE team_settings (
    id                          BIGINT PRIMARY KEY CHECK (id = 1),
    -- A deploy naming an unknown environment creates it (off: it is refused).
    create_environments_from_ci BOOLEAN NOT NULL DEFAULT FALSE
);
INSERT INTO team_settings (id) VALUES (1);

-- An internal change is for the team: entries of kind internal that were
-- stored for another audience (left out, it meant everyone) become internal.
UPDATE entries SET audience = 'internal' WHERE kind = 'internal' AND audience <> 'internal';

-- The footer form stored "security only" for people who chose nothing; what
-- they get by default is every kind.
UPDATE subscribers SET kinds = '["feature","fix","improvement","security"]'::jsonb
WHERE kinds = '["security"]'::jsonb AND source IN ('form', 'link') AND releases
  AND digest = 'off' AND components = '[]'::jsonb;
