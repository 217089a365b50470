-- Planner statistics for the tables every search reads. Autovacuum analyzes a table after 50 rows plus a tenth of it
-- have changed: on an index table of ten million rows, a burst of thousands of results for one patient (an ICU stay,
-- an imported history) never reaches that, and until it does PostgreSQL keeps planning that patient's searches as if
-- they had a few rows (measured: 8 ms → 77 ms for a search of one patient after 7,000 new results, 6 ms after analyze).
-- Analyzing reads a fixed sample whatever the table's size, so here it runs after 5,000 changed rows plus a thousandth
-- of the table (at most once per autovacuum naptime). PGlite has no autovacuum (see statistics-maintenance.ts).
alter table resources set (autovacuum_analyze_scale_factor = 0.001, autovacuum_analyze_threshold = 5000);
alter table search_string set (autovacuum_analyze_scale_factor = 0.001, autovacuum_analyze_threshold = 5000);
alter table search_token set (autovacuum_analyze_scale_factor = 0.001, autovacuum_analyze_threshold = 5000);
alter table search_date set (autovacuum_analyze_scale_factor = 0.001, autovacuum_analyze_threshold = 5000);
alter table search_reference set (autovacuum_analyze_scale_factor = 0.001, autovacuum_analyze_threshold = 5000);
alter table search_quantity set (autovacuum_analyze_scale_factor = 0.001, autovacuum_analyze_threshold = 5000);
alter table search_number set (autovacuum_analyze_scale_factor = 0.001, autovacuum_analyze_threshold = 5000);
alter table search_uri set (autovacuum_analyze_scale_factor = 0.001, autovacuum_analyze_threshold = 5000);
