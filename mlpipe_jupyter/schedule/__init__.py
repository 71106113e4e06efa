"""Published pipelines, cron schedules, the scheduler service and `mlpipe export`.

Modules: `cron` (validation, fire times, descriptions), `publish` (versioned
snapshots), `schedules` (the table and the atomic claim), `scheduler` (the service
loop), `export` (step notebooks + a papermill runner), `db` (the shared SQLite file).
"""
