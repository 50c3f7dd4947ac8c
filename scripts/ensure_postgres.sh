#!/usr/bin/env bash
# Make sure PostgreSQL answers at 127.0.0.1:5432; start the local cluster if it is installed but stopped.
set -u
ready() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null || \
  python3 -c 'import socket; socket.create_connection(("127.0.0.1", 5432), 1)' 2>/dev/null; }
if ready; then exit 0; fi
if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
  echo "PostgreSQL 未运行,正在启动… (starting PostgreSQL)"
  for v in $(ls /etc/postgresql); do pg_ctlcluster --skip-systemctl-redirect "$v" main start || true; done
  for _ in $(seq 1 30); do ready && exit 0; sleep 1; done
fi
echo "错误:无法连接 PostgreSQL 127.0.0.1:5432,也无法启动它。请安装并启动 PostgreSQL (user postgres, trust auth)。" >&2
echo "error: PostgreSQL is not reachable at 127.0.0.1:5432 and could not be started." >&2
exit 1
