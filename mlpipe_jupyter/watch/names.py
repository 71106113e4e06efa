"""The read watcher's names, shared by the package and its build (no imports)."""

ENV_LOG = "MLPIPE_WATCH_LOG"
ENV_SKIP = "MLPIPE_WATCH_SKIP"
#: `MLPIPE_WATCH=0` turns the interposer off (steps that start programs are then opaque)
ENV_SWITCH = "MLPIPE_WATCH"
LIB_PREFIX = "libmlpipewatch-"
