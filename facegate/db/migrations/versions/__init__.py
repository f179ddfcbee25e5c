"""One file per schema revision, applied in order by facegate.db.migrate."""
