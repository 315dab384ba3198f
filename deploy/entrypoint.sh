#!/bin/sh
# The image's entrypoint, also what the systemd units run: wait for the database, migrate, run one role.
#
#   web        `duban serve` with the scheduler off: callbacks, dashboard, API. Run as many as needed.
#   scheduler  `duban serve` with the scheduler on. Run two: a PostgreSQL advisory lock makes one the
#              leader (scheduler/leader.py); the other takes over within a minute if the leader dies.
#   migrate    wait for the database, migrate, exit (a one-off job before a rolling upgrade).
#   other      run as given (duban demo, duban db copy …, bash), without waiting or migrating.
#
# Options after web/scheduler go to `duban serve` (systemd passes --host/--port); without --host the
# server listens on 0.0.0.0, as a container must.
#
# The wait is `duban db upgrade` retried: it fails until the database answers, and once it succeeds the
# schema is current (replicas starting together queue on a lock; see storage/db.py upgrade_schema).
set -eu

DB_WAIT_ATTEMPTS="${DB_WAIT_ATTEMPTS:-30}"
DB_WAIT_INTERVAL="${DB_WAIT_INTERVAL:-2}"

log() {
    printf '%s duban-entrypoint: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" >&2
}

wait_and_migrate() {
    attempt=1
    until duban db upgrade; do
        if [ "$attempt" -ge "$DB_WAIT_ATTEMPTS" ]; then
            log "数据库迁移失败：已尝试 $attempt 次，数据库仍不可用或迁移出错，退出。"
            exit 1
        fi
        log "数据库暂不可用，${DB_WAIT_INTERVAL} 秒后重试（第 $attempt/$DB_WAIT_ATTEMPTS 次）。"
        attempt=$((attempt + 1))
        sleep "$DB_WAIT_INTERVAL"
    done
}

serve() {
    case " $* " in
        *" --host "* | *" --host="*) ;;
        *) set -- --host 0.0.0.0 "$@" ;;
    esac
    exec duban serve "$@"
}

role="${1:-web}"
[ "$#" -gt 0 ] && shift

case "$role" in
    web)
        export DUBAN_SCHEDULER=off
        wait_and_migrate
        log "启动 web 进程（不运行提醒调度）。"
        serve "$@"
        ;;
    scheduler)
        export DUBAN_SCHEDULER=on
        wait_and_migrate
        log "启动调度进程（主备选举后由主进程发送提醒）。"
        serve "$@"
        ;;
    migrate)
        wait_and_migrate
        log "数据库已是最新版本。"
        ;;
    *)
        exec "$role" "$@"
        ;;
esac
