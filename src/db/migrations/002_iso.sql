-- ISO 8601 in UTC with milliseconds, as the API contract writes timestamps. Inlined by the planner.
CREATE FUNCTION iso(t timestamptz) RETURNS text
  LANGUAGE sql STABLE PARALLEL SAFE
  AS $$ SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') $$;
