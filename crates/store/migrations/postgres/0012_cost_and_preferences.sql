-- The electricity tariff and the dashboard layout of the original web UI (PostgreSQL flavour).
-- Keep in step with ../sqlite/0012_cost_and_preferences.sql. One row each (`id = 1`); no row
-- means the v1 defaults.

CREATE TABLE cost_settings (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    electricity_rate DOUBLE PRECISION NOT NULL,
    currency_symbol TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- Card order per section and collapsed sections are JSON arrays of strings, as the UI sends them.
CREATE TABLE dashboard_preferences (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    server_order TEXT NOT NULL,
    workstation_order TEXT NOT NULL,
    collapsed_sections TEXT NOT NULL,
    view_mode TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
