-- Stepline: the daily sales report, one row per store and category.
--
-- The publish state machine's "Build the daily report" state runs this on Athena
-- (startQueryExecution.sync); Athena writes the result as CSV under
-- s3://<lake>/reports/daily_sales/date={run_date}/. This file is the reviewed
-- source of that state's QueryString; tests/sql/test_sql_matches_definition.py
-- fails if the two drift apart.
--
-- Placeholders:
--   ${GlueDatabaseName}  deploy-time DefinitionSubstitution (the Glue catalog database)
--   {run_date}           the run date (YYYY-MM-DD), filled in by the state's JSONata
--
-- daily_sales is the Glue table over s3://<lake>/curated/daily_sales/, with
-- sale_date a string partition column (the sale_date=YYYY-MM-DD directories).

SELECT store_id, category, revenue, units, orders, returns
FROM ${GlueDatabaseName}.daily_sales
WHERE sale_date = '{run_date}'
ORDER BY store_id, category;
