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
--   {publish}            the publish pass id: the curated generation this pass wrote
--
-- daily_sales is the Glue table over s3://<lake>/curated/daily_sales/, with two
-- projected string partition columns: sale_date (the sale_date=YYYY-MM-DD
-- directories) and publish (each pass's publish=P generation; injected, so every
-- query names the generation it reads: the run ledger's published_pass).

SELECT store_id, category, revenue, units, orders, returns
FROM ${GlueDatabaseName}.daily_sales
WHERE sale_date = '{run_date}' AND publish = '{publish}'
ORDER BY store_id, category;
