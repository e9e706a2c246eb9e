-- The dashboard's "last 24 h" column and the flag list read every flag's
-- totals in one grouped query (`evaluation_totals`): filtered on
-- granularity and a bucket_start range, grouped by flag_id and
-- bucket_start, summing count. This index holds all four columns in that
-- order, so the query is answered from the index alone (no row lookups),
-- in the order it groups by within each bucket. It replaces the
-- (granularity, bucket_start) index, its prefix, which retention's deletes
-- use just as well through this one.
CREATE INDEX evaluation_counts_totals ON evaluation_counts (granularity, bucket_start, flag_id, count);
DROP INDEX evaluation_counts_by_age;
