-- Stepline: load one day of curated daily sales into Redshift.
--
-- The publish state machine's "Load the day into Redshift" state sends these
-- statements, in this order, as ONE Redshift Data API BatchExecuteStatement
-- call, which runs them in a single transaction: a failure anywhere rolls
-- back the whole load, so the table keeps the day's previous rows. Only one
-- publish of a date runs at a time (the date's lease, docs/day-protocol.md).
-- This file is the reviewed source of that state's Sqls array; the test
-- tests/sql/test_sql_matches_definition.py fails if the two drift apart.
--
-- Placeholders:
--   ${RedshiftSchema}, ${DataLakeBucket}, ${RedshiftCopyRoleArn}
--       deploy-time DefinitionSubstitutions from the SAM template
--   {run_date}
--       the run date (YYYY-MM-DD), filled in by the state's JSONata at run time
--   {publish}
--       the publish pass id (<execution>-c<N>): the curated generation this pass
--       wrote, which nothing else writes, so COPY never reads a half-written day
--
-- The load is delete-then-insert on the run date, so a rerun (or another pass
-- of the day's publish) replaces the day instead of adding to it.

CREATE SCHEMA IF NOT EXISTS ${RedshiftSchema};

CREATE TABLE IF NOT EXISTS ${RedshiftSchema}.daily_sales (
    sale_date DATE NOT NULL,
    store_id VARCHAR(32) NOT NULL,
    category VARCHAR(1024) NOT NULL,
    revenue DECIMAL(18,2) NOT NULL,
    units BIGINT NOT NULL,
    orders BIGINT NOT NULL,
    returns BIGINT NOT NULL
);

-- A temp table lives only in this Data API session, so concurrent loads of
-- different days never see each other's stage.
CREATE TEMP TABLE daily_sales_stage (
    store_id VARCHAR(32),
    category VARCHAR(1024),
    revenue DECIMAL(18,2),
    units BIGINT,
    orders BIGINT,
    returns BIGINT
);

-- Parquet columns map to the stage by position: the EMR step writes exactly
-- store_id, category, revenue, units, orders, returns.
COPY daily_sales_stage
FROM 's3://${DataLakeBucket}/curated/daily_sales/sale_date={run_date}/publish={publish}/'
IAM_ROLE '${RedshiftCopyRoleArn}'
FORMAT AS PARQUET;

DELETE FROM ${RedshiftSchema}.daily_sales WHERE sale_date = '{run_date}';

INSERT INTO ${RedshiftSchema}.daily_sales (sale_date, store_id, category, revenue, units, orders, returns)
SELECT '{run_date}', store_id, category, revenue, units, orders, returns
FROM daily_sales_stage;
